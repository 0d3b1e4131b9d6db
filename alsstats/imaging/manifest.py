"""Which scan belongs to which visit: manifests, BIDS-like trees, and the join onto visits."""

from __future__ import annotations

import os
import re
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from alsstats._deprecation import formerly_positional, renamed_arguments
from alsstats._stack import user_stacklevel
from alsstats.errors import DataValidationError, DroppedRowsWarning

__all__ = ["find_scans", "from_manifest", "join_volumes"]

_IMAGE_SUFFIXES = (".nii", ".nii.gz", ".mnc")
_ENTITY = {"subject": re.compile(r"^sub-([^_/\\]+)"), "session": re.compile(r"^ses-([^_/\\]+)")}


@formerly_positional("pattern", "suffixes")
def find_scans(
    root: str | os.PathLike[str],
    *,
    pattern: str = "sub-*/ses-*/anat/*",
    suffixes: tuple[str, ...] = _IMAGE_SUFFIXES,
) -> pd.DataFrame:
    """Images in a BIDS-like tree, with their subject and session.

    Parameters
    ----------
    root : path
        The tree's top folder.
    pattern : str, default ``"sub-*/ses-*/anat/*"``
        Glob relative to ``root``; narrow it to one image per session, e.g.
        ``"sub-*/ses-*/anat/*_label-WMH_mask.nii.gz"``.
    suffixes : tuple of str
        File endings kept (default ``.nii``, ``.nii.gz``, ``.mnc``).

    Returns
    -------
    pandas.DataFrame
        Columns ``subject`` (the label after ``sub-``), ``session`` (after ``ses-``;
        None when the path has no session folder) and ``path`` (str), sorted by path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "sub-01/ses-M00/anat").mkdir(parents=True)
    >>> _ = (root / "sub-01/ses-M00/anat/sub-01_ses-M00_wmh.nii.gz").write_bytes(b"")
    >>> find_scans(root)[["subject", "session"]].values.tolist()
    [['01', 'M00']]
    """
    root = Path(root)
    if not root.is_dir():
        raise DataValidationError([f"find_scans: {root} is not a folder"])
    rows = []
    for path in sorted(root.glob(pattern)):
        if not path.is_file() or not path.name.lower().endswith(suffixes):
            continue
        entities: dict[str, str | None] = {"subject": None, "session": None}
        for part in path.relative_to(root).parts[:-1]:
            for key, rule in _ENTITY.items():
                if (hit := rule.match(part)) is not None:
                    entities[key] = hit.group(1)
        if entities["subject"] is None:
            continue
        rows.append({**entities, "path": str(path)})
    return pd.DataFrame(rows, columns=["subject", "session", "path"])


def from_manifest(csv: str | os.PathLike[str] | pd.DataFrame) -> pd.DataFrame:
    """Read a scan manifest: one row per image with ``subject``, ``path`` and
    ``session`` and/or ``years``.

    Relative paths are taken relative to the manifest's folder. Other columns are kept.

    Returns
    -------
    pandas.DataFrame
        The manifest with ``subject`` and ``session`` as str, ``years`` as float (when
        present) and ``path`` as an absolute str path.

    Raises
    ------
    DataValidationError
        A required column is missing, a row has no subject, path or session/years, or
        a ``years`` value is not a number >= 0 (each named by row, subject and value).
    """
    if isinstance(csv, pd.DataFrame):
        table, base = csv.copy(), Path.cwd()
    else:
        if not Path(csv).is_file():  # a FIFO or device would block or never end
            why = "not a regular file" if Path(csv).exists() else "file not found"
            raise DataValidationError([f"manifest {csv}: {why}"])
        try:
            table = pd.read_csv(csv, dtype={"subject": str, "session": str})
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, pd.errors.ParserError,
                pd.errors.EmptyDataError) as exc:  # empty, binary, fake-gzip, unreadable
            raise DataValidationError(
                [f"manifest {csv}: cannot be read as a CSV table ({exc})"]) from None
        base = Path(csv).resolve().parent
    problems = []
    for column in ("subject", "path"):
        if column not in table:
            problems.append(f"manifest: column {column!r} is missing")
    if "session" not in table and "years" not in table:
        problems.append("manifest: give a 'session' or a 'years' column to place each scan")
    if problems:
        raise DataValidationError(problems)
    keys = [c for c in ("subject", "path", "session", "years") if c in table]
    empty = table[keys].isna()
    for column in keys:
        rows = np.flatnonzero(empty[column].to_numpy())
        if rows.size:
            problems.append(f"manifest: column {column!r} is empty in {rows.size} row(s) "
                            f"(rows {', '.join(map(str, rows[:5] + 1))})")
    if problems:
        raise DataValidationError(problems)
    table["subject"] = table["subject"].astype(str)
    if "session" in table:
        table["session"] = table["session"].astype(str)
    if "years" in table:
        table["years"] = _manifest_years(table)
    table["path"] = [str(p if Path(p).is_absolute() else base / p) for p in table["path"]]
    return table


def _manifest_years(table: pd.DataFrame) -> pd.Series:
    """The ``years`` column as float; every value that is not a number >= 0 is named."""
    given = table["years"].tolist()  # Python scalars: messages show 'one', -1.0, not numpy reprs
    years = pd.to_numeric(table["years"], errors="coerce").astype(float)
    bad = np.flatnonzero(~(np.isfinite(years.to_numpy()) & (years.to_numpy() >= 0)))
    if bad.size:
        subjects = table["subject"].tolist()
        examples = ", ".join(f"row {i + 1} (subject {subjects[i]}): {given[i]!r}" for i in bad[:5])
        raise DataValidationError([
            f"manifest: column 'years' must hold numbers >= 0 (years since the baseline MRI); "
            f"{bad.size} row(s) do not: {examples}"])
    return years


@formerly_positional("scans")
@renamed_arguments(visits="data")
def join_volumes(
    data: pd.DataFrame,
    measures: pd.DataFrame,
    *,
    scans: pd.DataFrame | None = None,
    sessions: pd.DataFrame | None = None,
    columns: Mapping[str, str] | None = None,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Put per-scan measurements (lesion volumes, ROI intensities) onto the visit table.

    Parameters
    ----------
    data : DataFrame
        The visit table (``subject``, ``years``, ...; optionally ``session``; was
        ``visits``).
    measures : DataFrame
        Output of :func:`lesion_volumes` or :func:`roi_intensity` (has ``path``),
        or any table that already has ``subject`` and ``session``/``years``.
    scans : DataFrame, optional
        :func:`find_scans` or :func:`from_manifest` output mapping ``path`` to
        ``subject`` and ``session`` (and/or ``years``).
    sessions : DataFrame, optional
        ``subject``, ``session``, ``years``: places sessions in time when neither ``data``
        nor the scans have what is needed.
    columns : mapping, optional
        Measure column -> visit column. Default: ``volume_mm3`` -> ``wmh_mm3`` when
        present, else every ``flair_*`` column under its own name.
    overwrite : bool, default False
        Replace values already in the visit columns.

    Returns
    -------
    pandas.DataFrame
        A copy of ``data`` (same rows, order and index) with the measure columns
        added; visits without a scan get NaN.

    Raises
    ------
    DataValidationError
        Scans without subject/session, two scans for one visit, one file mapped to two
        visits in ``scans``, no way to place sessions in time, or visit columns that
        already hold values.

    Warns
    -----
    DroppedRowsWarning
        Scans that match no visit (how many, and which).

    Examples
    --------
    >>> visits = pd.DataFrame({"subject": ["01", "01"], "years": [0.0, 1.0],
    ...                        "session": ["M00", "M12"]})
    >>> vols = pd.DataFrame({"path": ["a.nii.gz"], "volume_mm3": [1500.0]})
    >>> scans = pd.DataFrame({"subject": ["01"], "session": ["M12"], "path": ["a.nii.gz"]})
    >>> join_volumes(visits, vols, scans=scans)["wmh_mm3"].tolist()
    [nan, 1500.0]
    """
    measures = measures.copy()
    if scans is not None:
        if "path" not in measures or "path" not in scans:
            raise DataValidationError(["join_volumes: measures and scans both need a 'path' column"])
        place = [c for c in ("subject", "session", "years") if c in scans]
        unknown = ~measures["path"].isin(scans["path"])
        if unknown.any():
            raise DataValidationError([
                f"join_volumes: {int(unknown.sum())} measured file(s) are not in scans, e.g. "
                f"{measures.loc[unknown, 'path'].iloc[0]}"])
        placed = scans[["path", *place]].astype(
            {c: str for c in ("subject", "session") if c in place}).drop_duplicates()
        clash = placed["path"].duplicated(keep=False)
        if clash.any():
            path = placed.loc[clash, "path"].iloc[0]
            visits_of = placed.loc[placed["path"] == path, place].to_dict("records")
            raise DataValidationError([
                f"join_volumes: {placed.loc[clash, 'path'].nunique()} file(s) in scans are "
                f"mapped to more than one visit, e.g. {path} to {visits_of}; a scan belongs to "
                "one visit: fix scans"])
        measures = measures.drop(columns=[c for c in place if c in measures]).merge(
            placed, on="path", how="left")
    if "subject" not in measures:
        raise DataValidationError(["join_volumes: measures have no 'subject'; pass scans="])
    measures["subject"] = measures["subject"].astype(str)
    if "years" in measures and measures["years"].notna().all():
        key = ["subject", "years"]
    elif "session" in data and "session" in measures:
        key = ["subject", "session"]
    elif sessions is not None and "session" in measures:
        timing = sessions[["subject", "session", "years"]].astype({"subject": str, "session": str})
        measures = measures.drop(columns=["years"], errors="ignore").merge(
            timing, on=["subject", "session"], how="left")
        unplaced = measures["years"].isna()
        if unplaced.any():
            raise DataValidationError([
                f"join_volumes: {int(unplaced.sum())} scan(s) have no years in sessions, e.g. "
                f"subject {measures.loc[unplaced, 'subject'].iloc[0]} session "
                f"{measures.loc[unplaced, 'session'].iloc[0]}"])
        key = ["subject", "years"]
    else:
        raise DataValidationError([
            "join_volumes: cannot place scans in time; give visits a 'session' column, "
            "scans a 'years' column, or sessions= (subject, session, years)"])
    if "session" in key:
        measures["session"] = measures["session"].astype(str)
    if columns is None:
        if "volume_mm3" in measures:
            columns = {"volume_mm3": "wmh_mm3"}
        else:
            columns = {c: c for c in measures if c.startswith("flair_")}
    if not columns:
        raise DataValidationError(["join_volumes: no measure columns to join; pass columns="])
    missing = [c for c in columns if c not in measures]
    if missing:
        raise DataValidationError([f"join_volumes: measures have no column {c!r}" for c in missing])
    doubled = measures.duplicated(key, keep=False)
    if doubled.any():
        first = measures.loc[doubled, key].iloc[0].tolist()
        raise DataValidationError([
            f"join_volumes: {int(doubled.sum())} scans share a visit, e.g. {dict(zip(key, first, strict=True))} "
            f"({', '.join(measures.loc[doubled, 'path'].astype(str).head(3)) if 'path' in measures else ''}); "
            "keep one image per visit"])
    out = data.copy()
    taken = [v for v in columns.values() if v in out and out[v].notna().any()]
    if taken and not overwrite:
        raise DataValidationError([f"join_volumes: visits already have values in {v!r}; "
                                   "pass overwrite=True to replace them" for v in taken])
    left = out[key].astype({"subject": str, **({"session": str} if "session" in key else {})})
    if left.duplicated(key).any():
        raise DataValidationError([f"join_volumes: visits repeat {key}, e.g. "
                                   f"{left.loc[left.duplicated(key), key].iloc[0].tolist()}"])
    right = measures[key + list(columns)].rename(columns=dict(columns))
    joined = left.reset_index(drop=True).merge(right, on=key, how="left")
    for target in columns.values():
        out[target] = joined[target].to_numpy()
    matched = measures.set_index(key).index.isin(left.set_index(key).index)
    if (~matched).any():
        examples = measures.loc[~matched, key].head(3).to_dict("records")
        warnings.warn(
            f"join_volumes: {int((~matched).sum())} of {len(measures)} scans match no visit and "
            f"were not joined, e.g. {examples}",
            DroppedRowsWarning,
            stacklevel=user_stacklevel(),
        )
    return out
