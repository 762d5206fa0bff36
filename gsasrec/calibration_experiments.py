"""The calibration experiments the notebooks show, as functions the notebooks only call.

- `free_logit_grid`: the free-logit experiment over a (k, t) grid (notebook 01).
- `synthetic_calibration_grid`: SASRec/gSASRec on synthetic sequences, scored against the
  generator's exact next-item probabilities (notebook 02).
- `comparison_runs` / `compare_runs`: stored ML-1M runs, GPU re-training, or a small CPU
  stand-in, compared on top-k reliability and NDCG@10 (notebook 03).
- `validate_parameters` / `write_results`: papermill parameters checked before any work,
  key numbers written as JSON for CI to assert on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from gsasrec.calibration import (
    expected_calibration_error,
    overconfidence_ratio,
    recalibrate,
    run_calibration_report,
    truth_calibration,
)
from gsasrec.config import PRESETS, TrainConfig
from gsasrec.data.registry import PROJECT_ROOT, synthetic_generator
from gsasrec.errors import GsasrecError
from gsasrec.free_logits import run_free_logit_experiment, summarise_free_logits
from gsasrec.io import atomic_write_json
from gsasrec.params import validate_notebook_parameters as validate_parameters

# ----- papermill parameters ---------------------------------------------------------------
_NUMBER_RULES: dict[str, tuple[type, float, float]] = {
    # name: (type, lowest, highest) allowed
    "num_items": (int, 10, 1_000_000),
    "num_users": (int, 50, 10_000_000),
    "num_contexts": (int, 1, 100),
    "steps": (int, 1, 1_000_000),
    "epochs": (int, 1, 100_000),
    "embedding_dim": (int, 4, 4096),
    "top_k": (int, 1, 10),
    "num_bins": (int, 1, 1000),
    "seed": (int, 0, 2**31 - 1),
    "num_negatives": (int, 1, 1_000_000),
}


def project_path(path: str | Path) -> Path:
    """A relative path taken from the project root (notebooks run from notebooks/ or root)."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else PROJECT_ROOT / path


def write_results(output_dir: str | Path, notebook: str, payload: dict[str, Any]) -> Path:
    """Write a notebook's key numbers to <output_dir>/<notebook>.json, atomically."""
    target = project_path(output_dir) / f"{notebook}.json"
    atomic_write_json(target, payload)
    return target


# ----- notebook 01: free logits -----------------------------------------------------------
def free_logit_grid(k_values: Iterable[int], t_values: Iterable[float], num_items: int,
                    steps: int, num_contexts: int, seed: int = 0,
                    progress: Callable[[float], None] | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the free-logit experiment for every (k, t): (summary per cell, all (k, t) frames)."""
    cells = [(int(k), float(t)) for k in k_values for t in t_values]
    rows, frames = [], []
    for index, (k, t) in enumerate(cells):
        frame = run_free_logit_experiment(num_items, k, t, steps=steps,
                                          num_contexts=num_contexts, seed=seed)
        summary = summarise_free_logits(frame, num_items)
        rows.append({"num_negatives": k, "t": t,
                     "alpha": k / (num_items - 1), **summary})
        frames.append(frame.assign(num_negatives=k, t=t))
        if progress is not None:
            progress((index + 1) / len(cells))
    return pd.DataFrame(rows), pd.concat(frames, ignore_index=True)


# ----- notebook 02: SASRec / gSASRec against synthetic truth -------------------------------
def synthetic_config(num_negatives: int, t: float, num_items: int, num_users: int,
                     epochs: int, embedding_dim: int, seed: int = 0) -> TrainConfig:
    """A small SASRec/gSASRec config on synthetic data that trains in seconds on a CPU.

    Fixed epochs (no early stopping): t = 1 learns more slowly, and stopping it on NDCG
    early would measure an untrained model's calibration rather than the loss's. As in the
    gSASRec presets, k warms up from 1 over the first 300 steps (at most a quarter of the
    run, so short runs end on their full k): without it, with SASRec's
    block, k = 16 at t = 1 was still near popularity after 40 epochs (test NDCG@10 0.20
    against 0.69 with the warm-up; 200 items, 2,000 users); the objective after the
    warm-up, which the calibration reflects, is the paper's.
    """
    return TrainConfig(
        dataset="synthetic", synthetic_num_items=num_items, synthetic_num_users=num_users,
        synthetic_seed=seed, model="sasrec" if t == 0.0 else "gsasrec",
        loss="bce" if t == 0.0 else "gbce", num_negatives=num_negatives, gbce_t=t,
        max_seq_len=20, embedding_dim=embedding_dim, num_blocks=1, num_heads=1, dropout=0.1,
        learning_rate=5e-3, batch_size=64, max_epochs=epochs, patience=epochs,
        val_users=min(256, num_users // 4), seed=seed, device="cpu",
        negatives_warmup_steps=min(300, max(1, num_users // 64) * epochs // 4),
    )


@torch.no_grad()
def all_item_probabilities(model: torch.nn.Module, histories: Any, num_items: int,
                           max_seq_len: int, batch_size: int = 512) -> np.ndarray:
    """sigmoid(score) of every item 1..num_items after each history: (N, num_items) float64."""
    model.eval()
    padded, lengths = histories.padded_tail(max_seq_len)
    table = model.output_table()[1 : num_items + 1].float()  # (V, d)
    out = []
    for start in range(0, len(padded), batch_size):
        items = torch.from_numpy(padded[start : start + batch_size])
        size = torch.from_numpy(np.maximum(lengths[start : start + batch_size], 1))
        users = model.user_vectors(items, size).float()  # (B, d)
        out.append(torch.sigmoid(users @ table.T).double().numpy())  # (B, V)
    return np.concatenate(out)


def synthetic_truth_report(result: Any, num_items: int, num_users: int, seed: int = 0,
                           top_k: int = 10, num_bins: int = 10) -> tuple[dict[str, Any],
                                                                        pd.DataFrame]:
    """Score a synthetic-data TrainResult against the generator's exact probabilities.

    Pairs are (test user, unseen item). Reports, before and after `recalibrate`: the
    overconfidence ratio on the held-out items, the P-weighted error sum_i P_i |p_i - P_i|
    per user, and the ECE of each user's top-k predicted items against their true
    probabilities; plus NDCG@10. Returns (numbers, truth reliability table of the top-k pairs).
    """
    config = result.config
    generator = synthetic_generator(num_items, num_users, seed)
    split = result.split
    histories = split.test_inputs
    candidates = np.broadcast_to(np.arange(1, num_items + 1), (len(histories), num_items))
    p_true = generator.true_probability(histories, candidates)  # (N, V)
    p_model = all_item_probabilities(result.model, histories, num_items, config.max_seq_len)
    unseen = p_true > 0.0
    target_column = split.test_targets - 1
    rows = np.arange(len(histories))
    k = min(config.num_negatives, num_items - 1)
    numbers: dict[str, Any] = {"num_negatives": k, "t": config.gbce_t,
                               "alpha": k / (num_items - 1),
                               "ndcg@10": result.metrics["test"]["ndcg@10"]}
    tables = []
    for stage, p in (("model", p_model),
                     ("recalibrated", recalibrate(p_model, k, num_items, config.gbce_t))):
        masked = np.where(unseen, p, -1.0)
        top = np.argsort(-masked, axis=1)[:, :top_k]
        top_p, top_true = np.take_along_axis(p, top, 1), np.take_along_axis(p_true, top, 1)
        prefix = "" if stage == "model" else "recalibrated_"
        numbers[prefix + "overconfidence_ratio"] = overconfidence_ratio(
            p[rows, target_column], p_true[rows, target_column])
        numbers[prefix + "weighted_error"] = float(
            (p_true * np.abs(np.where(unseen, p, 0.0) - p_true)).sum(1).mean())
        numbers[prefix + "ece_top_k_truth"] = expected_calibration_error(
            top_p, top_true, num_bins)
        numbers[prefix + "mean_predicted_next"] = float(p[rows, target_column].mean())
        tables.append(truth_calibration(top_p, top_true, num_bins).assign(stage=stage))
    numbers["mean_true_next"] = float(p_true[rows, target_column].mean())
    return numbers, pd.concat(tables, ignore_index=True)


def synthetic_calibration_grid(cells: Iterable[tuple[int, float]], num_items: int,
                               num_users: int, epochs: int, embedding_dim: int, seed: int = 0,
                               top_k: int = 10, num_bins: int = 10
                               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train one small model per (k, t) on synthetic data and score it against the truth.

    Returns (one row of numbers per cell, truth reliability tables with k and t columns).
    """
    from gsasrec.training import train

    generator = synthetic_generator(num_items, num_users, seed)
    interactions = generator.generate()
    rows, tables = [], []
    for k, t in cells:
        config = synthetic_config(int(k), float(t), num_items, num_users, epochs,
                                  embedding_dim, seed)
        result = train(config, None, interactions=interactions, progress=False)
        numbers, table = synthetic_truth_report(result, num_items, num_users, seed, top_k,
                                                num_bins)
        numbers["train_seconds"] = result.metrics["training"]["train_seconds"]
        rows.append(numbers)
        tables.append(table.assign(num_negatives=int(k), t=float(t)))
    return pd.DataFrame(rows), pd.concat(tables, ignore_index=True)


# ----- notebook 03: real data -------------------------------------------------------------
COMPARISON: dict[str, tuple[str, TrainConfig]] = {
    # label: (stored run folder under results/, the config it was trained with)
    "SASRec (k=1, t=0)": ("ml1m-sasrec-bce-k1", PRESETS["sasrec-ml1m"]),
    "gSASRec (k=256, t=0.75)": ("ml1m-gsasrec-gbce-k256-t0.75", PRESETS["gsasrec-ml1m"]),
    "gSASRec (k=256, t=1)": ("ml1m-gsasrec-gbce-k256-t1",
                             PRESETS["gsasrec-ml1m"].replace(gbce_t=1.0)),
}


def standin_config(config: TrainConfig, num_items: int, num_users: int, epochs: int,
                   embedding_dim: int, seed: int = 0) -> TrainConfig:
    """A CPU-sized version of a comparison config on synthetic data (same k and t)."""
    return config.replace(
        dataset="synthetic", synthetic_num_items=num_items, synthetic_num_users=num_users,
        synthetic_seed=seed, num_negatives=min(config.num_negatives, num_items - 1),
        max_seq_len=20, embedding_dim=embedding_dim, num_blocks=1, dropout=0.1,
        learning_rate=5e-3, batch_size=64, max_epochs=epochs, patience=epochs,
        val_users=min(256, num_users // 4), seed=seed, device="cpu",
    )


def comparison_runs(results_dir: str | Path, work_dir: str | Path, quick: bool,
                    retrain_on_gpu: bool, num_items: int, num_users: int, epochs: int,
                    embedding_dim: int, seed: int = 0) -> pd.DataFrame:
    """Where each comparison run comes from: one row per label with path and source.

    retrain_on_gpu with a CUDA GPU: train the ML-1M configs into work_dir. Else quick: train
    CPU stand-ins on synthetic data into work_dir (NOT ML-1M; the source column says so).
    Else: the stored runs under results_dir, which must exist.
    """
    from gsasrec.training import train

    work = project_path(work_dir)
    rows = []
    for label, (folder, config) in COMPARISON.items():
        if retrain_on_gpu and torch.cuda.is_available():
            path = work / folder
            train(config.replace(device="cuda"), path, progress=False)
            source = "re-trained on ML-1M on this GPU"
        elif quick:
            path = work / f"standin-{folder}"
            train(standin_config(config, num_items, num_users, epochs, embedding_dim, seed),
                  path, progress=False)
            source = (f"CPU stand-in: synthetic data ({num_items} items, {num_users} users), "
                      "not ML-1M")
        else:
            path = project_path(results_dir) / folder
            if not (path / "predictions.npz").exists():
                raise GsasrecError(
                    f"{path}: no stored run; train it on a GPU (retrain_on_gpu=True) or run "
                    "the notebook with quick=True for a CPU stand-in")
            source = "stored run (results/)"
        rows.append({"label": label, "path": str(path), "source": source})
    return pd.DataFrame(rows)


def compare_runs(runs: pd.DataFrame, top_k: int = 10, num_bins: int = 10
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Top-k calibration and NDCG@10 of each run, before and after recalibration.

    Returns (one row per run, reliability tables with label and stage columns).
    """
    rows, tables = [], []
    for label, path in zip(runs["label"], runs["path"], strict=True):
        report, table = run_calibration_report(path, top_k, num_bins)
        row = {"label": label, "ndcg@10": report["test"].get("ndcg@10"),
               "recall@10": report["test"].get("recall@10"),
               "num_negatives": report["num_negatives"], "t": report["t"]}
        for stage in ("model", "recalibrated"):
            summary = report[stage] or {}
            prefix = "" if stage == "model" else "recalibrated_"
            for key in ("ece", "mce", "brier", "mean_predicted", "mean_target_probability"):
                row[prefix + key] = summary.get(key)
        row["observed_frequency"] = report["model"]["observed_frequency"]
        rows.append(row)
        tables.append(table.assign(label=label))
    return pd.DataFrame(rows), pd.concat(tables, ignore_index=True)


__all__ = [
    "COMPARISON", "all_item_probabilities", "compare_runs",
    "comparison_runs", "free_logit_grid", "project_path", "standin_config",
    "synthetic_calibration_grid", "synthetic_config", "synthetic_truth_report",
    "validate_parameters", "write_results",
]
