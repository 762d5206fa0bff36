"""Leave-one-out split: targets, training sequences, dropped users, and the ML-1M counts."""

from __future__ import annotations

import numpy as np
import pytest

from gsasrec.data import Interactions, leave_one_out
from gsasrec.data.readers import read_sasrec


def toy(lengths: list[int]) -> Interactions:
    users = np.repeat(np.arange(len(lengths)), lengths)
    items = np.concatenate([np.arange(1, n + 1) + 10 * u for u, n in enumerate(lengths)])
    return Interactions.from_arrays(users, items)


@pytest.mark.parametrize("mode", ["standard", "authors-port"])
def test_each_history_is_split_as_the_paper_says(mode):
    data = toy([5, 2, 4, 3, 1, 6])
    split = leave_one_out(data, val_users=2, split_seed=0, mode=mode)
    assert split.dropped_users == 2  # lengths 2 and 1 cannot give train, validation and test
    np.testing.assert_array_equal(split.users, [0, 2, 3, 5])
    histories = [data.sequences[u] for u in split.users]
    for row, history in enumerate(histories):
        assert split.test_targets[row] == history[-1]
        np.testing.assert_array_equal(split.test_inputs[row], history[:-1])
        is_val = row in split.val_users
        drop = 2 if is_val or mode == "authors-port" else 1
        np.testing.assert_array_equal(split.train[row], history[:-drop])
    assert len(split.val_users) == 2
    for index, row in enumerate(split.val_users):
        assert split.val_targets[index] == histories[row][-2]
        np.testing.assert_array_equal(split.val_inputs[index], histories[row][:-2])
    assert split.summary()["split_mode"] == mode


def test_validation_users_depend_on_the_split_seed_only():
    data = toy([4] * 100)
    first = leave_one_out(data, val_users=10, split_seed=1)
    np.testing.assert_array_equal(first.val_users, leave_one_out(data, 10, 1).val_users)
    assert not np.array_equal(first.val_users, leave_one_out(data, 10, 2).val_users)
    assert len(leave_one_out(data, val_users=500).val_users) == 100  # capped at the users


@pytest.fixture(scope="module")
def ml1m(ml1m_file):
    return read_sasrec(ml1m_file, name="ml-1m")


def test_ml1m_standard_split_counts(ml1m):
    split = leave_one_out(ml1m, val_users=512, split_seed=42)
    summary = split.summary()
    assert summary["test_users"] == 6040 and summary["num_items"] == 3416
    assert summary["val_users"] == 512 and summary["dropped_users"] == 0
    assert summary["train_interactions"] == 999_611 - 6040 - 512


def test_ml1m_authors_port_split_drops_two_items_per_user(ml1m):
    split = leave_one_out(ml1m, val_users=512, split_seed=42, mode="authors-port")
    assert split.summary()["train_interactions"] == 999_611 - 2 * 6040
    assert len(split.test_targets) == 6040 and len(split.val_targets) == 512
