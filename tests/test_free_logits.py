"""The free-logit experiment reproduces the closed form of the converged probability."""

from __future__ import annotations

import pytest
import torch

from gsasrec.free_logits import (
    counted_gbce_loss,
    draw_counts,
    run_free_logit_experiment,
    summarise_free_logits,
)
from gsasrec.losses import gbce_loss
from gsasrec.sampling import sample_negatives


def test_counted_loss_equals_gbce_loss_on_the_same_rows():
    generator = torch.Generator().manual_seed(0)
    num_items, k, rows = 30, 5, 200
    logits = torch.randn(num_items, generator=generator)
    positives = torch.randint(1, num_items + 1, (rows,), generator=generator)
    negatives = sample_negatives(positives, k, num_items, generator)
    direct = gbce_loss(logits[positives - 1], logits[negatives - 1], alpha=k / 29, t=0.5)
    pos = torch.bincount(positives - 1, minlength=num_items).float()
    neg = torch.bincount((negatives - 1).reshape(-1), minlength=num_items).float()
    beta = 1 - 0.5 * (1 - k / 29)
    counted = counted_gbce_loss(logits, pos, neg, beta, rows, k)
    assert counted.item() == pytest.approx(direct.item(), rel=1e-5)


def test_negatives_never_hit_their_positive():
    p = torch.zeros(1, 5)
    p[0, 2] = 1.0  # item 3 is always the positive
    pos, neg = draw_counts(p, 500, 8, torch.Generator().manual_seed(0))
    assert pos[0, 2] == 500 and neg[0, 2] == 0 and neg.sum() == 500 * 8


@pytest.mark.parametrize(("k", "t"), [(4, 0.0), (16, 1.0)])
def test_free_logits_follow_the_formula(k, t):
    frame = run_free_logit_experiment(num_items=200, num_negatives=k, t=t, steps=200,
                                      num_contexts=2, seed=0)
    summary = summarise_free_logits(frame, 200)
    assert summary["median_relative_error"] <= 0.05
    if t == 1.0:
        assert summary["weighted_error"] <= 0.01
    else:  # BCE: the true next item's probability is pushed far above the truth
        assert summary["p_next_predicted"] > 2 * summary["p_next_true"]


def test_progress_is_reported():
    seen = []
    run_free_logit_experiment(num_items=50, num_negatives=2, steps=20, num_contexts=1,
                              progress=seen.append)
    assert seen[-1] == pytest.approx(1.0) and seen == sorted(seen)
