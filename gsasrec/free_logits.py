"""The loss in isolation: one free logit per (context, item), trained with sampled BCE/gBCE.

No architecture stands between the loss and the probabilities here, so the converged
sigmoid of each logit must follow `theory.predicted_probability(P, alpha, t)` exactly
(up to sampling noise). Each step draws positives from every context's known next-item
distribution and k negatives per positive with `sampling.sample_negatives` (uniform over
the |I| - 1 items other than the positive, as in training), in float32.

For speed the batch loss is summed per logit from item counts; this is the same number as
`losses.gbce_loss` over the drawn (positive, negatives) rows (a test checks it), without
materialising a (B, k) logit tensor. Adam with a constant, then linearly decaying learning
rate; the reported logits are the average of the iterates over the decay phase.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from gsasrec.sampling import sample_negatives
from gsasrec.theory import predicted_probability, sampling_rate

MIN_ZIPF_EXPONENT, MAX_ZIPF_EXPONENT = 0.8, 1.4


def next_item_distributions(num_items: int, num_contexts: int, seed: int = 0) -> np.ndarray:
    """(num_contexts, num_items) power-law next-item distributions, one exponent per context.

    Exponents spread over [0.8, 1.4], so contexts range from flat-ish to one dominant item;
    each context ranks the items in its own random order. Column j is item j + 1.
    """
    if num_items < 2 or num_contexts < 1:
        raise ValueError("need num_items >= 2 and num_contexts >= 1")
    rng = np.random.default_rng(seed)
    exponents = np.linspace(MIN_ZIPF_EXPONENT, MAX_ZIPF_EXPONENT, num_contexts)
    ranks = np.arange(1, num_items + 1, dtype=np.float64)
    rows = []
    for exponent in exponents:
        weights = ranks ** (-exponent)
        rows.append((weights / weights.sum())[rng.permutation(num_items)])
    return np.stack(rows)


def counted_gbce_loss(logits: torch.Tensor, positive_counts: torch.Tensor,
                      negative_counts: torch.Tensor, beta: float, num_rows: int,
                      num_negatives: int) -> torch.Tensor:
    """gBCE of a batch of `num_rows` (positive, k negatives) rows, grouped by logit.

    Equals `losses.gbce_loss` of those rows: each drawn positive adds -beta log sigmoid(s),
    each drawn negative -log sigmoid(-s), all divided by (k + 1) and the number of rows.
    """
    total = -(beta * positive_counts * F.logsigmoid(logits)
              + negative_counts * F.logsigmoid(-logits)).sum()
    return total / ((num_negatives + 1) * num_rows)


def draw_counts(p_true: torch.Tensor, batch_size: int, num_negatives: int,
                generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One training batch per context: how often each item was drawn as positive / negative.

    p_true: (C, |I|) -> two (C, |I|) float32 count tensors.
    """
    num_contexts, num_items = p_true.shape
    positives = torch.multinomial(p_true, batch_size, replacement=True, generator=generator) + 1
    negatives = sample_negatives(positives, num_negatives, num_items, generator)  # (C, B, k)
    offset = (torch.arange(num_contexts) * (num_items + 1))[:, None]
    size = num_contexts * (num_items + 1)
    pos = torch.bincount((positives + offset).reshape(-1), minlength=size)
    neg = torch.bincount((negatives + offset[:, :, None]).reshape(-1), minlength=size)
    shape = (num_contexts, num_items + 1)
    return (pos.view(shape)[:, 1:].to(torch.float32), neg.view(shape)[:, 1:].to(torch.float32))


def default_batch_size(num_negatives: int) -> int:
    """Positives per context and step: about 64k draws in all, at least 2,048 positives.

    Few negatives need many rows for every item to be drawn as a negative often enough;
    many negatives need fewer rows, which keeps each step's cost near constant.
    """
    return max(2048, 65536 // (num_negatives + 1))


def train_free_logits(p_true: np.ndarray, num_negatives: int, t: float, steps: int = 300,
                      batch_size: int = 4096, learning_rate: float = 0.1, seed: int = 0,
                      progress: Callable[[float], None] | None = None) -> np.ndarray:
    """Train (C, |I|) free logits on contexts with next-item distributions `p_true`.

    Returns the converged probabilities sigmoid(logit), float64 (C, |I|).
    """
    num_items = p_true.shape[1]
    alpha = sampling_rate(num_negatives, num_items)
    beta = 1.0 - t * (1.0 - alpha)
    generator = torch.Generator().manual_seed(seed)
    probs = torch.as_tensor(p_true, dtype=torch.float32)
    logits = torch.zeros(p_true.shape, dtype=torch.float32, requires_grad=True)
    optimiser = torch.optim.Adam([logits], lr=learning_rate, betas=(0.9, 0.9))
    decay_start = steps // 2
    average = torch.zeros_like(logits)
    averaged = 0
    for step in range(steps):
        if step >= decay_start:  # linear decay to 0 over the second half
            scale = 1.0 - (step - decay_start) / max(steps - decay_start, 1)
            for group in optimiser.param_groups:
                group["lr"] = learning_rate * scale
        positive_counts, negative_counts = draw_counts(probs, batch_size, num_negatives,
                                                       generator)
        optimiser.zero_grad(set_to_none=True)
        loss = counted_gbce_loss(logits, positive_counts, negative_counts, beta, batch_size,
                                 num_negatives)
        loss.backward()
        optimiser.step()
        if step >= decay_start:
            with torch.no_grad():
                average += logits
            averaged += 1
        if progress is not None and (step % 10 == 0 or step == steps - 1):
            progress((step + 1) / steps)
    final = average / max(averaged, 1)
    return torch.sigmoid(final.double()).numpy()


def run_free_logit_experiment(num_items: int = 1000, num_negatives: int = 16, t: float = 0.0,
                              steps: int = 300, num_contexts: int = 4, seed: int = 0,
                              batch_size: int | None = None, learning_rate: float = 0.1,
                              progress: Callable[[float], None] | None = None) -> pd.DataFrame:
    """Train free logits for one (k, t) and compare with the closed form.

    Returns one row per (context, item): p_true, p_predicted (converged sigmoid) and
    p_theory = predicted_probability(p_true, alpha, t). `progress(fraction)` is called
    while training, for progress bars. `batch_size` (positives per context and step)
    defaults to `default_batch_size(num_negatives)`.
    """
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must be in [0, 1], got {t}")
    if steps < 1 or (batch_size is not None and batch_size < 1):
        raise ValueError("steps and batch_size must be at least 1")
    alpha = sampling_rate(num_negatives, num_items)  # validates k against |I|
    batch_size = default_batch_size(num_negatives) if batch_size is None else batch_size
    p_true = next_item_distributions(num_items, num_contexts, seed)
    p_predicted = train_free_logits(p_true, num_negatives, t, steps, batch_size, learning_rate,
                                    seed, progress)
    return pd.DataFrame({
        "context": np.repeat(np.arange(num_contexts), num_items),
        "item": np.tile(np.arange(1, num_items + 1), num_contexts),
        "p_true": p_true.reshape(-1),
        "p_predicted": p_predicted.reshape(-1),
        "p_theory": np.asarray(predicted_probability(p_true, alpha, t)).reshape(-1),
    })


def summarise_free_logits(frame: pd.DataFrame, num_items: int) -> dict[str, float]:
    """How closely the trained probabilities follow the closed form.

    Relative errors |p_predicted - p_theory| / p_theory over items with P >= 1/|I| (median
    and worst); sum_i P_i |p_predicted_i - P_i| per context (averaged over contexts: 0 means
    calibrated); and the expected predicted probability of the true next item,
    sum_i P_i p_predicted_i (with its theoretical value), which BCE pushes towards 1.
    """
    relevant = frame[frame["p_true"] >= 1.0 / num_items]
    relative = (relevant["p_predicted"] - relevant["p_theory"]).abs() / relevant["p_theory"]
    weighted = frame["p_true"] * (frame["p_predicted"] - frame["p_true"]).abs()
    weighted_theory = frame["p_true"] * (frame["p_predicted"] - frame["p_theory"]).abs()
    by_context = frame.assign(w=weighted, wt=weighted_theory,
                              pn=frame["p_true"] * frame["p_predicted"],
                              pt=frame["p_true"] * frame["p_theory"]).groupby("context")
    sums = by_context[["w", "wt", "pn", "pt"]].sum()
    return {
        "median_relative_error": float(relative.median()),
        "worst_relative_error": float(relative.max()),
        "items_compared": int(len(relevant)),
        "weighted_error": float(sums["w"].mean()),
        "weighted_error_vs_theory": float(sums["wt"].mean()),
        "p_next_predicted": float(sums["pn"].mean()),
        "p_next_theory": float(sums["pt"].mean()),
        "p_next_true": float((frame["p_true"] ** 2).groupby(frame["context"]).sum().mean()),
    }
