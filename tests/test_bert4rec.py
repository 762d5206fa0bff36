"""BERT4Rec: bidirectional attention, padding never attended, masking, [MASK] never scored,
and a tiny training run that beats popularity."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from gsasrec.config import PRESETS, TrainConfig
from gsasrec.evaluation import evaluate_ranking
from gsasrec.models import BERT4Rec, BERT4RecConfig, build_model
from gsasrec.models.bert4rec import last_items
from gsasrec.objectives import MaskedItemObjective, make_objective
from gsasrec.training import Trainer, train

NUM_ITEMS = 30


@pytest.fixture
def model() -> BERT4Rec:
    torch.manual_seed(0)
    net = BERT4Rec(BERT4RecConfig(num_items=NUM_ITEMS, max_seq_len=8, embedding_dim=16,
                                  num_blocks=2, num_heads=2, dropout=0.0))
    return net.eval()


def test_later_item_changes_earlier_outputs(model: BERT4Rec) -> None:
    items = torch.tensor([[3, 7, 9, 11, 0, 0, 0, 0]])
    lengths = torch.tensor([4])
    changed = items.clone()
    changed[0, 3] = 20  # the last real item
    with torch.no_grad():
        before, after = model(items, lengths), model(changed, lengths)
    assert not torch.allclose(before[0, 0], after[0, 0], atol=1e-5)  # bidirectional


def test_padding_content_is_never_attended(model: BERT4Rec) -> None:
    items = torch.tensor([[3, 7, 9, 0, 0, 0, 0, 0], [5, 1, 2, 4, 6, 8, 10, 12]])
    lengths = torch.tensor([3, 8])
    garbage = items.clone()
    garbage[0, 3:] = torch.tensor([25, 26, 27, NUM_ITEMS + 1, 1])
    with torch.no_grad():
        before, after = model(items, lengths), model(garbage, lengths)
        users_before = model.user_vectors(items[:, :7], torch.tensor([3, 7]))
        users_after = model.user_vectors(garbage[:, :7], torch.tensor([3, 7]))
    torch.testing.assert_close(before[0, :3], after[0, :3])
    torch.testing.assert_close(before[1], after[1])
    torch.testing.assert_close(users_before, users_after)


def test_user_vector_is_the_mask_appended_after_the_last_items(model: BERT4Rec) -> None:
    history = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]])  # longer than max_seq_len - 1
    with torch.no_grad():
        user = model.user_vectors(history, torch.tensor([10]))
        expected = model(torch.tensor([[4, 5, 6, 7, 8, 9, 10, NUM_ITEMS + 1]]),
                         torch.tensor([8]))[0, -1]
    torch.testing.assert_close(user[0, :-1], expected)
    assert user[0, -1] == 1.0  # the bias column
    scores = user @ model.output_table()[1 : NUM_ITEMS + 1].T
    torch.testing.assert_close(scores[0], model.item_scores(expected))


def test_last_items_keeps_the_most_recent() -> None:
    items = torch.tensor([[1, 2, 3, 4, 0], [5, 6, 0, 0, 0]])
    window, kept = last_items(items, torch.tensor([4, 2]), 3)
    assert window.tolist() == [[2, 3, 4], [5, 6, 0]]
    assert kept.tolist() == [3, 2]


def _objective(mask_prob: float, mask_last_prob: float, length: int) -> MaskedItemObjective:
    return MaskedItemObjective(num_items=100, max_seq_len=length, mask_prob=mask_prob,
                               mask_last_prob=mask_last_prob)


def test_masking_rate_is_mask_prob_and_reproducible() -> None:
    objective = _objective(0.2, 0.0, 200)
    targets = torch.randint(1, 101, (256, 200))  # rows of 201 items: full windows
    masked = objective.negatives(targets, torch.Generator().manual_seed(3))
    assert masked.shape == (256, 200)
    assert abs(masked.float().mean().item() - 0.2) < 0.01
    again = objective.negatives(targets, torch.Generator().manual_seed(3))
    assert torch.equal(masked, again)


def test_masks_only_real_positions_and_at_least_one_each() -> None:
    objective = _objective(0.2, 0.0, 10)
    lengths = torch.randint(2, 12, (500,))  # row lengths, some longer than the window
    targets = (torch.arange(11)[None, :] < (lengths - 1)[:, None]).long() * 7
    masked = objective.negatives(targets, torch.Generator().manual_seed(0))
    kept = lengths.clamp(max=10)
    real = torch.arange(10)[None, :] < kept[:, None]
    assert not (masked & ~real).any()
    assert (masked.sum(1) >= 1).all()


def test_last_only_sequences_mask_exactly_their_last_item() -> None:
    objective = _objective(0.2, 0.5, 10)
    targets = torch.zeros(4000, 11, dtype=torch.long)
    targets[:, :4] = 5  # rows of 5 items
    masked = objective.negatives(targets, torch.Generator().manual_seed(0))
    last_only = torch.zeros(10, dtype=torch.bool)
    last_only[4] = True
    share = (masked == last_only).all(1).float().mean().item()
    # half the sequences by choice, plus random masks that happen to pick the last item alone:
    # P = 0.2 * 0.8^4 (only it drawn) + 0.8^5 / 5 (none drawn, it has the smallest draw)
    by_chance = 0.2 * 0.8**4 + 0.8**5 / 5
    assert abs(share - (0.5 + 0.5 * by_chance)) < 0.03


def test_loss_is_the_softmax_over_masked_items_only(model: BERT4Rec) -> None:
    objective = _objective(0.2, 0.0, 8)
    objective.num_items = NUM_ITEMS
    rows = torch.tensor([[1, 2, 3, 4, 5, 0, 0, 0, 0]])
    lengths = torch.tensor([5])
    masked = torch.zeros(1, 8, dtype=torch.bool)
    masked[0, 2] = True
    loss = objective(model, rows, lengths, masked)
    inputs = torch.tensor([[1, 2, NUM_ITEMS + 1, 4, 5, 0, 0, 0]])
    logits = model.item_scores(model(inputs, lengths)[0, 2])
    expected = torch.logsumexp(logits, 0) - logits[2]  # item 3 is column 2
    torch.testing.assert_close(loss, expected)


def test_mask_id_is_never_scored_as_a_recommendation(model: BERT4Rec) -> None:
    with torch.no_grad():  # make [MASK] the best-scoring row by far
        model.item_embedding.weight[NUM_ITEMS + 1] = 10.0
        model.output_bias[NUM_ITEMS + 1] = 1e6
    assert model.output_table().shape[0] == NUM_ITEMS + 2
    from gsasrec.data.interactions import Sequences

    histories = Sequences.from_lists([np.array([1, 2, 3]), np.array([4])])
    result = evaluate_ranking(model, histories, np.array([5, 6]), NUM_ITEMS, 8, top_k=10)
    assert result.top_items.max() <= NUM_ITEMS
    assert result.top_items.min() >= 1
    assert np.isfinite(result.log_normalisers).all() and result.log_normalisers.max() < 1e5


def test_build_model_and_objective_from_the_preset() -> None:
    config = PRESETS["bert4rec-ml1m"]
    assert config.resolved_loss == "ce"
    net = build_model(config, 50)
    assert isinstance(net, BERT4Rec)
    assert len(net.blocks) == 3 and net.item_embedding.weight.shape == (52, 128)
    assert isinstance(make_objective(config, 50, torch.device("cpu")), MaskedItemObjective)


class _Popularity(nn.Module):
    """Scores every item by its training count, through the evaluation's interface."""

    def __init__(self, counts: np.ndarray) -> None:
        super().__init__()
        self.table = torch.tensor(counts, dtype=torch.float32)[:, None]

    def user_vectors(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.ones(items.shape[0], 1)

    def output_table(self) -> torch.Tensor:
        return self.table


@pytest.mark.slow
def test_tiny_training_run_learns_above_popularity(tmp_path) -> None:
    config = TrainConfig(
        model="bert4rec", synthetic_num_items=100, synthetic_num_users=500, max_seq_len=20,
        embedding_dim=32, num_blocks=1, num_heads=2, dropout=0.0, batch_size=64,
        learning_rate=3e-3, max_epochs=45, val_every_epochs=5, val_users=100, device="cpu",
        mask_prob=0.3,
    )
    result = train(config, tmp_path / "run", progress=False)
    split = result.split
    counts = np.bincount(split.train.items, minlength=split.num_items + 1).astype(np.float64)
    popularity = evaluate_ranking(_Popularity(counts), split.test_inputs, split.test_targets,
                                  split.num_items, config.max_seq_len).metrics()["ndcg@10"]
    ndcg = result.metrics["test"]["ndcg@10"]
    assert ndcg > 1.3 * popularity, (ndcg, popularity)
    assert (tmp_path / "run" / "metrics.json").exists()
    # the masking randomness comes from the trainer's generator: a resumed run repeats it
    trainer = Trainer(config.replace(max_epochs=1), None, progress=False)
    first = trainer.objective.negatives(trainer.train_rows[:8, 1:], trainer.negative_generator)
    trainer.negative_generator.manual_seed(config.seed + 1)
    second = trainer.objective.negatives(trainer.train_rows[:8, 1:], trainer.negative_generator)
    assert torch.equal(first, second)


def test_fixed_shape_loss_equals_the_mean_over_all_masked_positions(model: BERT4Rec) -> None:
    objective = _objective(0.3, 0.1, 8)
    objective.num_items = NUM_ITEMS
    assert objective.graph_safe  # fixed shapes: the trainer may capture it as a CUDA graph
    rows = torch.randint(1, NUM_ITEMS + 1, (16, 9))
    lengths = torch.randint(2, 10, (16,))
    rows[torch.arange(9)[None, :] >= lengths[:, None]] = 0
    masked = objective.negatives(rows[:, 1:], torch.Generator().manual_seed(1))
    window, kept = last_items(rows, lengths, 8)
    hidden = model(window.masked_fill(masked, NUM_ITEMS + 1), kept)
    logits = model.item_scores(hidden[masked])
    expected = torch.nn.functional.cross_entropy(logits, window[masked] - 1)
    torch.testing.assert_close(objective(model, rows, lengths, masked), expected)
