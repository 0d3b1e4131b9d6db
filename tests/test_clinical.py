"""ALSFRS-R scales: domains, totals, ΔFS, MiToS and King's staging against hand-worked rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import alsstats as als
from alsstats.clinical import (
    alsfrs_domains,
    alsfrs_total,
    kings_stage,
    mitos_stage,
    progression_rate,
)
from alsstats.synthetic import simulate_cohort

NAN = np.nan
ITEM_ORDER = ["alsfrs_1", "alsfrs_2", "alsfrs_3", "alsfrs_4", "alsfrs_5a", "alsfrs_5b",
              "alsfrs_6", "alsfrs_7", "alsfrs_8", "alsfrs_9", "alsfrs_10", "alsfrs_11",
              "alsfrs_12"]  # fmt: skip


def row(**changes: float) -> dict[str, float]:
    """A full ALSFRS-R row at 4 (no gastrostomy) with the given items changed.

    ``gastrostomy=...`` answers 5b with that value and leaves 5a empty.
    """
    items = {c: 4.0 for c in ITEM_ORDER}
    items["alsfrs_5b"] = NAN
    if "gastrostomy" in changes:
        items["alsfrs_5a"] = NAN
        items["alsfrs_5b"] = float(changes.pop("gastrostomy"))
    for key, value in changes.items():
        items[f"alsfrs_{key.removeprefix('i')}"] = float(value)
    return items


def table(rows: list[dict[str, float]], index=None) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=ITEM_ORDER, index=index)


# ---------------------------------------------------------------- domains and totals


def test_domains_sum_their_items_and_use_5b_when_5a_is_empty():
    items = table(
        [
            # bulbar 4+3+2, fine motor 1+0+4 (5a), gross 2+2+2, respiratory 4+3+1
            row(i1=4, i2=3, i3=2, i4=1, i5a=0, i6=4, i7=2, i8=2, i9=2, i10=4, i11=3, i12=1),
            # 5b answered: fine motor 3 + 2 (5b) + 1
            row(i4=3, gastrostomy=2, i6=1),
        ],
        index=["visit_a", "visit_b"],
    )
    domains = alsfrs_domains(items)
    assert list(domains.columns) == ["bulbar", "fine_motor", "gross_motor", "respiratory"]
    assert list(domains.index) == ["visit_a", "visit_b"]
    assert domains.loc["visit_a"].tolist() == [9.0, 5.0, 6.0, 8.0]
    assert domains.loc["visit_b"].tolist() == [12.0, 6.0, 12.0, 12.0]
    total = alsfrs_total(items)
    assert total.name == "alsfrs_r"
    assert total.tolist() == [28.0, 42.0]


def test_a_missing_item_blanks_only_its_domain_and_the_total():
    items = table([row(i2=NAN), row(i5a=NAN)])  # second row: neither 5a nor 5b answered
    domains = alsfrs_domains(items)
    assert np.isnan(domains.loc[0, "bulbar"])
    assert domains.loc[0, ["fine_motor", "gross_motor", "respiratory"]].tolist() == [12.0] * 3
    assert np.isnan(domains.loc[1, "fine_motor"]) and domains.loc[1, "bulbar"] == 12.0
    assert alsfrs_total(items).isna().all()


def test_only_5b_column_present_is_enough():
    items = table([row(gastrostomy=1)]).drop(columns="alsfrs_5a")
    assert alsfrs_total(items).tolist() == [45.0]


def test_item_errors_name_column_and_value():
    with pytest.raises(als.DataValidationError, match=r"alsfrs_5a.*5b.*both"):
        alsfrs_domains(table([{**row(), "alsfrs_5b": 3.0}]))
    with pytest.raises(als.DataValidationError, match=r"alsfrs_7.*4\.5"):
        alsfrs_domains(table([row(i7=4.5)]))
    with pytest.raises(als.DataValidationError, match=r"alsfrs_3.*5"):
        mitos_stage(table([row(i3=5)]))
    with pytest.raises(als.DataValidationError,
                       match=r"alsfrs_domains: column 'alsfrs_9' is missing from items"):
        alsfrs_domains(table([row()]).drop(columns="alsfrs_9"))
    with pytest.raises(als.DataValidationError,
                       match=r"kings_stage: columns 'alsfrs_5a' and 'alsfrs_5b' are both missing"):
        kings_stage(table([row()]).drop(columns=["alsfrs_5a", "alsfrs_5b"]))
    with pytest.raises(TypeError):
        alsfrs_domains([[4] * 12])


def test_inputs_are_not_modified():
    items = table([row(i1=1, i4=1), row(gastrostomy=0, i12=2)])
    before = items.copy()
    alsfrs_domains(items)
    alsfrs_total(items)
    mitos_stage(items)
    kings_stage(items)
    pd.testing.assert_frame_equal(items, before)


# ---------------------------------------------------------------- ΔFS


def test_progression_rate_from_visit_table_counts_months_since_onset_at_the_visit():
    visits = pd.DataFrame(
        {
            "alsfrs_r": [36.0, 30.0, NAN, 48.0],
            "symptom_onset_months": [10.0, 10.0, 10.0, 6.0],
            "years": [0.0, 0.5, 1.0, 0.0],
        },
        index=[10, 11, 12, 13],
    )
    rate = progression_rate(visits)
    # (48-36)/10, (48-30)/(10+6), NaN, (48-48)/6 — worked by hand; positive = decline
    assert rate.name == "delta_fs"
    assert list(rate.index) == [10, 11, 12, 13]
    np.testing.assert_allclose(rate.to_numpy(), [1.2, 18 / 16, NAN, 0.0], rtol=0, atol=1e-15)


def test_progression_rate_direct_and_errors():
    direct = progression_rate(alsfrs_r=pd.Series([40.0, 24.0], index=["a", "b"]),
                              months_since_onset=[16.0, 12.0])  # fmt: skip
    assert direct.to_dict() == {"a": 0.5, "b": 2.0}
    with pytest.raises(als.DataValidationError, match=r"months since symptom onset.*0\.0"):
        progression_rate(alsfrs_r=[40.0], months_since_onset=[0.0])
    with pytest.raises(als.DataValidationError,
                       match=r"column 'alsfrs_r' must be >= 0 and <= 48.*49"):
        progression_rate(alsfrs_r=[49.0], months_since_onset=[3.0])
    with pytest.raises(als.DataValidationError, match="symptom_onset_months"):
        progression_rate(pd.DataFrame({"alsfrs_r": [40.0], "years": [0.0]}))
    with pytest.raises(TypeError):
        progression_rate()
    with pytest.raises(TypeError):
        progression_rate(pd.DataFrame({"alsfrs_r": [40.0]}), alsfrs_r=[40.0])
    with pytest.raises(ValueError, match="2 values"):
        progression_rate(alsfrs_r=[40.0, 41.0], months_since_onset=[3.0])


# ---------------------------------------------------------------- MiToS (Chiò 2015)

MITOS_CASES = [
    # (description, items, stage) — every stage worked out by hand from the four rules
    ("all normal", row(), 0),
    ("speech lost, handwriting 2: communication needs both (AND)", row(i1=1, i4=2), 0),
    ("handwriting lost, speech 2: AND again", row(i1=2, i4=0), 0),
    ("speech and handwriting both <= 1: communication lost", row(i1=1, i4=1), 1),
    ("walking 1: walking/self-care lost", row(i8=1), 1),
    ("dressing 1: walking/self-care lost (OR)", row(i6=1), 1),
    ("walking 0 and dressing 0 count one domain", row(i8=0, i6=0), 1),
    ("walking 2, dressing 2: kept", row(i8=2, i6=2), 0),
    ("swallowing 1: lost", row(i3=1), 1),
    ("swallowing 2: kept", row(i3=2), 0),
    ("dyspnoea 1: breathing lost", row(i10=1), 1),
    ("dyspnoea 2: kept", row(i10=2), 0),
    ("respiratory insufficiency 2: breathing lost", row(i12=2), 1),
    ("respiratory insufficiency 3: kept", row(i12=3), 0),
    ("items outside the rules do not count", row(i2=0, i5a=0, i7=0, i9=0, i11=0), 0),
    ("swallowing + breathing + communication", row(i3=0, i12=2, i1=1, i4=0, i8=3), 3),
    ("everything lost", row(**{f"i{k}": 0 for k in (1, 2, 3, 4, "5a", 6, 7, 8, 9, 10, 11, 12)}), 4),
    ("gastrostomy row: 5b does not enter MiToS", row(gastrostomy=0, i3=1), 1),
]


def test_mitos_stage_row_by_row():
    items = table([case[1] for case in MITOS_CASES])
    stage = mitos_stage(items)
    assert stage.name == "mitos_stage"
    for (description, _, expected), got in zip(MITOS_CASES, stage.tolist(), strict=True):
        assert got == expected, description


def test_mitos_missing_needed_item_gives_nan_but_unneeded_item_does_not():
    stage = mitos_stage(table([row(i12=NAN), row(i2=NAN, i1=0, i4=1)]))
    assert np.isnan(stage.iloc[0])
    assert stage.iloc[1] == 1.0


# ---------------------------------------------------------------- King's (Balendra 2014)

KINGS_CASES = [
    ("no region involved by the item rules: stage 1 (documented)", row(), "1"),
    ("salivation 3: bulbar", row(i2=3), "1"),
    ("bulbar + upper limb via 5a", row(i2=3, i5a=3), "2"),
    ("upper limb via handwriting only", row(i4=2), "1"),
    ("lower limb via walking only", row(i8=3), "1"),
    ("three regions", row(i1=3, i4=2, i8=3), "3"),
    ("items 6, 7, 9, 11 do not define regions", row(i6=0, i7=0, i9=0, i11=0), "1"),
    ("upper + lower", row(i5a=0, i8=0), "2"),
    ("gastrostomy (5b answered): 4A", row(gastrostomy=4), "4A"),
    ("gastrostomy with all regions involved is still 4A", row(gastrostomy=0, i1=0, i8=0), "4A"),
    ("gastrostomy and respiratory insufficiency 3: 4B over 4A", row(gastrostomy=2, i12=3), "4B"),
    ("gastrostomy and dyspnoea 0: 4B over 4A", row(gastrostomy=2, i10=0), "4B"),
    ("respiratory insufficiency 3 without gastrostomy: 4B", row(i12=3), "4B"),
    ("dyspnoea 1 is not 4B", row(i10=1), "1"),
    ("dyspnoea 1 with bulbar + lower limb", row(i10=1, i3=2, i8=1), "2"),
]


def test_kings_stage_row_by_row():
    items = table([case[1] for case in KINGS_CASES])
    stage = kings_stage(items)
    assert stage.name == "kings_stage"
    for (description, _, expected), got in zip(KINGS_CASES, stage.tolist(), strict=True):
        assert got == expected, description


def test_kings_missing_items():
    stage = kings_stage(
        table(
            [
                row(i10=NAN),  # cannot rule out 4B
                row(i10=NAN, i12=3),  # 4B whatever item 10 says
                row(i10=0, i12=NAN, i1=NAN),  # 4B by item 10 alone
                row(i8=NAN),  # regions unknown
                row(i8=NAN, gastrostomy=3),  # 4A needs no regions
            ]
        )
    )
    assert stage.tolist() == [None, "4B", "4B", None, "4A"]


def test_staging_on_a_simulated_cohort_agrees_with_a_row_loop():
    visits = simulate_cohort(seed=5, n_als=60, n_controls=5)
    items = visits[visits["group"] == "ALS"]
    mitos = mitos_stage(items)
    kings = kings_stage(items)
    assert (alsfrs_total(items) == items["alsfrs_r"]).all()
    # An independent, deliberately literal per-row reading of the two papers' rules.
    for (_, r), m, k in zip(items.iterrows(), mitos, kings, strict=True):
        lost = int(r.alsfrs_8 <= 1 or r.alsfrs_6 <= 1) + int(r.alsfrs_3 <= 1)
        lost += int(r.alsfrs_1 <= 1 and r.alsfrs_4 <= 1) + int(r.alsfrs_10 <= 1 or r.alsfrs_12 <= 2)
        assert m == lost
        if r.alsfrs_10 == 0 or r.alsfrs_12 < 4:
            expected = "4B"
        elif not np.isnan(r.alsfrs_5b):
            expected = "4A"
        else:
            regions = int(min(r.alsfrs_1, r.alsfrs_2, r.alsfrs_3) < 4)
            regions += int(r.alsfrs_4 < 4 or r.alsfrs_5a < 4) + int(r.alsfrs_8 < 4)
            expected = str(max(regions, 1))
        assert k == expected
    assert set(kings) >= {"2", "3", "4A", "4B"}
    assert mitos.max() >= 2
