"""Sequence models: SASRec (causal, used by SASRec and gSASRec) and BERT4Rec (bidirectional)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gsasrec.models.bert4rec import BERT4Rec, BERT4RecConfig
from gsasrec.models.sasrec import SASRec, SASRecConfig
from gsasrec.models.transformer import TransformerBlock

if TYPE_CHECKING:
    import torch

    from gsasrec.config import TrainConfig

__all__ = ["BERT4Rec", "BERT4RecConfig", "SASRec", "SASRecConfig", "TransformerBlock",
           "build_model"]


def build_model(config: TrainConfig, num_items: int) -> torch.nn.Module:
    """The network a run config asks for (SASRec for sasrec and gsasrec, else BERT4Rec)."""
    if config.model in ("sasrec", "gsasrec"):
        return SASRec(SASRecConfig(
            num_items=num_items, max_seq_len=config.max_seq_len,
            embedding_dim=config.embedding_dim, num_blocks=config.num_blocks,
            num_heads=config.num_heads, feedforward_dim=config.feedforward_dim,
            dropout=config.dropout, tied_embeddings=config.tied_embeddings,
            init_std=config.init_std, block_style=config.block_style,
        ))
    if config.model == "bert4rec":
        return BERT4Rec(BERT4RecConfig(
            num_items=num_items, max_seq_len=config.max_seq_len,
            embedding_dim=config.embedding_dim, num_blocks=config.num_blocks,
            num_heads=config.num_heads, feedforward_dim=config.feedforward_dim,
            dropout=config.dropout, init_std=config.init_std,
        ))
    raise ValueError(f"unknown model {config.model!r}")
