"""What one training step optimises, per model family: sampled losses and full softmax for
SASRec/gSASRec. Each objective maps a batch of training rows to a scalar loss."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from gsasrec.config import TrainConfig
from gsasrec.losses import full_softmax_loss, gbce_loss, sampled_softmax_loss
from gsasrec.sampling import sample_negatives
from gsasrec.theory import sampling_rate

FULL_SCORING_RATIO = 16  # score the whole catalogue when |I| + 1 <= 16 (k + 1)


def choose_scoring(mode: str, num_items: int, num_negatives: int) -> str:
    """'full': one matmul against every item, then pick columns; 'gather': gather k+1 rows.

    Gathering moves (k + 1) * d values per position, scoring everything |I| + 1, so the
    full product wins for small catalogues; measured on an H200 for ML-1M (k = 256).
    """
    if mode != "auto":
        return mode
    return "full" if num_items + 1 <= FULL_SCORING_RATIO * (num_negatives + 1) else "gather"


def sampled_logits(hidden: torch.Tensor, table: torch.Tensor, positives: torch.Tensor,
                   negatives: torch.Tensor, scoring: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of positives (B, L) and negatives (B, L, k) from hidden states (B, L, d)."""
    if scoring == "full":
        logits = hidden @ table.T  # (B, L, V + 1)
        return logits.gather(-1, positives[..., None])[..., 0], logits.gather(-1, negatives)
    positive = (hidden * table[positives]).sum(-1)
    negative = torch.einsum("bld,blkd->blk", hidden, table[negatives])
    return positive, negative


@dataclass
class NextItemObjective:
    """SASRec's objective: predict the next item at every position of a right-padded row.

    loss: 'bce' / 'gbce' (k uniform negatives, excluding the positive), 'sampled-ce', 'ce'.
    `t` may change between steps (t warm-up) through `set_t`, without recompiling.
    """

    loss: str
    num_items: int
    num_negatives: int
    alpha: torch.Tensor  # 0-d; changes with the negatives warm-up
    t: torch.Tensor  # 0-d; changes with the t warm-up
    scoring: str
    active_negatives: torch.Tensor | None = None  # 0-d; None = all k

    def set_t(self, value: float) -> None:
        self.t.fill_(value)

    def set_active_negatives(self, count: int) -> None:
        """Use only the first `count` of the k sampled negatives (shapes stay fixed)."""
        if self.active_negatives is None:
            self.active_negatives = torch.tensor(count, device=self.t.device)
        self.active_negatives.fill_(count)
        self.alpha.fill_(count / (self.num_items - 1))

    def negatives(self, targets: torch.Tensor, generator: torch.Generator | None
                  ) -> torch.Tensor | None:
        if self.loss == "ce":
            return None
        return sample_negatives(targets, self.num_negatives, self.num_items, generator)

    def __call__(self, model: torch.nn.Module, rows: torch.Tensor, lengths: torch.Tensor,
                 negatives: torch.Tensor | None) -> torch.Tensor:
        inputs, targets = rows[:, :-1], rows[:, 1:]  # (B, L)
        mask = targets != 0
        hidden = model(inputs, (lengths - 1).clamp(min=1))  # (B, L, d)
        table = model.output_table()
        if self.loss == "ce":
            logits = hidden @ table[1 : self.num_items + 1].T  # (B, L, V)
            flat = logits.reshape(-1, self.num_items)
            return full_softmax_loss(flat, (targets.reshape(-1) - 1).clamp(min=0),
                                     mask.reshape(-1))
        assert negatives is not None
        positive, negative = sampled_logits(hidden, table, targets, negatives, self.scoring)
        if self.active_negatives is not None:
            # a negative with logit -inf adds exactly nothing to either loss or its gradient
            slot = torch.arange(self.num_negatives, device=negative.device)
            negative = negative.float().masked_fill(slot >= self.active_negatives, float("-inf"))
        if self.loss == "sampled-ce":
            return sampled_softmax_loss(positive, negative, mask)
        t = self.t if self.loss == "gbce" else torch.zeros_like(self.t)
        return gbce_loss(positive, negative, self.alpha, t, mask)


def make_objective(config: TrainConfig, num_items: int, device: torch.device) -> NextItemObjective:
    """The objective a run config asks for."""
    loss = config.resolved_loss
    k = min(config.num_negatives, num_items - 1)
    return NextItemObjective(
        loss=loss, num_items=num_items, num_negatives=k,
        alpha=torch.tensor(sampling_rate(k, num_items), device=device),
        t=torch.tensor(config.gbce_t, device=device),
        scoring=choose_scoring(config.scoring, num_items, k),
    )
