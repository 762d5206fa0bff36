"""Uniform negative sampling on the device where training runs."""

from __future__ import annotations

import torch


def sample_negatives(
    positives: torch.Tensor,
    num_negatives: int,
    num_items: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """k negatives per positive, uniform with replacement over the real items except the positive.

    Items are 1..num_items (0 is padding). Draw from the |I| - 1 other items by sampling
    1..|I|-1 and shifting ids at or above the positive up by one. Excluding the positive is
    what makes gBCE with t = 1 exactly calibrated. Output: positives.shape + (k,), int64.
    Padding positions (positive 0) get valid item ids; the loss masks them.
    """
    shape = (*positives.shape, num_negatives)
    draws = torch.randint(
        1, num_items, shape, device=positives.device, generator=generator, dtype=torch.int64
    )
    return draws + (draws >= positives.unsqueeze(-1)).to(torch.int64)
