"""Synthetic sequences from a known next-item distribution: the ground truth for calibration.

The process is a sparse first-order Markov chain mixed with a power-law popularity:

    q(j | prev) = (1 - noise) * sum_m w_m [successor_m(prev) = j] + noise * pop(j)

(the first item of a sequence follows pop). Without repeats (the default, as in the
MovieLens benchmark) the next item is drawn from q restricted to unseen items, so the true
probability of candidate j after history h is q(j | h[-1]) / (1 - sum_{i in h} q(i | h[-1]))
for unseen j and 0 for seen j: the same rule the evaluation's seen-item filter applies.
Storage is O(|I| * successors): no items-by-items matrix, so it scales to millions of items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gsasrec.data.interactions import Interactions, Sequences

_REJECTION_TRIES = 4  # plain draws before the exact sampler takes over a row
_POPULARITY_TRIES = 200  # rejection rounds against the history, for the popularity part


@dataclass(frozen=True)
class SyntheticConfig:
    """Parameters of the generator; the defaults make a small, quickly learnable data set."""

    num_items: int = 500
    num_users: int = 2000
    min_length: int = 10
    max_length: int = 50
    num_successors: int = 3
    successor_weights: tuple[float, ...] = (0.6, 0.25, 0.15)
    noise: float = 0.1  # weight of the popularity component
    popularity_exponent: float = 1.0  # Zipf exponent of pop
    allow_repeats: bool = False
    random_last_item: bool = False  # replace each user's last item by a random one (leakage test)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.num_items < 3:
            raise ValueError("num_items must be at least 3")
        if len(self.successor_weights) != self.num_successors:
            raise ValueError("successor_weights needs one weight per successor")
        if not 0.0 < self.noise <= 1.0:
            raise ValueError("noise must be in (0, 1] so every unseen item stays reachable")
        if not 1 <= self.min_length <= self.max_length:
            raise ValueError("need 1 <= min_length <= max_length")
        if not self.allow_repeats and self.max_length > self.num_items // 2:
            raise ValueError("max_length must be at most num_items / 2 without repeats")


class MarkovChainGenerator:
    """Draws user sequences and answers the exact next-item probability of any candidate."""

    def __init__(self, config: SyntheticConfig | None = None) -> None:
        self.config = config or SyntheticConfig()
        cfg = self.config
        rng = np.random.default_rng(cfg.seed)
        n = cfg.num_items
        ranks = np.arange(1, n + 1, dtype=np.float64)
        weights = ranks ** (-cfg.popularity_exponent)
        pop = np.zeros(n + 1)
        pop[1:] = (weights / weights.sum())[rng.permutation(n)]  # popularity not tied to id
        self.popularity = pop  # index 0 = padding, probability 0
        self._pop_cdf = np.cumsum(pop[1:])
        self._pop_cdf[-1] = 1.0
        # successors drawn by popularity, never the item itself and never twice
        succ = self._draw_popular(rng, (n + 1, cfg.num_successors))
        for _ in range(100):
            clash = succ == np.arange(n + 1)[:, None]
            if cfg.num_successors > 1:
                sorted_succ = np.sort(succ, axis=1)
                dup_rows = (np.diff(sorted_succ, axis=1) == 0).any(axis=1)
                clash |= dup_rows[:, None] & (np.arange(cfg.num_successors) > 0)[None, :]
            if not clash.any():
                break
            succ[clash] = self._draw_popular(rng, int(clash.sum()))
        self.successors = succ  # (|I| + 1, m); row 0 unused
        self.successor_weights = np.asarray(cfg.successor_weights, dtype=np.float64)
        self.successor_weights = self.successor_weights / self.successor_weights.sum()

    def _draw_popular(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        return np.searchsorted(self._pop_cdf, rng.random(size), side="right").astype(np.int64) + 1

    # ----- truth -------------------------------------------------------------------------
    def transition(self, previous: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """q(candidate | previous), before excluding seen items. previous 0 = no history.

        previous: (N,), candidates: (N, C) -> (N, C) float64.
        """
        previous = np.asarray(previous, dtype=np.int64)
        candidates = np.asarray(candidates, dtype=np.int64)
        noise = self.config.noise
        hits = self.successors[previous][:, None, :] == candidates[:, :, None]  # (N, C, m)
        chain = (hits * self.successor_weights).sum(-1)
        has_previous = previous[:, None] > 0
        chain_weight = np.where(has_previous, 1.0 - noise, 0.0)
        popularity_weight = np.where(has_previous, noise, 1.0)
        return chain_weight * chain + popularity_weight * self.popularity[candidates]

    def true_probability(self, histories: Sequences, candidates: np.ndarray) -> np.ndarray:
        """P(next item = candidate | history) for each history (N,) and candidates (N, C)."""
        candidates = np.asarray(candidates, dtype=np.int64)
        lengths = histories.lengths
        previous = np.zeros(len(histories), dtype=np.int64)
        if len(histories.items):
            last = histories.items[np.maximum(histories.offsets[1:] - 1, 0)]
            previous = np.where(lengths > 0, last, 0)
        q = self.transition(previous, candidates)
        if self.config.allow_repeats:
            return q
        user_of = np.repeat(np.arange(len(histories)), lengths)
        seen_q = self.transition(previous[user_of], histories.items[:, None])[:, 0]
        seen_mass = np.bincount(user_of, weights=seen_q, minlength=len(histories))
        seen = _membership(histories, candidates)
        return np.where(seen, 0.0, q / (1.0 - seen_mass)[:, None])

    def next_item_distribution(self, history: np.ndarray) -> np.ndarray:
        """The whole next-item distribution (|I| + 1,) after one history; for small catalogues."""
        candidates = np.arange(self.config.num_items + 1)[None, :]
        probs = self.true_probability(Sequences.from_lists([np.asarray(history)]), candidates)[0]
        probs[0] = 0.0
        return probs

    # ----- sampling ----------------------------------------------------------------------
    def generate(self, num_users: int | None = None, seed: int | None = None) -> Interactions:
        """Draw one sequence per user, vectorised over users, step by step."""
        cfg = self.config
        num_users = cfg.num_users if num_users is None else num_users
        rng = np.random.default_rng(cfg.seed + 1 if seed is None else seed)
        lengths = rng.integers(cfg.min_length, cfg.max_length + 1, size=num_users)
        seqs = np.zeros((num_users, cfg.max_length), dtype=np.int64)
        for step in range(cfg.max_length):
            todo = np.flatnonzero(lengths > step)
            previous = seqs[todo, step - 1] if step > 0 else np.zeros(len(todo), dtype=np.int64)
            for _ in range(_REJECTION_TRIES):
                if len(todo) == 0:
                    break
                draw = self._draw_next(rng, previous)
                if cfg.allow_repeats or step == 0:
                    accepted = np.ones(len(todo), dtype=bool)
                else:
                    accepted = ~(seqs[todo, :step] == draw[:, None]).any(axis=1)
                seqs[todo[accepted], step] = draw[accepted]
                todo, previous = todo[~accepted], previous[~accepted]
            if len(todo):  # most of q's mass is already seen: sample the rest exactly
                seqs[todo, step] = self._draw_unseen(rng, seqs[todo, :step], previous)
        if cfg.random_last_item:
            for user in range(num_users):
                history = seqs[user, : lengths[user] - 1]
                while True:
                    item = int(rng.integers(1, cfg.num_items + 1))
                    if cfg.allow_repeats or item not in history:
                        break
                seqs[user, lengths[user] - 1] = item
        valid = np.arange(cfg.max_length)[None, :] < lengths[:, None]
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        return Interactions(
            name="synthetic",
            sequences=Sequences(seqs[valid], offsets),
            num_items=cfg.num_items,
            item_ids=np.arange(cfg.num_items + 1),
            user_ids=np.arange(num_users),
        )

    def _draw_next(self, rng: np.random.Generator, previous: np.ndarray) -> np.ndarray:
        """One draw from q(. | previous) per row (not yet excluding seen items)."""
        count = len(previous)
        popular = self._draw_popular(rng, count)
        slot = np.searchsorted(np.cumsum(self.successor_weights), rng.random(count), side="right")
        slot = np.minimum(slot, len(self.successor_weights) - 1)
        chained = self.successors[previous, slot]
        use_chain = (previous > 0) & (rng.random(count) >= self.config.noise)
        return np.where(use_chain, chained, popular)


    def _draw_unseen(self, rng: np.random.Generator, histories: np.ndarray,
                     previous: np.ndarray) -> np.ndarray:
        """One exact draw per row from q(. | previous) restricted to items not in the row's
        history (n, s), without repeats in a history. q is a mixture, so the restriction is
        too: pick the chain or the popularity part by its unseen mass, then draw inside it."""
        count = len(previous)
        noise = self.config.noise
        has_previous = previous > 0
        successors = self.successors[previous]  # (n, m)
        successor_seen = (successors[:, :, None] == histories[:, None, :]).any(-1)
        chain_mass = np.where(successor_seen, 0.0, self.successor_weights[None, :]) \
            * np.where(has_previous, 1.0 - noise, 0.0)[:, None]  # (n, m)
        popularity_mass = np.where(has_previous, noise, 1.0) \
            * np.clip(1.0 - self.popularity[histories].sum(1), 0.0, None)
        cumulative = np.cumsum(chain_mass, axis=1)
        threshold = rng.random(count) * (cumulative[:, -1] + popularity_mass)
        slot = (cumulative <= threshold[:, None]).sum(1)  # m means: the popularity part
        result = np.zeros(count, dtype=np.int64)
        from_chain = slot < successors.shape[1]
        result[from_chain] = successors[from_chain, slot[from_chain]]
        todo = np.flatnonzero(~from_chain)
        for _ in range(_POPULARITY_TRIES):  # popularity restricted to unseen, by rejection
            if len(todo) == 0:
                return result
            draw = self._draw_popular(rng, len(todo))
            accepted = ~(histories[todo] == draw[:, None]).any(1)
            result[todo[accepted]] = draw[accepted]
            todo = todo[~accepted]
        for row in todo:  # the history holds nearly all popularity mass: enumerate
            probs = self.popularity.copy()
            probs[histories[row]] = 0.0
            result[row] = rng.choice(len(probs), p=probs / probs.sum())
        return result


def _membership(histories: Sequences, candidates: np.ndarray) -> np.ndarray:
    """(N, C) bool: candidate c of row n appears in history n. Sorted search, no dense matrix."""
    lengths = histories.lengths
    if not len(histories.items):  # every history empty: nothing is seen
        return np.zeros(candidates.shape, dtype=bool)
    user_of = np.repeat(np.arange(len(histories)), lengths)
    num_rows = len(histories)
    scale = int(max(candidates.max(initial=0), histories.items.max(initial=0))) + 1
    keys = np.sort(user_of * scale + histories.items)
    query = np.arange(num_rows)[:, None] * scale + candidates
    position = np.searchsorted(keys, query)
    return (position < len(keys)) & (keys[np.minimum(position, len(keys) - 1)] == query)
