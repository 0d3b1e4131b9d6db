"""The visit-table contract: one row per subject and visit, long format.

:func:`validate_visits` checks a table against every rule of the contract and
returns a validated copy with canonical dtypes; :func:`read_visits` reads CSV,
TSV or Parquet and validates. Problems are collected, never fixed silently, and
raised together in one :class:`~alsstats.errors.DataValidationError`.

The rules (``alsstats/DESIGN``):

============================  =========================================================
column                        rule
============================  =========================================================
subject                       required; text; (subject, years) unique
years                         required; float, finite, >= 0 (time since baseline MRI)
group                         required; "ALS" or "control"; constant within subject
age                           required; years at baseline, 18..110; constant within subject
sex                           required; "F" or "M"; constant within subject
site                          optional; text
wmh_mm3                       optional; float >= 0; NaN allowed
flair_*                       optional; float >= 0; NaN allowed
alsfrs_r                      optional; integers 0..48; NaN allowed
alsfrs_1 .. alsfrs_12,        optional; integers 0..4; NaN allowed; at most one of 5a/5b
alsfrs_5a, alsfrs_5b          per row; when every item is present they sum to alsfrs_r
phenotype                     optional; text; constant within subject
umn_score, ecas_executive     optional; float >= 0; NaN allowed
symptom_onset_months          optional; float >= 0; constant within subject
survival_months               optional; float >= 0; constant within subject
event                         optional; 0 or 1; constant within subject; present exactly
                              where survival_months is
============================  =========================================================
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import zipfile
import zlib
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from alsstats.errors import DataValidationError, TableReadError
from alsstats.validation import SHOW, TableCheck, require_frame

__all__ = [
    "ALSFRS_ITEMS",
    "GROUP_LEVELS",
    "SEX_LEVELS",
    "SUBJECT_LEVEL_COLUMNS",
    "DataValidationError",
    "read_visits",
    "validate_visits",
]

GROUP_LEVELS: tuple[str, ...] = ("control", "ALS")
"""Levels of ``group``; the first is the reference level, so models report ``groupALS``."""

SEX_LEVELS: tuple[str, ...] = ("F", "M")
"""Levels of ``sex``; ``F`` is the reference level, so models report ``sexM``."""

ALSFRS_ITEMS: tuple[str, ...] = (
    "alsfrs_1", "alsfrs_2", "alsfrs_3", "alsfrs_4", "alsfrs_5a", "alsfrs_5b",
    "alsfrs_6", "alsfrs_7", "alsfrs_8", "alsfrs_9", "alsfrs_10", "alsfrs_11", "alsfrs_12",
)  # fmt: skip

SUBJECT_LEVEL_COLUMNS: tuple[str, ...] = (
    "group", "age", "sex", "phenotype", "symptom_onset_months", "survival_months", "event",
)  # fmt: skip

REQUIRED_COLUMNS: tuple[str, ...] = ("subject", "years", "group", "age", "sex")

def validate_visits(
    data: pd.DataFrame, *, require: Iterable[str] = ()
) -> pd.DataFrame:
    """Check a visit table against the contract and return a validated copy.

    Parameters
    ----------
    data : pandas.DataFrame
        Long format, one row per subject and visit (see the module docstring for
        every column's rule). Columns the contract does not name are kept as they are.
    require : iterable of str, optional
        Further columns that must be present, e.g. ``["wmh_mm3"]`` for a WMH analysis.

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` (same rows, same order, same index) with canonical dtypes:
        ``subject`` text (object), ``years``/``age`` and every numeric column float64,
        ``group`` Categorical with categories ``["control", "ALS"]`` (so ``control``
        is the reference level), ``sex`` Categorical ``["F", "M"]``, ``event`` float64
        0/1 (NaN where no survival is recorded), ``site``/``phenotype`` text (object)
        with NaN for missing.

    Raises
    ------
    DataValidationError
        Listing every problem at once; each line names the column, the rows (by
        subject and years) and the offending value.

    Notes
    -----
    Nothing is dropped, reordered or fixed: a table either passes whole or is refused.
    ``data`` itself is never modified.

    Examples
    --------
    >>> import pandas as pd
    >>> import alsstats as als
    >>> visits = pd.DataFrame({"subject": ["S1", "S1"], "years": [0.0, 0.5],
    ...                        "group": "ALS", "age": 61.0, "sex": "M"})
    >>> als.validate_visits(visits)["group"].cat.categories.tolist()
    ['control', 'ALS']
    """
    return _validated(data, require, "validate_visits")


def _validated(data: pd.DataFrame, require: Iterable[str], caller: str) -> pd.DataFrame:
    require_frame(data, caller)
    # Every rule is checked even when a required column is missing or a name repeated, so
    # that one run names every problem: without 'subject' or 'years' rows are named by
    # position, and of a repeated column name the first column is checked.
    frame = data.loc[:, ~data.columns.duplicated()].reset_index(drop=True)
    check = TableCheck(frame, caller, visit_time="years")
    check.columns_present([*REQUIRED_COLUMNS, *require], required=True)
    check.unique_column_names(data.columns)
    out = frame.copy()
    has_subject = "subject" in frame.columns

    if has_subject:
        subject_missing = frame["subject"].isna().to_numpy()
        check.no_missing("subject")
        check.subject_ids_text()
        out["subject"] = (frame["subject"].astype(str).where(~subject_missing, None)
                          .astype(object))
        frame = frame.assign(subject=out["subject"])
        check.frame = frame
    else:
        subject_missing = np.ones(len(frame), dtype=bool)

    if "years" in frame.columns:
        out["years"] = check.numbers("years", unit="years since the baseline MRI")
        check.no_missing("years", out["years"])
        check.within("years", out["years"], low=0, why=" (time since the baseline MRI)")
        if has_subject:
            check.unique_rows(["subject", "years"], exclude=subject_missing)

    if "group" in frame.columns:
        out["group"] = check.levels("group", GROUP_LEVELS)
    if "sex" in frame.columns:
        out["sex"] = check.levels("sex", SEX_LEVELS)
    for column in ("site", "phenotype"):
        if column in frame.columns:
            text = frame[column].astype(object)
            out[column] = text.where(text.notna(), np.nan)
    if "age" in frame.columns:
        out["age"] = check.numbers("age")
        check.no_missing("age", out["age"])
        check.within("age", out["age"], low=18, high=110, why=" (years at baseline)")

    non_negative = ["wmh_mm3", "umn_score", "ecas_executive", "symptom_onset_months",
                    "survival_months"]  # fmt: skip
    non_negative += [c for c in frame.columns if str(c).startswith("flair_")]
    for column in non_negative:
        if column in frame.columns:
            out[column] = check.numbers(
                column, unit="months" if column.endswith("_months") else None)
            check.within(column, out[column], low=0)

    if "alsfrs_r" in frame.columns:
        out["alsfrs_r"] = check.numbers("alsfrs_r")
        check.within("alsfrs_r", out["alsfrs_r"], low=0, high=48, integer=True)
    items = check.alsfrs_items([c for c in ALSFRS_ITEMS if c in frame.columns])
    for column, values in items.items():
        out[column] = values
    _check_item_sum(check, out)

    if "event" in frame.columns:
        out["event"] = check.numbers("event")
        check.zero_one("event", out["event"], meaning="0 (censored) or 1 (death, tracheostomy "
                       "or permanent ventilation)")
    if ("event" in frame.columns) != ("survival_months" in frame.columns):
        present, absent = (("event", "survival_months") if "event" in frame.columns
                           else ("survival_months", "event"))
        check.add(f"column '{absent}': required with '{present}' (survival needs both)")
    elif "event" in frame.columns:
        unpaired = (out["event"].isna() != out["survival_months"].isna()).to_numpy()
        if unpaired.any():
            check.add("columns 'survival_months', 'event' must be both present or both "
                      f"missing; only one at {check.who(unpaired)}")

    for column in SUBJECT_LEVEL_COLUMNS:
        if column in frame.columns and has_subject and not subject_missing.any():
            parsed = out[column] if pd.api.types.is_float_dtype(out[column]) else frame[column]
            check.constant_within_subject(column, parsed)

    check.raise_problems()
    out.index = data.index
    return out


def _check_item_sum(check: TableCheck, out: pd.DataFrame) -> None:
    """alsfrs_r equals the sum of the twelve items in rows where all are present."""
    numbered = [f"alsfrs_{i}" for i in (1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12)]
    has_five = [c for c in ("alsfrs_5a", "alsfrs_5b") if c in out.columns]
    if "alsfrs_r" not in out.columns or not has_five or any(c not in out for c in numbered):
        return
    item_five = out[has_five].max(axis=1, skipna=True)
    complete = out[numbered].notna().all(axis=1) & item_five.notna() & out["alsfrs_r"].notna()
    item_sum = out[numbered].sum(axis=1) + item_five
    mismatch = (complete & (item_sum != out["alsfrs_r"])).to_numpy()
    if mismatch.any():
        check.add(
            "column 'alsfrs_r' must equal the sum of the twelve items where all are present; "
            f"differs at {check.who(mismatch, 'alsfrs_r')} "
            f"(item sums {item_sum[mismatch].head(SHOW).tolist()})"
        )


_READERS = {
    ".csv": lambda path, **kw: pd.read_csv(path, **kw),
    ".tsv": lambda path, **kw: pd.read_csv(path, sep="\t", **kw),
    ".txt": lambda path, **kw: pd.read_csv(path, sep="\t", **kw),
    ".parquet": lambda path, **kw: pd.read_parquet(path, **kw),
    ".pq": lambda path, **kw: pd.read_parquet(path, **kw),
}


def read_visits(
    path: str | os.PathLike[str], *, require: Iterable[str] = (), **read_kwargs
) -> pd.DataFrame:
    """Read a visit table from CSV, TSV or Parquet and validate it.

    Parameters
    ----------
    path : str or path-like
        ``.csv``, ``.tsv``/``.txt`` (tab-separated), ``.parquet``/``.pq``; a
        trailing ``.gz``/``.bz2``/``.xz``/``.zip`` on the text formats is decompressed.
    require : iterable of str, optional
        Further columns that must be present (see :func:`validate_visits`).
    **read_kwargs
        Passed to :func:`pandas.read_csv` or :func:`pandas.read_parquet`. ``subject`` is
        read as text whatever ``dtype`` says for the other columns (a ``dtype`` asking for
        a numeric ``subject`` is refused).

    Returns
    -------
    pandas.DataFrame
        The validated table (see :func:`validate_visits` for the dtypes); ``subject``
        is read as text so identifiers such as ``007`` keep their leading zeros.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TableReadError
        A ``ValueError`` naming the file: its extension is not one of the above, it is not a
        regular file (a folder, a FIFO), it is empty, or it is not what its extension says
        (binary content in a text table, a broken ``.gz``, not Parquet).
    DataValidationError
        If the table breaks the contract, has a header but no rows, or repeats a column name
        in its header (which pandas would silently rename ``age.1``); the message starts with
        the file name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import alsstats as als
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "v.csv").write_text("subject,years,group,age,sex\\n007,0,ALS,60,F\\n")
    >>> als.read_visits(folder / "v.csv")["subject"].tolist()
    ['007']
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"visit table not found: {path}")
    if not path.is_file():
        # a folder, a FIFO (reading it would block) or a device is not a table
        raise TableReadError(f"cannot read {path}: not a regular file")
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in {".gz", ".bz2", ".xz", ".zip"}:
        suffixes = suffixes[:-1]
    kind = suffixes[-1] if suffixes else ""
    if kind not in _READERS:
        raise TableReadError(
            f"cannot read {path}: unknown table format {kind or '(no extension)'!r}; "
            f"use one of {sorted(_READERS)}"
        )
    if kind in {".parquet", ".pq"}:
        reader_kwargs = read_kwargs
    else:
        reader_kwargs = {**read_kwargs, "dtype": _subject_as_text(read_kwargs.get("dtype"))}
    try:
        if kind not in {".parquet", ".pq"}:
            header = _text_header(path, kind, reader_kwargs)
        table = _READERS[kind](path, **reader_kwargs)
        if (kind not in {".parquet", ".pq"} and header is not None
                and len(set(header)) < len(header) == len(table.columns)):
            # pandas renamed a repeated name ('age' -> 'age.1'): give the table its real
            # header back so that validation names the repeat, with every other problem
            table.columns = header
    except (PermissionError, TableReadError, DataValidationError):
        raise
    except pd.errors.EmptyDataError:
        raise TableReadError(f"cannot read {path}: the file is empty") from None
    except UnicodeDecodeError:
        raise TableReadError(
            f"cannot read {path}: not a text table (binary content, or text not in UTF-8; "
            "pass encoding=...)") from None
    except (ValueError, OSError, EOFError, zlib.error, lzma.LZMAError,
            zipfile.BadZipFile) as error:
        # pandas' and pyarrow's own message says what is wrong with the bytes; the file name
        # and the format expected come first.
        what = "a Parquet file" if kind in {".parquet", ".pq"} else f"a {kind[1:].upper()} table"
        reason = " ".join(str(error).split()) or type(error).__name__
        raise TableReadError(f"cannot read {path} as {what}: {reason}") from None
    if table.empty and len(table.columns) == 0:
        raise TableReadError(f"cannot read {path}: the file holds no table")
    if len(table) == 0:
        raise DataValidationError([f"read_visits ({path}): the table has a header but no rows"])
    return _validated(table, require, f"read_visits ({path})")


def _subject_as_text(dtype: object) -> object:
    """``dtype`` for pandas.read_csv with ``subject`` always read as text (``007`` stays
    ``007``), whatever else the caller asks for."""
    if dtype is None:
        return {"subject": str}
    if isinstance(dtype, dict):
        asked = dtype.get("subject", str)
        if asked not in (str, "str", object, "object", "string"):
            raise ValueError(f"read_visits: dtype for 'subject' must be text, not {asked!r}; "
                             "subject ids are always read as text")
        merged = defaultdict(dtype.default_factory) if isinstance(dtype, defaultdict) else {}
        merged.update(dtype)
        merged["subject"] = str
        return merged
    # one dtype for every column: keep it for the others
    return defaultdict(lambda: dtype, {"subject": str})


def _text_header(path: Path, kind: str, read_kwargs: dict) -> list[str] | None:
    """The header as written (pandas renames a repeated name silently, ``age`` -> ``age.1``);
    refuses a file that is not text (NUL bytes) before pandas parses it."""
    import csv

    sep = read_kwargs.get("sep", read_kwargs.get("delimiter", "," if kind == ".csv" else "\t"))
    if not isinstance(sep, str) or len(sep) != 1 or read_kwargs.get("header", 0) != 0:
        return None  # a regular-expression separator or another header row: pandas decides
    with _open_text(path, read_kwargs.get("encoding") or "utf-8") as stream:
        head = stream.read(1 << 16)
    if "\x00" in head:
        raise TableReadError(f"cannot read {path}: not a text table (binary content)")
    return next(csv.reader(io.StringIO(head), delimiter=sep), None)


def _open_text(path: Path, encoding: str):
    opener = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}.get(path.suffix.lower())
    if opener is not None:
        return opener(path, "rt", encoding=encoding)
    if path.suffix.lower() == ".zip":
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
        if len(names) != 1:
            raise TableReadError(f"cannot read {path}: a .zip table must hold exactly one file")
        return io.TextIOWrapper(archive.open(names[0]), encoding=encoding)
    return open(path, encoding=encoding)
