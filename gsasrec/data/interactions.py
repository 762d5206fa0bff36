"""Per-user item sequences in compressed (CSR) form, and building them from raw interactions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gsasrec.errors import GsasrecError


@dataclass(frozen=True)
class Sequences:
    """Item sequences stored flat: user u's items are items[offsets[u]:offsets[u + 1]].

    Items are numbered 1..num_items; 0 is reserved for padding.
    """

    items: np.ndarray  # (total,) int64
    offsets: np.ndarray  # (num_users + 1,) int64

    @classmethod
    def from_lists(cls, sequences: list[list[int]] | list[np.ndarray]) -> Sequences:
        lengths = np.array([len(s) for s in sequences], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        items = (
            np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
            if len(sequences) and offsets[-1] > 0
            else np.zeros(0, dtype=np.int64)
        )
        return cls(items, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, user: int) -> np.ndarray:
        return self.items[self.offsets[user] : self.offsets[user + 1]]

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def select(self, users: np.ndarray) -> Sequences:
        """The sequences of `users`, in that order."""
        users = np.asarray(users, dtype=np.int64)
        starts, ends = self.offsets[users], self.offsets[users + 1]
        lengths = ends - starts
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        index = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return Sequences(self.items[index], offsets)

    def drop_last(self, counts: np.ndarray | int) -> Sequences:
        """Each sequence without its last `counts` items (per user or one count for all)."""
        counts = np.broadcast_to(np.asarray(counts, dtype=np.int64), (len(self),))
        new_lengths = np.maximum(self.lengths - counts, 0)
        offsets = np.concatenate([[0], np.cumsum(new_lengths)]).astype(np.int64)
        index = np.repeat(self.offsets[:-1] - offsets[:-1], new_lengths) + np.arange(offsets[-1])
        return Sequences(self.items[index], offsets)

    def last(self) -> np.ndarray:
        """The last item of every (non-empty) sequence."""
        return self.items[self.offsets[1:] - 1]

    def padded_tail(self, length: int) -> tuple[np.ndarray, np.ndarray]:
        """The last `length` items of each sequence, right-padded with 0, and their lengths.

        Right padding lets causal attention ignore padding with no mask at all.
        """
        lengths = np.minimum(self.lengths, length)
        starts = self.offsets[1:] - lengths
        index = starts[:, None] + np.arange(length)[None, :]
        valid = np.arange(length)[None, :] < lengths[:, None]
        safe = np.where(valid, index, 0)
        padded = np.where(valid, self.items[safe] if len(self.items) else 0, 0)
        return padded.astype(np.int64), lengths.astype(np.int64)


@dataclass(frozen=True)
class Interactions:
    """A data set: one time-ordered item sequence per user, with the maps to original ids.

    `item_ids[i]` is the original id of internal item i (index 0, padding, is unused);
    `user_ids[u]` is the original id of internal user u.
    """

    name: str
    sequences: Sequences
    num_items: int
    item_ids: np.ndarray
    user_ids: np.ndarray

    @property
    def num_users(self) -> int:
        return len(self.sequences)

    @property
    def num_interactions(self) -> int:
        return int(self.sequences.offsets[-1])

    def item_popularity(self) -> np.ndarray:
        """Interaction count of each internal item id (index 0 = padding, always 0)."""
        return np.bincount(self.sequences.items, minlength=self.num_items + 1)

    @classmethod
    def from_arrays(
        cls,
        users: np.ndarray,
        items: np.ndarray,
        timestamps: np.ndarray | None = None,
        *,
        name: str = "custom",
        min_interactions: int = 0,
        source: str = "the data",
    ) -> Interactions:
        """Group by user, order by timestamp (stable: file order breaks ties) and re-index.

        min_interactions > 0 applies iterative k-core filtering to users and items.
        """
        users = np.asarray(users)
        items = np.asarray(items)
        if len(users) == 0:
            raise GsasrecError(f"{source}: no interactions found (empty data)")
        if min_interactions > 0:
            users, items, timestamps = _k_core(users, items, timestamps, min_interactions)
            if len(users) == 0:
                raise GsasrecError(
                    f"{source}: no interactions left after {min_interactions}-core filtering"
                )
        if timestamps is not None:
            order = np.lexsort((np.asarray(timestamps), users))
        else:
            order = np.argsort(users, kind="stable")
        users, items = users[order], items[order]
        user_ids, user_index = np.unique(users, return_inverse=True)
        item_ids, item_index = np.unique(items, return_inverse=True)
        counts = np.bincount(user_index, minlength=len(user_ids))
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        sequences = Sequences((item_index + 1).astype(np.int64), offsets)
        item_ids = np.concatenate([[item_ids[0]], item_ids])  # slot 0: padding, never used
        return cls(name, sequences, len(item_ids) - 1, item_ids, user_ids)


def _k_core(
    users: np.ndarray, items: np.ndarray, timestamps: np.ndarray | None, k: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Drop users and items with fewer than k interactions until none is left."""
    while True:
        _, user_inv, user_counts = np.unique(users, return_inverse=True, return_counts=True)
        _, item_inv, item_counts = np.unique(items, return_inverse=True, return_counts=True)
        keep = (user_counts[user_inv] >= k) & (item_counts[item_inv] >= k)
        if keep.all():
            return users, items, timestamps
        users, items = users[keep], items[keep]
        timestamps = None if timestamps is None else np.asarray(timestamps)[keep]
