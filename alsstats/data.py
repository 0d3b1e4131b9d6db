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
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from alsstats.errors import DataValidationError, TableReadError

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

_MAX_ROWS_NAMED = 5


def _rows_named(frame: pd.DataFrame, mask: np.ndarray, column: str | None = None) -> str:
    """'subject S1 (years 0), subject S2 (years 0.33) = value, ... and N more rows'."""
    hits = frame.loc[mask]
    parts = []
    for position, row in hits.head(_MAX_ROWS_NAMED).iterrows():
        # Without a subject or years column (reported as missing) rows are named by position.
        where = (f"subject {row['subject']!s}" if "subject" in frame.columns
                 else f"row {position}")
        if "years" in frame.columns:
            where += f" (years {row['years']})"
        if column is not None:
            where += f" = {row[column]!r}"
        parts.append(where)
    more = len(hits) - _MAX_ROWS_NAMED
    if more > 0:
        parts.append(f"and {more} more row(s)")
    return ", ".join(parts)


def _as_float(
    frame: pd.DataFrame, column: str, problems: list[str]
) -> pd.Series:
    """Parse ``column`` as float64, recording values that are not numbers."""
    raw = frame[column]
    if pd.api.types.is_bool_dtype(raw):
        problems.append(f"column '{column}': is boolean; expected numbers")
        return raw.astype(float)
    if pd.api.types.is_complex_dtype(raw) or (raw.dtype == object and raw.map(
            lambda v: isinstance(v, (complex, np.complexfloating))).any()):
        problems.append(f"column '{column}': holds complex numbers; expected real numbers "
                        "(the imaginary part would be thrown away)")
        return pd.Series(np.nan, index=raw.index, dtype="float64")
    kind = time_value_kind(raw)
    if kind is not None:
        example = raw.dropna().iloc[0] if raw.notna().any() else "NaT"
        unit = ("years since the baseline MRI" if column == "years" else
                "months" if column.endswith("_months") else "numbers")
        problems.append(
            f"column '{column}': holds {kind} values (e.g. {example}), not numbers; alsstats "
            f"does not guess a unit: convert to {unit} first (e.g. durations with "
            "td.dt.days / 365.25 for years)")
        return pd.Series(np.nan, index=raw.index, dtype="float64")
    values = pd.to_numeric(raw, errors="coerce").astype("float64")
    unparsable = values.isna().to_numpy() & raw.notna().to_numpy()
    if unparsable.any():
        problems.append(
            f"column '{column}': not a number at {_rows_named(frame, unparsable, column)}"
        )
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        problems.append(f"column '{column}': infinite at {_rows_named(frame, infinite, column)}")
    return values


def time_value_kind(values: pd.Series) -> str | None:
    """'datetime' or 'timedelta' when a column holds dates or durations (dtype or objects),
    else None: such a column has no unit a model could use."""
    if pd.api.types.is_datetime64_any_dtype(values) or isinstance(values.dtype, pd.PeriodDtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(values):
        return "timedelta"
    if values.dtype == object:
        sample = values.dropna()
        if len(sample):
            import datetime

            if sample.map(lambda v: isinstance(v, (datetime.timedelta, np.timedelta64))).any():
                return "timedelta"
            if sample.map(lambda v: isinstance(v, (datetime.date, np.datetime64))).any():
                return "datetime"
    return None


def _check_range(
    frame: pd.DataFrame,
    column: str,
    values: pd.Series,
    problems: list[str],
    *,
    low: float | None = None,
    high: float | None = None,
    integer: bool = False,
    allow_missing: bool = True,
) -> None:
    arr = values.to_numpy(dtype=float)
    present = ~np.isnan(arr)
    if not allow_missing and (~present).any():
        problems.append(f"column '{column}': missing at {_rows_named(frame, ~present)}")
    bounds = []
    if low is not None:
        bounds.append(f">= {low:g}")
    if high is not None:
        bounds.append(f"<= {high:g}")
    with np.errstate(invalid="ignore"):
        bad = np.zeros(len(arr), dtype=bool)
        if low is not None:
            bad |= present & (arr < low)
        if high is not None:
            bad |= present & (arr > high)
        bad &= np.isfinite(arr)
    if bad.any():
        rule = " and ".join(bounds)
        problems.append(
            f"column '{column}': must be {rule}; out of range at {_rows_named(frame, bad, column)}"
        )
    if integer:
        fractional = present & np.isfinite(arr) & (arr != np.round(arr))
        if fractional.any():
            problems.append(
                f"column '{column}': must be whole numbers; fractional at "
                f"{_rows_named(frame, fractional, column)}"
            )


def _check_levels(
    frame: pd.DataFrame,
    column: str,
    levels: Sequence[str],
    problems: list[str],
    *,
    allow_missing: bool = False,
) -> pd.Series:
    raw = frame[column]
    text = raw.astype("string")
    missing = raw.isna().to_numpy()
    bad = ~missing & ~text.isin(levels).fillna(False).to_numpy(dtype=bool)
    if bad.any():
        problems.append(
            f"column '{column}': allowed values are {', '.join(map(repr, levels))}; found "
            f"{sorted(set(map(str, raw[bad])))!r} at {_rows_named(frame, bad, column)}"
        )
    if not allow_missing and missing.any():
        problems.append(f"column '{column}': missing at {_rows_named(frame, missing)}")
    return pd.Categorical(text.where(~bad & ~missing).astype(object), categories=list(levels))


def _check_constant_within_subject(
    frame: pd.DataFrame, values: pd.Series, column: str, problems: list[str]
) -> None:
    # NaN and a value for the same subject also count as varying.
    distinct = values.astype("string").fillna("<missing>").groupby(frame["subject"]).nunique()
    varying = distinct.index[distinct.to_numpy() > 1]
    if len(varying):
        named = []
        for subject in varying[:_MAX_ROWS_NAMED]:
            seen = values[frame["subject"] == subject]
            shown = sorted({"NaN" if pd.isna(v) else str(v) for v in seen})
            named.append(f"subject {subject} has {shown}")
        more = len(varying) - _MAX_ROWS_NAMED
        if more > 0:
            named.append(f"and {more} more subject(s)")
        problems.append(
            f"column '{column}': is subject-level and must be constant within a subject; "
            + "; ".join(named)
        )


def _check_items(frame: pd.DataFrame, out: pd.DataFrame, problems: list[str]) -> None:
    items = [c for c in ALSFRS_ITEMS if c in frame.columns]
    for column in items:
        out[column] = _as_float(frame, column, problems)
        _check_range(frame, column, out[column], problems, low=0, high=4, integer=True)
    if "alsfrs_5a" in out.columns and "alsfrs_5b" in out.columns:
        both = (out["alsfrs_5a"].notna() & out["alsfrs_5b"].notna()).to_numpy()
        if both.any():
            problems.append(
                "columns 'alsfrs_5a'/'alsfrs_5b': only one of 5a (no gastrostomy) and 5b "
                f"(gastrostomy) may be answered; both at {_rows_named(frame, both)}"
            )
    numbered = [f"alsfrs_{i}" for i in (1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12)]
    has_five = [c for c in ("alsfrs_5a", "alsfrs_5b") if c in out.columns]
    if "alsfrs_r" in out.columns and all(c in out.columns for c in numbered) and has_five:
        item_five = out[has_five].max(axis=1, skipna=True)
        complete = out[numbered].notna().all(axis=1) & item_five.notna() & out["alsfrs_r"].notna()
        item_sum = out[numbered].sum(axis=1) + item_five
        mismatch = (complete & (item_sum != out["alsfrs_r"])).to_numpy()
        if mismatch.any():
            frame_with_sum = frame.assign(_items_sum=item_sum.to_numpy())
            problems.append(
                "column 'alsfrs_r': must equal the sum of the twelve items where all are present; "
                f"differs at {_rows_named(frame_with_sum, mismatch, 'alsfrs_r')} "
                f"(item sums {item_sum[mismatch].head(_MAX_ROWS_NAMED).tolist()})"
            )


def _subject_key(value: object) -> str:
    """The id a subject value stands for once numbers and their text are compared: 1, 1.0,
    '1' and '001' share the key '1'; other text is its own key."""
    if isinstance(value, (bool, np.bool_)):
        return f"bool:{value}"
    if isinstance(value, (int, float, np.integer, np.floating)):
        number = float(value)
    else:
        try:
            number = float(str(value).strip())
        except ValueError:
            return f"text:{value}"
    return f"number:{number!r}"


def _check_subject_spellings(raw: pd.Series, missing: np.ndarray, problems: list[str]) -> None:
    """Subject ids are text: a column mixing numbers and text where a number and a text spell
    the same id (1 and '1', 7 and '007') is refused, naming both spellings."""
    present = raw[~missing]
    floats = (pd.api.types.is_float_dtype(present) or (present.dtype == object and present.map(
        lambda v: isinstance(v, (float, np.floating))).any()))
    if floats and len(present):
        example = next(v for v in present if isinstance(v, (float, np.floating)))
        problems.append(
            f"column 'subject': holds floating-point numbers (e.g. {example!r}), which would "
            f"become ids such as '{example}' while the same subject elsewhere is '{example:g}'; "
            "subject ids are text: read them as text (read_visits does) or convert them "
            "first, e.g. .astype('Int64').astype(str)")
        return
    if present.dtype != object or len(present) == 0:
        return
    kinds = present.map(lambda v: "text" if isinstance(v, str) else type(v).__name__)
    if kinds.nunique() < 2:
        return
    table = pd.DataFrame({"key": present.map(_subject_key), "kind": kinds,
                          "spelling": present.map(repr)})
    clashes = []
    for _, same in table.groupby("key", sort=False):
        if same["kind"].nunique() > 1:
            spellings = same.drop_duplicates("spelling")
            clashes.append(" and ".join(f"{s} ({k})" for s, k in
                                        zip(spellings["spelling"], spellings["kind"], strict=True)))
    if clashes:
        extra = len(clashes) - _MAX_ROWS_NAMED
        more = f" and {extra} more" if extra > 0 else ""
        problems.append(
            "column 'subject': mixes numbers and text that spell the same id: "
            + "; ".join(clashes[:_MAX_ROWS_NAMED]) + more
            + "; subject ids are text, so these would be two subjects or one by accident: "
            "write every id as text in one spelling")


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
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"validate_visits expects a pandas DataFrame, got {type(data).__name__}")
    problems: list[str] = []
    missing = [c for c in (*REQUIRED_COLUMNS, *require) if c not in data.columns]
    if missing:
        problems.append(
            f"missing required column(s) {missing!r}; the table has {list(map(str, data.columns))!r}"
        )
    duplicated_names = data.columns[data.columns.duplicated()].unique().tolist()
    if duplicated_names:
        problems.append(f"column name(s) {list(map(str, duplicated_names))!r} appear more than "
                        "once; the other checks used the first of each")

    # Every other rule is still checked, so that one run names every problem: without
    # 'subject' or 'years' rows are named by position, and of a duplicated column name the
    # first column is checked.
    frame = data.loc[:, ~data.columns.duplicated()].reset_index(drop=True)
    out = frame.copy()
    has_subject = "subject" in frame.columns
    has_years = "years" in frame.columns

    if has_subject:
        subject_missing = frame["subject"].isna().to_numpy()
        if subject_missing.any():
            rows = np.flatnonzero(subject_missing)[:_MAX_ROWS_NAMED].tolist()
            problems.append(f"column 'subject': missing at row position(s) {rows}")
        _check_subject_spellings(frame["subject"], subject_missing, problems)
        out["subject"] = (frame["subject"].astype(str).where(~subject_missing, None)
                          .astype(object))
        frame = frame.assign(subject=out["subject"])
    else:
        subject_missing = np.ones(len(frame), dtype=bool)

    if has_years:
        out["years"] = _as_float(frame, "years", problems)
        _check_range(frame, "years", out["years"], problems, low=0, allow_missing=False)

    if has_subject and has_years:
        duplicated = (frame.duplicated(["subject", "years"], keep=False).to_numpy()
                      & ~subject_missing)
        if duplicated.any():
            problems.append(
                "columns 'subject', 'years': (subject, years) must be unique; repeated at "
                + _rows_named(frame, duplicated)
            )

    if "group" in frame.columns:
        out["group"] = _check_levels(frame, "group", GROUP_LEVELS, problems)
    if "sex" in frame.columns:
        out["sex"] = _check_levels(frame, "sex", SEX_LEVELS, problems)
    for column in ("site", "phenotype"):
        if column in frame.columns:
            text = frame[column].astype(object)
            out[column] = text.where(text.notna(), np.nan)
    if "age" in frame.columns:
        out["age"] = _as_float(frame, "age", problems)
        _check_range(frame, "age", out["age"], problems, low=18, high=110, allow_missing=False)

    non_negative = ["wmh_mm3", "umn_score", "ecas_executive", "symptom_onset_months",
                    "survival_months"]  # fmt: skip
    non_negative += [c for c in frame.columns if str(c).startswith("flair_")]
    for column in non_negative:
        if column in frame.columns:
            out[column] = _as_float(frame, column, problems)
            _check_range(frame, column, out[column], problems, low=0)

    if "alsfrs_r" in frame.columns:
        out["alsfrs_r"] = _as_float(frame, "alsfrs_r", problems)
        _check_range(frame, "alsfrs_r", out["alsfrs_r"], problems, low=0, high=48, integer=True)
    _check_items(frame, out, problems)

    if "event" in frame.columns:
        out["event"] = _as_float(frame, "event", problems)
        event = out["event"].to_numpy()
        bad_event = ~np.isnan(event) & ~np.isin(event, (0.0, 1.0))
        if bad_event.any():
            problems.append(
                "column 'event': must be 0 (censored) or 1 (death, tracheostomy or permanent "
                f"ventilation); found at {_rows_named(frame, bad_event, 'event')}"
            )
    if ("event" in frame.columns) != ("survival_months" in frame.columns):
        present, absent = (
            ("event", "survival_months") if "event" in frame.columns else ("survival_months", "event")
        )
        problems.append(f"column '{absent}': required with '{present}' (survival needs both)")
    elif "event" in frame.columns:
        unpaired = (out["event"].isna() != out["survival_months"].isna()).to_numpy()
        if unpaired.any():
            problems.append(
                "columns 'survival_months', 'event': must be both present or both missing; "
                f"only one at {_rows_named(frame, unpaired)}"
            )

    for column in SUBJECT_LEVEL_COLUMNS:
        if column in frame.columns and has_subject and not subject_missing.any():
            parsed = out[column] if pd.api.types.is_float_dtype(out[column]) else frame[column]
            _check_constant_within_subject(frame, parsed, column, problems)

    if problems:
        raise DataValidationError(problems)
    out.index = data.index
    return out


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
        raise DataValidationError([f"in {path}: the table has a header but no rows"])
    try:
        return validate_visits(table, require=require)
    except DataValidationError as error:
        raise DataValidationError([f"in {path}: {p}" for p in error.problems]) from None


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
