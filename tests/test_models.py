"""SASRec: causality, padding, and the scores evaluation and training rely on."""

from __future__ import annotations

import pytest
import torch

from gsasrec.config import TrainConfig
from gsasrec.models import SASRec, SASRecConfig, build_model


def small_model(**overrides) -> SASRec:
    torch.manual_seed(0)
    config = SASRecConfig(num_items=30, max_seq_len=12, embedding_dim=16, num_blocks=2,
                          num_heads=2, dropout=0.3, init_std=0.2, **overrides)
    return SASRec(config).eval()


def test_changing_later_items_never_changes_earlier_outputs():
    model = small_model()
    generator = torch.Generator().manual_seed(0)
    items = torch.randint(1, 31, (8, 12), generator=generator)
    lengths = torch.full((8,), 12)
    before = model(items, lengths)
    for cut in (1, 5, 11):
        changed = items.clone()
        changed[:, cut:] = torch.randint(1, 31, (8, 12 - cut), generator=generator)
        after = model(changed, lengths)
        torch.testing.assert_close(after[:, :cut], before[:, :cut], rtol=0, atol=1e-5)
        assert not torch.allclose(after[:, cut:], before[:, cut:])  # later outputs do change


def test_right_padding_does_not_affect_real_positions():
    model = small_model(tied_embeddings=False)
    items = torch.tensor([[3, 7, 9, 0, 0, 0], [4, 1, 0, 0, 0, 0]])
    lengths = torch.tensor([3, 2])
    garbage = items.clone()
    garbage[0, 3:] = torch.tensor([5, 6, 8])
    garbage[1, 2:] = torch.tensor([2, 2, 2, 2])
    torch.testing.assert_close(model.user_vectors(items, lengths),
                               model.user_vectors(garbage, lengths), rtol=0, atol=1e-5)
    # the user vector is the hidden state after the last real item
    alone = model.user_vectors(items[:1, :3], lengths[:1])
    torch.testing.assert_close(model.user_vectors(items, lengths)[:1], alone, rtol=0, atol=1e-5)


def test_eval_mode_is_deterministic_and_train_mode_uses_dropout():
    model = small_model()
    items = torch.randint(1, 31, (4, 12))
    lengths = torch.full((4,), 12)
    torch.testing.assert_close(model(items, lengths), model(items, lengths))
    model.train()
    assert not torch.allclose(model(items, lengths), model(items, lengths))


def test_output_table_covers_padding_and_every_item():
    tied = build_model(TrainConfig(embedding_dim=8, max_seq_len=5, num_blocks=1), num_items=30)
    assert tied.output_table().shape == (31, 8)
    assert tied.output_table() is tied.item_embedding.weight
    untied = build_model(TrainConfig(embedding_dim=8, max_seq_len=5, num_blocks=1,
                                     tied_embeddings=False), num_items=30)
    assert untied.output_table() is not untied.item_embedding.weight
    assert torch.all(tied.item_embedding.weight[0] == 0)  # padding row


@pytest.mark.parametrize("block_style", ["sasrec", "pre-norm"])
def test_each_block_style_is_causal_and_ignores_padding(block_style: str):
    torch.manual_seed(0)
    model = SASRec(SASRecConfig(num_items=50, max_seq_len=12, embedding_dim=16, num_blocks=2,
                                num_heads=2, dropout=0.5, block_style=block_style)).eval()
    items = torch.randint(1, 51, (3, 12))
    lengths = torch.full((3,), 12)
    changed = items.clone()
    changed[:, 8:] = torch.randint(1, 51, (3, 4))
    with torch.no_grad():
        before, after = model(items, lengths), model(changed, lengths)
    assert torch.allclose(before[:, :8], after[:, :8], atol=1e-6)
    assert not torch.allclose(before[:, 8:], after[:, 8:])
    short = items.clone()
    short[:, 6:] = 0  # right padding
    with torch.no_grad():
        padded = model(short, torch.full((3,), 6))
        trimmed = model(short[:, :6], torch.full((3,), 6))
    assert torch.allclose(padded[:, :6], trimmed, atol=1e-6)


def test_separate_key_input_equals_fused_projection_when_keys_are_the_queries():
    from gsasrec.models.transformer import SelfAttention

    torch.manual_seed(0)
    attention = SelfAttention(16, 2, dropout=0.0).eval()
    x = torch.randn(2, 7, 16)
    with torch.no_grad():
        assert torch.allclose(attention(x, True, None), attention(x, True, None, keys=x),
                              atol=1e-6)


def test_block_style_default_and_runs_saved_before_the_option():
    """New runs use SASRec's own block; a config saved before `block_style` existed was
    trained with the pre-norm block, and must rebuild that model."""
    from gsasrec.models.transformer import SASRecBlock, TransformerBlock

    assert TrainConfig().block_style == "sasrec"
    old = TrainConfig().to_dict()
    del old["block_style"]
    restored = TrainConfig.from_dict(old)
    assert restored.block_style == "pre-norm"
    model = build_model(restored.replace(embedding_dim=8, max_seq_len=5, num_blocks=1), 30)
    assert isinstance(model.blocks[0], TransformerBlock)
    assert isinstance(build_model(TrainConfig(embedding_dim=8, max_seq_len=5, num_blocks=1),
                                  30).blocks[0], SASRecBlock)
