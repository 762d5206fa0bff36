"""End-to-end CPU training on the default synthetic data: it learns, it does not leak, and
runs are reproducible."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gsasrec.config import TrainConfig
from gsasrec.data import LeaveOneOutSplit, MarkovChainGenerator, SyntheticConfig
from gsasrec.evaluation import ranking_metrics
from gsasrec.training import train

# A small SASRec with k = 16 negatives and t = 0, bounded by epochs (never by time) on the
# default synthetic Markov chain: 500 items, 3 successors each, 2,000 users.
LEARNING = TrainConfig(
    dataset="synthetic", model="sasrec", num_negatives=16, gbce_t=0.0, embedding_dim=32,
    num_blocks=1, max_seq_len=50, dropout=0.0, init_std=0.1, batch_size=32,
    learning_rate=0.005, max_epochs=4, device="cpu", seed=0, eval_batch_size=1000,
)  # dropout 0: attention dropout takes CPU SDPA off its fused kernel; init 0.1 shortens the
# plateau at popularity level before the chain is learned


def popularity_ndcg(split: LeaveOneOutSplit) -> float:
    """NDCG@10 of ranking unseen items by training popularity (ties against the target)."""
    popularity = np.bincount(split.train.items, minlength=split.num_items + 1).astype(float)
    ranks = []
    for user, target in enumerate(split.test_targets):
        scores = popularity.copy()
        scores[0] = -np.inf
        seen = split.test_inputs[user]
        scores[seen[seen != target]] = -np.inf
        ranks.append(np.sum(scores >= scores[target]))  # the target and all ties above it
    return ranking_metrics(np.array(ranks))["ndcg@10"]


@pytest.mark.slow
def test_sasrec_learns_the_markov_chain():
    result = train(LEARNING, progress=False)
    test_ndcg = result.metrics["test"]["ndcg@10"]
    baseline = popularity_ndcg(result.split)
    # popularity is not negligible here (Zipf popularity, successors drawn by popularity)
    assert baseline < 0.2
    assert test_ndcg > 0.4 and test_ndcg > baseline + 0.25, (test_ndcg, baseline)
    assert result.metrics["training"]["epochs"] == LEARNING.max_epochs
    assert result.metrics["split"]["test_users"] == 2000


@pytest.mark.slow
def test_random_last_items_cannot_be_predicted():
    """Leakage test: each user's last item replaced by a random unseen one. A model that
    still learns the chain (validation) must score near chance on the test items."""
    interactions = MarkovChainGenerator(SyntheticConfig(random_last_item=True)).generate()
    result = train(LEARNING, progress=False, interactions=interactions)
    chance = ranking_metrics(np.arange(1, 451))["ndcg@10"]  # a rank uniform over ~450 items
    assert result.metrics["test"]["ndcg@10"] < 3 * chance + 0.01
    assert result.metrics["validation"]["ndcg@10"] > 0.2  # it did learn the chain


def test_training_is_reproducible_and_records_the_loss_settings():
    config = TrainConfig(dataset="synthetic", synthetic_num_items=60, synthetic_num_users=100,
                         model="gsasrec", num_negatives=4, gbce_t=1.0, embedding_dim=8,
                         num_blocks=1, max_seq_len=10, batch_size=16, max_steps=4,
                         val_users=10, device="cpu")
    first, second = (train(config, progress=False) for _ in range(2))
    np.testing.assert_array_equal(first.test.ranks, second.test.ranks)
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    metrics = first.metrics
    assert metrics["alpha"] == pytest.approx(4 / 59)
    assert metrics["beta"] == pytest.approx(4 / 59)  # t = 1: beta = alpha
    assert metrics["training"]["steps"] == 4


def test_last_checkpoint_cadence(tmp_path, monkeypatch):
    """--checkpoint-every 0 writes last.pt after each validation (and at the stop); a long
    interval writes it after the first validation and at the stop only; training itself is
    the same either way."""
    from gsasrec import training

    calls: list[int] = []
    original = training.Trainer.save_last
    monkeypatch.setattr(training.Trainer, "save_last",
                        lambda self: (calls.append(self.step), original(self))[1])
    results = {}
    for every_seconds, writes in ((0.0, 4 + 1), (1e9, 1 + 1)):
        calls.clear()
        config = TrainConfig(dataset="synthetic", synthetic_num_items=60,
                             synthetic_num_users=100, model="gsasrec", num_negatives=4,
                             embedding_dim=8, num_blocks=1, max_seq_len=10, batch_size=16,
                             max_epochs=4, val_users=10, device="cpu",
                             checkpoint_every_seconds=every_seconds)
        out = tmp_path / f"every-{every_seconds:g}"
        result = train(config, out, progress=False)
        assert len(calls) == writes
        saved = torch.load(out / "last.pt", weights_only=True)
        assert saved["step"] == result.metrics["training"]["steps"]
        results[every_seconds] = result
    np.testing.assert_array_equal(results[0.0].test.ranks, results[1e9].test.ranks)
