"""Readers, the interaction container, k-core filtering, re-indexing, ML conversion."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gsasrec.data import Interactions, Sequences, load_dataset
from gsasrec.data.download import convert_ratings
from gsasrec.data.readers import read_any, read_movielens, read_sasrec, read_table
from gsasrec.errors import GsasrecError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def as_lists(interactions: Interactions) -> dict[int, list[int]]:
    """Original user id -> original item ids, in sequence order."""
    seq = interactions.sequences
    return {int(interactions.user_ids[u]): interactions.item_ids[seq[u]].tolist()
            for u in range(len(seq))}


def test_sasrec_reader_keeps_file_order_and_both_id_maps(tmp_path):
    path = write(tmp_path / "tiny.txt", "10 7\n3 5\n10 2\n3 7\n10 9\n")
    data = read_sasrec(path)
    assert as_lists(data) == {3: [5, 7], 10: [7, 2, 9]}
    assert data.num_items == 4 and data.num_users == 2 and data.num_interactions == 5
    assert data.name == "tiny"
    # internal ids are contiguous 1..num_items; 0 is padding
    assert sorted(np.unique(data.sequences.items)) == [1, 2, 3, 4]
    np.testing.assert_array_equal(data.item_ids[1:], [2, 5, 7, 9])
    np.testing.assert_array_equal(data.item_popularity(), [0, 1, 1, 2, 1])


def test_movielens_readers_order_by_timestamp_with_file_order_breaking_ties(tmp_path):
    rows = [(1, 50, 5, 300), (1, 40, 3, 100), (2, 40, 4, 50), (1, 60, 1, 100), (2, 70, 2, 10)]
    tab = write(tmp_path / "u.data", "".join(f"{u}\t{i}\t{r}\t{t}\n" for u, i, r, t in rows))
    colons = write(tmp_path / "ratings.dat",
                   "".join(f"{u}::{i}::{r}::{t}\n" for u, i, r, t in rows))
    expected = {1: [40, 60, 50], 2: [70, 40]}
    assert as_lists(read_movielens(tab)) == expected
    assert as_lists(read_movielens(colons)) == expected
    assert as_lists(read_any(colons)) == expected


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_table_reader_finds_columns_and_orders_by_time(tmp_path, suffix):
    frame = pd.DataFrame({"userId": [5, 5, 9, 5], "movieId": [1, 2, 3, 4],
                          "timestamp": [30, 10, 5, 20]})
    path = tmp_path / f"table{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    assert as_lists(read_table(path)) == {5: [2, 4, 1], 9: [3]}
    assert as_lists(read_any(path)) == {5: [2, 4, 1], 9: [3]}


def test_k_core_filtering_is_iterative():
    # item 9 has 1 interaction; dropping it leaves user 3 with 1 interaction, then item 2
    # loses its second interaction: all of them go, the 2-core of the rest stays
    users = np.array([1, 1, 2, 2, 3, 3])
    items = np.array([1, 2, 1, 2, 2, 9])
    data = Interactions.from_arrays(users, items, min_interactions=2)
    assert as_lists(data) == {1: [1, 2], 2: [1, 2]}
    users = np.array([1, 1, 2, 2, 3, 3, 3])
    items = np.array([1, 2, 1, 5, 2, 9, 5])
    data = Interactions.from_arrays(users, items, min_interactions=2)
    assert as_lists(data) == {1: [1, 2], 2: [1, 5], 3: [2, 5]}
    with pytest.raises(GsasrecError, match="no interactions left"):
        Interactions.from_arrays(np.array([1, 2]), np.array([1, 2]), min_interactions=2)


def test_sequences_operations():
    seq = Sequences.from_lists([[1, 2, 3], [4], [5, 6]])
    np.testing.assert_array_equal(seq.lengths, [3, 1, 2])
    np.testing.assert_array_equal(seq.last(), [3, 4, 6])
    assert [s.tolist() for s in (seq.select(np.array([2, 0]))[i] for i in range(2))] == \
        [[5, 6], [1, 2, 3]]
    dropped = seq.drop_last(np.array([1, 1, 2]))
    assert [dropped[i].tolist() for i in range(3)] == [[1, 2], [], []]
    padded, lengths = seq.padded_tail(2)
    np.testing.assert_array_equal(padded, [[2, 3], [4, 0], [5, 6]])
    np.testing.assert_array_equal(lengths, [2, 1, 2])


@pytest.mark.parametrize(
    ("text", "pattern"),
    [
        ("1 2\n1 3\n2 x\n", r"bad\.txt:3: .*non-numeric item 'x'"),
        ("1 2\n1 3 4\n", r"bad\.txt:2: expected 2 fields"),
        ("1 2\nfoo 3\n", r"bad\.txt:2: .*non-numeric user 'foo'"),
        ("1 2\n-1 3\n", r"bad\.txt:2: .*negative user"),
    ],
)
def test_sasrec_reader_errors_name_file_and_line(tmp_path, text, pattern):
    with pytest.raises(GsasrecError, match=pattern):
        read_sasrec(write(tmp_path / "bad.txt", text))


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(GsasrecError, match="file not found"):
        read_sasrec(tmp_path / "absent.txt")
    with pytest.raises(GsasrecError, match="empty"):
        read_sasrec(write(tmp_path / "empty.txt", ""))
    with pytest.raises(GsasrecError, match=r"u\.data:2: .*non-numeric"):
        read_movielens(write(tmp_path / "u.data", "1\t2\t3\t4\n1\tx\t3\t5\n"))


def test_named_data_set_missing_says_where_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("GSASREC_DATA_DIR", str(tmp_path))
    with pytest.raises(GsasrecError, match=r"gsasrec download ml-1m") as error:
        load_dataset("ml-1m")
    assert str(tmp_path / "ml-1m" / "ml-1m.txt") in str(error.value)
    with pytest.raises(GsasrecError, match="unknown data set"):
        load_dataset("nope")


def test_ml1m_reference_file_counts(ml1m_file):
    data = read_sasrec(ml1m_file)
    assert (data.num_users, data.num_items, data.num_interactions) == (6040, 3416, 999_611)


def test_convert_ml100k_ratings_matches_an_independent_preprocessing(ml100k_file, tmp_path):
    """The SASRec preprocessing, recomputed with pandas: drop users and items with fewer
    than 5 ratings (one pass on the raw counts), order each user's ratings by time."""
    out = convert_ratings(ml100k_file, tmp_path, "ml-100k")
    raw = pd.read_csv(ml100k_file, sep="\t", names=["user", "item", "rating", "time"])
    user_counts, item_counts = raw.user.value_counts(), raw.item.value_counts()
    kept = raw[raw.user.map(user_counts).ge(5) & raw.item.map(item_counts).ge(5)]
    kept = kept.sort_values(["user", "time"], kind="stable")
    converted = pd.read_csv(out, sep=" ", names=["user", "item"])
    assert len(converted) == len(kept)
    assert converted.user.nunique() == kept.user.nunique() == converted.user.max()
    assert converted.item.nunique() == kept.item.nunique() == converted.item.max()
    items = dict(np.loadtxt(tmp_path / "sas_to_original_items.txt", dtype=np.int64))
    users = dict(np.loadtxt(tmp_path / "sas_to_original_users.txt", dtype=np.int64))
    np.testing.assert_array_equal(converted.user.map(users), kept.user)
    # time order within each user, equal timestamps in file order (a stable sort)
    np.testing.assert_array_equal(converted.item.map(items), kept.item)
    assert read_sasrec(out).num_interactions == len(kept)
