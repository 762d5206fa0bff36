"""What one training step optimises, per model family: sampled losses and full softmax for
SASRec/gSASRec, masked-item softmax for BERT4Rec. Each objective maps a batch of training rows
to a scalar loss."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from gsasrec.config import TrainConfig
from gsasrec.losses import full_softmax_loss, gbce_loss, sampled_softmax_loss
from gsasrec.models.bert4rec import last_items
from gsasrec.sampling import sample_negatives
from gsasrec.theory import sampling_rate

FULL_SCORING_MAX_ITEMS = 1 << 16  # above this, gather the k + 1 scored rows instead
# Full scoring pads the item table to a multiple of this many rows: with ML-1M's 3,417 rows
# (an odd count) the matrix products fall back to slow unaligned kernels (0.74 ms of a
# 3.8 ms step in results/benchmarks/profile_step.json). Padded rows score but are never
# picked, so the loss and its gradients are unchanged. 1 turns padding off.
FULL_SCORING_ROW_MULTIPLE = 64


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The model inside a DistributedDataParallel wrapper (forward goes through the wrapper,
    so gradients are averaged; other methods are the model's own)."""
    return getattr(model, "module", model)


def choose_scoring(mode: str, num_items: int) -> str:
    """'full': one matmul against every item, then pick columns; 'gather': gather k+1 rows.

    Measured on an H200 at ML-1M size (3,416 items, B=128, L=200): full scoring costs
    3.7 ms a step against 27 ms for gathering at k = 256, and 3.3 ms against 10 ms even at
    k = 1 (the gather's backward scatter is the cost). Gathering wins only when the
    (B, L, |I|) logits stop fitting comfortably: large catalogues.
    """
    if mode != "auto":
        return mode
    return "full" if num_items + 1 <= FULL_SCORING_MAX_ITEMS else "gather"


def sampled_logits(hidden: torch.Tensor, table: torch.Tensor, positives: torch.Tensor,
                   negatives: torch.Tensor, scoring: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores of positives (B, L) and negatives (B, L, k) from hidden states (B, L, d)."""
    if scoring == "full":
        spare = -table.shape[0] % FULL_SCORING_ROW_MULTIPLE
        if spare:
            table = torch.nn.functional.pad(table, (0, 0, 0, spare))
        logits = hidden @ table.T  # (B, L, V + 1 + spare)
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
    graph_safe = True  # no host synchronisation: the step can be captured as a CUDA graph

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
        table = unwrap(model).output_table()
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


@dataclass
class MaskedItemObjective:
    """BERT4Rec's objective: hide some items of each user's last max_seq_len training items
    behind [MASK] and predict them with a softmax over all real items.

    Each real position is masked with probability `mask_prob`, and at least one per sequence
    (the position with the smallest draw). With probability `mask_last_prob` a sequence
    instead has only its last item masked, the task the model is evaluated on; the original
    adds one such sequence per user to its 10 randomly masked copies (dupe factor 10).
    Masked positions are always [MASK] (the original dropped BERT's 80/10/10 replacement).
    """

    num_items: int
    max_seq_len: int
    mask_prob: float
    mask_last_prob: float
    graph_safe = True  # fixed shapes, no host synchronisation

    @property
    def mask_id(self) -> int:
        return self.num_items + 1

    def negatives(self, targets: torch.Tensor, generator: torch.Generator | None
                  ) -> torch.Tensor:
        """The masked positions (B, L) of the training window: BERT4Rec's "negatives" slot.

        targets are rows[:, 1:] of the trainer's rows, whose first item is always real, so a
        row holds (targets != 0).sum() + 1 items, of which the window keeps the last L.
        """
        batch, length = targets.shape[0], self.max_seq_len
        device = targets.device
        kept = ((targets != 0).sum(1) + 1).clamp(max=length)  # (B,)
        steps = torch.arange(length, device=device)
        real = steps[None, :] < kept[:, None]  # (B, L)
        draws = torch.rand((batch, length), generator=generator, device=device)
        draws = draws.masked_fill(~real, 2.0)
        masked = draws < self.mask_prob
        masked |= steps[None, :] == draws.argmin(1, keepdim=True)  # at least one per sequence
        last_only = torch.rand((batch, 1), generator=generator, device=device) \
            < self.mask_last_prob
        return torch.where(last_only, steps[None, :] == kept[:, None] - 1, masked)

    @property
    def max_predictions(self) -> int:
        """Masked positions scored per sequence: the mean plus four standard deviations of the
        binomial count (the original caps them too, at max_predictions_per_seq)."""
        mean = self.max_seq_len * self.mask_prob
        spread = 4.0 * math.sqrt(mean * (1.0 - self.mask_prob))
        return min(self.max_seq_len, math.ceil(mean + spread) + 1)

    def __call__(self, model: torch.nn.Module, rows: torch.Tensor, lengths: torch.Tensor,
                 masked: torch.Tensor) -> torch.Tensor:
        window, kept = last_items(rows, lengths, self.max_seq_len)  # (B, L), (B,)
        inputs = window.masked_fill(masked, self.mask_id)
        hidden = model(inputs, kept)  # (B, L, d)
        # score only masked positions, with fixed shapes (no host sync: CUDA-graph safe):
        # up to max_predictions masked positions of each row; picked unmasked ones weigh 0
        picked = masked.float().topk(self.max_predictions, dim=1, sorted=False).indices
        weights = masked.gather(1, picked)  # (B, M)
        vectors = hidden.gather(1, picked[..., None].expand(-1, -1, hidden.shape[-1]))
        logits = unwrap(model).item_scores(vectors)  # (B, M, V)
        targets = (window.gather(1, picked) - 1).clamp(min=0)
        return full_softmax_loss(logits.reshape(-1, self.num_items), targets.reshape(-1),
                                 weights.reshape(-1))


def make_objective(config: TrainConfig, num_items: int, device: torch.device
                   ) -> NextItemObjective | MaskedItemObjective:
    """The objective a run config asks for."""
    if config.model == "bert4rec":
        return MaskedItemObjective(num_items=num_items, max_seq_len=config.max_seq_len,
                                   mask_prob=config.mask_prob,
                                   mask_last_prob=config.mask_last_prob)
    loss = config.resolved_loss
    k = min(config.num_negatives, num_items - 1)
    return NextItemObjective(
        loss=loss, num_items=num_items, num_negatives=k,
        alpha=torch.tensor(sampling_rate(k, num_items), device=device),
        t=torch.tensor(config.gbce_t, device=device),
        scoring=choose_scoring(config.scoring, num_items),
    )
