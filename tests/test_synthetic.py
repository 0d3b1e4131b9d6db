"""Synthetic cohorts: contract, reproducibility, shipped files and recovery of the stated truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from alsstats import cli
from alsstats.data import read_visits, validate_visits
from alsstats.synthetic import (
    DEFAULT_PARAMETERS,
    VISIT_COLUMNS,
    _csv_text,
    _truth_text,
    load_example_cohort,
    simulate_cohort,
    write_cohort,
)

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "synthetic"
ITEMS_12 = ["alsfrs_1", "alsfrs_2", "alsfrs_3", "alsfrs_4", "alsfrs_6", "alsfrs_7", "alsfrs_8",
            "alsfrs_9", "alsfrs_10", "alsfrs_11", "alsfrs_12"]  # fmt: skip


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return simulate_cohort(seed=0)


@pytest.fixture(scope="module")
def big() -> pd.DataFrame:
    """A large cohort without dropout, for checking the truth against simple estimators."""
    return simulate_cohort(seed=11, n_als=8000, n_controls=8000, dropout=0.0)


def subject_slopes(visits: pd.DataFrame, column: str) -> pd.DataFrame:
    """Per-subject least-squares slope of ``column`` on years (subjects with >= 2 visits)."""
    g = visits.groupby("subject", sort=False)
    t = visits["years"] - g["years"].transform("mean")
    y = visits[column] - g[column].transform("mean")
    sums = (
        pd.DataFrame({"sxy": t * y, "sxx": t * t, "subject": visits["subject"]})
        .groupby("subject", sort=False)[["sxy", "sxx"]]
        .sum()
    )
    first = g.first()
    out = first.assign(slope=sums["sxy"] / sums["sxx"], n=g.size())
    return out[out["n"] >= 2]


def mean_and_se(values: pd.Series) -> tuple[float, float]:
    return float(values.mean()), float(values.std(ddof=1) / np.sqrt(len(values)))


# ---------------------------------------------------------------- the contract


def test_default_cohort_passes_the_contract_with_canonical_dtypes(cohort):
    assert list(cohort.columns) == list(VISIT_COLUMNS)
    pd.testing.assert_frame_equal(validate_visits(cohort), cohort, check_exact=True)
    assert cohort["group"].cat.categories.tolist() == ["control", "ALS"]
    assert cohort["sex"].cat.categories.tolist() == ["F", "M"]
    counts = cohort.groupby("group", observed=True)["subject"].nunique()
    assert counts.to_dict() == {"control": 207, "ALS": 232}
    assert cohort["subject"].iloc[0] == "ALS001" and cohort["subject"].iloc[-1] == "CTL207"
    assert set(cohort["site"]) == {"EDM", "CGY", "MTL", "TOR", "VAN"}


def test_csv_round_trip_reproduces_the_frame(cohort, tmp_path):
    (tmp_path / "v.csv").write_text(_csv_text(cohort))
    pd.testing.assert_frame_equal(read_visits(tmp_path / "v.csv"), cohort, check_exact=True)


def test_visit_structure(cohort):
    g = cohort.groupby("subject", sort=False)
    assert (g["years"].first() == 0.0).all()
    assert (g["years"].apply(lambda s: s.is_monotonic_increasing)).all()
    n_visit = g.cumcount().to_numpy()
    planned = np.array([0.0, 4.0, 8.0])[n_visit] / 12
    assert np.abs(cohort["years"] - planned).max() <= 14 / 365.25 + 5e-5
    assert (cohort["years"] == cohort["years"].round(4)).all()
    assert (cohort["wmh_mm3"] == cohort["wmh_mm3"].round(1)).all()
    assert (cohort["flair_cst"] == cohort["flair_cst"].round(4)).all()
    is_als = (cohort["group"] == "ALS").to_numpy()
    # no ALS visit after death or censoring
    assert (12 * cohort.loc[is_als, "years"] <= cohort.loc[is_als, "survival_months"]).all()
    for column in ["phenotype", "alsfrs_r", "umn_score", "symptom_onset_months",
                   "survival_months", "event", *ITEMS_12]:  # fmt: skip
        assert cohort.loc[~is_als, column].isna().all(), column
        assert cohort.loc[is_als, column].notna().all(), column
    assert cohort["ecas_executive"].notna().all() and cohort["wmh_mm3"].notna().all()
    assert set(cohort.loc[is_als, "phenotype"]) == {"classic", "PLS", "flail_arm"}
    assert cohort["umn_score"].between(0, 16).all() or cohort["umn_score"].isna().any()
    assert cohort["ecas_executive"].between(0, 48).all()


def test_items_sum_to_total_with_exactly_one_of_5a_5b(cohort):
    als_rows = cohort[cohort["group"] == "ALS"]
    five_a, five_b = als_rows["alsfrs_5a"].notna(), als_rows["alsfrs_5b"].notna()
    assert (five_a ^ five_b).all()
    assert five_b.sum() > 0
    total = als_rows[ITEMS_12].sum(axis=1) + als_rows["alsfrs_5a"].fillna(als_rows["alsfrs_5b"])
    assert (total == als_rows["alsfrs_r"]).all()
    assert als_rows[[*ITEMS_12, "alsfrs_5a", "alsfrs_5b"]].stack().between(0, 4).all()
    # a gastrostomy stays: once 5b, always 5b
    became = five_b.astype(int).groupby(als_rows["subject"]).diff().dropna()
    assert (became >= 0).all()
    # items fall with the total: each item is monotone in the total within a subject
    diffs = als_rows.groupby("subject")[[*ITEMS_12, "alsfrs_r"]].diff().dropna()
    falling = diffs["alsfrs_r"] <= 0
    assert (diffs.loc[falling, ITEMS_12] <= 0).all().all()


def test_survival_has_ties_and_subjects_censored_before_24_months(cohort):
    subjects = cohort[cohort["group"] == "ALS"].groupby("subject").first()
    truth = cohort.attrs["truth"]
    assert (subjects["survival_months"] == subjects["survival_months"].round()).all()
    assert subjects["survival_months"].duplicated().any()
    unclassified = (subjects["event"] == 0) & (subjects["survival_months"] <= 24)
    assert unclassified.sum() == truth["sample"]["n_censored_by_cutoff"] > 0
    assert subjects["event"].sum() == truth["sample"]["n_deaths_observed"]
    # the short survivors are exactly those dying by 24 months, so the realised share
    # is bounded by what the table shows: observed short <= true short <= short + unclassified
    observed_short = ((subjects["event"] == 1) & (subjects["survival_months"] <= 24)).sum()
    assert observed_short <= truth["sample"]["n_short_true"]
    assert truth["sample"]["n_short_true"] <= observed_short + unclassified.sum()


def test_truth_is_json_and_counts_add_up(cohort):
    truth = cohort.attrs["truth"]
    assert json.loads(_truth_text(truth)) == truth
    assert truth["seed"] == 0
    effects = truth["effects"]
    assert effects["wmh_slope_als_minus_control"] == 911.5
    assert effects["wmh_slope_short_minus_long"] == 1006.0
    assert effects["alsfrs_per_wmh_mm3"] == -0.002
    assert effects["alsfrs_per_500_mm3"] == -1.0
    assert effects["flair_cst_slope_als_minus_control"] == 0.02
    share = truth["sample"]["share_short_als"]
    assert effects["wmh_slope_als_minus_control_sample"] == pytest.approx(
        911.5 + 1006 * (share - 0.4), abs=1e-6
    )
    assert set(DEFAULT_PARAMETERS) <= set(truth["parameters"])
    counts = truth["counts"]
    assert counts["visits_kept"] == len(cohort)
    assert counts["visits_planned"] == 3 * 439
    dropped = (counts["visits_dropped_after_death"] + counts["visits_dropped_after_censoring"]
               + counts["visits_dropped_dropout"])  # fmt: skip
    assert dropped == counts["visits_planned"] - counts["visits_kept"]
    assert counts["visits_dropped_after_death"] > 0 and counts["visits_dropped_dropout"] > 0
    assert counts["alsfrs_rows"] == cohort["alsfrs_r"].notna().sum()
    assert sorted(truth["site_effects"]["wmh_mm3"]) == sorted(truth["arguments"]["sites"])
    assert sum(truth["site_effects"]["wmh_mm3"].values()) == pytest.approx(0.0, abs=1e-6)


# ---------------------------------------------------------------- reproducibility and files


def test_same_seed_same_bytes_other_seed_other_table():
    first, second = simulate_cohort(seed=3), simulate_cohort(seed=3)
    assert _csv_text(first) == _csv_text(second)
    assert _truth_text(first.attrs["truth"]) == _truth_text(second.attrs["truth"])
    assert _csv_text(simulate_cohort(seed=4)) != _csv_text(first)


def test_committed_files_equal_a_fresh_regeneration(cohort, tmp_path):
    assert (SHIPPED / "visits.csv").read_bytes() == _csv_text(cohort).encode()
    assert (SHIPPED / "truth.json").read_bytes() == _truth_text(cohort.attrs["truth"]).encode()
    assert cli.main(["simulate", "--seed", "0", "--out", str(tmp_path / "new")]) == 0
    for name in ("visits.csv", "truth.json"):
        assert (tmp_path / "new" / name).read_bytes() == (SHIPPED / name).read_bytes(), name


def test_write_cohort_returns_paths_and_leaves_no_temporary_files(tmp_path):
    out = tmp_path / "a" / "b"
    written = write_cohort(out, seed=2)
    assert written == [out / "visits.csv", out / "truth.json"]
    assert sorted(p.name for p in out.iterdir()) == ["truth.json", "visits.csv"]
    assert json.loads(written[1].read_text())["seed"] == 2
    write_cohort(out, seed=2)  # replacing works
    assert sorted(p.name for p in out.iterdir()) == ["truth.json", "visits.csv"]


def test_load_example_cohort_is_the_shipped_file_and_a_fresh_copy():
    shipped = read_visits(SHIPPED / "visits.csv")
    example = load_example_cohort()
    pd.testing.assert_frame_equal(example, shipped, check_exact=True)
    assert example.attrs["truth"] == json.loads((SHIPPED / "truth.json").read_text())
    example.loc[0, "wmh_mm3"] = -1.0
    example.attrs["truth"]["seed"] = 99
    again = load_example_cohort()
    assert again.loc[0, "wmh_mm3"] == shipped.loc[0, "wmh_mm3"]
    assert again.attrs["truth"]["seed"] == 0


# ---------------------------------------------------------------- arguments


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"seed": -1}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"n_als": 0}, "n_als"),
        ({"n_controls": 2.0}, "n_controls"),
        ({"visit_months": (1, 4)}, "start with the baseline 0"),
        ({"visit_months": (0, 0.5)}, "at least 1 month"),
        ({"visit_months": "048"}, "visit_months"),
        ({"dropout": 1.0}, "dropout"),
        ({"sites": "EDM"}, "sites"),
        ({"sites": ("EDM", "EDM")}, "unique"),
        ({"params": {"wmh_slop": 1.0}}, r"unknown parameter\(s\) \['wmh_slop'\]"),
        ({"params": {"p_short": 1.0}}, "p_short"),
        ({"params": {"wmh_u0_sd": -1.0}}, "wmh_u0_sd"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        simulate_cohort(**kwargs)


def test_params_override_and_other_designs():
    visits = simulate_cohort(
        seed=1, n_als=1000, n_controls=3, visit_months=(0, 6, 12, 24), sites=("A", "B"),
        params={"wmh_slope_als_minus_control": 0.0},
    )  # fmt: skip
    assert visits.attrs["truth"]["effects"]["wmh_slope_als_minus_control"] == 0.0
    assert visits["subject"].iloc[0] == "ALS0001" and visits["subject"].iloc[-1] == "CTL0003"
    assert visits.groupby("subject").size().max() == 4
    assert set(visits["site"]) == {"A", "B"}
    validate_visits(visits)


def test_negative_wmh_is_redrawn_not_clipped():
    params = {"wmh_intercept": 3000.0, "wmh_age": 0.0}
    visits = simulate_cohort(seed=2, n_als=200, n_controls=200, params=params)
    assert visits.attrs["truth"]["counts"]["wmh_subjects_redrawn"] > 0
    assert (visits["wmh_mm3"] >= 0).all()
    # clipping would pile values at exactly 0
    assert (visits["wmh_mm3"] == 0).sum() <= 1
    with pytest.raises(ValueError, match="negative after 1000 redraws"):
        simulate_cohort(seed=2, n_als=5, n_controls=5, params={"wmh_intercept": -1e6})


# ---------------------------------------------------------------- the stated truth, recovered


def test_wmh_slopes_recover_911_5_and_1006(big):
    truth = big.attrs["truth"]["effects"]
    slopes = subject_slopes(big, "wmh_mm3")
    control = slopes.loc[slopes["group"] == "control", "slope"]
    als_slopes = slopes[slopes["group"] == "ALS"]
    short = als_slopes.loc[(als_slopes["event"] == 1) & (als_slopes["survival_months"] <= 24)]
    long = als_slopes.loc[als_slopes["survival_months"] > 24]
    (m_s, se_s), (m_l, se_l), (m_c, se_c) = map(
        mean_and_se, (short["slope"], long["slope"], control)
    )
    # short-minus-long: the slope does not depend on T beyond short_i, so visits lost to
    # death do not bias these per-subject slopes
    diff, se = m_s - m_l, np.hypot(se_s, se_l)
    assert abs(diff - truth["wmh_slope_short_minus_long"]) < 4 * se
    assert se < 40
    # ALS minus control: reweight short and long at the population share p_short
    p = truth["p_short"]
    als_mean = p * m_s + (1 - p) * m_l
    se_diff = np.sqrt((p * se_s) ** 2 + ((1 - p) * se_l) ** 2 + se_c**2)
    assert abs(als_mean - m_c - truth["wmh_slope_als_minus_control"]) < 4 * se_diff
    assert abs(m_c - truth["wmh_slope_control"]) < 4 * se_c
    # and the stated realised share is the sample's
    assert big.attrs["truth"]["sample"]["share_short_als"] == pytest.approx(p, abs=4 * 0.0055)


def test_alsfrs_per_wmh_mm3_is_recovered_at_baseline():
    # keep ALSFRS-R off its ceiling so that the linear truth holds exactly (no clipping)
    params = {"alsfrs_baseline_min": 30.0, "alsfrs_baseline_max": 32.0}
    visits = simulate_cohort(seed=5, n_als=10000, n_controls=1, visit_months=(0,), params=params)
    counts = visits.attrs["truth"]["counts"]
    assert counts["alsfrs_clipped_at_48"] == counts["alsfrs_clipped_at_0"] == 0
    base = visits[(visits["group"] == "ALS") & (visits["years"] == 0)]
    x = base["wmh_mm3"] - base["wmh_mm3"].mean()
    y = base["alsfrs_r"] - base["alsfrs_r"].mean()
    beta = float((x * y).sum() / (x * x).sum())
    resid = y - beta * x
    se = float(np.sqrt((resid**2).sum() / (len(x) - 2) / (x * x).sum()))
    assert abs(beta - (-0.002)) < 4 * se
    assert se < 2e-5


def test_default_ceiling_is_rare_and_counted(big):
    counts = big.attrs["truth"]["counts"]
    at_48 = (big["alsfrs_r"] == 48).sum()
    assert counts["alsfrs_clipped_at_48"] <= at_48
    assert counts["alsfrs_clipped_at_48"] < 0.02 * counts["alsfrs_rows"]


def test_flair_umn_and_executive_relations(big):
    truth = big.attrs["truth"]["effects"]
    slopes = subject_slopes(big, "flair_cst")
    by_group = slopes.groupby("group", observed=True)["slope"]
    se = float(np.sqrt((by_group.var() / by_group.size()).sum()))
    diff = by_group.mean()["ALS"] - by_group.mean()["control"]
    assert abs(diff - truth["flair_cst_slope_als_minus_control"]) < 4 * se
    cc = subject_slopes(big, "flair_cc").groupby("group", observed=True)["slope"].mean()
    assert cc["ALS"] - cc["control"] == pytest.approx(truth["flair_cc_slope_als"], abs=0.004)

    base = big[big["years"] == 0]
    cst = base.groupby("phenotype")["flair_cst"].mean()
    assert cst["PLS"] > cst["classic"] > cst["flail_arm"]
    control_cst = base.loc[base["group"] == "control", "flair_cst"].mean()
    expected = truth["flair_cst_by_phenotype_minus_control"]
    for phenotype in ("classic", "PLS", "flail_arm"):
        assert cst[phenotype] - control_cst == pytest.approx(expected[phenotype], abs=0.004)

    umn = base.groupby("phenotype")["umn_score"].mean()
    assert umn["PLS"] > umn["classic"] > umn["flail_arm"]
    als_base = base[base["group"] == "ALS"]
    assert np.corrcoef(als_base["umn_score"], als_base["flair_cst"])[0, 1] > 0.1

    ecas = subject_slopes(big, "ecas_executive")
    ecas_by_group = ecas.groupby("group", observed=True)["slope"].mean()
    assert ecas_by_group["ALS"] < ecas_by_group["control"] - 0.5
    cc_slopes = subject_slopes(big, "flair_cc")["slope"]
    assert np.corrcoef(ecas["slope"], cc_slopes.loc[ecas.index])[0, 1] < -0.05


def test_dropout_is_monotone_and_at_the_stated_rate():
    visits = simulate_cohort(seed=8, n_als=10, n_controls=6000, dropout=0.25)
    controls = visits[visits["group"] == "control"]
    per_subject = controls.groupby("subject").size()
    # monotone dropout: P(3 visits) = 0.75^2, P(2) = 0.75 * 0.25, P(1) = 0.25
    shares = per_subject.value_counts(normalize=True).sort_index()
    expected = np.array([0.25, 0.75 * 0.25, 0.75**2])
    assert np.abs(shares.to_numpy() - expected).max() < 4 * np.sqrt(0.25 * 0.75 / 6000)
    n_visit = controls.groupby("subject").cumcount()
    months = (controls["years"] * 12).round()
    assert (months == np.array([0, 4, 8])[n_visit]).all()  # a missed visit is never skipped over


def test_truth_is_returned_and_still_in_attrs_for_one_release():
    from alsstats.synthetic import load_example_cohort, simulate_cohort

    visits, truth = simulate_cohort(seed=3, n_als=15, n_controls=12, return_truth=True)
    again = simulate_cohort(seed=3, n_als=15, n_controls=12)
    pd.testing.assert_frame_equal(visits, again)
    assert truth == again.attrs["truth"]  # deprecated place, kept one release
    assert truth["seed"] == 3 and truth["counts"]["subjects"] == 27
    assert truth["counts"]["visits_kept"] == len(visits)

    example, example_truth = load_example_cohort(return_truth=True)
    assert example_truth == json.loads((SHIPPED / "truth.json").read_text())
    example_truth["seed"] = 99  # a fresh copy: the next call is unaffected
    assert load_example_cohort(return_truth=True)[1]["seed"] == 0
    pd.testing.assert_frame_equal(example, load_example_cohort())
