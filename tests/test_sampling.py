"""The negative sampler: uniform over the real items other than the positive."""

from __future__ import annotations

import numpy as np
import torch

from gsasrec.sampling import sample_negatives
from gsasrec.theory import sampling_rate


def test_never_the_positive_nor_padding():
    num_items, k = 7, 5
    generator = torch.Generator().manual_seed(0)
    positives = torch.randint(1, num_items + 1, (4000, 3), generator=generator)
    negatives = sample_negatives(positives, k, num_items, generator)
    assert negatives.shape == (4000, 3, k) and negatives.dtype == torch.int64
    assert (negatives != positives[..., None]).all()
    assert negatives.min() >= 1 and negatives.max() <= num_items


def test_each_items_negative_rate_is_alpha():
    """Per position, item j is drawn as a negative alpha = k / (|I| - 1) times on average
    when it is not the positive (and never when it is)."""
    num_items, k, positions = 50, 8, 100_000
    generator = torch.Generator().manual_seed(1)
    positives = torch.randint(1, num_items + 1, (positions,), generator=generator)
    negatives = sample_negatives(positives, k, num_items, generator)
    drawn = np.bincount(negatives.reshape(-1).numpy(), minlength=num_items + 1)[1:]
    not_positive = positions - np.bincount(positives.numpy(), minlength=num_items + 1)[1:]
    rate = drawn / not_positive
    alpha = sampling_rate(k, num_items)
    # drawn_j ~ Binomial(k * not_positive_j, 1 / (|I| - 1)): allow 5 standard deviations
    std = np.sqrt(k * not_positive * (1 / (num_items - 1)) * (1 - 1 / (num_items - 1)))
    assert np.all(np.abs(drawn - alpha * not_positive) < 5 * std)
    assert abs(rate.mean() - alpha) < 0.01 * alpha


def test_padding_positions_still_get_valid_items():
    negatives = sample_negatives(torch.zeros(1000, dtype=torch.int64), 4, 3)
    assert negatives.min() >= 1 and negatives.max() <= 3


def test_two_item_catalogue_always_draws_the_other_item():
    positives = torch.tensor([1, 2, 1, 2])
    negatives = sample_negatives(positives, 3, 2)
    assert (negatives == (3 - positives)[:, None]).all()
