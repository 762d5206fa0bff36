"""BERT4Rec: a bidirectional transformer trained to fill in masked items (Sun et al. 2019).

Item embedding rows: 0 = padding, 1..num_items = real items, num_items + 1 = [MASK]. Only
rows 1..num_items are ever scored, so [MASK] can never be recommended. A user is encoded by
appending [MASK] after the last max_seq_len - 1 items and reading the state at that position.

Departures from the original, on purpose:
- pre-norm blocks (the shared TransformerBlock) with a final LayerNorm, rather than BERT's
  post-norm; the same blocks as SASRec, so the comparison is about the objective.
- right padding with a key padding mask; position embeddings count back from the most
  recent position, which equals the original's absolute positions over left-padded input.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from gsasrec.models.transformer import TransformerBlock, init_weights


@dataclass(frozen=True)
class BERT4RecConfig:
    num_items: int  # real items; embedding rows are num_items + 2 (0 = padding, last = [MASK])
    max_seq_len: int = 200
    embedding_dim: int = 128
    num_blocks: int = 3
    num_heads: int = 2
    feedforward_dim: int | None = None
    dropout: float = 0.2
    init_std: float = 0.02


def last_items(items: torch.Tensor, lengths: torch.Tensor, width: int
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """The last `width` items of right-padded rows (B, W), right-padded: (B, width), (B,)."""
    kept = lengths.clamp(max=width)
    start = lengths - kept  # (B,)
    steps = torch.arange(width, device=items.device)
    index = (start[:, None] + steps[None, :]).clamp(max=items.shape[1] - 1)  # (B, width)
    valid = steps[None, :] < kept[:, None]
    return items.gather(1, index) * valid, kept


class BERT4Rec(nn.Module):
    def __init__(self, config: BERT4RecConfig) -> None:
        super().__init__()
        self.config = config
        dim = config.embedding_dim
        self.mask_id = config.num_items + 1
        self.item_embedding = nn.Embedding(config.num_items + 2, dim, padding_idx=0)
        self.position_embedding = nn.Embedding(config.max_seq_len, dim)
        self.input_dropout = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(
            TransformerBlock(dim, config.num_heads, config.feedforward_dim or dim, config.dropout)
            for _ in range(config.num_blocks)
        )
        self.final_norm = nn.LayerNorm(dim)
        # BERT's output transform, then scores tied to the input embeddings plus an item bias
        self.head = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.LayerNorm(dim))
        self.output_bias = nn.Parameter(torch.zeros(config.num_items + 2))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init_weights(self, self.config.init_std)

    def forward(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Output vectors at every position: items (B, L) right-padded, lengths (B,) -> (B, L, d).

        Every real position attends to every real position (no causal mask); padding is
        never attended. `items` may hold the [MASK] id. Dot the output with `output_table()`.
        """
        length = items.shape[1]
        steps = torch.arange(length, device=items.device)
        recency = (lengths[:, None] - 1 - steps[None, :]).clamp(min=0)  # 0 = most recent
        key_mask = steps[None, :] < lengths[:, None]  # (B, L), True = real
        x = self.input_dropout(self.item_embedding(items) + self.position_embedding(recency))
        for block in self.blocks:
            x = block(x, causal=False, key_mask=key_mask)
        return self.head(self.final_norm(x))

    def item_scores(self, vectors: torch.Tensor) -> torch.Tensor:
        """Scores of the real items 1..num_items for output vectors (..., d) -> (..., V)."""
        real = slice(1, self.config.num_items + 1)
        return vectors @ self.item_embedding.weight[real].T + self.output_bias[real]

    def output_table(self) -> torch.Tensor:
        """Item vectors with the bias as an extra column: (num_items + 2, d + 1).

        Row num_items + 1 is [MASK]; evaluation scores rows 1..num_items only.
        """
        return torch.cat([self.item_embedding.weight, self.output_bias[:, None]], dim=1)

    def user_vectors(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Output at a [MASK] appended after the last max_seq_len - 1 items, with a 1 for the
        bias column: (B, d + 1)."""
        history, kept = last_items(items, lengths, self.config.max_seq_len - 1)
        history = F.pad(history, (0, 1))  # (B, L)
        rows = torch.arange(items.shape[0], device=items.device)
        history[rows, kept] = self.mask_id
        hidden = self.forward(history, kept + 1)[rows, kept]  # (B, d)
        return torch.cat([hidden, torch.ones_like(hidden[:, :1])], dim=1)
