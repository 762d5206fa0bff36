"""Named data sets, resolved through the data directory (`GSASREC_DATA_DIR`)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gsasrec.data.interactions import Interactions
from gsasrec.data.readers import read_any, read_movielens, read_sasrec
from gsasrec.data.synthetic import MarkovChainGenerator, SyntheticConfig
from gsasrec.errors import GsasrecError

PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class DatasetSpec:
    """Where a named data set lives under the data directory and how to get it."""

    relative_path: str
    reader: str  # "sasrec" or "movielens"
    how_to_get: str


DATASETS: dict[str, DatasetSpec] = {
    "ml-1m": DatasetSpec(
        "ml-1m/ml-1m.txt", "sasrec",
        "run `gsasrec download ml-1m` (fetches the GroupLens zip and converts ratings.dat), "
        "or copy the SASRec-format ml-1m.txt there",
    ),
    "ml-100k": DatasetSpec(
        "ml-100k/u.data", "movielens",
        "download https://files.grouplens.org/datasets/movielens/ml-100k.zip and unzip it there",
    ),
    "beauty": DatasetSpec(
        "beauty/beauty.txt", "sasrec",
        "copy the BERT4Rec Amazon Beauty file (user item per line, chronological) there",
    ),
}
NAMED = (*DATASETS, "synthetic")


def data_dir() -> Path:
    """`GSASREC_DATA_DIR` if set, else the git-ignored `data/` folder of the project."""
    configured = os.environ.get("GSASREC_DATA_DIR")
    if configured:
        return Path(configured).expanduser()
    if (PROJECT_ROOT / "pyproject.toml").exists():
        return PROJECT_ROOT / "data"
    return Path.cwd() / "data"


def dataset_path(name: str) -> Path:
    if name not in DATASETS:
        raise GsasrecError(f"unknown data set {name!r}; choose one of {', '.join(NAMED)}")
    spec = DATASETS[name]
    path = data_dir() / spec.relative_path
    if not path.exists():
        raise GsasrecError(
            f"data set {name!r} not found at {path}; {spec.how_to_get} "
            f"(or point GSASREC_DATA_DIR at a folder holding {spec.relative_path})"
        )
    return path


def synthetic_generator(num_items: int = 500, num_users: int = 2000, seed: int = 0,
                        **overrides: object) -> MarkovChainGenerator:
    max_length = min(50, num_items // 2)
    return MarkovChainGenerator(SyntheticConfig(
        num_items=num_items, num_users=num_users, seed=seed, max_length=max_length,
        min_length=min(10, max_length), **overrides,  # type: ignore[arg-type]
    ))


def load_dataset(name: str = "synthetic", data_file: str | Path | None = None,
                 synthetic_num_items: int = 500, synthetic_num_users: int = 2000,
                 synthetic_seed: int = 0) -> Interactions:
    """A named data set, or any interaction file (`data_file` wins when given)."""
    if data_file is not None:
        return read_any(data_file)
    if name == "synthetic":
        return synthetic_generator(synthetic_num_items, synthetic_num_users,
                                   synthetic_seed).generate()
    path = dataset_path(name)
    if DATASETS[name].reader == "movielens":
        return read_movielens(path, name=name)
    return read_sasrec(path, name=name)


def load_item_titles(name: str) -> dict[int, str]:
    """Titles of internal item ids for MovieLens data sets ({} when the files are absent).

    ml-1m: internal id = SASRec id, mapped to movies.dat through sas_to_original_items.txt.
    """
    root = data_dir()
    if name == "ml-1m":
        movies = root / "ml-1m" / "movies.dat"
        mapping = root / "ml-1m" / "sas_to_original_items.txt"
        if not (movies.exists() and mapping.exists()):
            return {}
        titles = {}
        with open(movies, encoding="latin-1") as handle:
            for line in handle:
                parts = line.rstrip("\n").split("::")
                if len(parts) >= 2 and parts[0].isdigit():
                    titles[int(parts[0])] = parts[1]
        pairs = np.loadtxt(mapping, dtype=np.int64, ndmin=2)
        return {int(sas): titles.get(int(orig), f"movie {orig}") for sas, orig in pairs}
    if name == "ml-100k":
        items = root / "ml-100k" / "u.item"
        if not items.exists():
            return {}
        interactions = load_dataset("ml-100k")
        original_to_internal = {int(o): i for i, o in enumerate(interactions.item_ids) if i > 0}
        titles = {}
        with open(items, encoding="latin-1") as handle:
            for line in handle:
                parts = line.split("|")
                if len(parts) >= 2 and parts[0].isdigit() and int(parts[0]) in original_to_internal:
                    titles[original_to_internal[int(parts[0])]] = parts[1]
        return titles
    return {}
