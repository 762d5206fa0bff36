"""Full-ranking evaluation: every item scored, seen items masked with tensor operations.

Ties count against the model: the target's rank is the number of candidate items (itself
included) scoring at least as high, so a model whose scores are all equal ranks every target
last. The seen-item filter never masks the target itself. The catalogue is scored in chunks,
so memory stays bounded for millions of items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gsasrec.data.interactions import Sequences

DEFAULT_KS = (1, 10)


@dataclass(frozen=True)
class EvalResult:
    """Per-user outputs of a full-ranking pass; items are internal ids (1..num_items)."""

    ranks: np.ndarray  # (N,) int64, 1 = best
    target_scores: np.ndarray  # (N,) float32
    top_items: np.ndarray  # (N, top_k) int64, seen items filtered when filter_seen
    top_scores: np.ndarray  # (N, top_k) float32
    log_normalisers: np.ndarray  # (N,) float32 logsumexp of the (filtered) scores

    def metrics(self, ks: tuple[int, ...] = DEFAULT_KS) -> dict[str, float]:
        return ranking_metrics(self.ranks, ks)


def ranking_metrics(ranks: np.ndarray, ks: tuple[int, ...] = DEFAULT_KS) -> dict[str, float]:
    """NDCG@K and Recall@K of one relevant item per user, from its 1-based rank."""
    ranks = np.asarray(ranks, dtype=np.float64)
    result: dict[str, float] = {}
    for k in sorted(set(ks) | {10}):
        hit = ranks <= k
        result[f"ndcg@{k}"] = float(np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0).mean())
        result[f"recall@{k}"] = float(hit.mean())
    return result


def _seen_index(histories: Sequences, start: int, stop: int, device: torch.device
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """(row, item) pairs of the items users start..stop-1 have seen, for index_put masking."""
    begin, end = histories.offsets[start], histories.offsets[stop]
    lengths = histories.lengths[start:stop]
    rows = np.repeat(np.arange(stop - start), lengths)
    items = histories.items[begin:end]
    return (torch.from_numpy(rows).to(device, non_blocking=True),
            torch.from_numpy(items).to(device, non_blocking=True))


@torch.no_grad()
def evaluate_ranking(
    model: torch.nn.Module,
    inputs: Sequences,
    targets: np.ndarray,
    num_items: int,
    max_seq_len: int,
    filter_seen: bool = True,
    batch_size: int = 512,
    top_k: int = 10,
    item_chunk: int = 1 << 20,
    device: torch.device | str = "cpu",
    autocast_dtype: torch.dtype | None = None,
) -> EvalResult:
    """Rank each user's target among all items, given the user's input history.

    The model provides `user_vectors(items, lengths) -> (B, d)` and `output_table()`; scores
    are float32 dot products with rows 1..num_items of the output table.
    """
    device = torch.device(device)
    was_training = model.training
    model.eval()
    padded, lengths = inputs.padded_tail(max_seq_len)
    table = model.output_table()[1 : num_items + 1].float()  # (V, d)
    num_chunks = (num_items + item_chunk - 1) // item_chunk
    top_k = min(top_k, num_items)
    out_ranks, out_target, out_items, out_scores, out_lse = [], [], [], [], []
    for start in range(0, len(inputs), batch_size):
        stop = min(start + batch_size, len(inputs))
        items_b = torch.from_numpy(padded[start:stop]).to(device)
        lengths_b = torch.from_numpy(np.maximum(lengths[start:stop], 1)).to(device)
        target_b = torch.from_numpy(np.asarray(targets[start:stop], dtype=np.int64)).to(device)
        rows = torch.arange(stop - start, device=device)
        with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16,
                            enabled=autocast_dtype is not None):
            users = model.user_vectors(items_b, lengths_b)
        users = users.float()  # (B, d)
        seen = _seen_index(inputs, start, stop, device) if filter_seen else None

        def chunk_scores(chunk: int, users: torch.Tensor = users, seen: tuple | None = seen
                         ) -> tuple[torch.Tensor, int]:
            first = chunk * item_chunk
            last = min(first + item_chunk, num_items)
            scores = users @ table[first:last].T  # (B, C): column c is item first + c + 1
            return torch.nan_to_num(scores, nan=float("inf")), first

        # pass 1: the target's own score (the same matmul that scores the other items)
        target_score = torch.full((stop - start,), float("nan"), device=device)
        cached = None
        for chunk in range(num_chunks):
            scores, first = chunk_scores(chunk)
            column = target_b - 1 - first
            inside = (column >= 0) & (column < scores.shape[1])
            picked = scores[rows, column.clamp(0, scores.shape[1] - 1)]
            target_score = torch.where(inside, picked, target_score)
            if num_chunks == 1:
                cached = scores
        # pass 2: mask seen items (the target excepted), count, keep the top-k
        rank = torch.zeros(stop - start, dtype=torch.int64, device=device)
        best_scores = torch.full((stop - start, top_k), float("-inf"), device=device)
        best_items = torch.zeros((stop - start, top_k), dtype=torch.int64, device=device)
        lse = torch.full((stop - start,), float("-inf"), device=device)
        for chunk in range(num_chunks):
            scores, first = (cached, 0) if cached is not None else chunk_scores(chunk)
            width = scores.shape[1]
            if seen is not None:
                seen_rows, seen_items = seen
                column = seen_items - 1 - first
                inside = (column >= 0) & (column < width)
                scores = scores.index_put(
                    (seen_rows[inside], column[inside]),
                    torch.tensor(float("-inf"), device=device),
                )
                column = target_b - 1 - first
                inside = (column >= 0) & (column < width)
                restore = torch.where(inside, target_score,
                                      scores[rows, column.clamp(0, width - 1)])
                scores[rows, column.clamp(0, width - 1)] = restore
            rank += (scores >= target_score[:, None]).sum(dim=1)
            finite = torch.where(torch.isinf(scores), float("-inf"), scores)
            lse = torch.logaddexp(lse, torch.logsumexp(finite, dim=1))
            chunk_best, chunk_index = scores.topk(min(top_k, width), dim=1)
            merged_scores = torch.cat([best_scores, chunk_best], dim=1)
            merged_items = torch.cat([best_items, chunk_index + first + 1], dim=1)
            best_scores, order = merged_scores.topk(top_k, dim=1)
            best_items = merged_items.gather(1, order)
        rank = torch.where(torch.isnan(target_score) | torch.isinf(target_score),
                           torch.full_like(rank, num_items), rank.clamp(min=1))
        out_ranks.append(rank.cpu())
        out_target.append(target_score.cpu())
        out_items.append(best_items.cpu())
        out_scores.append(best_scores.cpu())
        out_lse.append(lse.cpu())
    model.train(was_training)
    return EvalResult(
        ranks=torch.cat(out_ranks).numpy().astype(np.int64),
        target_scores=torch.cat(out_target).numpy().astype(np.float32),
        top_items=torch.cat(out_items).numpy().astype(np.int64),
        top_scores=torch.cat(out_scores).numpy().astype(np.float32),
        log_normalisers=torch.cat(out_lse).numpy().astype(np.float32),
    )
