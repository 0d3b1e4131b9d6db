"""ALSFRS-R scales: domain scores, totals, progression rate (ΔFS), MiToS and King's stages.

The ALSFRS-R (Cedarbaum et al. 1999) has twelve items scored 0 (lost) .. 4 (normal). In the
visit table they are the columns ``alsfrs_1`` .. ``alsfrs_12``, where item 5 is answered either as
``alsfrs_5a`` (cutting food and handling utensils, no gastrostomy) or as ``alsfrs_5b`` (the
alternative scale for patients with a gastrostomy), never both in one row:

===  ===============================  =====================
no.  item                             domain
===  ===============================  =====================
1    speech                           bulbar
2    salivation                       bulbar
3    swallowing                       bulbar
4    handwriting                      fine motor
5a   cutting food (no gastrostomy)    fine motor
5b   cutting food (gastrostomy)       fine motor
6    dressing and hygiene             fine motor
7    turning in bed                   gross motor
8    walking                          gross motor
9    climbing stairs                  gross motor
10   dyspnoea                         respiratory
11   orthopnoea                       respiratory
12   respiratory insufficiency        respiratory
===  ===============================  =====================

Every function works row by row and is vectorised over rows; none changes its input. A row
with a needed item missing (NaN) gets NaN (or ``None`` for King's stage), never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from alsstats.validation import TableCheck, require_columns, require_frame

__all__ = [
    "ALSFRS_DOMAINS",
    "alsfrs_domains",
    "alsfrs_total",
    "kings_stage",
    "mitos_stage",
    "progression_rate",
]

ALSFRS_DOMAINS: dict[str, tuple[str, ...]] = {
    "bulbar": ("alsfrs_1", "alsfrs_2", "alsfrs_3"),
    "fine_motor": ("alsfrs_4", "alsfrs_5", "alsfrs_6"),
    "gross_motor": ("alsfrs_7", "alsfrs_8", "alsfrs_9"),
    "respiratory": ("alsfrs_10", "alsfrs_11", "alsfrs_12"),
}
"""The four ALSFRS-R domains; ``alsfrs_5`` stands for whichever of 5a/5b is answered."""


def _item_frame(items: pd.DataFrame, needed: Iterable[str], caller: str) -> pd.DataFrame:
    """Check and parse the needed item columns; ``alsfrs_5`` means 5a or 5b.

    Returns a float64 frame (same index) with the needed columns, where ``alsfrs_5`` is 5a
    where answered, else 5b, and the columns ``alsfrs_5a``/``alsfrs_5b`` are kept as read.
    """
    require_frame(items, caller, "items")
    needed = tuple(needed)
    plain = [c for c in needed if c != "alsfrs_5"]
    five_columns = [c for c in ("alsfrs_5a", "alsfrs_5b") if c in items.columns]
    check = TableCheck(items, caller, table="items", visit_time="years")
    check.columns_present(plain)
    if "alsfrs_5" in needed and not five_columns:
        check.add("columns 'alsfrs_5a' and 'alsfrs_5b' are both missing from items; item 5 "
                  "needs one of them (5a without gastrostomy, 5b with)")
    check.raise_problems()
    out = pd.DataFrame(check.alsfrs_items([*plain, *five_columns]), index=items.index)
    check.raise_problems()
    if "alsfrs_5" in needed:
        five = out[five_columns[0]]
        if len(five_columns) == 2:
            five = five.fillna(out["alsfrs_5b"])
        out["alsfrs_5"] = five
    return out


def alsfrs_domains(items: pd.DataFrame) -> pd.DataFrame:
    """ALSFRS-R domain sub-scores, row by row.

    Parameters
    ----------
    items : pandas.DataFrame
        Columns ``alsfrs_1`` .. ``alsfrs_12`` with ``alsfrs_5a`` and/or ``alsfrs_5b`` (item 5
        is 5a where answered, else 5b). Other columns are ignored.

    Returns
    -------
    pandas.DataFrame
        Same index as ``items``, float64 columns:

        - ``bulbar``: items 1-3 (speech, salivation, swallowing), 0..12
        - ``fine_motor``: items 4, 5a or 5b, 6 (handwriting, cutting food, dressing), 0..12
        - ``gross_motor``: items 7-9 (turning in bed, walking, stairs), 0..12
        - ``respiratory``: items 10-12 (dyspnoea, orthopnoea, respiratory insufficiency), 0..12

        A domain is NaN in a row where any of its three items is missing.

    Raises
    ------
    DataValidationError
        If an item column is absent, an item is not a whole number 0..4, or both 5a and 5b are
        answered in a row (each problem names the column and rows).

    Notes
    -----
    The grouping is the usual one of the ALSFRS-R (Cedarbaum et al., J Neurol Sci 1999;
    Franchignoni et al., ALS 2013, who found these four domains). 5a and 5b are scored on
    different anchors but count as the same item for the totals, as in the scale itself.

    Examples
    --------
    >>> import pandas as pd
    >>> items = pd.DataFrame({f"alsfrs_{i}": [4.0] for i in range(1, 13) if i != 5})
    >>> items["alsfrs_5a"] = 3.0
    >>> alsfrs_domains(items).iloc[0].tolist()
    [12.0, 11.0, 12.0, 12.0]
    """
    return _domain_scores(items, "alsfrs_domains")


def _domain_scores(items: pd.DataFrame, caller: str) -> pd.DataFrame:
    needed = [c for columns in ALSFRS_DOMAINS.values() for c in columns]
    frame = _item_frame(items, needed, caller)
    out = pd.DataFrame(index=items.index)
    for domain, columns in ALSFRS_DOMAINS.items():
        # sum with min_count=3 leaves NaN where any of the three items is missing
        out[domain] = frame[list(columns)].sum(axis=1, min_count=len(columns))
    return out


def alsfrs_total(items: pd.DataFrame) -> pd.Series:
    """ALSFRS-R total (0..48) from the twelve items, row by row.

    Parameters
    ----------
    items : pandas.DataFrame
        Columns ``alsfrs_1`` .. ``alsfrs_12`` with ``alsfrs_5a`` and/or ``alsfrs_5b``.

    Returns
    -------
    pandas.Series
        float64 named ``alsfrs_r``, same index as ``items``; NaN where any item is missing.

    Raises
    ------
    DataValidationError
        As :func:`alsfrs_domains`.

    Examples
    --------
    >>> import pandas as pd
    >>> items = pd.DataFrame({f"alsfrs_{i}": [4.0, 2.0] for i in range(1, 13) if i != 5})
    >>> items["alsfrs_5b"] = [float("nan"), 1.0]
    >>> items["alsfrs_5a"] = [4.0, float("nan")]
    >>> alsfrs_total(items).tolist()
    [48.0, 23.0]
    """
    total = _domain_scores(items, "alsfrs_total").sum(axis=1, min_count=len(ALSFRS_DOMAINS))
    return total.rename("alsfrs_r")


def progression_rate(
    data: pd.DataFrame | None = None,
    *,
    alsfrs_r: Iterable[float] | pd.Series | None = None,
    months_since_onset: Iterable[float] | pd.Series | None = None,
) -> pd.Series:
    """ALSFRS-R progression rate ΔFS = (48 - ALSFRS-R) / months since symptom onset.

    Sign: ΔFS is **positive for decline** — the number of ALSFRS-R points lost per month since
    symptom onset, assuming a full score of 48 at onset (Kimura et al., Neurology 2006).

    Either pass a visit table, or the two quantities directly.

    Parameters
    ----------
    data : pandas.DataFrame, optional
        A visit table with columns ``alsfrs_r``, ``symptom_onset_months`` (months from symptom
        onset to the baseline MRI) and ``years`` (time since baseline MRI); the months since
        onset at a visit are ``symptom_onset_months + 12 * years``.
    alsfrs_r : array-like, optional
        ALSFRS-R totals 0..48 (NaN allowed); keyword-only, with ``months_since_onset``.
    months_since_onset : array-like, optional
        Months from symptom onset to the assessment, > 0 (NaN allowed).

    Returns
    -------
    pandas.Series
        float64 named ``delta_fs`` (points lost per month); index of ``data`` (or of
        ``alsfrs_r`` if it is a Series, else a RangeIndex). NaN where an input is NaN.

    Raises
    ------
    DataValidationError
        If a needed column is absent, ALSFRS-R is outside 0..48, or months since onset is not
        strictly positive; the message names the rows and values.
    TypeError
        If both or neither of ``data`` and the keyword pair are given.

    Notes
    -----
    ΔFS is usually computed once, at diagnosis or baseline; applied to later visits it is the
    average rate since onset, not the current slope. A month is taken as a twelfth of a year.

    Examples
    --------
    >>> progression_rate(alsfrs_r=[40.0, 48.0], months_since_onset=[16.0, 10.0]).tolist()
    [0.5, 0.0]
    """
    given_direct = alsfrs_r is not None or months_since_onset is not None
    if (data is None) == (not given_direct) or (given_direct and data is not None):
        raise TypeError(
            "progression_rate: pass either a visit table `data`, or both `alsfrs_r` and "
            "`months_since_onset`"
        )
    months_why = " (months since symptom onset)"
    if data is not None:
        require_columns(data, ["alsfrs_r", "symptom_onset_months", "years"],
                        caller="progression_rate")
        check = TableCheck(data, "progression_rate", visit_time="years")
        total = check.numbers("alsfrs_r")
        months = check.numbers("symptom_onset_months") + 12.0 * check.numbers("years")
        check.raise_problems()
        index = data.index
        frame = data.assign(months_since_onset=months)
        months_why = " (months since symptom onset: symptom_onset_months + 12 * years)"
    else:
        if alsfrs_r is None or months_since_onset is None:
            raise TypeError("progression_rate: give both `alsfrs_r` and `months_since_onset`")
        index = alsfrs_r.index if isinstance(alsfrs_r, pd.Series) else None
        total = np.asarray(alsfrs_r, dtype=float).ravel()
        months = np.asarray(months_since_onset, dtype=float).ravel()
        if total.shape != months.shape:
            raise ValueError(
                f"progression_rate: alsfrs_r has {total.size} values but months_since_onset "
                f"has {months.size}"
            )
        if index is None:
            index = pd.RangeIndex(total.size)
        frame = pd.DataFrame({"alsfrs_r": total, "months_since_onset": months}, index=index)
    check = TableCheck(frame, "progression_rate", visit_time="years")
    check.within("alsfrs_r", pd.Series(total), low=0, high=48)
    check.within("months_since_onset", pd.Series(months), low=0, low_open=True, why=months_why)
    check.raise_problems()
    total = np.asarray(total, dtype=float)
    months = np.asarray(months, dtype=float)
    return pd.Series((48.0 - total) / months, index=index, name="delta_fs", dtype="float64")


def mitos_stage(items: pd.DataFrame) -> pd.Series:
    """MiToS functional stage 0..4 from ALSFRS-R items (Chiò et al. 2015), row by row.

    Four functional domains, each lost when (Chiò A, Hammond ER, Mora G, Bonito V, Filippini
    G. Development and evaluation of a clinical staging system for amyotrophic lateral
    sclerosis. J Neurol Neurosurg Psychiatry 2015;86:38-44):

    - walking/self-care: item 8 (walking) <= 1 **or** item 6 (dressing and hygiene) <= 1
    - swallowing: item 3 (swallowing) <= 1
    - communication: item 1 (speech) <= 1 **and** item 4 (handwriting) <= 1
    - breathing: item 10 (dyspnoea) <= 1 **or** item 12 (respiratory insufficiency) <= 2

    The stage is the number of domains lost (0..4); stage 5, death, is not an item score.

    Parameters
    ----------
    items : pandas.DataFrame
        Needs ``alsfrs_1``, ``alsfrs_3``, ``alsfrs_4``, ``alsfrs_6``, ``alsfrs_8``,
        ``alsfrs_10`` and ``alsfrs_12``; other columns are ignored.

    Returns
    -------
    pandas.Series
        float64 named ``mitos_stage`` (0..4), same index as ``items``; NaN in rows where any
        of the seven items is missing.

    Raises
    ------
    DataValidationError
        If an item column is absent or an item is not a whole number 0..4.

    Examples
    --------
    >>> import pandas as pd
    >>> items = pd.DataFrame({f"alsfrs_{i}": [4.0, 1.0] for i in (1, 3, 4, 6, 8, 10, 12)})
    >>> items.loc[1, "alsfrs_4"] = 2.0  # speech lost but handwriting kept: communication kept
    >>> mitos_stage(items).tolist()
    [0.0, 3.0]
    """
    needed = ("alsfrs_1", "alsfrs_3", "alsfrs_4", "alsfrs_6", "alsfrs_8", "alsfrs_10",
              "alsfrs_12")  # fmt: skip
    frame = _item_frame(items, needed, "mitos_stage")
    v = {c: frame[c].to_numpy() for c in needed}
    walking_self_care = (v["alsfrs_8"] <= 1) | (v["alsfrs_6"] <= 1)
    swallowing = v["alsfrs_3"] <= 1
    communication = (v["alsfrs_1"] <= 1) & (v["alsfrs_4"] <= 1)
    breathing = (v["alsfrs_10"] <= 1) | (v["alsfrs_12"] <= 2)
    stage = (
        walking_self_care.astype(float)
        + swallowing.astype(float)
        + communication.astype(float)
        + breathing.astype(float)
    )
    incomplete = frame[list(needed)].isna().any(axis=1).to_numpy()
    stage[incomplete] = np.nan
    return pd.Series(stage, index=items.index, name="mitos_stage", dtype="float64")


def kings_stage(items: pd.DataFrame) -> pd.Series:
    """King's clinical stage estimated from ALSFRS-R items (Balendra et al. 2014), row by row.

    The estimation rules (Balendra R, Jones A, Jivraj N, et al. Estimating clinical stage of
    amyotrophic lateral sclerosis from the ALS Functional Rating Scale. Amyotroph Lateral
    Scler Frontotemporal Degener 2014;15:279-284; stages of Roche et al., Brain 2012):

    1. ``"4B"`` (respiratory failure needing ventilation) if item 10 (dyspnoea) == 0 or
       item 12 (respiratory insufficiency) < 4 — this takes precedence over 4A;
    2. else ``"4A"`` (nutritional failure, gastrostomy) if item 5b is answered;
    3. else ``"1"``, ``"2"`` or ``"3"``: the number of regions involved, where bulbar is
       involved if any of items 1-3 < 4, upper limb if item 4 or item 5a < 4, and lower
       limb if item 8 < 4.

    Parameters
    ----------
    items : pandas.DataFrame
        Needs ``alsfrs_1`` .. ``alsfrs_4``, ``alsfrs_8``, ``alsfrs_10``, ``alsfrs_12`` and
        ``alsfrs_5a`` and/or ``alsfrs_5b``; other columns are ignored.

    Returns
    -------
    pandas.Series
        object dtype named ``kings_stage`` with values ``"1"``, ``"2"``, ``"3"``, ``"4A"``,
        ``"4B"``, same index as ``items``; ``None`` in rows whose stage the missing items
        leave undetermined (a row already 4B by item 10 or 12 gets 4B whatever else is
        missing; otherwise items 10, 12, 1-4, 8 and one of 5a/5b must all be present).

    Raises
    ------
    DataValidationError
        If an item column is absent, an item is not a whole number 0..4, or both 5a and 5b
        are answered in a row.

    Notes
    -----
    A row with no region involved by these item rules (every item at 4 and no gastrostomy)
    is given stage ``"1"``: a patient with ALS has at least one region involved, and the
    ALSFRS-R is not sensitive enough to show it (Balendra et al. count regions the same way;
    stage 0 does not exist in King's staging). Stage 5 (death) is not an item score.

    Examples
    --------
    >>> import pandas as pd
    >>> items = pd.DataFrame({f"alsfrs_{i}": [4.0, 4.0, 4.0] for i in (1, 2, 3, 4, 8, 10, 12)})
    >>> items["alsfrs_5a"] = [3.0, float("nan"), float("nan")]
    >>> items["alsfrs_5b"] = [float("nan"), 2.0, 2.0]
    >>> items.loc[2, "alsfrs_12"] = 3.0  # ventilation trumps gastrostomy
    >>> kings_stage(items).tolist()
    ['1', '4A', '4B']
    """
    needed = ("alsfrs_1", "alsfrs_2", "alsfrs_3", "alsfrs_4", "alsfrs_5", "alsfrs_8",
              "alsfrs_10", "alsfrs_12")  # fmt: skip
    frame = _item_frame(items, needed, "kings_stage")
    n = len(frame)
    nan = np.full(n, np.nan)
    five_a = frame["alsfrs_5a"].to_numpy() if "alsfrs_5a" in frame else nan
    five_b = frame["alsfrs_5b"].to_numpy() if "alsfrs_5b" in frame else nan
    v = {c: frame[c].to_numpy() for c in needed}

    stage4b = (v["alsfrs_10"] == 0) | (v["alsfrs_12"] < 4)
    known4b = ~np.isnan(v["alsfrs_10"]) & ~np.isnan(v["alsfrs_12"])
    gastrostomy = ~np.isnan(five_b)
    bulbar = (v["alsfrs_1"] < 4) | (v["alsfrs_2"] < 4) | (v["alsfrs_3"] < 4)
    upper = (v["alsfrs_4"] < 4) | (five_a < 4)
    lower = v["alsfrs_8"] < 4
    regions = bulbar.astype(int) + upper.astype(int) + lower.astype(int)
    regions_known = (
        ~np.isnan(v["alsfrs_1"]) & ~np.isnan(v["alsfrs_2"]) & ~np.isnan(v["alsfrs_3"])
        & ~np.isnan(v["alsfrs_4"]) & ~np.isnan(v["alsfrs_8"]) & ~np.isnan(five_a)
    )  # fmt: skip

    labels = np.array(["1", "1", "2", "3"], dtype=object)[regions]
    out = np.full(n, None, dtype=object)
    by_regions = known4b & ~stage4b & ~gastrostomy & regions_known
    out[by_regions] = labels[by_regions]
    out[known4b & ~stage4b & gastrostomy] = "4A"
    out[stage4b] = "4B"  # a True comparison needs its item present
    return pd.Series(out, index=items.index, name="kings_stage", dtype=object)
