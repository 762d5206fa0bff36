"""Leave-one-out split as in the paper: last item = test, second-to-last = validation
for a seeded sample of validation users."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gsasrec.data.interactions import Interactions, Sequences

MIN_USER_LENGTH = 3  # one training item, one validation item, one test item


@dataclass(frozen=True)
class LeaveOneOutSplit:
    """Training sequences, validation and test inputs/targets, over the kept users.

    Index u refers to the u-th kept user; `users[u]` is its index in the Interactions.
    """

    num_items: int
    users: np.ndarray
    train: Sequences
    val_users: np.ndarray  # indices into kept users
    val_inputs: Sequences
    val_targets: np.ndarray
    test_inputs: Sequences
    test_targets: np.ndarray
    dropped_users: int
    mode: str

    def summary(self) -> dict[str, int | str]:
        return {
            "num_items": self.num_items,
            "num_users": len(self.users),
            "train_interactions": int(self.train.offsets[-1]),
            "val_users": len(self.val_users),
            "test_users": len(self.test_targets),
            "dropped_users": self.dropped_users,
            "split_mode": self.mode,
        }


def leave_one_out(
    interactions: Interactions,
    val_users: int = 512,
    split_seed: int = 42,
    mode: str = "standard",
) -> LeaveOneOutSplit:
    """Split each history: the last item is the test target, the one before is the validation
    target for `val_users` users sampled with `split_seed` (independent of the training seed).

    mode "standard": training sequences are histories minus the test item, and minus the
    validation item for validation users. mode "authors-port": every training sequence also
    drops its second-to-last item, as the authors' port does. Users with fewer than three
    interactions cannot be split and are dropped (counted in `dropped_users`).
    """
    if mode not in ("standard", "authors-port"):
        raise ValueError(f"unknown split mode {mode!r}")
    lengths = interactions.sequences.lengths
    kept = np.flatnonzero(lengths >= MIN_USER_LENGTH)
    sequences = interactions.sequences.select(kept)
    num_users = len(kept)
    rng = np.random.default_rng(split_seed)
    chosen = np.sort(rng.choice(num_users, size=min(val_users, num_users), replace=False))
    is_val = np.zeros(num_users, dtype=bool)
    is_val[chosen] = True
    drop = np.full(num_users, 2 if mode == "authors-port" else 1, dtype=np.int64)
    drop[is_val] = 2
    test_inputs = sequences.drop_last(1)
    val_sequences = sequences.select(chosen)
    return LeaveOneOutSplit(
        num_items=interactions.num_items,
        users=kept,
        train=sequences.drop_last(drop),
        val_users=chosen,
        val_inputs=val_sequences.drop_last(2),
        val_targets=val_sequences.drop_last(1).last(),
        test_inputs=test_inputs,
        test_targets=sequences.last(),
        dropped_users=int(len(lengths) - num_users),
        mode=mode,
    )
