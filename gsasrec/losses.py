"""Training losses as pure functions of logits.

All losses compute in float32 (never bf16) whatever dtype the logits arrive in, and
take an optional `mask` that weights positions (1 = real target, 0 = padding).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return values.mean()
    weights = mask.to(values.dtype)
    # clamp keeps an all-padding batch at loss 0 instead of NaN, without a host sync
    return (values * weights).sum() / weights.sum().clamp_min(1.0)


def gbce_loss(
    positive_logits: torch.Tensor,
    negative_logits: torch.Tensor,
    alpha: float | torch.Tensor,
    t: float | torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Generalised BCE: -(beta log sigmoid(s+) + sum log sigmoid(-s-)) / (k + 1), averaged.

    positive_logits: [N]; negative_logits: [N, k]. beta = 1 - t (1 - alpha).
    Written with logsigmoid, so it is exact for tiny beta and finite for extreme logits
    (the authors' gamma transform of the positive logit needs float64 and clamping).
    `alpha` and `t` may be 0-d tensors, so warm-ups do not recompile a compiled step.
    """
    if isinstance(t, float | int) and not 0.0 <= t <= 1.0:
        raise ValueError(f"t must be in [0, 1], got {t}")
    if isinstance(alpha, float | int) and not 0.0 < alpha <= 1.0:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    beta = 1.0 - t * (1.0 - alpha)
    pos = positive_logits.float()
    neg = negative_logits.float()
    num_negatives = neg.shape[-1]
    per_position = -(beta * F.logsigmoid(pos) + F.logsigmoid(-neg).sum(-1)) / (num_negatives + 1)
    return _masked_mean(per_position, mask)


def bce_loss(
    positive_logits: torch.Tensor,
    negative_logits: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Plain BCE with k negatives (gBCE at t = 0), with the same 1/(k+1) normalisation."""
    return gbce_loss(positive_logits, negative_logits, alpha=1.0, t=0.0, mask=mask)


def sampled_softmax_loss(
    positive_logits: torch.Tensor,
    negative_logits: torch.Tensor,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy of the positive against itself plus k uniformly sampled negatives.

    Uniform sampling makes the log-Q correction a constant, so none is applied.
    """
    logits = torch.cat([positive_logits.float().unsqueeze(-1), negative_logits.float()], dim=-1)
    per_position = torch.logsumexp(logits, dim=-1) - logits[..., 0]
    return _masked_mean(per_position, mask)


def full_softmax_loss(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy over the whole catalogue. logits: [N, V]; targets: [N] column indices."""
    per_position = F.cross_entropy(logits.float(), targets, reduction="none")
    return _masked_mean(per_position, mask)
