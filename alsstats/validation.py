"""Checks of tables and columns, with one message format for every module that reads a table.

Every problem is one line that names the function, the column and who is concerned::

    kaplan_meier: column 'survival_months' has 3 missing values (subjects S001, S017, S203)
    fit_cox: column 'event' must be 0 (censored) or 1 (event); found at subject P07 = 2
    plot_trajectories: column 'wmh_mm3' of data must be numeric, found dtype object

that is ``<function>: column '<name>'[ of <table>] <what is wrong> <who>``, where *who* names
the subjects (``subjects S001, S017``), the visits (``subject S04 (years 0.5) = 250.0``) or,
in a table without a subject column, the rows (``row 3 = 'X'``), with the offending values,
at most five of them and then how many more.

:class:`TableCheck` collects problems so that one call reports every problem of a table at
once (:func:`alsstats.validate_visits` does); the functions below it run the checks a
function needs and raise one :class:`~alsstats.errors.DataValidationError` listing what they
found. Nothing here changes the table it is given; :func:`drop_missing` and
:func:`one_row_per_subject` return a new one.
"""

from __future__ import annotations

import datetime
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from alsstats._stack import user_stacklevel
from alsstats.errors import DataValidationError, DroppedRowsWarning

__all__ = [
    "TableCheck",
    "check_time_event",
    "drop_missing",
    "one_row_per_subject",
    "refuse_dates",
    "require_columns",
    "require_frame",
    "require_no_missing",
    "require_numeric",
    "time_value_kind",
]

SHOW = 5
"""How many subjects, rows or values a message lists before '... and N more'."""


def show_value(value: Any) -> str:
    """A value as a message shows it: text quoted, numbers plain (no numpy reprs)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str):
        return repr(value)
    return str(value)


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
            if sample.map(lambda v: isinstance(v, (datetime.timedelta, np.timedelta64))).any():
                return "timedelta"
            if sample.map(lambda v: isinstance(v, (datetime.date, np.datetime64))).any():
                return "datetime"
    return None


def _listed(labels: Sequence[str], unit: str) -> str:
    more = len(labels) - SHOW
    return ", ".join(labels[:SHOW]) + (f" and {more} more {unit}" if more > 0 else "")


class TableCheck:
    """Collects the problems of one table, each in the package's one message format.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table checked; never modified.
    caller : str
        The public function on whose behalf the check runs; it starts every message.
    table : str, optional
        The name of the argument holding ``frame`` where a function takes several tables
        (``"visits"``, ``"fit"``): messages then say ``column 'x' of visits``.
    subject : str or None
        The subject-id column; rows are named by subject when it is present, else by index.
    visit_time : str or None
        The visit-time column; when present, a row is named ``subject S1 (years 0.5)``.

    Examples
    --------
    >>> import pandas as pd
    >>> visits = pd.DataFrame({"subject": ["S1", "S2"], "years": [0.0, 0.5],
    ...                        "age": [61.0, 250.0]})
    >>> check = TableCheck(visits, "f", visit_time="years")
    >>> check.within("age", check.numbers("age"), low=18, high=110)
    >>> print(check.problems[0])
    f: column 'age' must be >= 18 and <= 110; out of range at subject S2 (years 0.5) = 250.0
    """

    def __init__(
        self,
        frame: pd.DataFrame,
        caller: str,
        *,
        table: str | None = None,
        subject: str | None = "subject",
        visit_time: str | None = None,
    ) -> None:
        self.frame = frame
        self.caller = caller
        self.table = table
        self.subject = subject
        self.visit_time = visit_time
        self.problems: list[str] = []

    # -- the message format -------------------------------------------------------------------

    def column(self, name: object) -> str:
        """``column 'name'`` (``of <table>`` when the table has a name)."""
        return f"column '{name}'" + (f" of {self.table}" if self.table else "")

    def add(self, text: str) -> None:
        """Record one problem; ``text`` starts with what it is about (``column 'x' ...``)."""
        self.problems.append(f"{self.caller}: {text}")

    def who(self, mask: np.ndarray | pd.Series, values: pd.Series | str | None = None, *,
            about: object = None) -> str:
        """Who the rows of ``mask`` are.

        With ``values`` (a column name or a Series aligned with the table) or a known visit
        time, one label per row: ``subject S1 (years 0.5) = 250.0`` (``row 3 = 'X'`` without a
        subject column); otherwise the subjects once each: ``subjects S1, S7``. ``about`` is
        the column reported: rows missing their subject id are named by row, rows missing
        their visit time without it.
        """
        mask = np.asarray(mask, dtype=bool)
        frame = self.frame
        has_subject = (self.subject is not None and self.subject in frame.columns
                       and about != self.subject)
        has_time = (self.visit_time is not None and self.visit_time in frame.columns
                    and about != self.visit_time)
        if isinstance(values, str):
            values = frame[values]
        if values is None and not has_time:
            if has_subject:
                subjects = [str(s) for s in pd.unique(frame[self.subject].to_numpy()[mask])]
                word = "subject" if len(subjects) == 1 else "subjects"
                return f"{word} {_listed(subjects, 'subjects')}"
            rows = [show_value(i) for i in frame.index[mask]]
            word = "row" if len(rows) == 1 else "rows"
            return f"{word} {_listed(rows, 'rows')}"
        positions = np.flatnonzero(mask)
        labels = []
        for k in positions[:SHOW]:
            label = (f"subject {frame[self.subject].iloc[k]!s}" if has_subject
                     else f"row {show_value(frame.index[k])}")
            if has_time:
                label += f" ({self.visit_time} {show_value(frame[self.visit_time].iloc[k])})"
            if values is not None:
                label += f" = {show_value(values.iloc[k])}"
            labels.append(label)
        more = len(positions) - SHOW
        return ", ".join(labels) + (f" and {more} more rows" if more > 0 else "")

    def raise_problems(self) -> None:
        """Raise one DataValidationError listing every problem recorded, if any."""
        if self.problems:
            raise DataValidationError(self.problems)

    # -- columns ------------------------------------------------------------------------------

    def columns_present(self, columns: Iterable[object], *, required: bool = False) -> list:
        """Record each column of ``columns`` (None ignored) the table lacks; return them.

        ``required`` says so in the message, for columns every use of the table needs.
        """
        missing = [c for c in dict.fromkeys(columns)
                   if c is not None and c not in self.frame.columns]
        present = ", ".join(map(str, self.frame.columns))
        what = "is required but missing from" if required else "is missing from"
        for name in missing:
            self.add(f"column '{name}' {what} {self.table or 'the table'} (its columns: {present})")
        return missing

    def unique_column_names(self, columns: pd.Index | None = None) -> None:
        """Record column names that appear more than once (in ``columns``, by default the
        table's own)."""
        columns = self.frame.columns if columns is None else columns
        repeated = columns[columns.duplicated()].unique().tolist()
        for name in repeated:
            self.add(f"column '{name}' appears more than once; the other checks used the first")

    def numeric_dtype(self, columns: Iterable[str]) -> None:
        """Record columns whose dtype is not numeric (booleans, dates and durations are not
        numbers either); values are not parsed, so numbers stored as text are refused too."""
        for name in dict.fromkeys(columns):
            values = self.frame[name]
            kind = time_value_kind(values)
            if kind is not None:
                self.add(_dates_message(self.column(name), kind, values, None))
            elif not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
                self.add(f"{self.column(name)} must be numeric, found dtype {values.dtype}")

    def numbers(self, name: str, *, allow_bool: bool = False, unit: str | None = None
                ) -> pd.Series:
        """Parse a column as float64, recording what is not a real, finite number.

        Refused: booleans (unless ``allow_bool``), complex numbers, dates and durations
        (alsstats does not guess their unit: ``unit`` says what to convert to), text that
        is not a number, and infinities. Refused values become NaN in the result.
        """
        raw = self.frame[name]
        column = self.column(name)
        if pd.api.types.is_bool_dtype(raw):
            if not allow_bool:
                self.add(f"{column} is boolean; expected numbers")
            return raw.astype("float64")
        if pd.api.types.is_complex_dtype(raw) or (raw.dtype == object and raw.map(
                lambda v: isinstance(v, (complex, np.complexfloating))).any()):
            self.add(f"{column} holds complex numbers; expected real numbers "
                     "(the imaginary part would be thrown away)")
            return pd.Series(np.nan, index=raw.index, dtype="float64")
        kind = time_value_kind(raw)
        if kind is not None:
            self.add(_dates_message(column, kind, raw, unit))
            return pd.Series(np.nan, index=raw.index, dtype="float64")
        values = pd.to_numeric(raw, errors="coerce").astype("float64")
        unparsable = values.isna().to_numpy() & raw.notna().to_numpy()
        if unparsable.any():
            self.add(f"{column} has values that are not numbers at {self.who(unparsable, raw)}")
        infinite = np.isinf(values.to_numpy())
        if infinite.any():
            self.add(f"{column} has infinite values at {self.who(infinite, raw)}")
            values = values.where(~infinite)
        return values

    def no_missing(self, name: str, values: pd.Series | None = None, hint: str = "") -> None:
        """Record missing values of a column (``values``: its parsed form), naming who."""
        missing = (self.frame[name] if values is None else values).isna().to_numpy()
        n = int(missing.sum())
        if n:
            self.add(f"{self.column(name)} has {n} missing value{'s' if n > 1 else ''} "
                     f"({self.who(missing, about=name)}){hint}")

    def within(
        self,
        name: str,
        values: pd.Series,
        *,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        integer: bool = False,
        why: str = "",
    ) -> None:
        """Record values outside [low, high] (``(low, high]`` with ``low_open``) or fractional.

        NaN is not checked here (see :meth:`no_missing`).
        """
        arr = values.to_numpy(dtype=float)
        present = np.isfinite(arr)
        rules = []
        bad = np.zeros(len(arr), dtype=bool)
        with np.errstate(invalid="ignore"):
            if low is not None:
                rules.append(f"{'>' if low_open else '>='} {low:g}")
                bad |= present & ((arr <= low) if low_open else (arr < low))
            if high is not None:
                rules.append(f"<= {high:g}")
                bad |= present & (arr > high)
        column = self.column(name)
        if bad.any():
            found = "negative" if low == 0 and high is None and not low_open else "out of range"
            self.add(f"{column} must be {' and '.join(rules)}{why}; {found} at "
                     f"{self.who(bad, self.frame[name])}")
        if integer:
            fractional = present & (arr != np.round(arr))
            if fractional.any():
                self.add(f"{column} must be whole numbers; fractional at "
                         f"{self.who(fractional, self.frame[name])}")

    def levels(self, name: str, levels: Sequence[str], *, allow_missing: bool = False
               ) -> pd.Categorical:
        """Record values outside ``levels`` (and missing ones unless allowed); the column as a
        Categorical with those categories, NaN where refused."""
        raw = self.frame[name]
        text = raw.astype("string")
        missing = raw.isna().to_numpy()
        bad = ~missing & ~text.isin(levels).fillna(False).to_numpy(dtype=bool)
        if bad.any():
            self.add(f"{self.column(name)} allows only {', '.join(map(repr, levels))}; found "
                     f"{sorted(set(map(str, raw[bad])))!r} at {self.who(bad, raw)}")
        if not allow_missing:
            self.no_missing(name)
        return pd.Categorical(text.where(~bad & ~missing).astype(object), categories=list(levels))

    def zero_one(self, name: str, values: pd.Series,
                 meaning: str = "0 (censored) or 1 (event)") -> None:
        """Record values other than 0 and 1 (NaN is left to :meth:`no_missing`)."""
        arr = values.to_numpy(dtype=float)
        bad = ~np.isnan(arr) & ~np.isin(arr, (0.0, 1.0))
        if bad.any():
            self.add(f"{self.column(name)} must be {meaning}; found at "
                     f"{self.who(bad, self.frame[name])}")

    # -- rows and subjects --------------------------------------------------------------------

    def unique_rows(self, columns: Sequence[str], exclude: np.ndarray | None = None,
                    hint: str = "") -> None:
        """Record rows repeating a combination of ``columns`` (rows in ``exclude`` ignored)."""
        repeated = self.frame.duplicated(list(columns), keep=False).to_numpy()
        if exclude is not None:
            repeated = repeated & ~exclude
        if repeated.any():
            names = ", ".join(f"'{c}'" for c in columns)
            self.add(f"columns {names} must be unique together (one row per "
                     f"{' and '.join(map(str, columns))}); repeated at {self.who(repeated)}{hint}")

    def constant_within_subject(self, name: str, values: pd.Series | None = None,
                                hint: str = "") -> bool:
        """Record a subject-level column that varies within a subject (NaN beside a value
        counts as varying); True when it is constant."""
        values = self.frame[name] if values is None else values
        key = values.astype("string").fillna("<missing>") if values.dtype == object else values
        distinct = key.groupby(self.frame[self.subject].to_numpy(), sort=False,
                               dropna=False).nunique(dropna=False)
        varying = distinct.index[distinct.to_numpy() > 1]
        if not len(varying):
            return True
        subjects = self.frame[self.subject].to_numpy()
        shown = []
        for subject in varying[:SHOW]:
            seen = values[subjects == subject]
            seen = sorted({"NaN" if pd.isna(v) else show_value(v) for v in seen})
            shown.append(f"subject {subject} has [{', '.join(seen)}]")
        more = len(varying) - SHOW
        self.add(f"{self.column(name)} varies within subject (it is subject-level: one value "
                 f"per subject): {'; '.join(shown)}"
                 + (f" and {more} more subjects" if more > 0 else "") + hint)
        return False

    def subject_ids_text(self, name: str = "subject") -> None:
        """Subject ids are text: refuse floating-point ids, and numbers and text that spell the
        same id (``1`` and ``'1'``, ``7`` and ``'007'``), naming both spellings."""
        raw = self.frame[name]
        present = raw[raw.notna().to_numpy()]
        column = self.column(name)
        floats = (pd.api.types.is_float_dtype(present) or (present.dtype == object and present.map(
            lambda v: isinstance(v, (float, np.floating))).any()))
        if floats and len(present):
            example = next(v for v in present if isinstance(v, (float, np.floating)))
            self.add(
                f"{column} holds floating-point numbers (e.g. {example!r}), which would become "
                f"ids such as '{example}' while the same subject elsewhere is '{example:g}'; "
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
                clashes.append(" and ".join(f"{s} ({k})" for s, k in zip(
                    spellings["spelling"], spellings["kind"], strict=True)))
        if clashes:
            more = len(clashes) - SHOW
            self.add(f"{column} mixes numbers and text that spell the same id: "
                     + "; ".join(clashes[:SHOW]) + (f" and {more} more" if more > 0 else "")
                     + "; subject ids are text, so these would be two subjects or one by "
                     "accident: write every id as text in one spelling")

    def alsfrs_items(self, columns: Sequence[str]) -> dict[str, pd.Series]:
        """ALSFRS-R items: whole numbers 0..4, and at most one of 5a/5b answered per row."""
        parsed = {}
        for name in columns:
            parsed[name] = self.numbers(name)
            self.within(name, parsed[name], low=0, high=4, integer=True,
                        why=" (ALSFRS-R items are scored 0..4)")
        if "alsfrs_5a" in parsed and "alsfrs_5b" in parsed:
            both = (parsed["alsfrs_5a"].notna() & parsed["alsfrs_5b"].notna()).to_numpy()
            if both.any():
                self.add("columns 'alsfrs_5a', 'alsfrs_5b': only one of 5a (no gastrostomy) and "
                         f"5b (gastrostomy) may be answered; both at {self.who(both)}")
        return parsed


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


def _dates_message(column: str, kind: str, raw: pd.Series, unit: str | None) -> str:
    example = raw.dropna().iloc[0] if raw.notna().any() else "NaT"
    unit = unit or "a number of months or years since baseline"
    return (f"{column} holds dates or durations ({kind} values, e.g. {example}), not numbers; "
            f"alsstats does not guess a unit: convert to {unit} first (e.g. td.dt.days / 365.25 "
            "for years, td.dt.days / 30.4375 for months)")


# -- checks that raise ---------------------------------------------------------------------------


def require_frame(value: Any, caller: str, name: str = "data") -> None:
    """Raise TypeError unless ``value`` is a pandas DataFrame."""
    if not isinstance(value, pd.DataFrame):
        raise TypeError(f"{caller}: {name} must be a pandas DataFrame, got {type(value).__name__}")


def require_columns(frame: pd.DataFrame, columns: Iterable[object], *, caller: str,
                    table: str = "data") -> None:
    """Raise naming every column of ``columns`` (None ignored) that ``frame`` lacks."""
    require_frame(frame, caller, table)
    check = TableCheck(frame, caller, table=table)
    check.columns_present(columns)
    check.raise_problems()


def require_numeric(frame: pd.DataFrame, columns: Iterable[str], *, caller: str,
                    table: str = "data") -> None:
    """Raise naming every column whose dtype is not numeric (or is boolean)."""
    check = TableCheck(frame, caller, table=table)
    check.numeric_dtype(columns)
    check.raise_problems()


def require_no_missing(frame: pd.DataFrame, columns: Iterable[str], *, caller: str,
                       table: str = "data", subject: str | None = "subject",
                       hint: str = "") -> None:
    """Raise naming the subjects (or rows) where a column of ``columns`` is missing."""
    check = TableCheck(frame, caller, table=table, subject=subject)
    for name in dict.fromkeys(columns):
        check.no_missing(name, hint=hint)
    check.raise_problems()


def refuse_dates(frame: pd.DataFrame, columns: Iterable[str], *, caller: str) -> None:
    """Raise naming time columns that hold dates or durations (their nanoseconds are no unit)."""
    check = TableCheck(frame, caller)
    for name in dict.fromkeys(columns):
        kind = time_value_kind(frame[name])
        if kind is not None:
            check.add(_dates_message(check.column(name), kind, frame[name], None))
    check.raise_problems()


def check_time_event(
    frame: pd.DataFrame,
    time: str,
    event: str,
    *,
    caller: str,
    start: str | None = None,
    subject: str | None = None,
) -> None:
    """Survival times numbers, finite and >= 0 (start < stop); events 0/1 (booleans allowed).

    Missing values are left to :func:`drop_missing`, which runs first.
    """
    check = TableCheck(frame, caller, subject=subject)
    times = {}
    for name in dict.fromkeys(c for c in (start, time) if c is not None):
        times[name] = check.numbers(name, unit="a number of months or years since baseline")
        check.within(name, times[name], low=0,
                     why=" (times are measured from baseline)")
    check.zero_one(event, check.numbers(event, allow_bool=True))
    if start is not None and not check.problems:
        empty = (times[start] >= times[time]).to_numpy()
        if empty.any():
            check.add(f"columns '{start}', '{time}': every (start, stop] interval must have "
                      f"positive length; {start} >= {time} at {check.who(empty)}")
    check.raise_problems()


def one_row_per_subject(frame: pd.DataFrame, columns: Sequence[str], subject: str | None, *,
                        caller: str) -> pd.DataFrame:
    """Collapse a visit table to one row per subject, checking subject-level columns.

    When ``subject`` is None or absent, or every subject has one row, ``frame`` is returned
    as is. Otherwise each of ``columns`` must be constant within subject (NaN counts as a
    value); a column that varies is an error naming the subjects and their values. The first
    two columns are taken to be the survival time and event.
    """
    if subject is None or subject not in frame.columns or not frame[subject].duplicated().any():
        return frame
    names = [c for c in dict.fromkeys(columns) if c != subject]
    check = TableCheck(frame, caller, subject=subject)
    for k, name in enumerate(names):
        hint = ("; a subject has one survival time and one event status" if k < 2 else
                "; use baseline_values() for a baseline covariate or fit_cox_time_varying() "
                "for one that changes over visits")
        check.constant_within_subject(name, hint=hint)
    check.raise_problems()
    return frame.drop_duplicates(subset=[subject], keep="first")


def drop_missing(frame: pd.DataFrame, columns: Sequence[str], subject: str | None, *,
                 caller: str) -> pd.DataFrame:
    """Leave out rows with a missing value in ``columns``, warning with counts per column and
    naming the subjects (or rows) left out."""
    names = list(dict.fromkeys(columns))
    missing = frame[names].isna()
    rows = missing.any(axis=1).to_numpy()
    if not rows.any():
        return frame
    per_column = {c: int(n) for c, n in missing.sum().items() if n}
    check = TableCheck(frame, caller, subject=subject)
    unit = "rows"
    if subject is not None and subject in frame.columns:
        unit = f"rows ({frame.loc[rows, subject].nunique()} subjects)"
    warnings.warn(
        f"{caller}: left out {int(rows.sum())} of {len(frame)} {unit} with missing values "
        f"(missing per column: {per_column}; {check.who(rows)}).",
        DroppedRowsWarning,
        stacklevel=user_stacklevel(),
    )
    return frame.loc[~rows]
