"""Everything the dashboard (`app/main.py`) computes, as plain functions the app only lays out.

Theory curves for (|I|, k, t); discovery of stored run folders under configured roots, which
never raises (a missing, corrupt or unfinished run becomes a warning); grids of runs over
(num_negatives, gbce_t); reliability data per run; side-by-side top-10 recommendations.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gsasrec import theory
from gsasrec.config import variant_of

MAX_NEGATIVES = 4096
CATALOGUE_SIZES = (10, 30, 100, 300, 1000, 3416, 10_000, 100_000, 1_000_000)
METRICS = ("ndcg@10", "recall@1", "recall@10")
RUNS_DIR_ENV = "GSASREC_RUNS_DIR"
DEFAULT_ROOTS = ("results", "runs")
# a run folder holds at least one of these; a folder with none is not a run
RUN_MARKERS = ("metrics.json", "config.json", "best.pt")
MAX_DEPTH = 4  # how deep under a root run folders are looked for
MAX_FOLDERS = 5000  # folders visited per root at most

TRAIN_HINT = ("python -m gsasrec train --dataset ml-1m --model gsasrec --negatives 256 --t 0.75 "
              "--out runs/ml1m-gsasrec-k256-t0.75")
QUICK_TRAIN_HINT = ("python -m gsasrec train --dataset synthetic --max-epochs 3 --device cpu "
                    "--out runs/synthetic-gsasrec")


# ----- theory -------------------------------------------------------------------------------
def max_negatives(num_items: int) -> int:
    """Largest k the sliders offer: k negatives come from the |I| - 1 non-positive items."""
    if num_items < 2:
        raise ValueError(f"num_items must be at least 2, got {num_items}")
    return min(MAX_NEGATIVES, num_items - 1)


def negatives_options(num_items: int) -> list[int]:
    """k on a log scale: powers of two from 1, capped at |I| - 1 (which is added as the end)."""
    cap = max_negatives(num_items)
    options = [2**i for i in range(13) if 2**i <= cap]
    if options[-1] != cap:
        options.append(cap)
    return options


def clamp_negatives(num_negatives: int, num_items: int) -> int:
    """The option of `negatives_options(num_items)` nearest to k on a log scale."""
    options = negatives_options(num_items)
    target = math.log(max(1, num_negatives))
    return min(options, key=lambda k: abs(math.log(k) - target))


@dataclass(frozen=True)
class TheoryCurves:
    """Predicted-vs-true probability for BCE and gBCE(t) at sampling rate alpha."""

    num_items: int
    num_negatives: int
    t: float
    alpha: float
    beta: float
    curves: pd.DataFrame  # p_true, bce, gbce


def theory_curves(num_items: int, num_negatives: int, t: float, num_points: int = 200,
                  p_min: float = 1e-4) -> TheoryCurves:
    """The optimum each loss converges to (theory.predicted_probability) on a log grid of P."""
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must be in [0, 1], got {t}")
    alpha = theory.sampling_rate(num_negatives, num_items)
    p_true = np.logspace(math.log10(p_min), 0.0, num_points)
    curves = pd.DataFrame({
        "p_true": p_true,
        "bce": theory.predicted_probability(p_true, alpha, 0.0),
        "gbce": theory.predicted_probability(p_true, alpha, t),
    })
    return TheoryCurves(num_items, num_negatives, float(t), alpha,
                        float(theory.beta(alpha, t)), curves)


def theory_point(num_items: int, num_negatives: int, t: float, p_true: float) -> dict[str, float]:
    """The BCE and gBCE optima at one true probability P (the marked point on the chart)."""
    alpha = theory.sampling_rate(num_negatives, num_items)
    return {"p_true": float(p_true),
            "bce": float(theory.predicted_probability(p_true, alpha, 0.0)),
            "gbce": float(theory.predicted_probability(p_true, alpha, t))}


# ----- run discovery ------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSummary:
    """What the dashboard lists about a finished run folder (read from metrics.json)."""

    path: Path
    label: str
    dataset: str
    model: str
    loss: str
    num_negatives: int | None
    gbce_t: float | None
    alpha: float | None
    num_items: int | None
    test: dict[str, float]
    has_predictions: bool
    has_checkpoint: bool
    variant: str = ""  # "tuned" for runs of a *-tuned preset (config.json's extra.preset)

    @property
    def calibration_t(self) -> float | None:
        """t of the sampled-BCE family: gBCE's t, 0 for BCE, None for softmax losses."""
        if self.loss == "bce":
            return 0.0
        return self.gbce_t if self.loss == "gbce" else None

    def row(self) -> dict[str, Any]:
        return {"run": self.label, "dataset": self.dataset, "model": self.model,
                "loss": self.loss, "k": self.num_negatives, "t": self.calibration_t,
                **{name: self.test.get(name) for name in METRICS}}


@dataclass
class Discovery:
    """Runs found under the roots, and one line per folder that was skipped or is incomplete."""

    roots: list[Path]
    runs: list[RunSummary] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def configured_roots(extra: Iterable[str | Path] = (), cwd: str | Path | None = None,
                     environ: dict[str, str] | None = None) -> list[Path]:
    """results/ and runs/ of the working folder (where `gsasrec train` writes by default),
    the folders in GSASREC_RUNS_DIR (os.pathsep-separated), then `extra` (blank ones ignored).
    """
    base = Path(cwd) if cwd is not None else Path.cwd()
    environ = os.environ if environ is None else environ
    candidates: list[Path] = [base / name for name in DEFAULT_ROOTS]
    candidates += [Path(p) for p in environ.get(RUNS_DIR_ENV, "").split(os.pathsep) if p.strip()]
    candidates += [Path(str(p).strip()) for p in extra if str(p).strip()]
    roots: list[Path] = []
    for candidate in candidates:
        path = candidate.expanduser()
        path = (base / path) if not path.is_absolute() else path
        path = path.resolve()
        if path not in roots:
            roots.append(path)
    return roots


def is_under(path: str | Path, roots: Sequence[Path]) -> bool:
    """True when `path` (links resolved) lies inside one of the roots: nothing else is read."""
    resolved = Path(path).resolve()
    return any(resolved == root or resolved.is_relative_to(root) for root in roots)


def _run_folders(root: Path) -> tuple[list[Path], bool]:
    """Folders under `root` (depth <= MAX_DEPTH) holding a run marker; runs are not descended.

    Also returns True when the scan stopped early at MAX_FOLDERS (a root such as / or ~).
    """
    found: list[Path] = []
    pending = [(root, 0)]
    visited = 0
    while pending:
        if visited >= MAX_FOLDERS:
            return sorted(found), True
        folder, depth = pending.pop()
        visited += 1
        try:
            entries = sorted(folder.iterdir())
        except OSError:  # deleted or unreadable while scanning
            continue
        names = {entry.name for entry in entries}
        if any(marker in names for marker in RUN_MARKERS):  # a root may itself be a run
            found.append(folder)
            continue
        if depth < MAX_DEPTH:
            pending += [(entry, depth + 1) for entry in entries
                        if entry.is_dir() and not entry.name.startswith(".")]
    return sorted(found), False


def _zip_readable(path: Path) -> bool:
    """torch checkpoints and .npz files are zip archives; a truncated one has no directory."""
    try:
        with zipfile.ZipFile(path) as archive:
            return bool(archive.namelist())
    except (OSError, zipfile.BadZipFile, ValueError):
        return False


def _label(folder: Path, root: Path, multiple_roots: bool) -> str:
    relative = folder.relative_to(root).as_posix() if folder != root else folder.name
    return f"{root.name}/{relative}" if multiple_roots else relative


def _variant(folder: Path) -> str:
    """'tuned' when config.json names a *-tuned preset; '' otherwise, also when unreadable."""
    try:
        return variant_of(json.loads((folder / "config.json").read_text()).get("extra"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return ""


def read_run_summary(folder: str | Path, label: str | None = None) -> tuple[RunSummary | None,
                                                                            list[str]]:
    """A finished run's summary, or None and the reasons it cannot be used. Never raises."""
    folder = Path(folder)
    label = label or folder.name
    metrics_path = folder / "metrics.json"
    if not folder.is_dir():
        return None, [f"{label}: run folder no longer exists ({folder})"]
    if not metrics_path.exists():
        hint = ("training is still running or stopped before the test evaluation; "
                "finish it with `python -m gsasrec train ... --out "
                f"{folder} --resume`" if (folder / "config.json").exists()
                else "not a finished gsasrec run folder")
        return None, [f"{label}: skipped, no metrics.json ({hint})"]
    try:
        metrics = json.loads(metrics_path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, [f"{label}: skipped, metrics.json is unreadable or truncated "
                      f"({type(error).__name__})"]
    try:
        test = {name: float(metrics["test"][name]) for name in METRICS}
        dataset, model, loss = str(metrics["dataset"]), str(metrics["model"]), str(metrics["loss"])
        k = metrics.get("num_negatives")
        t = metrics.get("gbce_t")
        alpha = metrics.get("alpha")
        num_items = (metrics.get("split") or {}).get("num_items")
        summary = RunSummary(
            path=folder, label=label, dataset=dataset, model=model, loss=loss,
            num_negatives=int(k) if k is not None else None,
            gbce_t=float(t) if t is not None else None,
            alpha=float(alpha) if alpha is not None else None,
            num_items=int(num_items) if num_items is not None else None, test=test,
            has_predictions=_zip_readable(folder / "predictions.npz"),
            has_checkpoint=_zip_readable(folder / "best.pt"), variant=_variant(folder))
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        return None, [f"{label}: skipped, metrics.json lacks a field ({error!r})"]
    # a metrics-only folder (an experiment kept without weights) is fine; a file that is
    # there but unreadable is a problem worth a warning
    warnings = []
    if not summary.has_predictions and (folder / "predictions.npz").exists():
        warnings.append(f"{label}: predictions.npz truncated or corrupt: no reliability diagram")
    if not summary.has_checkpoint and (folder / "best.pt").exists():
        warnings.append(f"{label}: best.pt truncated or corrupt: no recommendations")
    return summary, warnings


def discover_runs(roots: Sequence[str | Path]) -> Discovery:
    """Every finished run under the roots (missing roots are fine); problems become warnings."""
    resolved = [Path(root).resolve() for root in roots]
    discovery = Discovery(roots=resolved)
    seen: set[Path] = set()
    labels: set[str] = set()
    existing = [root for root in resolved if root.is_dir()]
    for root in existing:
        folders, stopped = _run_folders(root)
        if stopped:
            discovery.warnings.append(f"{root}: more than {MAX_FOLDERS} folders; stopped "
                                      "looking for runs there (name a narrower folder)")
        for folder in folders:
            if not is_under(folder, resolved):
                discovery.warnings.append(f"{folder}: a link to outside the run folders; "
                                          "skipped")
                continue
            if folder in seen:
                continue
            seen.add(folder)
            label = _label(folder, root, len(existing) > 1)
            while label in labels:  # two roots with the same name
                label += "'"
            labels.add(label)
            summary, warnings = read_run_summary(folder, label)
            discovery.warnings += warnings
            if summary is not None:
                discovery.runs.append(summary)
    return discovery


def runs_table(runs: Sequence[RunSummary], ece: dict[str, float] | None = None) -> pd.DataFrame:
    """One row per run: its setting, test NDCG@10/Recall@1/Recall@10 and (when given) ECE."""
    frame = pd.DataFrame([run.row() for run in runs],
                         columns=["run", "dataset", "model", "loss", "k", "t", *METRICS])
    if ece is not None:
        frame["ece"] = [ece.get(run.label, np.nan) for run in runs]
    return frame


# ----- grids over (k, t) --------------------------------------------------------------------
@dataclass(frozen=True)
class RunGrid:
    """Runs of one dataset and model in one folder over several (num_negatives, t)."""

    dataset: str
    model: str
    ks: tuple[int, ...]
    ts: tuple[float, ...]
    cells: dict[tuple[int, float], tuple[RunSummary, ...]]
    folder: str = ""  # the runs' folder, relative to their root ("" for the root itself)
    variant: str = ""  # "tuned": runs of our tuned presets, never mixed with the paper's

    @property
    def name(self) -> str:
        model = f"{self.model}, {self.variant}" if self.variant else self.model
        return f"{self.dataset} / {model}" + (f" in {self.folder}" if self.folder else "")


def find_grids(runs: Sequence[RunSummary]) -> list[RunGrid]:
    """Group BCE/gBCE runs by (dataset, model, folder, variant); a group with >= 2 distinct
    (k, t) is a grid. Runs of one folder and variant share their other settings
    (benchmarks/paper_runs.py writes a grid into one folder, seeds side by side), while side
    experiments in other folders and tuned presets (another block, dropout or budget) must
    never average into the same cell. Largest first: the app shows the first by default, and
    two main-table settings of a data set make a grid too, a small one."""
    groups: dict[tuple[str, str, str, str], dict[tuple[int, float], list[RunSummary]]] = {}
    for run in runs:
        t = run.calibration_t
        if t is None or run.num_negatives is None:
            continue
        cell = (run.num_negatives, round(t, 6))
        folder = Path(run.label).parent.as_posix()
        key = (run.dataset, run.model, "" if folder == "." else folder, run.variant)
        groups.setdefault(key, {}).setdefault(cell, []).append(run)
    grids = []
    for (dataset, model, folder, variant), cells in sorted(groups.items()):
        if len(cells) < 2:
            continue
        grids.append(RunGrid(dataset, model, tuple(sorted({k for k, _ in cells})),
                             tuple(sorted({t for _, t in cells})),
                             {cell: tuple(found) for cell, found in cells.items()}, folder,
                             variant))
    return sorted(grids, key=lambda grid: -len(grid.cells))  # stable: ties keep key order


def grid_table(grid: RunGrid, values: dict[str, float]) -> pd.DataFrame:
    """A t-by-k table of the mean of `values` (by run label) over each cell's runs; NaN if none."""
    table = pd.DataFrame(np.nan, index=pd.Index(grid.ts, name="t"),
                         columns=pd.Index(grid.ks, name="k"))
    for (k, t), runs in grid.cells.items():
        found = [values[run.label] for run in runs if run.label in values
                 and np.isfinite(values[run.label])]
        if found:
            table.loc[t, k] = float(np.mean(found))
    return table


def metric_values(runs: Iterable[RunSummary], metric: str) -> dict[str, float]:
    return {run.label: run.test[metric] for run in runs}


def matching_run(grid: RunGrid, num_negatives: int, t: float) -> tuple[RunSummary | None, bool]:
    """The grid's run at (k, t) and True; else the nearest one (log2 k and t) and False."""
    exact = grid.cells.get((num_negatives, round(t, 6)))
    if exact:
        return exact[0], True
    if not grid.cells:
        return None, False
    def distance(cell: tuple[int, float]) -> float:
        return abs(math.log2(cell[0]) - math.log2(max(1, num_negatives))) / 12 + abs(cell[1] - t)
    nearest = min(grid.cells, key=distance)
    return grid.cells[nearest][0], False


# ----- reliability --------------------------------------------------------------------------
@dataclass
class Reliability:
    """Reliability table and ECE of each run's top-k predicted probabilities."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    ece: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def run_reliability(runs: Sequence[RunSummary], roots: Sequence[Path], num_bins: int = 10,
                    strategy: str = "uniform", top_k: int = 10,
                    recalibrated: bool = False) -> Reliability:
    """Top-k predicted probability against how often the item was the test target, per run.

    recalibrated: first map BCE/gBCE probabilities back through the theory's inverse
    (softmax-loss runs, which have none, are then left out with a warning).
    """
    from gsasrec.calibration import (
        expected_calibration_error,
        recalibrated_predictions,
        reliability_table,
        run_predictions,
        top_k_reliability_data,
    )

    result = Reliability()
    for run in runs:
        if not is_under(run.path, roots):
            result.warnings.append(f"{run.label}: not under the configured run folders; not read")
            continue
        try:
            predictions = run_predictions(run.path)
            if recalibrated:
                predictions = recalibrated_predictions(predictions)
                if predictions is None:
                    result.warnings.append(f"{run.label}: {run.loss} has no sampling optimum "
                                           "to invert; left out of the recalibrated view")
                    continue
            predicted, outcomes = top_k_reliability_data(predictions, top_k=top_k)
            result.tables[run.label] = reliability_table(predicted, outcomes, num_bins, strategy)
            result.ece[run.label] = float(expected_calibration_error(predicted, outcomes,
                                                                     num_bins, strategy))
        except Exception as error:  # deleted, truncated or foreign files raise many types
            result.warnings.append(f"{run.label}: no reliability diagram "
                                   f"({type(error).__name__}: {error})")
    return result


def theory_observed_curve(alpha: float, t: float, num_points: int = 101) -> pd.DataFrame:
    """Where free-logit theory puts observed frequency for each predicted probability."""
    predicted = np.linspace(0.0, 1.0, num_points)
    return pd.DataFrame({"predicted": predicted,
                         "observed": theory.true_probability(predicted, alpha, t)})


# ----- recommendations ----------------------------------------------------------------------
def load_runs(runs: Sequence[RunSummary], roots: Sequence[Path]) -> tuple[dict[str, Any],
                                                                            list[str]]:
    """Models of the runs (gsasrec.runs.load_run: weights_only) by label; failures as warnings."""
    from gsasrec.runs import load_run

    loaded: dict[str, Any] = {}
    warnings = []
    for run in runs:
        if not is_under(run.path, roots):
            warnings.append(f"{run.label}: not under the configured run folders; not read")
            continue
        try:
            loaded[run.label] = load_run(run.path)
        except Exception as error:  # GsasrecError for known cases; torch raises many others
            warnings.append(f"{run.label}: cannot load the model ({error})")
    return loaded, warnings


def user_histories(dataset_runs: Sequence[Any]) -> tuple[Any | None, str | None]:
    """The interactions behind a run (rebuilt from its config), or None and why not."""
    from gsasrec.training import load_interactions

    if not dataset_runs:
        return None, "no run to take the data set from"
    try:
        return load_interactions(dataset_runs[0].config), None
    except Exception as error:
        return None, str(error)


def user_history(interactions: Any, user_id: Any, hold_out_last: bool = True
                 ) -> tuple[np.ndarray, int | None]:
    """A user's items (internal ids, oldest first) and the held-out last item (or None)."""
    matches = np.flatnonzero(np.asarray(interactions.user_ids).astype(str) == str(user_id))
    if not len(matches):
        raise KeyError(f"unknown user {user_id!r}")
    items = np.asarray(interactions.sequences[int(matches[0])])
    if hold_out_last and len(items) >= 2:
        return items[:-1], int(items[-1])
    return items, None


def title_of(item: int, titles: dict[int, str]) -> str:
    return titles.get(int(item), f"item {int(item)}")


def history_table(items: Sequence[int], titles: dict[int, str], last: int | None = 20
                  ) -> pd.DataFrame:
    """The most recent `last` items of a history (newest first), with titles."""
    items = np.asarray(items, dtype=np.int64)
    positions = np.arange(1, len(items) + 1)
    if last is not None:
        items, positions = items[-last:], positions[-last:]
    return pd.DataFrame({"position": positions[::-1], "item": items[::-1],
                         "title": [title_of(i, titles) for i in items[::-1]]})


def recommendation_tables(models: dict[str, Any], history: Sequence[int],
                          titles: dict[int, str], k: int = 10, target: int | None = None
                          ) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Each model's top-k for one history: rank, item, title, probability, calibrated.

    `probability` is the sigmoid (or softmax) of the score as the model was trained; for
    BCE/gBCE runs `calibrated` maps it back through theory.true_probability with the run's
    alpha and t (NaN for softmax losses). A title is starred when it is the held-out target.
    """
    tables: dict[str, pd.DataFrame] = {}
    warnings = []
    for label, run in models.items():
        try:
            top = run.recommend({0: list(history)}, k=k)
        except Exception as error:
            warnings.append(f"{label}: cannot recommend ({error})")
            continue
        probability = top["probability"].to_numpy()
        t = {"bce": 0.0, "gbce": run.config.gbce_t}.get(run.loss)
        calibrated = np.full(len(top), np.nan)
        if t is not None:
            negatives = min(run.config.num_negatives, run.num_items - 1)
            calibrated = np.asarray(theory.true_probability(
                probability, theory.sampling_rate(negatives, run.num_items), t))
        tables[label] = pd.DataFrame({
            "rank": top["rank"].to_numpy(), "item": top["item"].to_numpy(),
            "title": [title_of(i, titles) + (" *" if i == target else "") for i in top["item"]],
            "probability": probability, "calibrated": calibrated})
    return tables, warnings


def side_by_side(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One wide table: rank, then `<run> | title`, `<run> | probability`, ... per run."""
    if not tables:
        return pd.DataFrame(index=pd.Index([], name="rank")).reset_index()
    parts = [table.set_index("rank")[["title", "probability", "calibrated"]]
             .add_prefix(f"{label} | ") for label, table in tables.items()]
    return pd.concat(parts, axis=1).reset_index()
