"""`gsasrec download ml-1m`: fetch the GroupLens archive and convert it to the SASRec format."""

from __future__ import annotations

import io
import os
import tempfile
import urllib.request
import zipfile
from pathlib import Path

import numpy as np

from gsasrec.data.readers import read_movielens
from gsasrec.errors import GsasrecError

ML1M_URL = "https://files.grouplens.org/datasets/movielens/ml-1m.zip"
MIN_COUNT = 5  # the SASRec preprocessing keeps users and items with at least 5 ratings


def convert_ratings(ratings_path: Path, out_dir: Path, name: str) -> Path:
    """Write `<name>.txt` (user item, time-ordered) and the id maps from a raw ratings file.

    As the SASRec preprocessing: one pass dropping items and users with fewer than 5
    ratings (counted on the raw file), then time order within each user.
    """
    raw = read_movielens(ratings_path)
    seq = raw.sequences
    users = np.repeat(raw.user_ids, seq.lengths)
    items = raw.item_ids[seq.items]
    user_counts = dict(zip(*np.unique(users, return_counts=True), strict=True))
    item_counts = dict(zip(*np.unique(items, return_counts=True), strict=True))
    keep = np.array([user_counts[u] >= MIN_COUNT and item_counts[i] >= MIN_COUNT
                     for u, i in zip(users, items, strict=True)], dtype=bool)
    users, items = users[keep], items[keep]  # still grouped by user and time-ordered
    user_ids, user_index = np.unique(users, return_inverse=True)
    item_ids, item_index = np.unique(items, return_inverse=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{name}.txt"
    _atomic_write(target, "".join(f"{u + 1} {i + 1}\n" for u, i in zip(user_index, item_index,
                                                                            strict=True)))
    _atomic_write(out_dir / "sas_to_original_items.txt",
                  "".join(f"{k + 1} {v}\n" for k, v in enumerate(item_ids)))
    _atomic_write(out_dir / "sas_to_original_users.txt",
                  "".join(f"{k + 1} {v}\n" for k, v in enumerate(user_ids)))
    return target


def _atomic_write(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as out:
        out.write(text)
    os.replace(temporary, path)


def download_ml1m(data_root: Path) -> Path:
    """Fetch ml-1m.zip, keep movies.dat and users.dat, convert ratings.dat."""
    out_dir = data_root / "ml-1m"
    try:
        with urllib.request.urlopen(ML1M_URL, timeout=60) as response:
            archive = zipfile.ZipFile(io.BytesIO(response.read()))
    except OSError as error:
        raise GsasrecError(
            f"could not download {ML1M_URL} ({error}); download it by hand, unzip it and run "
            f"`gsasrec convert ml-1m/ratings.dat`, or copy ml-1m.txt into {out_dir}"
        ) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for member in ("ml-1m/ratings.dat", "ml-1m/movies.dat", "ml-1m/users.dat",
                       "ml-1m/README"):
            target = Path(scratch) / Path(member).name
            target.write_bytes(archive.read(member))
            if member != "ml-1m/ratings.dat":
                (out_dir / ("GROUPLENS_README.txt" if target.name == "README" else target.name)
                 ).write_bytes(target.read_bytes())
        return convert_ratings(Path(scratch) / "ratings.dat", out_dir, "ml-1m")
