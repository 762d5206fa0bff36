"""Transformer parts shared by SASRec and BERT4Rec: self-attention, feed-forward, block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SelfAttention(nn.Module):
    """Multi-head self-attention through `scaled_dot_product_attention` (fused kernels)."""

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, causal: bool, key_mask: torch.Tensor | None,
                keys: torch.Tensor | None = None) -> torch.Tensor:
        """Queries from x; keys and values from `keys` when given (SASRec's block), else x."""
        batch, length, dim = x.shape
        heads = (batch, length, self.num_heads, dim // self.num_heads)
        if keys is None:
            q, k, v = self.qkv(x).view(batch, length, 3, *heads[2:]).permute(2, 0, 3, 1, 4)
        else:  # the same fused weights, applied to two inputs
            weight, bias = self.qkv.weight, self.qkv.bias
            q = F.linear(x, weight[:dim], bias[:dim]).view(heads).transpose(1, 2)
            k, v = F.linear(keys, weight[dim:], bias[dim:]).view(
                batch, length, 2, *heads[2:]).permute(2, 0, 3, 1, 4)  # 2 x (B, H, L, D/H)
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, L)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_mask, is_causal=causal,
            dropout_p=self.dropout if self.training else 0.0,
        )  # (B, H, L, D/H)
        return self.out(y.transpose(1, 2).reshape(batch, length, dim))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # GELU rather than SASRec's ReLU: a common modern choice, no effect on the loss theory
        return self.down(self.dropout(F.gelu(self.up(x))))


class TransformerBlock(nn.Module):
    """Pre-norm block: x + attn(norm(x)), then x + ffn(norm(x)), with residual dropout."""

    def __init__(self, dim: int, num_heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.feed_forward = FeedForward(dim, hidden, dropout)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, causal: bool = True,
                key_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.norm1(x), causal, key_mask))
        return x + self.dropout(self.feed_forward(self.norm2(x)))


class SASRecBlock(nn.Module):
    """The block as the SASRec paper builds it: queries are normalised but keys and values
    are not, the residual adds to the normalised queries, and the ReLU feed-forward has
    dropout inside it but none on the residual branches (lighter than TransformerBlock's
    dropout at the same rate)."""

    def __init__(self, dim: int, num_heads: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        self.up = nn.Linear(dim, hidden)
        self.down = nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, causal: bool = True,
                key_mask: torch.Tensor | None = None) -> torch.Tensor:
        queries = self.norm1(x)
        x = queries + self.attention(queries, causal, key_mask, keys=x)
        hidden = self.norm2(x)
        return hidden + self.dropout(self.down(self.dropout(F.relu(self.up(hidden)))))


def init_weights(model: nn.Module, std: float, padding_rows: int = 1) -> None:
    """Truncated-normal init of every linear and embedding weight (zero biases), padding
    row(s) of `model.item_embedding` zeroed; small weights keep early logits near zero."""
    for module in model.modules():
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
    with torch.no_grad():
        model.item_embedding.weight[:padding_rows].zero_()
