"""SASRec: a causal self-attention decoder over item sequences (Kang & McAuley 2018).

gSASRec is this model trained with more negatives and gBCE; the architecture is the same.
Sequences are right-padded with item 0, so causal attention alone keeps real positions from
seeing padding (no attention mask, so the fused flash kernel applies). Position embeddings
count back from the most recent item, as left-padded SASRec does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from gsasrec.models.transformer import SASRecBlock, TransformerBlock, init_weights


@dataclass(frozen=True)
class SASRecConfig:
    num_items: int  # real items; embedding rows are num_items + 1 (row 0 = padding)
    max_seq_len: int = 200
    embedding_dim: int = 128
    num_blocks: int = 2
    num_heads: int = 1
    feedforward_dim: int | None = None
    dropout: float = 0.5
    tied_embeddings: bool = True
    init_std: float = 0.02
    block_style: str = "sasrec"  # "sasrec" (SASRecBlock) or "pre-norm" (TransformerBlock)


class SASRec(nn.Module):
    def __init__(self, config: SASRecConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.embedding_dim
        self.item_embedding = nn.Embedding(config.num_items + 1, dim, padding_idx=0)
        self.position_embedding = nn.Embedding(config.max_seq_len, dim)
        self.input_dropout = nn.Dropout(config.dropout)
        block = SASRecBlock if config.block_style == "sasrec" else TransformerBlock
        self.blocks = nn.ModuleList(
            block(dim, config.num_heads, config.feedforward_dim or dim, config.dropout)
            for _ in range(config.num_blocks)
        )
        self.final_norm = nn.LayerNorm(dim)
        self.output_embedding = (
            None if config.tied_embeddings else nn.Embedding(config.num_items + 1, dim)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_weights(self, self.config.init_std)

    def output_table(self) -> torch.Tensor:
        """The item vectors that scores are dot products with: (num_items + 1, d)."""
        if self.output_embedding is None:
            return self.item_embedding.weight
        return self.output_embedding.weight

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Hidden state at every position: items (B, L) right-padded, lengths (B,) -> (B, L, d).

        The state at position i summarises items[:, :i + 1] and scores the item at i + 1.
        """
        length = items.shape[1]
        steps = torch.arange(length, device=items.device)
        recency = (lengths[:, None] - 1 - steps[None, :]).clamp(min=0)  # 0 = most recent
        x = self.item_embedding(items) * math.sqrt(self.config.embedding_dim)
        x = self.input_dropout(x + self.position_embedding(recency))
        for block in self.blocks:
            x = block(x, causal=True)
        return self.final_norm(x)

    def user_vectors(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Hidden state after the last real item of each sequence: (B, d)."""
        hidden = self.forward(items, lengths)
        index = (lengths - 1).clamp(min=0)
        return hidden[torch.arange(items.shape[0], device=items.device), index]
