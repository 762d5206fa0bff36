"""Generated bad input for every reader: each file either loads exactly as an independent
parse of the documented grammar says, or fails with one GsasrecError naming the file (and
the first bad line), and nothing is written anywhere."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from gsasrec.cli import main
from gsasrec.data.interactions import Interactions
from gsasrec.data.readers import read_any, read_movielens, read_sasrec, read_table
from gsasrec.errors import GsasrecError

ROOT = Path(__file__).resolve().parents[1]
MAX = 2**63 - 1
FUZZ = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# ----- generated files ------------------------------------------------------------------------
GOOD_ID = st.integers(0, 12).map(str)
ODD_ID = st.one_of(
    st.integers(-5, -1).map(str),                       # negative
    st.integers(2**63, 2**70).map(str),                 # huge
    st.sampled_from(["x", "1.5", "1e3", "+3", "-0", "007", "", "1_0", "\u0663", '"4"',
                     "nan", "0x1", "2\x00", "1\xa0"]),  # odd spellings
)
GOOD_RATING = st.sampled_from(["1", "4", "3.5", ".5", "5."])
ODD_RATING = st.sampled_from(["nan", "inf", "x", "", "1e999"])
ENDING = st.sampled_from(["\n", "\n", "\r\n", "\r"])


@st.composite
def text_file(draw: st.DrawFn, row: st.SearchStrategy[list[str]], odd: list[st.SearchStrategy],
              separator: st.SearchStrategy[str]) -> bytes:
    """Good lines, then a few faults: odd tokens (odd[f] for field f), a wrong separator or
    field count, blank and duplicate lines, mixed line endings, truncation."""
    sep, ending = draw(separator), draw(ENDING)
    rows = draw(st.lists(row, min_size=0, max_size=12))
    for _ in range(draw(st.sampled_from([0, 0, 1, 2])) if rows else 0):
        line = rows[draw(st.integers(0, len(rows) - 1))]
        field = draw(st.integers(0, len(line) - 1))
        line[field] = draw(odd[field] if field < len(odd) else odd[0])
    if rows and draw(st.integers(0, 5)) == 0:  # a line with a wrong number of fields
        rows.insert(draw(st.integers(0, len(rows))), draw(st.lists(GOOD_ID, min_size=1,
                                                                    max_size=5)))
    lines = [sep.join(fields) for fields in rows]
    if lines and draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["", " ", "\t"])))
    if lines and draw(st.booleans()):
        lines.append(lines[draw(st.integers(0, len(lines) - 1))])  # a duplicate line
    data = "".join(line + ending for line in lines).encode()
    if data and draw(st.integers(0, 4)) == 0:
        data = data[: draw(st.integers(0, len(data)))]  # truncated
    return data


def sasrec_rows() -> st.SearchStrategy[list[str]]:
    return st.lists(GOOD_ID, min_size=2, max_size=2)


def movielens_rows() -> st.SearchStrategy[list[str]]:
    # few distinct times: many ties, which keep file order
    return st.tuples(GOOD_ID, GOOD_ID, GOOD_RATING, st.integers(0, 5).map(str)).map(list)


# ----- the independent parse ------------------------------------------------------------------
class Refused(Exception):
    def __init__(self, line: int | None) -> None:
        self.line = line


def lines_of(data: bytes) -> Iterator[tuple[int, str]]:
    text = data.decode("latin-1").replace("\r\n", "\n").replace("\r", "\n")
    for number, line in enumerate(text.split("\n")[: -1 if text.endswith("\n") else None], 1):
        if line.strip(" \t"):
            yield number, line


def an_id(token: str, line: int) -> int:
    token = token.strip(" \t")
    if not re.fullmatch(r"[+-]?[0-9]+", token) or not 0 <= int(token) <= MAX:
        raise Refused(line)
    return int(token)


def a_rating(token: str, line: int) -> None:
    token = token.strip(" \t")
    number = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
    if not re.fullmatch(number, token) or not math.isfinite(float(token)):
        raise Refused(line)


def expect_sasrec(data: bytes) -> dict[int, list[int]]:
    sequences: dict[int, list[int]] = {}
    for number, line in lines_of(data):
        fields = re.split(r"[ \t]+", line.strip(" \t"))
        if len(fields) != 2:
            raise Refused(number)
        user, item = (an_id(token, number) for token in fields)
        sequences.setdefault(user, []).append(item)
    if not sequences:
        raise Refused(None)
    return sequences


def expect_movielens(data: bytes, separator: str) -> dict[int, list[int]]:
    rows: dict[int, list[tuple[int, int]]] = {}
    for number, line in lines_of(data):
        fields = line.split(separator)
        if len(fields) != 4:
            raise Refused(number)
        user, item = an_id(fields[0], number), an_id(fields[1], number)
        a_rating(fields[2], number)
        rows.setdefault(user, []).append((an_id(fields[3], number), item))
    if not rows:
        raise Refused(None)
    return {user: [item for _, item in sorted(pairs, key=lambda p: p[0])]  # stable: ties in
            for user, pairs in rows.items()}                                # file order


def as_lists(interactions: Interactions) -> dict[int, list[int]]:
    seq = interactions.sequences
    return {int(interactions.user_ids[u]): interactions.item_ids[seq[u]].tolist()
            for u in range(len(seq))}


# ----- the check ------------------------------------------------------------------------------
@contextmanager
def sandbox() -> Iterator[Path]:
    """A fresh folder, also the working directory, so that any write would show up in it."""
    with tempfile.TemporaryDirectory() as folder:
        before = os.getcwd()
        os.chdir(folder)
        try:
            yield Path(folder)
        finally:
            os.chdir(before)


def check(folder: Path, path: Path, read: Callable[[Path], Interactions],
          expect: Callable[[], dict[int, list[int]]]) -> None:
    try:
        expected = expect()
    except Refused as refused:
        event("refused" + (" at a line" if refused.line is not None else ""))
        with pytest.raises(GsasrecError) as error:
            read(path)
        message = str(error.value)
        assert "\n" not in message and message.startswith(str(path)), message
        if refused.line is not None:
            assert message.startswith(f"{path}:{refused.line}:"), message
    else:
        event("loaded")
        assert as_lists(read(path)) == expected
    assert [p.name for p in folder.iterdir()] == [path.name]  # nothing written


@FUZZ
@given(text_file(sasrec_rows(), [ODD_ID],
                 st.sampled_from([" ", " ", " ", "\t", " \t ", ",", ";", "::"])))
def test_sasrec_reader_loads_exactly_or_names_the_bad_line(data: bytes) -> None:
    with sandbox() as folder:
        path = folder / "data.txt"
        path.write_bytes(data)
        if not data:
            expect = lambda: (_ for _ in ()).throw(Refused(None))  # noqa: E731
        else:
            expect = lambda: expect_sasrec(data)  # noqa: E731
        check(folder, path, read_sasrec, expect)
        check(folder, path, read_any, expect)


@FUZZ
@given(st.sampled_from(["u.data", "ratings.dat"]), st.data())
def test_movielens_readers_load_exactly_or_name_the_bad_line(name: str, draw: st.DataObject
                                                             ) -> None:
    right = "\t" if name == "u.data" else "::"
    separator = st.sampled_from([right] * 5 + [",", " ", "\t" if right == "::" else "::"])
    data = draw.draw(text_file(movielens_rows(), [ODD_ID, ODD_ID, ODD_RATING, ODD_ID],
                               separator))
    with sandbox() as folder:
        path = folder / name
        path.write_bytes(data)

        def expect() -> dict[int, list[int]]:
            if not data:
                raise Refused(None)
            return expect_movielens(data, right)

        check(folder, path, read_movielens, expect)
        check(folder, path, read_any, expect)


# ----- tables ---------------------------------------------------------------------------------
CELL_ID = st.one_of(*[GOOD_ID] * 20, ODD_ID)  # one odd cell in 20
STAMP = st.one_of(*[st.integers(-3, 5).map(str)] * 10, st.sampled_from(["", "x", "1.5", "inf"]))
DATE = st.sampled_from([f"2024-01-0{d}" for d in range(1, 4)])


def is_number(token: str) -> bool:
    pattern = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?"
    return bool(re.fullmatch(pattern, token.strip(" \t"))) and math.isfinite(float(token))


def expect_table(rows: list[list[str]], header: list[str]) -> dict[int, list[int]]:
    """rows: the cells of each line after the header (line numbers from 2)."""
    kept = [(number, cells) for number, cells in enumerate(rows, start=2)
            if any(c.strip(" \t") for c in cells)]
    if not kept:
        raise Refused(None)
    width = len(header)
    for number, cells in kept:
        if len(cells) > width:
            raise Refused(number)  # more cells than the header names
    cells_of = [(number, cells + [""] * (width - len(cells))) for number, cells in kept]
    users = [an_id(cells[0], number) for number, cells in cells_of]
    items = [an_id(cells[1], number) for number, cells in cells_of]
    if width == 2:
        times: list[float] = [0.0] * len(users)
    else:
        tokens = [(number, cells[2].strip(" \t")) for number, cells in cells_of]
        if is_number(tokens[0][1]):
            for number, token in tokens:
                if not is_number(token):
                    raise Refused(number)
            times = [float(token) for _, token in tokens]
        else:
            for number, token in tokens:
                if not token.startswith("2024-") or is_number(token):
                    raise Refused(number)
            times = [datetime.fromisoformat(t).replace(tzinfo=timezone.utc).timestamp()
                     for _, t in tokens]
    sequences: dict[int, list[tuple[float, int]]] = {}
    for user, item, time in zip(users, items, times, strict=True):
        sequences.setdefault(user, []).append((time, item))
    return {u: [i for _, i in sorted(pairs, key=lambda p: p[0])] for u, pairs in sequences.items()}


@FUZZ
@given(st.booleans(), st.sampled_from([STAMP, DATE]), st.data(),
       st.sampled_from([",", ",", ",", ",", ";"]))
def test_csv_reader_loads_exactly_or_names_the_bad_line(with_time: bool,
                                                        time: st.SearchStrategy[str],
                                                        draw: st.DataObject, separator: str
                                                        ) -> None:
    # times are all numbers or all dates; a few odd cells and short or long rows
    rows = draw.draw(st.lists(st.one_of(
        *[st.tuples(CELL_ID, CELL_ID, st.one_of(*[time] * 20, STAMP, DATE)).map(list)] * 8,
        st.lists(GOOD_ID, min_size=0, max_size=4)), max_size=10))
    header = ["user_id", "item_id", "timestamp"] if with_time else ["user_id", "item_id"]
    rows = [[c.replace('"', "").replace("\x00", "") for c in r] for r in rows]  # no quoting
    if not with_time:
        rows = [r[:2] if len(r) == 3 else r for r in rows]
    text = "\n".join(separator.join(r) for r in [header, *rows]) + "\n"
    with sandbox() as folder:
        path = folder / "table.csv"
        path.write_text(text, encoding="utf-8")

        def expect() -> dict[int, list[int]]:
            if separator != ",":
                raise Refused(None)  # no user column: one column named 'user_id;item_id'
            return expect_table([r if r != [] else [""] for r in rows], header)

        check(folder, path, read_table, expect)
        check(folder, path, read_any, expect)


PARQUET_COLUMN = st.sampled_from(["small", "negative", "huge", "float", "float-nan", "float-frac",
                                  "text", "text-bad"])


def parquet_values(kind: str, n: int, seed: int) -> pd.Series:
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 6, n)
    values = {
        "small": pd.Series(small, dtype=np.int64),
        "negative": pd.Series(small - 3, dtype=np.int64),
        "huge": pd.Series(small.astype(np.uint64) + np.uint64(2**63), dtype=np.uint64),
        "float": pd.Series(small.astype(float)),
        "float-nan": pd.Series(np.where(small == 0, np.nan, small)),
        "float-frac": pd.Series(small + 0.5),
        "text": pd.Series([str(v) for v in small], dtype=object),
        "text-bad": pd.Series([str(v) if v else "x" for v in small], dtype=object),
    }
    return values[kind]


def first_bad_row(kind: str, values: pd.Series) -> int | None:
    rows = range(len(values))
    bad = {"small": [], "text": [], "float": [], "huge": rows, "float-frac": rows,
           "negative": [i for i in rows if kind == "negative" and values[i] < 0],
           "float-nan": [i for i in rows if kind == "float-nan" and np.isnan(values[i])],
           "text-bad": [i for i in rows if values[i] == "x"]}[kind]
    return bad[0] if len(bad) else None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PARQUET_COLUMN, PARQUET_COLUMN, st.integers(1, 8), st.integers(0, 2**32 - 1))
def test_parquet_reader_loads_exactly_or_names_the_bad_row(user_kind: str, item_kind: str,
                                                           n: int, seed: int) -> None:
    pytest.importorskip("pyarrow")
    users, items = parquet_values(user_kind, n, seed), parquet_values(item_kind, n, seed + 1)
    stamps = pd.Series(np.random.default_rng(seed + 2).integers(0, 3, n))
    with sandbox() as folder:
        path = folder / "table.parquet"
        pd.DataFrame({"user_id": users, "item_id": items, "ts": stamps}).to_parquet(path)
        bad = [r for r in (first_bad_row(user_kind, users), first_bad_row(item_kind, items))
               if r is not None]

        def expect() -> dict[int, list[int]]:
            if bad:
                raise Refused(None)
            pairs: dict[int, list[tuple[int, int]]] = {}
            for u, i, t in zip(users, items, stamps, strict=True):
                pairs.setdefault(int(u), []).append((int(t), int(i)))
            return {u: [i for _, i in sorted(p, key=lambda x: x[0])] for u, p in pairs.items()}

        check(folder, path, read_table, expect)
        if bad:  # the row is named: the user column's first bad row, else the item column's
            with pytest.raises(GsasrecError, match=re.escape(f"(row {bad[0]})")):
                read_table(path)


# ----- through the command line ---------------------------------------------------------------
BAD_FILES = {
    "data.txt": b"1 2\n1 3\n2 x\n",
    "u.data": b"1\t2\t3\t4\n1\t2\t3\n",
    "ratings.dat": b"1::2::3::4\n-1::2::3::4\n",
    "table.csv": b"user_id,item_id\n1,2\n99999999999999999999,3\n",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_train_on_a_bad_file_prints_one_line_and_writes_no_run(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / name
    bad.write_bytes(BAD_FILES[name])
    out = tmp_path / "run"

    code = main(["train", "--data-file", str(bad), "--device", "cpu", "--no-progress",
                 "--out", str(out)])

    stderr = capsys.readouterr().err
    assert code == 2
    assert stderr.count("\n") == 1 and stderr.startswith(f"gsasrec: error: {bad}:"), stderr
    assert re.match(rf"gsasrec: error: {re.escape(str(bad))}:[23]: ", stderr), stderr
    assert not out.exists()


def test_the_installed_command_refuses_a_bad_file_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "data.txt"
    bad.write_bytes(b"1 2\n3 18446744073709551616\n")
    result = subprocess.run([sys.executable, "-m", "gsasrec", "train", "--data-file", str(bad),
                             "--device", "cpu", "--no-progress", "--out", str(tmp_path / "run")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"gsasrec: error: {bad}:2: item 18446744073709551616 is too large (ids must fit in "
        "64 bits); each line must be 'user item' with non-negative integer ids"]
    assert not (tmp_path / "run").exists()
