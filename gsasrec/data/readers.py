"""Readers for interaction files. Each returns `Interactions` or raises one `GsasrecError`
naming the file, the line and the fix; nothing is written while reading.

Formats: SASRec (`user item` per line, time-ordered per user), MovieLens raw (`u.data`
tab-separated, `ratings.dat` `::`-separated, with timestamps), and generic CSV or parquet
tables with user, item and optional timestamp columns.

The grammar, for every format: lines end in \\n, \\r\\n or \\r; lines of only spaces and tabs
are skipped; an id or a MovieLens timestamp is an integer (optional sign, digits 0-9, spaces
or tabs around it) in 0..2**63 - 1; a rating is a finite decimal number. pandas reads the
common case fast; any file it does not read exactly that way is read again line by line,
which is the authority: it loads the file or names its first bad line.
"""

from __future__ import annotations

import io
import re
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from gsasrec.data.interactions import Interactions
from gsasrec.errors import GsasrecError

INT64_MAX = np.iinfo(np.int64).max
_INTEGER = re.compile(r"[+-]?[0-9]+")
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_BLANKS = " \t"
# bytes that pandas' integer and float parsing reads exactly as the grammar above does
_PLAIN = {"sasrec": b"0123456789 \t\r\n", "movielens": b"0123456789 \t\r\n:."}


def _check_file(path: Path) -> bytes:
    if not path.exists():
        raise GsasrecError(f"{path}: file not found")
    if not path.is_file():
        raise GsasrecError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise GsasrecError(f"{path}: file is empty; expected one interaction per line")
    return path.read_bytes()


def _parse_id(token: str, what: str) -> tuple[int, str | None]:
    """The integer in `token`, and why it is not a valid id (None when it is)."""
    token = token.strip(_BLANKS)
    if not _INTEGER.fullmatch(token):
        return 0, f"non-numeric {what} {token[:30]!r}"
    value = int(token)
    if value < 0:
        return value, f"negative {what} {value}"
    if value > INT64_MAX:
        return value, f"{what} {token[:30]} is too large (ids must fit in 64 bits)"
    return value, None


def _scan(path: Path, data: bytes, split: Callable[[str], list[str]], fields: list[str],
          fix: str) -> dict[str, np.ndarray]:
    """Parse line by line: the columns of `fields` that are ids, or an error at the first
    malformed line (the slow, exact path)."""
    columns: dict[str, list[int]] = {name: [] for name in fields if name != "rating"}
    text = io.StringIO(data.decode("latin-1"), newline=None)  # \r\n and \r end lines too
    for number, line in enumerate(text, start=1):
        line = line.rstrip("\n")
        if not line.strip(_BLANKS):
            continue
        parts = split(line)
        if len(parts) != len(fields):
            raise GsasrecError(
                f"{path}:{number}: expected {len(fields)} fields ({' '.join(fields)}), "
                f"found {len(parts)} in {line.strip()[:60]!r}; {fix}"
            )
        for token, name in zip(parts, fields, strict=True):
            if name == "rating":
                token = token.strip(_BLANKS)
                if not _NUMBER.fullmatch(token) or not np.isfinite(float(token)):
                    raise GsasrecError(f"{path}:{number}: non-numeric rating {token[:30]!r}; "
                                       f"{fix}")
                continue
            value, problem = _parse_id(token, name)
            if problem:
                raise GsasrecError(f"{path}:{number}: {problem}; {fix}")
            columns[name].append(value)
    if not columns[fields[0]]:
        raise GsasrecError(f"{path}: no interactions found, only blank lines; {fix}")
    return {name: np.array(values, dtype=np.int64) for name, values in columns.items()}


def _fast_frame(data: bytes, plain: bytes, columns: int, **read: object) -> pd.DataFrame | None:
    """pandas' reading of `data`, when it is exactly the grammar's; else None."""
    if data.translate(None, plain):  # a byte outside the plain set: let the scan decide
        return None
    try:
        frame = pd.read_csv(io.BytesIO(data), header=None, engine="c", **read)
    except (ValueError, OverflowError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None
    ids = [c for c in frame.columns if c != 2]  # column 2 of MovieLens is the rating
    if frame.shape[1] != columns or frame.isna().any().any() or not all(
            frame[c].dtype == np.int64 and (frame[c] >= 0).all() for c in ids):
        return None
    if columns == 4 and not (pd.api.types.is_numeric_dtype(frame[2])
                             and np.isfinite(frame[2].to_numpy(dtype=float)).all()):
        return None
    return frame


def read_sasrec(path: str | Path, name: str | None = None) -> Interactions:
    """`user item` per line, separated by spaces or tabs; each user's lines in time order."""
    path = Path(path)
    data = _check_file(path)
    fix = "each line must be 'user item' with non-negative integer ids"
    # with only plain bytes, pandas' fast whitespace separator is exactly spaces and tabs
    frame = _fast_frame(data, _PLAIN["sasrec"], 2, sep=r"\s+", dtype=np.int64)
    if frame is not None:
        users, items = frame[0].to_numpy(), frame[1].to_numpy()
    else:
        parsed = _scan(path, data, lambda line: re.split(r"[ \t]+", line.strip(_BLANKS)),
                       ["user", "item"], fix)
        users, items = parsed["user"], parsed["item"]
    return Interactions.from_arrays(users, items, name=name or path.stem, source=str(path))


def read_movielens(path: str | Path, name: str | None = None, min_interactions: int = 0
                   ) -> Interactions:
    """GroupLens raw ratings: `u.data` (tab-separated) or `ratings.dat` (`::`-separated).

    Ordered by timestamp within each user, ties kept in file order.
    """
    path = Path(path)
    data = _check_file(path)
    double_colon = path.name == "ratings.dat" or (path.name != "u.data"
                                                  and b"::" in data[:1000])
    separator = "::" if double_colon else "\t"
    fix = f"each line must be user{separator}item{separator}rating{separator}timestamp"
    fields = ["user", "item", "rating", "timestamp"]
    frame = None
    if not (double_colon and b"\t" in data):  # a tab would pass for a separator below
        frame = _fast_frame(data.replace(b"::", b"\t") if double_colon else data,
                            _PLAIN["movielens"], 4, sep="\t")
    if frame is not None:
        users, items, stamps = (frame[c].to_numpy() for c in (0, 1, 3))
    else:
        parsed = _scan(path, data, lambda line: line.split(separator), fields, fix)
        users, items, stamps = parsed["user"], parsed["item"], parsed["timestamp"]
    return Interactions.from_arrays(
        users, items, stamps, name=name or path.parent.name or path.stem,
        min_interactions=min_interactions, source=str(path),
    )


USER_COLUMNS = ("user_id", "user", "userId", "uid")
ITEM_COLUMNS = ("item_id", "item", "itemId", "movie_id", "movieId", "iid")
TIME_COLUMNS = ("timestamp", "time", "datetime", "ts")


def _pick(columns: list[str], wanted: str | None, candidates: tuple[str, ...], what: str,
          path: Path, required: bool = True) -> str | None:
    if wanted is not None:
        if wanted not in columns:
            raise GsasrecError(f"{path}: no column {wanted!r} (columns: {', '.join(columns)})")
        return wanted
    for candidate in candidates:
        if candidate in columns:
            return candidate
    if required:
        hint = ("; is it comma-separated?" if len(columns) == 1 and re.search(r"[;\t|]",
                                                                              columns[0]) else "")
        raise GsasrecError(
            f"{path}: no {what} column; name one of {', '.join(candidates)} "
            f"(columns found: {', '.join(columns)}){hint}"
        )
    return None


def _read_frame(path: Path, **read: object) -> pd.DataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the CLI's stderr holds one line, no warnings
            if path.suffix == ".parquet":
                return pd.read_parquet(path)
            return pd.read_csv(path, **read)
    except ImportError as error:
        raise GsasrecError(f"{path}: reading parquet needs pyarrow ({error})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        line = re.search(r"line (\d+)", message)
        where = f"{path}:{line.group(1)}" if line else str(path)
        raise GsasrecError(f"{where}: not a readable table: {message}") from None


class _Rows:
    """Names rows as a person finds them: a CSV line number, or a parquet row."""

    def __init__(self, path: Path, frame: pd.DataFrame) -> None:
        self.path = path
        # CSV rows come from a read that keeps blank lines and the header, so the row
        # labelled i sits on line i + 1 (quoted line breaks aside)
        self.labels = frame.index

    def where(self, position: int) -> str:
        if self.path.suffix == ".parquet":
            return f"{self.path} (row {position})"
        return f"{self.path}:{int(self.labels[position]) + 1}"


def _table_ids(values: pd.Series, column: str, rows: _Rows) -> np.ndarray:
    """Non-negative integer ids in 64 bits, or an error at the first row that is not one."""
    fix = f"column {column!r} must hold non-negative integer ids"
    missing = values.isna().to_numpy()
    if missing.any():
        raise GsasrecError(f"{rows.where(int(np.argmax(missing)))}: {fix}, found nothing")
    kind = values.dtype.kind
    if kind in "iu":  # parquet integers
        numbers = values.to_numpy()
        bad = numbers > INT64_MAX if kind == "u" else numbers < 0
    elif kind == "f":  # parquet floats: whole numbers only (a column once holding nulls)
        numbers = values.to_numpy()
        bad = ~np.isfinite(numbers) | (numbers < 0) | (numbers != np.floor(numbers)) | \
            (numbers >= 2.0**63)
    else:  # text, as every CSV column is read: the grammar decides
        text = values.astype(str).str.strip(_BLANKS)
        numbers = pd.to_numeric(text, errors="coerce")
        if not (numbers.dtype == np.int64 and text.str.fullmatch(_INTEGER.pattern).all()
                and (numbers >= 0).all()):
            numbers = np.zeros(len(text), dtype=np.int64)
            for position, token in enumerate(text.tolist()):
                value, problem = _parse_id(token, "id")
                if problem:
                    raise GsasrecError(f"{rows.where(position)}: {fix}, found {token[:30]!r}")
                numbers[position] = value
        bad = np.zeros(len(text), dtype=bool)
        numbers = np.asarray(numbers)
    if bad.any():
        position = int(np.argmax(bad))
        raise GsasrecError(f"{rows.where(position)}: {fix}, found {values.iloc[position]!r}")
    return numbers.astype(np.int64)


def _table_times(stamps: pd.Series, column: str, rows: _Rows) -> np.ndarray:
    """Numbers, or dates and times (not a mix); an error at the first row that is neither."""
    def fail(bad: np.ndarray, problem: str) -> GsasrecError:
        position = int(np.argmax(bad))
        return GsasrecError(f"{rows.where(position)}: {problem} in column {column!r}: "
                            f"{stamps.iloc[position]!r}")

    kind = stamps.dtype.kind
    if kind == "b":
        raise fail(np.ones(1, dtype=bool), "true/false instead of a time")
    if kind == "M":
        values = stamps.astype("int64").to_numpy()
        if stamps.isna().any():
            raise fail(stamps.isna().to_numpy(), "missing timestamp")
        return values
    if kind in "iuf":
        values = stamps.to_numpy(dtype=float if kind == "f" else None)
        bad = ~np.isfinite(values) if kind == "f" else np.zeros(len(values), dtype=bool)
        if bad.any():
            raise fail(bad, "missing or infinite timestamp")
        return values
    text = stamps.astype(str).str.strip(_BLANKS)
    numbers = pd.to_numeric(text.where(text != "", "nan"), errors="coerce")
    is_number = (numbers.notna() & np.isfinite(numbers.astype(float))).to_numpy()
    if is_number[0]:
        if not is_number.all():
            raise fail(~is_number, "missing, infinite or non-numeric timestamp")
        return numbers.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas warns when it guesses a date format
        dates = pd.to_datetime(text.where(~is_number, ""), errors="coerce", utc=True)
    bad = dates.isna().to_numpy()
    if bad.any():
        raise fail(bad, "unreadable date or time (or numbers mixed with dates)")
    return dates.astype("int64").to_numpy()


def read_table(path: str | Path, user_col: str | None = None, item_col: str | None = None,
               time_col: str | None = None, name: str | None = None,
               min_interactions: int = 0) -> Interactions:
    """A CSV or parquet table with user, item and optional timestamp columns (with a header)."""
    path = Path(path)
    _check_file(path)
    csv = path.suffix != ".parquet"
    # CSV cells are read as text, so that the grammar, not pandas' type guess, decides
    if csv:  # the header is read as a row: a longer row is then an error naming its line
        frame = _read_frame(path, header=None, dtype=str, keep_default_na=False,
                            skip_blank_lines=False)
        frame, frame.columns = frame.iloc[1:], [str(c).strip() for c in frame.iloc[0]]
    else:
        frame = _read_frame(path)
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) < len(columns):
        raise GsasrecError(f"{path}: repeated column names ({', '.join(columns)})")
    frame.columns = columns
    user = _pick(columns, user_col, USER_COLUMNS, "user", path)
    item = _pick(columns, item_col, ITEM_COLUMNS, "item", path)
    time = _pick(columns, time_col, TIME_COLUMNS, "timestamp", path, required=False)
    if csv and len(frame):  # drop blank lines; each row keeps its label, its place in the file
        cells = frame.fillna("").astype(str)
        blank = np.logical_and.reduce([cells[c].str.strip(_BLANKS) == "" for c in columns])
        frame = frame[~np.asarray(blank)]
    if frame.empty:
        raise GsasrecError(f"{path}: the table has no rows")
    rows = _Rows(path, frame)
    users = _table_ids(frame[user], user, rows)
    items = _table_ids(frame[item], item, rows)
    timestamps = _table_times(frame[time], time, rows) if time is not None else None
    return Interactions.from_arrays(users, items, timestamps, name=name or path.stem,
                                    min_interactions=min_interactions, source=str(path))


def read_any(path: str | Path, min_interactions: int = 0) -> Interactions:
    """Choose the reader from the file name: .csv/.parquet tables, MovieLens raw, else SASRec."""
    path = Path(path)
    if path.suffix in (".csv", ".parquet"):
        return read_table(path, min_interactions=min_interactions)
    if path.name in ("u.data", "ratings.dat"):
        return read_movielens(path, min_interactions=min_interactions)
    interactions = read_sasrec(path)
    if min_interactions > 0:
        seq = interactions.sequences
        users = np.repeat(interactions.user_ids, seq.lengths)
        items = interactions.item_ids[seq.items]
        return Interactions.from_arrays(users, items, name=interactions.name,
                                        min_interactions=min_interactions, source=str(path))
    return interactions
