"""Objectives: the two ways of scoring sampled items agree, padding included."""

from __future__ import annotations

import torch

from gsasrec import objectives


def test_full_and_gather_scoring_give_the_same_logits_and_gradients() -> None:
    """Full scoring (one product with the whole, padded table, then picking columns) and
    gathering the k + 1 rows are the same function: values and gradients match."""
    generator = torch.Generator().manual_seed(0)
    rows, dim, batch, length, k = 37, 8, 3, 5, 6  # 37 rows: padded to 64 when scoring fully
    assert rows % objectives.FULL_SCORING_ROW_MULTIPLE != 0
    table = torch.randn(rows, dim, generator=generator, dtype=torch.float64)
    hidden = torch.randn(batch, length, dim, generator=generator, dtype=torch.float64)
    positives = torch.randint(1, rows, (batch, length), generator=generator)
    negatives = torch.randint(1, rows, (batch, length, k), generator=generator)
    weights = torch.randn(batch, length, k + 1, generator=generator, dtype=torch.float64)
    results = {}
    for scoring in ("full", "gather"):
        table_leaf = table.clone().requires_grad_(True)
        hidden_leaf = hidden.clone().requires_grad_(True)
        positive, negative = objectives.sampled_logits(hidden_leaf, table_leaf, positives,
                                                       negatives, scoring)
        assert positive.shape == (batch, length) and negative.shape == (batch, length, k)
        loss = (torch.cat([positive[..., None], negative], -1) * weights).sum()
        loss.backward()
        results[scoring] = (positive, negative, table_leaf.grad, hidden_leaf.grad)
    for full, gathered in zip(results["full"], results["gather"], strict=True):
        torch.testing.assert_close(full, gathered, rtol=1e-12, atol=1e-12)
    # and against an explicit loop over one position
    b, i = 1, 2
    expected = torch.stack([hidden[b, i] @ table[j] for j in negatives[b, i]])
    torch.testing.assert_close(results["full"][1][b, i].detach(), expected)
