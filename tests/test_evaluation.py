"""Full-ranking evaluation against a brute-force loop and scikit-learn, ties included."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import ndcg_score

from gsasrec.data.interactions import Sequences
from gsasrec.evaluation import evaluate_ranking, ranking_metrics


class BagOfItems(torch.nn.Module):
    """A stand-in model: the user vector is the sum of fixed vectors of the history's items."""

    def __init__(self, history_table: np.ndarray, output_table: np.ndarray) -> None:
        super().__init__()
        self.history_table = torch.tensor(history_table, dtype=torch.float32)
        self.table = torch.tensor(output_table, dtype=torch.float32)

    def output_table(self) -> torch.Tensor:
        return self.table

    def user_vectors(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.history_table[items].sum(1)  # padding row is zero

    def scores(self, history: np.ndarray) -> np.ndarray:
        """All item scores (index 0 unused), computed in float64."""
        user = self.history_table.double().numpy()[history].sum(0)
        return self.table.double().numpy() @ user


def make_case(num_items: int, num_users: int, seed: int, integer: bool):
    """Random histories (targets sometimes inside the history) and a model; integer tables
    make many exact ties."""
    rng = np.random.default_rng(seed)
    dim = 4
    draw = (lambda shape: rng.integers(-2, 3, shape)) if integer else (
        lambda shape: rng.normal(size=shape))
    history_table, output_table = draw((num_items + 1, dim)), draw((num_items + 1, dim))
    history_table[0] = 0
    histories = [rng.choice(np.arange(1, num_items + 1), size=rng.integers(1, 8), replace=False)
                 for _ in range(num_users)]
    targets = rng.integers(1, num_items + 1, num_users)
    targets[::5] = [h[0] for h in histories[::5]]  # target also in the history
    return BagOfItems(history_table, output_table), histories, targets


def brute_force_ranks(model: BagOfItems, histories, targets, filter_seen: bool) -> np.ndarray:
    """rank = 1 + number of OTHER items scoring at least as high as the target,
    items in the history excluded (the target itself never)."""
    ranks = []
    for history, target in zip(histories, targets, strict=True):
        scores = model.scores(history)
        rank = 1
        for item in range(1, len(scores)):
            if item == target or (filter_seen and item in history):
                continue
            if scores[item] >= scores[target]:
                rank += 1
        ranks.append(rank)
    return np.array(ranks)


def run(model, histories, targets, num_items, **kwargs):
    return evaluate_ranking(model, Sequences.from_lists(histories), targets, num_items,
                            max_seq_len=10, **kwargs)


@pytest.mark.parametrize("integer", [False, True], ids=["continuous", "ties"])
@pytest.mark.parametrize("filter_seen", [True, False])
def test_ranks_match_a_brute_force_loop(integer, filter_seen):
    model, histories, targets = make_case(40, 60, seed=int(integer), integer=integer)
    expected = brute_force_ranks(model, histories, targets, filter_seen)
    for chunk, batch in [(1 << 20, 512), (7, 16), (1, 7)]:
        result = run(model, histories, targets, 40, filter_seen=filter_seen, item_chunk=chunk,
                     batch_size=batch)
        np.testing.assert_array_equal(result.ranks, expected)
    if integer:
        assert len(np.unique(model.scores(histories[0])[1:])) < 40  # there were ties


def test_chunked_evaluation_gives_identical_outputs():
    model, histories, targets = make_case(101, 50, seed=3, integer=True)
    whole = run(model, histories, targets, 101, top_k=5)
    chunked = run(model, histories, targets, 101, top_k=5, item_chunk=6, batch_size=8)
    np.testing.assert_array_equal(chunked.ranks, whole.ranks)
    np.testing.assert_array_equal(chunked.top_scores, whole.top_scores)
    np.testing.assert_allclose(chunked.log_normalisers, whole.log_normalisers, rtol=1e-5)


def test_seen_filter_never_masks_the_target():
    history_table = np.zeros((6, 2))
    history_table[1:, 0] = 1
    output_table = np.array([[0, 0], [5, 0], [4, 0], [3, 0], [2, 0], [1, 0]], dtype=float)
    model = BagOfItems(history_table, output_table)  # scores: item 1 > 2 > 3 > 4 > 5
    history, target = [np.array([1, 3])], np.array([3])
    result = run(model, history, target, 5, filter_seen=True, top_k=3)
    assert result.ranks[0] == 2  # only item 2 (unseen, higher score) is above it
    np.testing.assert_array_equal(result.top_items[0], [2, 3, 4])
    assert run(model, history, target, 5, filter_seen=False).ranks[0] == 3


def test_equal_scores_rank_the_target_last():
    num_items, users = 200, 30
    model = BagOfItems(np.ones((num_items + 1, 3)), np.ones((num_items + 1, 3)))
    histories = [np.array([u + 1]) for u in range(users)]
    targets = np.arange(users) + 100
    result = run(model, histories, targets, num_items, filter_seen=True)
    np.testing.assert_array_equal(result.ranks, num_items - 1)  # all unseen items tie
    assert result.metrics()["ndcg@10"] == pytest.approx(0.0)
    assert result.metrics()["recall@10"] == 0.0


def test_ndcg_and_recall_match_scikit_learn():
    num_items = 60
    model, histories, targets = make_case(num_items, 80, seed=5, integer=False)
    result = run(model, histories, targets, num_items, filter_seen=True)
    y_true = np.zeros((len(targets), num_items))
    y_score = np.zeros((len(targets), num_items))
    for row, (history, target) in enumerate(zip(histories, targets, strict=True)):
        scores = model.scores(history)[1:]
        seen = np.setdiff1d(history, [target]) - 1
        scores[seen] = -1e9  # filtered items go to the bottom
        y_true[row, target - 1] = 1
        y_score[row] = scores
    metrics = result.metrics()
    assert metrics["ndcg@10"] == pytest.approx(ndcg_score(y_true, y_score, k=10), rel=1e-9)
    top10 = np.argsort(-y_score, axis=1)[:, :10]
    recall10 = np.mean([(targets[r] - 1) in top10[r] for r in range(len(targets))])
    assert metrics["recall@10"] == pytest.approx(recall10)
    assert metrics["recall@1"] == pytest.approx(np.mean(top10[:, 0] == targets - 1))


def test_ranking_metrics_closed_form():
    metrics = ranking_metrics(np.array([1, 2, 10, 11]), ks=(1, 10))
    assert metrics["ndcg@10"] == pytest.approx((1 + 1 / np.log2(3) + 1 / np.log2(11)) / 4)
    assert metrics["recall@1"] == 0.25 and metrics["recall@10"] == 0.75


def test_top_items_are_the_best_unseen_items():
    model, histories, targets = make_case(40, 20, seed=7, integer=False)
    result = run(model, histories, targets, 40, filter_seen=True, top_k=5, item_chunk=9)
    for row, history in enumerate(histories):
        scores = model.scores(history)
        candidates = [i for i in range(1, 41) if i not in history or i == targets[row]]
        best = sorted(candidates, key=lambda i: -scores[i])[:5]
        np.testing.assert_array_equal(result.top_items[row], best)
