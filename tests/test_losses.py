"""losses.py against the paper's formulas computed independently in float64."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gsasrec.losses import bce_loss, full_softmax_loss, gbce_loss, sampled_softmax_loss


def papers_gbce(pos: np.ndarray, neg: np.ndarray, alpha: float, t: float) -> float:
    """-1/(k+1) (log(sigmoid(s+)^beta) + sum log(1 - sigmoid(s-))), averaged over positions."""
    beta = alpha * (t * (1 - 1 / alpha) + 1 / alpha)
    sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    k = neg.shape[1]
    per_position = -(np.log(sigmoid(pos) ** beta) + np.log(1 - sigmoid(neg)).sum(1)) / (k + 1)
    return float(per_position.mean())


@pytest.fixture
def logits():
    rng = np.random.default_rng(0)
    return rng.normal(0, 3, 64), rng.normal(0, 3, (64, 16))


@pytest.mark.parametrize("t", [0.0, 0.3, 0.75, 1.0])
@pytest.mark.parametrize("alpha", [16 / 499, 0.5, 1.0])
def test_gbce_equals_the_papers_formula(logits, alpha, t):
    pos, neg = logits
    got = gbce_loss(torch.tensor(pos, dtype=torch.float32), torch.tensor(neg, dtype=torch.float32),
                    alpha, t)
    assert got.dtype == torch.float32
    assert got.item() == pytest.approx(papers_gbce(pos, neg, alpha, t), rel=1e-5)


def test_gbce_at_t0_is_bce_with_k_negatives(logits):
    pos, neg = (torch.tensor(x) for x in logits)
    bce = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.cat([pos[:, None], neg], 1),
        torch.cat([torch.ones(64, 1), torch.zeros(64, 16)], 1).double(),
    )  # mean over the k + 1 terms of each position, then over positions
    assert gbce_loss(pos, neg, alpha=0.01, t=0.0).item() == pytest.approx(bce.item(), rel=1e-6)
    assert bce_loss(pos, neg).item() == pytest.approx(bce.item(), rel=1e-6)


def test_gbce_matches_the_authors_gamma_transform(logits):
    """The authors apply BCE to gamma(s+) = log(1 / (sigmoid(s+)^-beta - 1)): same value."""
    pos, neg = (torch.tensor(x) for x in logits)
    alpha, t = 16 / 499, 0.75
    beta = 1 - t * (1 - alpha)
    gamma = torch.log(1 / (torch.sigmoid(pos) ** -beta - 1))
    authors = bce_loss(gamma, neg)
    assert gbce_loss(pos, neg, alpha, t).item() == pytest.approx(authors.item(), rel=1e-9)


def test_gbce_is_finite_for_extreme_logits_and_tiny_beta():
    pos = torch.tensor([1e4, -1e4, 0.0, 1e4])
    neg = torch.tensor([[1e4, -1e4], [-1e4, 1e4], [0.0, 0.0], [-1e4, -1e4]])
    for alpha, t in [(1e-7, 1.0), (1e-7, 0.999), (0.5, 0.0)]:
        pos_leaf = pos.clone().requires_grad_(True)
        neg_leaf = neg.clone().requires_grad_(True)
        loss = gbce_loss(pos_leaf, neg_leaf, alpha, t)
        loss.backward()
        assert torch.isfinite(loss)
        assert torch.isfinite(pos_leaf.grad).all() and torch.isfinite(neg_leaf.grad).all()
        # exact value: only the -1e4 positive and the +1e4 negatives cost 1e4 each
        beta = 1 - t * (1 - alpha)
        expected = (beta * 1e4 + 1e4 + 1e4 + math.log(2) * (beta + 2)) / 3 / 4
        assert loss.item() == pytest.approx(expected, rel=1e-5)


def test_gbce_never_computes_in_bf16(logits):
    pos, neg = (torch.tensor(x, dtype=torch.bfloat16) for x in logits)
    loss = gbce_loss(pos, neg, 0.1, 0.5)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(
        papers_gbce(pos.double().numpy(), neg.double().numpy(), 0.1, 0.5), rel=1e-5)


def test_mask_drops_padded_positions(logits):
    pos, neg = (torch.tensor(x) for x in logits)
    mask = torch.zeros(64, dtype=torch.bool)
    mask[:10] = True
    masked = gbce_loss(pos, neg, 0.2, 0.5, mask)
    assert masked.item() == pytest.approx(gbce_loss(pos[:10], neg[:10], 0.2, 0.5).item())
    assert gbce_loss(pos, neg, 0.2, 0.5, torch.zeros(64)).item() == 0.0  # all padding: 0, no NaN


def test_gbce_rejects_t_outside_0_1(logits):
    pos, neg = (torch.tensor(x) for x in logits)
    with pytest.raises(ValueError, match="t must be in"):
        gbce_loss(pos, neg, 0.1, 1.5)


def test_softmax_losses_match_closed_forms(logits):
    pos, neg = logits
    all_logits = np.concatenate([pos[:, None], neg], 1)
    lse = np.log(np.exp(all_logits).sum(1))
    expected = float((lse - pos).mean())
    got = sampled_softmax_loss(torch.tensor(pos), torch.tensor(neg))
    assert got.item() == pytest.approx(expected, rel=1e-6)
    targets = np.arange(64) % 17
    full = full_softmax_loss(torch.tensor(all_logits), torch.tensor(targets))
    expected_full = float((lse - all_logits[np.arange(64), targets]).mean())
    assert full.item() == pytest.approx(expected_full, rel=1e-6)
