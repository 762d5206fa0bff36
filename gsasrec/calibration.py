"""Calibration of predicted next-item probabilities: reliability data, errors, recalibration.

Pure numpy functions. `outcomes` are 0/1 events (did the predicted item come next?) or,
on synthetic data, the true probabilities themselves: a reliability bin then compares the
mean predicted with the mean true probability, which is what the observed frequency
estimates. Bins follow scikit-learn's `calibration_curve` (right-closed edges).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from gsasrec.errors import GsasrecError
from gsasrec.io import read_json
from gsasrec.theory import sampling_rate, true_probability

STRATEGIES = ("uniform", "quantile")
LOG_LOSS_EPS = 1e-15  # probabilities are clipped to [eps, 1 - eps] in the log loss
SIGMOID_LOSSES = ("bce", "gbce")


def _pair(predicted: ArrayLike, outcomes: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predicted, dtype=np.float64).reshape(-1)
    y = np.asarray(outcomes, dtype=np.float64).reshape(-1)
    if p.shape != y.shape:
        raise ValueError(f"predicted ({p.size}) and outcomes ({y.size}) differ in length")
    if p.size == 0:
        raise ValueError("no predictions to assess")
    if not (np.all(p >= 0.0) and np.all(p <= 1.0)):
        raise ValueError("predicted probabilities must lie in [0, 1] (and not be NaN)")
    if not (np.all(y >= 0.0) and np.all(y <= 1.0)):
        raise ValueError("outcomes must be 0/1 events or probabilities in [0, 1]")
    return p, y


def _edges(p: np.ndarray, num_bins: int, strategy: str) -> np.ndarray:
    if num_bins < 1:
        raise ValueError(f"num_bins must be at least 1, got {num_bins}")
    if strategy == "uniform":
        return np.linspace(0.0, 1.0, num_bins + 1)
    if strategy == "quantile":
        return np.percentile(p, np.linspace(0.0, 100.0, num_bins + 1))
    raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")


def _binned(p: np.ndarray, y: np.ndarray, num_bins: int, strategy: str) -> pd.DataFrame:
    edges = _edges(p, num_bins, strategy)
    index = np.searchsorted(edges[1:-1], p)  # as calibration_curve: (lower, upper]
    count = np.bincount(index, minlength=num_bins)
    sum_p = np.bincount(index, weights=p, minlength=num_bins)
    sum_y = np.bincount(index, weights=y, minlength=num_bins)
    keep = count > 0
    return pd.DataFrame({
        "bin_lower": edges[:-1][keep],
        "bin_upper": edges[1:][keep],
        "mean_predicted": sum_p[keep] / count[keep],
        "observed_frequency": sum_y[keep] / count[keep],
        "count": count[keep].astype(np.int64),
    })


def reliability_table(predicted: ArrayLike, outcomes: ArrayLike, num_bins: int = 10,
                      strategy: str = "uniform") -> pd.DataFrame:
    """Reliability diagram data: one row per non-empty bin of predicted probability.

    strategy "uniform": equal-width bins on [0, 1]; "quantile": equal-mass bins.
    """
    p, y = _pair(predicted, outcomes)
    return _binned(p, y, num_bins, strategy)


def expected_calibration_error(predicted: ArrayLike, outcomes: ArrayLike, num_bins: int = 10,
                               strategy: str = "uniform") -> float:
    """ECE: the count-weighted mean |mean predicted - observed frequency| over bins."""
    table = reliability_table(predicted, outcomes, num_bins, strategy)
    gap = (table["mean_predicted"] - table["observed_frequency"]).abs()
    return float((gap * table["count"]).sum() / table["count"].sum())


def maximum_calibration_error(predicted: ArrayLike, outcomes: ArrayLike, num_bins: int = 10,
                              strategy: str = "uniform") -> float:
    """MCE: the largest |mean predicted - observed frequency| over non-empty bins."""
    table = reliability_table(predicted, outcomes, num_bins, strategy)
    return float((table["mean_predicted"] - table["observed_frequency"]).abs().max())


def brier_score(predicted: ArrayLike, outcomes: ArrayLike) -> float:
    """Mean squared difference between predicted probability and outcome."""
    p, y = _pair(predicted, outcomes)
    return float(np.mean((p - y) ** 2))


def log_loss(predicted: ArrayLike, outcomes: ArrayLike) -> float:
    """Mean binary cross-entropy, probabilities clipped to [1e-15, 1 - 1e-15]."""
    p, y = _pair(predicted, outcomes)
    p = np.clip(p, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log1p(-p)))


def calibration_summary(predicted: ArrayLike, outcomes: ArrayLike, num_bins: int = 10
                        ) -> dict[str, float]:
    """ECE, MCE (equal-width bins), Brier, log loss, mean predicted and observed, count."""
    p, y = _pair(predicted, outcomes)
    return {
        "ece": expected_calibration_error(p, y, num_bins),
        "mce": maximum_calibration_error(p, y, num_bins),
        "brier": brier_score(p, y),
        "log_loss": log_loss(p, y),
        "mean_predicted": float(p.mean()),
        "observed_frequency": float(y.mean()),
        "count": int(p.size),
    }


# ----- against known truth (synthetic data) -----------------------------------------------
def truth_calibration(p_predicted: ArrayLike, p_true: ArrayLike, num_bins: int = 10,
                      strategy: str = "uniform") -> pd.DataFrame:
    """Binned mean predicted versus mean true probability, for scored (context, item) pairs."""
    table = reliability_table(p_predicted, p_true, num_bins, strategy)
    return table.rename(columns={"observed_frequency": "mean_true"})


def overconfidence_ratio(p_predicted_of_next_items: ArrayLike,
                         p_true_of_next_items: ArrayLike) -> float:
    """Mean predicted / mean true probability of the items that actually came next.

    1 is calibrated; BCE with few negatives gives values far above 1.
    """
    p, y = _pair(p_predicted_of_next_items, p_true_of_next_items)
    if y.mean() <= 0.0:
        raise ValueError("the true probabilities of the next items are all zero")
    return float(p.mean() / y.mean())


# ----- recalibration ----------------------------------------------------------------------
def recalibrate(p_predicted: ArrayLike, num_negatives: int, num_items: int, t: float
                ) -> np.ndarray:
    """Map probabilities of a model trained with gBCE(k, t) back to calibrated ones.

    Inverts the optimum p_hat = beta P / (beta P + alpha (1 - P)) (`theory.true_probability`).
    """
    alpha = sampling_rate(num_negatives, num_items)
    return np.asarray(true_probability(p_predicted, alpha, t), dtype=np.float64)


def scores_to_probabilities(scores: ArrayLike, loss: str,
                            log_normalisers: ArrayLike | None = None) -> np.ndarray:
    """A model's scores read as probabilities: sigmoid for bce/gbce, softmax over the
    (seen-filtered) catalogue, via each user's log-normaliser, for ce/sampled-ce.
    scores: (N,) or (N, K); log_normalisers: (N,)."""
    scores = np.asarray(scores, dtype=np.float64)
    if loss in SIGMOID_LOSSES:
        return 1.0 / (1.0 + np.exp(-scores))
    if log_normalisers is None:
        raise ValueError("softmax probabilities need the log-normaliser of each user")
    normalisers = np.asarray(log_normalisers, dtype=np.float64)
    return np.exp(scores - (normalisers[:, None] if scores.ndim == 2 else normalisers))


# ----- stored runs (real data, truth unknown) ---------------------------------------------


def run_predictions(run_dir: str | Path) -> dict[str, Any]:
    """A finished run's test predictions with probabilities.

    Probability = sigmoid(score) for bce/gbce, softmax over the (seen-filtered) catalogue via
    the stored log-normalisers for ce/sampled-ce. Returns the arrays of predictions.npz plus
    `top_probabilities` (N, K), `target_probabilities` (N,), and loss, num_negatives, t, alpha,
    num_items, config, metrics, path.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise GsasrecError(f"{run_dir}: no such run folder")
    config = read_json(run_dir / "config.json")
    metrics = read_json(run_dir / "metrics.json")
    try:
        with np.load(run_dir / "predictions.npz") as stored:
            arrays = {name: stored[name] for name in stored.files}
    except FileNotFoundError:
        raise GsasrecError(f"{run_dir}/predictions.npz: missing; the run has not finished") \
            from None
    loss = metrics.get("loss") or config.get("loss")
    normalisers = arrays.get("log_normalisers")
    top_probabilities = scores_to_probabilities(arrays["top_scores"], loss, normalisers)
    target_probabilities = scores_to_probabilities(arrays["target_scores"], loss, normalisers)
    t = float(config.get("gbce_t", 0.0)) if loss == "gbce" else 0.0
    return {
        **arrays,
        "top_probabilities": top_probabilities,
        "target_probabilities": target_probabilities,
        "loss": loss,
        "num_negatives": metrics.get("num_negatives"),
        "t": t,
        "alpha": metrics.get("alpha"),
        "num_items": int(metrics["split"]["num_items"]),
        "config": config,
        "metrics": metrics,
        "path": str(run_dir),
    }


def top_k_reliability_data(run_dir_or_predictions: str | Path | dict[str, Any], top_k: int = 10
                           ) -> tuple[np.ndarray, np.ndarray]:
    """Each test user's top-k predicted probabilities and whether the held-out item was that item.

    Returns flat (predicted, outcomes) arrays of length N * top_k. The held-out item's own
    probability is `run_predictions(...)["target_probabilities"]`.
    """
    predictions = (run_dir_or_predictions if isinstance(run_dir_or_predictions, dict)
                   else run_predictions(run_dir_or_predictions))
    available = predictions["top_items"].shape[1]
    if not 1 <= top_k <= available:
        raise GsasrecError(f"top_k must be in [1, {available}] for this run, got {top_k}")
    items = predictions["top_items"][:, :top_k]
    hits = items == np.asarray(predictions["targets"])[:, None]
    return (predictions["top_probabilities"][:, :top_k].reshape(-1),
            hits.reshape(-1).astype(np.float64))


def recalibrated_predictions(predictions: dict[str, Any]) -> dict[str, Any] | None:
    """The same predictions with probabilities mapped through `recalibrate`.

    None for losses without a sampling optimum to invert (ce, sampled-ce).
    """
    if predictions["loss"] not in SIGMOID_LOSSES or predictions["num_negatives"] is None:
        return None
    k = min(int(predictions["num_negatives"]), predictions["num_items"] - 1)
    args = (k, predictions["num_items"], predictions["t"])
    return {**predictions,
            "top_probabilities": recalibrate(predictions["top_probabilities"], *args),
            "target_probabilities": recalibrate(predictions["target_probabilities"], *args)}


def run_calibration_report(run_dir: str | Path, top_k: int = 10, num_bins: int = 10,
                           strategy: str = "uniform") -> tuple[dict[str, Any], pd.DataFrame]:
    """Summary figures of a run's top-k calibration, before and after recalibration.

    Returns (report dict, reliability table with a `stage` column: "model" / "recalibrated").
    """
    if num_bins < 1:
        raise GsasrecError(f"--bins must be at least 1, got {num_bins}")
    if strategy not in STRATEGIES:
        raise GsasrecError(f"--strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    predictions = run_predictions(run_dir)
    stages = {"model": predictions, "recalibrated": recalibrated_predictions(predictions)}
    report: dict[str, Any] = {
        "run": str(run_dir), "loss": predictions["loss"],
        "num_negatives": predictions["num_negatives"], "t": predictions["t"],
        "alpha": predictions["alpha"], "num_items": predictions["num_items"],
        "top_k": top_k, "num_bins": num_bins, "strategy": strategy,
        "test": predictions["metrics"].get("test", {}),
    }
    tables = []
    for stage, data in stages.items():
        if data is None:
            report[stage] = None
            continue
        predicted, outcomes = top_k_reliability_data(data, top_k)
        summary = calibration_summary(predicted, outcomes, num_bins)
        if strategy != "uniform":
            summary["ece"] = expected_calibration_error(predicted, outcomes, num_bins, strategy)
            summary["mce"] = maximum_calibration_error(predicted, outcomes, num_bins, strategy)
        summary["mean_target_probability"] = float(np.mean(data["target_probabilities"]))
        report[stage] = summary
        tables.append(reliability_table(predicted, outcomes, num_bins, strategy)
                      .assign(stage=stage))
    return report, pd.concat(tables, ignore_index=True)
