"""Readers for interaction files. Each returns `Interactions` or raises one `GsasrecError`
naming the file, the line and the fix; nothing is written while reading.

Formats: SASRec (`user item` per line, time-ordered per user), MovieLens raw (`u.data`
tab-separated, `ratings.dat` `::`-separated, with timestamps), and generic CSV or parquet
tables with user, item and optional timestamp columns.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from gsasrec.data.interactions import Interactions
from gsasrec.errors import GsasrecError

INT64_MAX = np.iinfo(np.int64).max


def _check_file(path: Path) -> None:
    if not path.exists():
        raise GsasrecError(f"{path}: file not found")
    if not path.is_file():
        raise GsasrecError(f"{path}: not a regular file")
    if path.stat().st_size == 0:
        raise GsasrecError(f"{path}: file is empty; expected one interaction per line")


def _parse_id(token: str, what: str) -> str | None:
    """Why `token` is not a valid id, or None if it is."""
    try:
        value = int(token)
    except ValueError:
        return f"non-numeric {what} {token!r}"
    if value < 0:
        return f"negative {what} {value}"
    if value > INT64_MAX:
        return f"{what} {value} is too large (ids must fit in 64 bits)"
    return None


def _scan(path: Path, split: Callable[[str], list[str]], fields: list[str], fix: str) -> None:
    """Find the first malformed line and raise an error naming it (the slow, exact path)."""
    with open(path, encoding="latin-1") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            parts = split(line)
            if len(parts) != len(fields):
                raise GsasrecError(
                    f"{path}:{number}: expected {len(fields)} fields ({' '.join(fields)}), "
                    f"found {len(parts)} in {line.strip()[:60]!r}; {fix}"
                )
            for token, name in zip(parts, fields, strict=True):
                if name in ("user", "item", "timestamp"):
                    problem = _parse_id(token.strip(), name)
                    if problem:
                        raise GsasrecError(f"{path}:{number}: {problem}; {fix}")
                elif name == "rating":
                    try:
                        float(token)
                    except ValueError:
                        raise GsasrecError(
                            f"{path}:{number}: non-numeric rating {token!r}; {fix}"
                        ) from None


def _frame_is_valid(frame: pd.DataFrame, columns: int) -> bool:
    return (
        frame.shape[1] == columns
        and all(pd.api.types.is_integer_dtype(frame[c]) for c in frame.columns[:2])
        and bool((frame.iloc[:, :2] >= 0).all().all())
        and not frame.isna().any().any()
    )


def read_sasrec(path: str | Path, name: str | None = None) -> Interactions:
    """`user item` per line, whitespace-separated; each user's lines in time order."""
    path = Path(path)
    _check_file(path)
    fix = "each line must be 'user item' with non-negative integer ids"
    try:
        frame = pd.read_csv(path, sep=r"\s+", header=None, engine="c", dtype=np.int64)
        ok = _frame_is_valid(frame, 2)
    except (ValueError, OverflowError, pd.errors.ParserError, pd.errors.EmptyDataError):
        ok = False
    if not ok:
        _scan(path, str.split, ["user", "item"], fix)
        raise GsasrecError(f"{path}: could not be read as 'user item' lines; {fix}")
    return Interactions.from_arrays(
        frame[0].to_numpy(), frame[1].to_numpy(), name=name or path.stem, source=str(path)
    )


def read_movielens(path: str | Path, name: str | None = None, min_interactions: int = 0
                   ) -> Interactions:
    """GroupLens raw ratings: `u.data` (tab-separated) or `ratings.dat` (`::`-separated).

    Ordered by timestamp within each user, ties kept in file order.
    """
    path = Path(path)
    _check_file(path)
    with open(path, encoding="latin-1") as handle:
        text = handle.read()
    double_colon = "::" in text[:1000]
    separator = "::" if double_colon else "\t"
    fix = f"each line must be user{separator}item{separator}rating{separator}timestamp"
    fields = ["user", "item", "rating", "timestamp"]
    try:
        frame = pd.read_csv(
            io.StringIO(text.replace("::", "\t") if double_colon else text),
            sep="\t", header=None, engine="c",
        )
        ok = _frame_is_valid(frame, 4) and pd.api.types.is_integer_dtype(frame[3])
    except (ValueError, OverflowError, pd.errors.ParserError, pd.errors.EmptyDataError):
        ok = False
    if not ok:
        _scan(path, lambda line: line.rstrip("\r\n").split(separator), fields, fix)
        raise GsasrecError(f"{path}: could not be read as MovieLens ratings; {fix}")
    return Interactions.from_arrays(
        frame[0].to_numpy(), frame[1].to_numpy(), frame[3].to_numpy(),
        name=name or path.parent.name or path.stem, min_interactions=min_interactions,
        source=str(path),
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
        raise GsasrecError(
            f"{path}: no {what} column; name one of {', '.join(candidates)} "
            f"(columns found: {', '.join(columns)})"
        )
    return None


def read_table(path: str | Path, user_col: str | None = None, item_col: str | None = None,
               time_col: str | None = None, name: str | None = None,
               min_interactions: int = 0) -> Interactions:
    """A CSV or parquet table with user, item and optional timestamp columns (with a header)."""
    path = Path(path)
    _check_file(path)
    try:
        if path.suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path)
    except ImportError as error:
        raise GsasrecError(f"{path}: reading parquet needs pyarrow ({error})") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as error:
        raise GsasrecError(f"{path}: not a readable table: {str(error).splitlines()[0]}") from None
    columns = [str(c) for c in frame.columns]
    user = _pick(columns, user_col, USER_COLUMNS, "user", path)
    item = _pick(columns, item_col, ITEM_COLUMNS, "item", path)
    time = _pick(columns, time_col, TIME_COLUMNS, "timestamp", path, required=False)
    if frame.empty:
        raise GsasrecError(f"{path}: the table has no rows")
    for column in (user, item):
        values = frame[column]
        bad = ~values.astype(str).str.fullmatch(r"\s*\d+\s*") if values.dtype == object else (
            values.isna() | (values < 0) if pd.api.types.is_numeric_dtype(values) else None)
        if bad is None or bad.any():
            row = int(np.argmax(bad.to_numpy())) if bad is not None else 0
            line = f":{row + 2}" if path.suffix != ".parquet" else f" (row {row})"
            raise GsasrecError(
                f"{path}{line}: column {column!r} must hold non-negative integer ids, "
                f"found {values.iloc[row]!r}"
            )
    timestamps = None
    if time is not None:
        stamps = frame[time]
        if not pd.api.types.is_numeric_dtype(stamps):
            parsed = pd.to_datetime(stamps, errors="coerce", utc=True)
            if parsed.isna().any():
                row = int(np.argmax(parsed.isna().to_numpy()))
                raise GsasrecError(f"{path}: row {row}: unreadable timestamp {stamps.iloc[row]!r}")
            stamps = parsed.astype("int64")
        timestamps = stamps.to_numpy()
    try:
        users = frame[user].astype(np.int64).to_numpy()
        items = frame[item].astype(np.int64).to_numpy()
    except (OverflowError, ValueError) as error:
        raise GsasrecError(f"{path}: ids must fit in 64 bits ({error})") from None
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
