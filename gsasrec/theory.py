"""Closed forms of the paper: sampling rate, beta, and the optimum a sampled loss converges to.

For an item with true next-item probability P, k negatives drawn uniformly from the
|I| - 1 items other than the positive (sampling rate alpha) and gBCE with parameter t,
the expected loss -beta P log p - alpha (1 - P) log(1 - p) is minimised at
p_hat = beta P / (beta P + alpha (1 - P)). All functions accept scalars or arrays.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike


def sampling_rate(num_negatives: int, num_items: int) -> float:
    """alpha = k / (|I| - 1): the chance that a given non-positive item is drawn, per draw set.

    `num_items` counts real items only (not padding or mask ids).
    """
    if num_items < 2:
        raise ValueError(f"num_items must be at least 2, got {num_items}")
    if not 1 <= num_negatives <= num_items - 1:
        raise ValueError(
            f"num_negatives must be in [1, num_items - 1] = [1, {num_items - 1}], "
            f"got {num_negatives}"
        )
    return num_negatives / (num_items - 1)


def beta(alpha: ArrayLike, t: ArrayLike) -> np.ndarray | float:
    """beta = 1 - t (1 - alpha): t = 0 gives BCE (beta = 1), t = 1 gives beta = alpha."""
    alpha_arr = np.asarray(alpha, dtype=np.float64)
    t_arr = np.asarray(t, dtype=np.float64)
    result = 1.0 - t_arr * (1.0 - alpha_arr)
    return float(result) if result.ndim == 0 else result


def predicted_probability(p_true: ArrayLike, alpha: ArrayLike, t: ArrayLike) -> np.ndarray | float:
    """The probability a model trained with gBCE(alpha, t) converges to for true probability P."""
    p = np.asarray(p_true, dtype=np.float64)
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta(a, t), dtype=np.float64)
    result = b * p / (b * p + a * (1.0 - p))
    return float(result) if result.ndim == 0 else result


def true_probability(p_pred: ArrayLike, alpha: ArrayLike, t: ArrayLike) -> np.ndarray | float:
    """Inverse of `predicted_probability`: map a trained model's sigmoid back to P."""
    p = np.asarray(p_pred, dtype=np.float64)
    a = np.asarray(alpha, dtype=np.float64)
    b = np.asarray(beta(a, t), dtype=np.float64)
    result = a * p / (b * (1.0 - p) + a * p)
    return float(result) if result.ndim == 0 else result


def predicted_probability_with_positive_drawn(
    p_true: ArrayLike, num_negatives: int, num_items: int, t: float
) -> np.ndarray | float:
    """The optimum when negatives are drawn from all items, the positive included.

    Each item is then drawn k/|I| times per step whatever P is, so the optimum is
    beta P / (beta P + k / |I|), and t = 1 no longer calibrates (the authors' port does this).
    """
    p = np.asarray(p_true, dtype=np.float64)
    b = beta(sampling_rate(num_negatives, num_items), t)
    result = b * p / (b * p + num_negatives / num_items)
    return float(result) if np.ndim(result) == 0 else result
