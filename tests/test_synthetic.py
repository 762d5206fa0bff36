"""The synthetic generator: its exact next-item probabilities, and data that follows them."""

from __future__ import annotations

import numpy as np
import pytest

from gsasrec.data import MarkovChainGenerator, Sequences, SyntheticConfig


@pytest.fixture(scope="module")
def small():
    return MarkovChainGenerator(SyntheticConfig(num_items=30, num_users=4000, min_length=2,
                                                max_length=8, seed=3))


def test_true_probabilities_sum_to_one_and_are_zero_for_seen_items(small):
    rng = np.random.default_rng(0)
    for length in (0, 1, 4, 12):
        history = rng.choice(np.arange(1, 31), size=length, replace=False)
        probs = small.next_item_distribution(history)
        assert probs.sum() == pytest.approx(1.0, abs=1e-12)
        assert probs[0] == 0.0 and np.all(probs >= 0)
        assert np.all(probs[history] == 0.0)
        assert np.all(probs[np.setdiff1d(np.arange(1, 31), history)] > 0)  # noise reaches all


def test_transition_is_the_documented_mixture(small):
    previous = 5
    successors, weights = small.successors[previous], small.successor_weights
    q = small.transition(np.array([previous]), np.arange(31)[None, :])[0]
    expected = 0.1 * small.popularity.copy()
    for item, weight in zip(successors, weights, strict=True):
        expected[item] += 0.9 * weight
    np.testing.assert_allclose(q, expected, atol=1e-15)
    assert previous not in successors and len(set(successors)) == 3


def test_generated_data_follows_the_true_probabilities(small):
    """Over every step of every generated sequence, each item's count as the next item
    matches the sum of its true probabilities (Poisson-binomial: 5 standard deviations)."""
    data = small.generate()
    seq = data.sequences
    assert data.num_items == 30 and data.num_users == 4000
    assert seq.lengths.min() >= 2 and seq.lengths.max() <= 8
    prefixes, nexts = [], []
    for user in range(len(seq)):
        items = seq[user]
        assert len(set(items.tolist())) == len(items)  # no repeats by default
        for step in range(len(items)):
            prefixes.append(items[:step])
            nexts.append(items[step])
    probs = small.true_probability(Sequences.from_lists(prefixes),
                                   np.tile(np.arange(31), (len(prefixes), 1)))
    expected = probs.sum(0)[1:]
    variance = (probs * (1 - probs)).sum(0)[1:]
    observed = np.bincount(nexts, minlength=31)[1:]
    assert np.all(np.abs(observed - expected) <= 5 * np.sqrt(variance) + 1)
    # and the realised items were likely under the truth: mean probability of what happened
    realised = probs[np.arange(len(nexts)), nexts]
    assert realised.mean() == pytest.approx((probs**2).sum(1).mean(), rel=0.05)


def test_exact_unseen_sampler_matches_the_true_probabilities(small):
    """The sampler that takes over after a few rejected draws (long histories, or histories
    holding the chain's successors) draws from the truth exactly: per item, 5 sd."""
    rng = np.random.default_rng(1)
    previous = 7
    histories = [  # the previous item last; with and without its successors
        np.array([3, 11, previous]),
        np.array([*small.successors[previous][:2], previous]),
        np.array([*small.successors[previous], 1, 2, previous]),
    ]
    draws = 40_000
    for history in histories:
        rows = np.tile(history, (draws, 1))
        sample = small._draw_unseen(rng, rows, np.full(draws, previous))
        truth = small.next_item_distribution(history)
        observed = np.bincount(sample, minlength=31)
        assert observed[history].sum() == 0 and observed[0] == 0
        sd = np.sqrt(draws * truth * (1 - truth))
        assert np.all(np.abs(observed - draws * truth) <= 5 * sd + 1)


def test_random_last_item_replaces_only_the_last_item():
    config = SyntheticConfig(num_items=100, num_users=300, max_length=20, seed=1)
    plain = MarkovChainGenerator(config).generate()
    leaky = MarkovChainGenerator(SyntheticConfig(num_items=100, num_users=300, max_length=20,
                                                 seed=1, random_last_item=True)).generate()
    np.testing.assert_array_equal(plain.sequences.lengths, leaky.sequences.lengths)
    np.testing.assert_array_equal(plain.sequences.drop_last(1).items,
                                  leaky.sequences.drop_last(1).items)
    assert np.mean(plain.sequences.last() != leaky.sequences.last()) > 0.8
    for user in range(300):
        assert leaky.sequences[user][-1] not in leaky.sequences[user][:-1]


def test_large_catalogue_without_dense_matrices():
    num_items = 1_300_000
    generator = MarkovChainGenerator(SyntheticConfig(num_items=num_items, num_users=20,
                                                     max_length=30, seed=0))
    assert generator.successors.shape == (num_items + 1, 3)
    data = generator.generate()
    assert data.num_items == num_items and data.sequences.items.max() <= num_items
    histories = data.sequences.select(np.arange(2)).drop_last(1)
    probs = generator.true_probability(histories, np.tile(np.arange(num_items + 1), (2, 1)))
    np.testing.assert_allclose(probs[:, 1:].sum(1), 1.0, atol=1e-9)
    for row in range(2):
        assert np.all(probs[row, histories[row]] == 0.0)
    # the chain's successors carry most of the mass after any history
    last = histories[0][-1]
    unseen = np.setdiff1d(generator.successors[last], histories[0])
    assert probs[0, unseen].sum() > 0.5 * len(unseen) / 3


def test_invalid_configs_are_rejected():
    with pytest.raises(ValueError):
        SyntheticConfig(num_items=2)
    with pytest.raises(ValueError):
        SyntheticConfig(noise=0.0)
    with pytest.raises(ValueError):
        SyntheticConfig(num_items=20, max_length=15)
