"""Tests of alsstats.plotting: what is drawn equals the tables given, nothing is computed."""

from __future__ import annotations

import doctest

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection, PolyCollection  # noqa: E402

import alsstats.plotting as plotting  # noqa: E402
from alsstats.errors import DataValidationError  # noqa: E402
from alsstats.formatting import format_p_value  # noqa: E402
from alsstats.plotting import (  # noqa: E402
    OKABE_ITO,
    PALETTE,
    axis_label,
    group_colours,
    legend_texts,
    plot_association,
    plot_forest,
    plot_kaplan_meier,
    plot_spaghetti,
    plot_trajectories,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture
def visits() -> pd.DataFrame:
    # Rows deliberately out of time order; s4 has one visit, s2 a missing WMH value.
    return pd.DataFrame(
        {
            "subject": ["s1", "s1", "s1", "s2", "s2", "s2", "s3", "s3", "s4", "s5", "s5"],
            "years": [1.0, 0.0, 2.0, 0.0, 1.0, 1.5, 0.0, 1.2, 0.0, 0.0, 0.8],
            "group": ["ALS"] * 6 + ["control"] * 2 + ["ALS"] + ["control"] * 2,
            "wmh_mm3": [3900.0, 3000.0, 4800.0, 2500.0, np.nan, 3300.0, 2800.0, 2900.0,
                        5100.0, 1500.0, 1550.0],
            "alsfrs_r": [40.0, 42.0, 37.0, 44.0, 43.0, 41.0, np.nan, np.nan, 35.0, np.nan,
                         np.nan],
            "flair_cst": [1.12, 1.10, 1.15, 1.08, 1.09, 1.10, 1.05, 1.06, 1.13, 1.04, 1.05],
            "survival_group": ["short"] * 3 + ["long"] * 3 + ["long"] * 2 + ["short"] + ["long"] * 2,
        }
    )  # fmt: skip


@pytest.fixture
def fit() -> pd.DataFrame:
    years = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    parts = []
    for group, slope in (("ALS", 900.0), ("control", 100.0)):
        estimate = 3000.0 + slope * years
        parts.append(pd.DataFrame({"years": years, "group": group, "estimate": estimate,
                                   "ci_low": estimate - 300.0 - 50.0 * years,
                                   "ci_high": estimate + 250.0 + 70.0 * years}))  # fmt: skip
    # Shuffled so that the plot must sort by x itself.
    return pd.concat(parts, ignore_index=True).iloc[[3, 0, 4, 1, 2, 9, 5, 8, 6, 7]]


@pytest.fixture
def association_fit() -> pd.DataFrame:
    wmh = np.array([1000.0, 3000.0, 5000.0])
    estimate = 45.0 - wmh / 500.0
    return pd.DataFrame({"wmh_mm3": wmh, "estimate": estimate, "ci_low": estimate - 2.0,
                         "ci_high": estimate + 1.5})  # fmt: skip


def _km_by_hand() -> pd.DataFrame:
    """Kaplan-Meier tables worked out by hand.

    Group A: times 2 (event), 4 (censored), 5 (event), 7 (event), 9 (censored):
    S = 4/5 = 0.8 at 2, 0.8 * 2/3 at 5, 0.8 * 2/3 * 1/2 at 7.
    Group B: times 1 (event), 3 (event), 6 (censored), 8 (censored):
    S = 3/4 at 1, 3/4 * 2/3 = 0.5 at 3.
    The CI columns are arbitrary inputs: the plot must draw them as given.
    """
    a = pd.DataFrame({
        "time": [2.0, 4.0, 5.0, 7.0, 9.0], "n_risk": [5, 4, 3, 2, 1],
        "n_event": [1, 0, 1, 1, 0], "n_censor": [0, 1, 0, 0, 1],
        "survival": [0.8, 0.8, 0.8 * 2 / 3, 0.8 / 3, 0.8 / 3],
        "ci_low": [0.52, 0.51, 0.31, 0.08, 0.07], "ci_high": [1.0, 0.99, 0.91, 0.62, 0.61],
        "arm": "A"})  # fmt: skip
    b = pd.DataFrame({
        "time": [1.0, 3.0, 6.0, 8.0], "n_risk": [4, 3, 2, 1], "n_event": [1, 1, 0, 0],
        "n_censor": [0, 0, 1, 1], "survival": [0.75, 0.5, 0.5, 0.5],
        "ci_low": [0.41, 0.17, 0.16, 0.15], "ci_high": [1.0, 0.93, 0.92, 0.91], "arm": "B"})  # fmt: skip
    return pd.concat([a, b], ignore_index=True)


@pytest.fixture
def km() -> pd.DataFrame:
    return _km_by_hand()


@pytest.fixture
def coefficients() -> pd.DataFrame:
    return pd.DataFrame(
        {"estimate": [3000.0, 911.5, 102.0, -150.0], "ci_low": [2500.0, 700.25, -30.0, -420.0],
         "ci_high": [3500.0, 1122.75, 234.0, 120.0], "p_value": [1e-9, 2e-7, 0.13, 0.28]},
        index=pd.Index(["Intercept", "groupALS:years", "years", "sexM"], name="term"),
    )  # fmt: skip


def _by_gid(ax, gid: str) -> list:
    return [artist for artist in ax.get_children() if artist.get_gid() == gid]


def _one(ax, gid: str):
    found = _by_gid(ax, gid)
    assert len(found) == 1, f"expected one artist with gid {gid!r}, found {len(found)}"
    return found[0]


def _polygon_points(collection) -> set[tuple[float, float]]:
    vertices = np.concatenate([path.vertices for path in collection.get_paths()])
    return {(float(x), float(y)) for x, y in vertices}


def _draw(ax) -> None:
    ax.figure.canvas.draw()


# --------------------------------------------------------------------------------------------
# every function: the Axes given comes back, a new one is made without, inputs stay unchanged


def _calls(visits, fit, association_fit, km, coefficients):
    return {
        "trajectories": lambda ax: plot_trajectories(visits, fit=fit, ax=ax),
        "association": lambda ax: plot_association(
            visits.loc[visits["group"] == "ALS"], fit=association_fit, ax=ax),
        "kaplan_meier": lambda ax: plot_kaplan_meier(km, by="arm", ax=ax),
        "forest": lambda ax: plot_forest(coefficients, ax=ax),
        "spaghetti": lambda ax: plot_spaghetti(visits, "flair_cst", by="group", ax=ax),
    }  # fmt: skip


@pytest.mark.parametrize(
    "name", ["trajectories", "association", "kaplan_meier", "forest", "spaghetti"]
)
def test_returns_the_axes_given_and_leaves_inputs_alone(
    name, visits, fit, association_fit, km, coefficients
):
    frames = [visits, fit, association_fit, km, coefficients]
    before = [frame.copy(deep=True) for frame in frames]
    call = _calls(visits, fit, association_fit, km, coefficients)[name]
    _, ax = plt.subplots()
    assert call(ax) is ax
    new_ax = call(None)
    assert new_ax is not ax and new_ax.figure is not ax.figure
    for frame, copy in zip(frames, before, strict=True):
        pd.testing.assert_frame_equal(frame, copy)


# --------------------------------------------------------------------------------------------
# trajectories and spaghetti


def test_one_line_per_subject_in_each_group_with_the_visits_in_time_order(visits):
    ax = plot_trajectories(visits, fit=None)
    collections = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert sorted(c.get_gid() for c in collections) == ["subjects:ALS", "subjects:control"]
    for group in ("ALS", "control"):
        lines = _one(ax, f"subjects:{group}")
        rows = visits.loc[(visits["group"] == group) & visits["wmh_mm3"].notna()]
        expected = {
            subject: part.sort_values("years")[["years", "wmh_mm3"]].to_numpy()
            for subject, part in rows.groupby("subject")
        }
        segments = lines.get_segments()
        assert len(segments) == visits.loc[visits["group"] == group, "subject"].nunique()
        drawn = sorted(tuple(map(tuple, s)) for s in segments)
        assert drawn == sorted(tuple(map(tuple, v)) for v in expected.values())
        assert matplotlib.colors.to_hex(lines.get_colors()[0]) == PALETTE[group].lower()


def test_single_visit_subject_is_drawn_as_a_point(visits):
    ax = plot_trajectories(visits)
    points = _one(ax, "subject_points:ALS")
    assert isinstance(points, PathCollection)
    np.testing.assert_array_equal(points.get_offsets(), [[0.0, 5100.0]])


def test_fit_line_and_band_equal_the_fit_table(visits, fit):
    ax = plot_trajectories(visits, fit=fit)
    for group in ("ALS", "control"):
        rows = fit.loc[fit["group"] == group].sort_values("years")
        line = _one(ax, f"fit:{group}")
        np.testing.assert_array_equal(line.get_xdata(), rows["years"])
        np.testing.assert_array_equal(line.get_ydata(), rows["estimate"])
        band = _one(ax, f"ci:{group}")
        assert isinstance(band, PolyCollection)
        expected = {(x, lo) for x, lo in zip(rows["years"], rows["ci_low"], strict=True)}
        expected |= {(x, hi) for x, hi in zip(rows["years"], rows["ci_high"], strict=True)}
        assert _polygon_points(band) == expected
    assert len([c for c in ax.collections if isinstance(c, PolyCollection)
                and not isinstance(c, PathCollection)]) == 2  # fmt: skip
    assert len([line for line in ax.lines if (line.get_gid() or "").startswith("fit:")]) == 2


def test_survival_groups_take_their_fixed_colours_and_legend_counts(visits):
    ax = plot_trajectories(visits, by="survival_group")
    for level in ("short", "long"):
        colour = _one(ax, f"subjects:{level}").get_colors()[0]
        assert matplotlib.colors.to_hex(colour) == PALETTE[level].lower()
    texts = legend_texts(ax)
    # short: s1, s4; long: s2, s3, s5 -- listed in the palette's order; then what the marks
    # are (s4 has one visit, drawn as a dot)
    assert texts == ["Short survivors (n = 2)", "Long survivors (n = 3)",
                     "Subjects (thin lines)", "Subjects with one visit (dots)"]


def test_categorical_order_decides_the_legend(visits):
    ordered = visits.assign(group=pd.Categorical(visits["group"], ["control", "ALS"]))
    ax = plot_trajectories(ordered)
    assert legend_texts(ax)[:2] == [
        "Controls (n = 2)", "ALS (n = 3)"
    ]  # fmt: skip


def test_ungrouped_fit_is_one_black_line(visits, fit):
    one = fit.loc[fit["group"] == "ALS"].drop(columns="group")
    ax = plot_trajectories(visits, by=None, fit=one)
    assert len(_one(ax, "subjects:None").get_segments()) == 5
    line = _one(ax, "fit:None")
    assert matplotlib.colors.to_hex(line.get_color()) == OKABE_ITO["black"].lower()
    # no groups to name: the legend says what the line, the band and the thin lines are
    assert legend_texts(ax) == [
        "Model mean (line), CI (band)", "Subjects (thin lines; n = 5)",
        "Subjects with one visit (dots)"]


def test_spaghetti_marks_every_drawn_visit(visits):
    ax = plot_spaghetti(visits, "wmh_mm3", by="group")
    drawn = visits.loc[visits["wmh_mm3"].notna()]
    for group in ("ALS", "control"):
        offsets = _one(ax, f"subject_points:{group}").get_offsets()
        rows = drawn.loc[drawn["group"] == group]
        assert sorted(map(tuple, offsets)) == sorted(
            zip(rows["years"], rows["wmh_mm3"], strict=True)
        )
    assert ax.get_ylabel() == "WMH volume (mm³)"


def test_legend_sits_above_the_axes(visits, fit):
    ax = plot_trajectories(visits, fit=fit)
    _draw(ax)
    renderer = ax.figure.canvas.get_renderer()
    legend_box = ax.get_legend().get_window_extent(renderer)
    assert legend_box.y0 >= ax.get_window_extent(renderer).y1 - 1e-6


# --------------------------------------------------------------------------------------------
# association


def test_association_points_and_fit(visits, association_fit):
    als = visits.loc[visits["group"] == "ALS"]
    ax = plot_association(als, fit=association_fit)
    complete = als.dropna(subset=["wmh_mm3", "alsfrs_r"])
    np.testing.assert_array_equal(
        _one(ax, "points:None").get_offsets(), complete[["wmh_mm3", "alsfrs_r"]].to_numpy()
    )
    band = _one(ax, "ci:None")
    expected = {(x, y) for x, y in zip(association_fit["wmh_mm3"], association_fit["ci_low"],
                                       strict=True)}  # fmt: skip
    expected |= {(x, y) for x, y in zip(association_fit["wmh_mm3"], association_fit["ci_high"],
                                        strict=True)}  # fmt: skip
    assert _polygon_points(band) == expected
    assert ax.get_xlabel() == "WMH volume (mm³)"
    assert ax.get_ylabel() == "ALSFRS-R total (points)"


def test_association_by_group_needs_group_in_fit(visits, association_fit):
    with pytest.raises(DataValidationError, match="'survival_group' is missing from fit"):
        plot_association(visits, by="survival_group", fit=association_fit)
    by_group = pd.concat([association_fit.assign(survival_group="short"),
                          association_fit.assign(survival_group="long", estimate=30.0)])  # fmt: skip
    ax = plot_association(visits, by="survival_group", fit=by_group)
    assert [len(_one(ax, f"points:{g}").get_offsets()) for g in ("short", "long")] == [4, 2]
    np.testing.assert_array_equal(_one(ax, "fit:long").get_ydata(), [30.0, 30.0, 30.0])


# --------------------------------------------------------------------------------------------
# Kaplan-Meier


def _step_value(line, t: float) -> float:
    """Value of a steps-post Line2D at t (right-continuous)."""
    assert line.get_drawstyle() == "steps-post"
    xs = np.asarray(line.get_xdata(), float)
    index = np.searchsorted(xs, t, side="right") - 1
    return float(np.asarray(line.get_ydata(), float)[index])


@pytest.mark.parametrize("arm", ["A", "B"])
def test_km_curve_is_the_tables_step_function_from_0_1(km, arm):
    ax = plot_kaplan_meier(km, by="arm")
    line = _one(ax, f"km:{arm}")
    rows = km.loc[km["arm"] == arm]
    assert (line.get_xdata()[0], line.get_ydata()[0]) == (0.0, 1.0)
    # S(t) is the survival of the last row with time <= t; 1 before the first row.
    for t in [0.0, 0.5, 1.0, 1.9, 2.0, 2.1, 3.0, 4.5, 5.0, 6.0, 7.0, 8.5, 9.0]:
        before = rows.loc[rows["time"] <= t, "survival"]
        expected = before.iloc[-1] if len(before) else 1.0
        assert _step_value(line, t) == pytest.approx(expected, abs=1e-15), t
    band = _one(ax, f"km_ci:{arm}")
    expected_points = {(0.0, 1.0)}
    expected_points |= set(zip(rows["time"], rows["ci_low"], strict=True))
    expected_points |= set(zip(rows["time"], rows["ci_high"], strict=True))
    drawn = _polygon_points(band)
    assert expected_points <= drawn
    assert {y for _, y in drawn} <= {1.0, *rows["ci_low"], *rows["ci_high"]}


def test_numbers_at_risk_are_read_from_the_table(km):
    times = [0.0, 3.0, 5.0, 6.0, 10.0]
    ax = plot_kaplan_meier(km, by="arm", at_risk_times=times)
    # By hand: at risk at t = subjects with time >= t (n_risk of the next row; 0 past the end).
    expected = {"A": ["5", "4", "3", "2", "0"], "B": ["4", "3", "2", "2", "0"]}
    for arm, numbers in expected.items():
        texts = _by_gid(ax, f"at_risk:{arm}")
        assert [t.get_text() for t in texts] == numbers
        assert [t.xy[0] for t in texts] == times
        assert _one(ax, f"at_risk_label:{arm}").get_text() == arm
    np.testing.assert_array_equal(ax.get_xticks(), times)


def test_km_table_that_starts_at_time_0_is_not_doubled():
    # lifelines' event tables start with a row at time 0 (survival 1); R's survfit does not.
    table = pd.DataFrame({"time": [0.0, 2.0, 5.0], "n_risk": [3, 3, 1],
                          "survival": [1.0, 2 / 3, 0.0], "ci_low": [1.0, 0.2, np.nan],
                          "ci_high": [1.0, 0.95, np.nan]})  # fmt: skip
    ax = plot_kaplan_meier(table, at_risk_times=[0, 1, 3, 6])
    line = _one(ax, "km:None")
    np.testing.assert_array_equal(line.get_xdata(), [0.0, 2.0, 5.0])
    np.testing.assert_array_equal(line.get_ydata(), [1.0, 2 / 3, 0.0])
    assert [t.get_text() for t in _by_gid(ax, "at_risk:None")] == ["3", "3", "1", "0"]
    # An event at time 0 drops the curve at 0, still starting from (0, 1).
    dropped = table.assign(survival=[0.9, 0.6, 0.0]).drop(columns=["ci_low", "ci_high"])
    line = _one(plot_kaplan_meier(dropped, ci=False), "km:None")
    np.testing.assert_array_equal(line.get_xdata(), [0.0, 0.0, 2.0, 5.0])
    np.testing.assert_array_equal(line.get_ydata(), [1.0, 0.9, 0.6, 0.0])


def test_legend_position_can_be_chosen(visits):
    ax = plot_trajectories(visits, legend_kw={"loc": "upper left"})
    legend = ax.get_legend()
    assert legend.get_bbox_to_anchor().bounds == ax.bbox.bounds


def test_km_censor_ticks_at_censored_rows(km):
    ax = plot_kaplan_meier(km, by="arm")
    ticks = _one(ax, "censor:A")
    np.testing.assert_array_equal(ticks.get_xdata(), [4.0, 9.0])
    np.testing.assert_array_equal(ticks.get_ydata(), [0.8, 0.8 / 3])
    assert _by_gid(plot_kaplan_meier(km, by="arm", censor_ticks=False), "censor:A") == []


def test_km_text_does_not_overlap(km):
    ax = plot_kaplan_meier(km, by="arm", at_risk_times=[0, 2, 4, 6, 8, 10])
    _draw(ax)
    renderer = ax.figure.canvas.get_renderer()
    xlabel = ax.xaxis.label.get_window_extent(renderer)
    tick_labels = [t.get_window_extent(renderer) for t in ax.get_xticklabels()]
    table = [t.get_window_extent(renderer) for t in ax.texts]
    assert max(box.y1 for box in table) < min(xlabel.y0, *(b.y0 for b in tick_labels))
    for i, first in enumerate(table):
        for second in table[i + 1:]:
            assert not first.overlaps(second), (first, second)


def test_km_checks_its_table(km):
    a = km.loc[km["arm"] == "A"]
    with pytest.raises(DataValidationError, match="pass by="):
        plot_kaplan_meier(pd.concat([a, a.assign(arm="C")]))
    with pytest.raises(DataValidationError, match="'n_risk' is missing from km_table"):
        plot_kaplan_meier(km.drop(columns="n_risk"), by="arm")
    plot_kaplan_meier(km.drop(columns="n_risk"), by="arm", at_risk=False)
    with pytest.raises(DataValidationError, match=r"plot_kaplan_meier: column 'survival' of "
                       r"km_table must be >= 0 and <= 1; out of range at row \d+ = 1\.\d+"):
        plot_kaplan_meier(km.assign(survival=km["survival"] + 0.5), by="arm")


def test_km_single_curve_and_labels():
    table = _km_by_hand().query("arm == 'B'").drop(columns="arm")
    ax = plot_kaplan_meier(table, at_risk_times=[0, 2, 4, 6, 8, 9])
    assert ax.get_xlabel() == "Months since baseline MRI"
    assert ax.get_ylabel() == "Survival probability"
    # By hand (times 1, 3, 6, 8): at risk at 0, 2, 4, 6, 8, 9 = 4, 3, 2, 2, 1, 0.
    assert [t.get_text() for t in _by_gid(ax, "at_risk:None")] == ["4", "3", "2", "2", "1", "0"]
    default = plot_kaplan_meier(table)
    ticks = default.get_xticks()
    assert ticks[0] == 0 and ticks[-1] <= 8 and len(ticks) >= 3
    assert [float(t.xy[0]) for t in _by_gid(default, "at_risk:None")] == list(ticks)
    assert plot_kaplan_meier(table, xlabel="Years since baseline MRI").get_xlabel() == (
        "Years since baseline MRI"
    )


# --------------------------------------------------------------------------------------------
# forest


def test_forest_whiskers_equal_the_intervals(coefficients):
    ax = plot_forest(coefficients)
    terms = ["groupALS:years", "years", "sexM"]  # the intercept is left out by default
    assert [t.get_text() for t in ax.get_yticklabels()] == terms
    whiskers = _one(ax, "whiskers")
    assert isinstance(whiskers, LineCollection)
    segments = whiskers.get_segments()
    rows = coefficients.loc[terms]
    for segment, (_, row), y in zip(segments, rows.iterrows(), [2.0, 1.0, 0.0], strict=True):
        np.testing.assert_array_equal(segment, [[row["ci_low"], y], [row["ci_high"], y]])
    estimates = _one(ax, "estimates")
    np.testing.assert_array_equal(estimates.get_xdata(), rows["estimate"])
    assert _one(ax, "reference").get_xdata()[0] == 0.0
    assert [t.get_text() for t in _by_gid(ax, "estimate_text")] == [
        "912 (700, 1123)", "102 (\N{MINUS SIGN}30, 234)", "\N{MINUS SIGN}150 (\N{MINUS SIGN}420, 120)"
    ]  # fmt: skip
    assert [t.get_text() for t in _by_gid(ax, "p_text")] == ["p < 0.001", "p = 0.130", "p = 0.280"]


def test_forest_hazard_ratios_on_a_log_axis():
    hr = pd.DataFrame({"estimate": [2.1, 0.8], "ci_low": [1.4, 0.5], "ci_high": [3.2, 1.3]},
                      index=["wmh_high", "sexM"])  # fmt: skip
    ax = plot_forest(hr, reference=1.0)
    assert ax.get_xscale() == "log"
    assert _one(ax, "reference").get_xdata()[0] == 1.0
    assert [t.get_text() for t in _by_gid(ax, "estimate_text")] == [
        "2.10 (1.40, 3.20)", "0.80 (0.50, 1.30)"]
    assert ax.get_xlabel() == "Hazard ratio (95% CI)"
    with pytest.raises(DataValidationError, match=r"plot_forest: column 'estimate' of "
                       r"coefficients must be > 0 \(positive\) on a log axis.* row 'sexM' = -0\.2"):
        plot_forest(np.log(hr), reference=1.0)


def test_forest_terms_units_and_errors(coefficients):
    with_units = coefficients.assign(units="mm³/year")
    ax = plot_forest(with_units, terms=["years", "Intercept"], labels={"years": "Time"})
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Time", "Intercept"]
    assert ax.get_xlabel() == "Estimate (mm³/year; 95% CI)"
    log_hr = pd.DataFrame({"estimate": [0.00382], "ci_low": [-0.05377], "ci_high": [0.06142]},
                          index=["wmh_per_1000"])  # fmt: skip
    assert [t.get_text() for t in _by_gid(plot_forest(log_hr), "estimate_text")] == [
        "0.0038 (\N{MINUS SIGN}0.0538, 0.0614)"]
    with pytest.raises(DataValidationError,
                       match="plot_forest: term 'groupALS' is not in coefficients"):
        plot_forest(coefficients, terms=["groupALS"])
    with pytest.raises(DataValidationError, match="'ci_high' is missing from coefficients"):
        plot_forest(coefficients.drop(columns="ci_high"))


# --------------------------------------------------------------------------------------------
# labels, colours, errors


def test_axis_labels_carry_units():
    assert axis_label("wmh_mm3") == "WMH volume (mm³)"
    assert axis_label("years") == "Time since baseline MRI (years)"
    assert axis_label("alsfrs_r") == "ALSFRS-R total (points)"
    assert axis_label("survival_months") == "Months since baseline MRI"
    assert axis_label("flair_putamen") == "Normalised FLAIR intensity, putamen (ratio to reference)"
    assert axis_label("alsfrs_12") == "ALSFRS-R item 12 (points)"
    assert axis_label("unknown_marker") == "unknown_marker"
    assert axis_label("wmh_mm3", labels={"wmh_mm3": "WMH (mL)"}) == "WMH (mL)"


def test_labels_on_the_axes_and_override(visits):
    ax = plot_spaghetti(visits, "flair_cst")
    assert ax.get_ylabel() == "Normalised FLAIR intensity, CST (ratio to reference)"
    assert ax.get_xlabel() == "Time since baseline MRI (years)"
    ax = plot_trajectories(visits, y="alsfrs_r", ylabel="ALSFRS-R (points)")
    assert ax.get_ylabel() == "ALSFRS-R (points)"


def test_okabe_ito_palette_and_fallback_colours():
    # The published Okabe-Ito values.
    assert OKABE_ITO == {
        "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9",
        "bluish_green": "#009E73", "yellow": "#F0E442", "blue": "#0072B2",
        "vermillion": "#D55E00", "reddish_purple": "#CC79A7",
    }  # fmt: skip
    assert set(PALETTE.values()) <= set(OKABE_ITO.values())
    assert len(set(PALETTE.values())) == len(PALETTE)
    colours = group_colours(["ALS", "site_1", "site_2"])
    assert colours["ALS"] == PALETTE["ALS"]
    assert len(set(colours.values())) == 3
    assert group_colours(["ALS"], palette={"ALS": "#123456"}) == {"ALS": "#123456"}


@pytest.mark.parametrize(
    ("call", "column"),
    [
        (lambda v: plot_trajectories(v.drop(columns="wmh_mm3")), "wmh_mm3"),
        (lambda v: plot_trajectories(v, by="phenotype"), "phenotype"),
        (lambda v: plot_spaghetti(v.drop(columns="subject"), "wmh_mm3"), "subject"),
        (lambda v: plot_association(v, y="ecas_executive"), "ecas_executive"),
    ],
)
def test_missing_column_error_names_it(visits, call, column):
    with pytest.raises(DataValidationError, match=f"column '{column}' is missing from data"):
        call(visits)


def test_bad_group_and_dtype_errors(visits, fit):
    one_missing = visits["group"].where(visits.index != 7)
    with pytest.raises(DataValidationError, match=r"plot_trajectories: column 'group' of data "
                       r"has 1 missing value \(subject s3\)"):
        plot_trajectories(visits.assign(group=one_missing))
    with pytest.raises(DataValidationError, match="'wmh_mm3' of data must be numeric"):
        plot_trajectories(visits.assign(wmh_mm3=visits["wmh_mm3"].astype(str)))
    with pytest.raises(DataValidationError, match="repeated values of 'years'"):
        plot_trajectories(visits, fit=pd.concat([fit, fit]))


def test_docstring_examples_run():
    from alsstats.plotting import association, forest, style, survival, trajectories

    attempted = 0
    for module in (plotting, style, trajectories, association, survival, forest):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, module.__name__
        attempted += result.attempted
    assert attempted >= 12


def test_forest_hazard_ratio_axis_has_readable_ticks():
    import matplotlib.pyplot as plt

    from alsstats.plotting import plot_forest

    table = pd.DataFrame({"estimate": [1.02, 1.21], "ci_low": [0.96, 0.89],
                          "ci_high": [1.08, 1.64]}, index=pd.Index(["wmh", "sexM"], name="term"))
    fig, ax = plt.subplots()
    try:
        plot_forest(table, ax=ax, reference=1.0)
        low, high = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if low <= t <= high]
        assert ax.get_xscale() == "log"
        assert 1.0 in ticks and len(ticks) >= 3
    finally:
        plt.close(fig)


def test_forest_draws_cox_hazard_ratios():
    import matplotlib.pyplot as plt

    from alsstats.plotting import plot_forest

    cox_table = pd.DataFrame(
        {"estimate": [0.0198, 0.19], "hazard_ratio": [1.02, 1.21], "ci_low": [-0.04, -0.11],
         "ci_high": [0.077, 0.49], "hazard_ratio_ci_low": [0.96, 0.89],
         "hazard_ratio_ci_high": [1.08, 1.64], "p_value": [0.6, 0.2]},
        index=pd.Index(["wmh", "sexM"], name="term"))
    before = cox_table.copy()
    fig, ax = plt.subplots()
    try:
        plot_forest(cox_table, ax=ax, hazard_ratio=True)
        whiskers = next(c for c in ax.collections if c.get_gid() == "whiskers")
        ends = sorted(tuple(np.round(seg[:, 0], 6)) for seg in whiskers.get_segments())
        assert ends == [(0.89, 1.64), (0.96, 1.08)]
        assert ax.get_xscale() == "log" and ax.get_xlabel() == "Hazard ratio (95% CI)"
        pd.testing.assert_frame_equal(cox_table, before)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------------------------
# keyword-only ax (one release of grace), result objects, fonts, panel letters


@pytest.mark.parametrize("name", ["trajectories", "association", "kaplan_meier", "forest",
                                  "spaghetti"])
def test_positional_ax_still_works_with_a_package_deprecation_warning(
    name, visits, fit, association_fit, km, coefficients
):
    from alsstats.errors import AlsstatsDeprecationWarning, AlsstatsWarning

    _, ax = plt.subplots()
    calls = {
        "trajectories": lambda: plot_trajectories(visits, "wmh_mm3", "group", fit, "years", ax),
        "association": lambda: plot_association(
            visits.loc[visits["group"] == "ALS"], "wmh_mm3", "alsfrs_r", None, association_fit,
            ax),
        "kaplan_meier": lambda: plot_kaplan_meier(km, "arm", None, ax, False),
        "forest": lambda: plot_forest(coefficients, None, ax),
        "spaghetti": lambda: plot_spaghetti(visits, "flair_cst", "group", "years", ax),
    }
    with pytest.warns(AlsstatsDeprecationWarning, match="by position is deprecated") as caught:
        assert calls[name]() is ax
    assert issubclass(caught[0].category, AlsstatsWarning)
    assert "ax=" in str(caught[0].message)
    if name == "kaplan_meier":  # ci=False arrived by position too: no band drawn
        assert not _by_gid(ax, "km_ci:A")


def test_ax_is_keyword_only_and_extra_positionals_are_refused(visits, km):
    import inspect

    for function in (plot_trajectories, plot_association, plot_kaplan_meier, plot_forest,
                     plot_spaghetti):
        kind = inspect.signature(function).parameters["ax"].kind
        assert kind is inspect.Parameter.KEYWORD_ONLY, function.__name__
    _, ax = plt.subplots()
    with pytest.raises(TypeError, match="at most"):
        plot_kaplan_meier(km, "arm", None, ax, False, "one too many")
    with pytest.raises(TypeError, match="multiple values"):
        plot_trajectories(visits, "wmh_mm3", "group", None, "years", ax, ax=ax)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    from alsstats import load_example_cohort

    return load_example_cohort()


def test_trajectories_take_an_analysis_result(cohort):
    from alsstats import survival_group_progression, wmh_progression

    result = wmh_progression(cohort)
    ax = plot_trajectories(result)
    assert ax.get_ylabel() == "WMH volume (mm³)"
    for level in ("ALS", "control"):
        rows = result.fit.loc[result.fit["group"] == level]
        np.testing.assert_array_equal(_one(ax, f"fit:{level}").get_ydata(), rows["estimate"])
    counts = dict(zip(result.counts["group"], result.counts["n_subjects"], strict=True))
    texts = legend_texts(ax)
    assert f"ALS (n = {counts['ALS']:,})" in texts
    assert f"Controls (n = {counts['control']:,})" in texts
    assert "Model mean (line), 95% CI (band)" in texts
    # the means are drawn over the subjects
    assert _one(ax, "fit:ALS").get_zorder() > _one(ax, "subjects:ALS").get_zorder()
    assert _one(ax, "ci:ALS").get_zorder() > _one(ax, "subjects:ALS").get_zorder()
    # 2B: the grouping column comes from the result's fit table; subjects may be left out
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        short_long = survival_group_progression(cohort)
    ax = plot_trajectories(short_long, subjects=False)
    assert _by_gid(ax, "fit:short") and _by_gid(ax, "fit:long")
    assert not [c for c in ax.collections if (c.get_gid() or "").startswith("subjects:")]
    assert "Subjects (thin lines)" not in legend_texts(ax)


def test_association_legend_says_what_a_point_is(visits, association_fit):
    als = visits.loc[visits["group"] == "ALS"]
    ax = plot_association(als, fit=association_fit, ci_level=0.9)
    drawn = als.dropna(subset=["wmh_mm3", "alsfrs_r"])
    assert legend_texts(ax) == [
        f"One point per visit ({len(drawn)} visits, {drawn['subject'].nunique()} subjects)",
        "Model fit (line), 90% CI (band)",
    ]


def test_kaplan_meier_and_forest_take_survival_results(cohort):
    from alsstats.survival import baseline_values, fit_cox, kaplan_meier, logrank_test

    base = baseline_values(cohort[cohort["group"] == "ALS"],
                           columns=["wmh_mm3", "age", "sex", "survival_months", "event"])
    km = kaplan_meier(base, by="sex", subject=None, ci_level=0.9)
    test = logrank_test(base, by="sex", subject=None)
    ax = plot_kaplan_meier(km, logrank=test, group_labels={"F": "Women", "M": "Men"})
    n = dict(zip(km.median["group"], km.median["n"], strict=True))
    assert legend_texts(ax)[:2] == [f"Women (n = {n['F']})", f"Men (n = {n['M']})"]
    assert "90% CI (band)" in legend_texts(ax)
    note = _one(ax, "logrank").get_text()
    assert f"= {test.statistic:.2f}, df = {test.df}" in note and note.endswith(
        format_p_value(test.p_value, prefix="p"))
    for level in ("F", "M"):
        rows = km.table.loc[km.table["group"] == level]
        assert _one(ax, f"km:{level}").get_ydata()[-1] == rows["survival"].iloc[-1]

    cox = fit_cox(base, "Surv(survival_months, event) ~ age + sex", subject=None,
                  ties="breslow")
    ax = plot_forest(cox)
    assert ax.get_xscale() == "log"
    whiskers = _one(ax, "whiskers").get_segments()
    np.testing.assert_allclose([s[0, 0] for s in whiskers],
                               cox.coefficients["hazard_ratio_ci_low"])
    title = ax.get_title(loc="left")
    assert title == f"Cox model (Breslow ties): n = {cox.n}, {cox.n_events} events"
    _draw(ax)
    assert len(ax.xaxis.get_minorticklocs()) == 0  # no unlabelled ticks
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert all(labels), labels


def test_forest_of_a_mixed_model_names_the_model(cohort):
    from alsstats import fit_lme

    model = fit_lme(cohort, "wmh_mm3 ~ group * years + age + sex + (1 | subject)")
    ax = plot_forest(model, terms=["groupALS:years", "years"])
    assert ax.get_title(loc="left") == (
        f"Linear mixed model (REML): {model.nobs:,} visits, {model.n_groups:,} subjects")
    assert ax.get_xlabel().endswith("95% CI)")


def test_pdfs_embed_truetype_fonts_without_touching_global_settings(tmp_path):
    import subprocess
    import sys

    from alsstats.report import save_figure

    code = ("import matplotlib as mpl; import alsstats.plotting, alsstats.report; "
            "print(mpl.rcParams['pdf.fonttype'])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "3"  # importing changes nothing
    ax = plot_kaplan_meier(_km_by_hand(), by="arm")
    before = matplotlib.rcParams["pdf.fonttype"]
    pdf = save_figure(ax.figure, tmp_path / "km", formats=("pdf",))[0].read_bytes()
    assert b"/FontFile2" in pdf and b"/Type3" not in pdf
    assert matplotlib.rcParams["pdf.fonttype"] == before


def test_panel_letters(visits, fit):
    from alsstats.plotting import label_panels

    _, axes = plt.subplots(1, 2, layout="constrained")
    plot_trajectories(visits, fit=fit, ax=axes[0])
    plot_spaghetti(visits, "flair_cst", by="group", ax=axes[1])
    letters = label_panels(axes)
    assert [t.get_text() for t in letters] == ["A", "B"]
    _draw(axes[0])
    renderer = axes[0].figure.canvas.get_renderer()
    for ax, letter in zip(axes, letters, strict=True):
        box = letter.get_window_extent(renderer)
        assert box.x1 <= ax.get_window_extent(renderer).x0  # left of the axes
        assert box.y1 >= ax.get_window_extent(renderer).y1  # at the top of the panel
    with pytest.raises(ValueError, match="letters"):
        label_panels(axes, letters=["A"])


def test_long_at_risk_labels_go_above_their_row_instead_of_squeezing_the_plot(km):
    names = {"A": "WMH at or below the ALS median", "B": "WMH above the ALS median"}
    ax = plot_kaplan_meier(km, by="arm", group_labels=names, at_risk_times=[0, 5])
    _draw(ax)
    renderer = ax.figure.canvas.get_renderer()
    axes_box = ax.get_window_extent(renderer)
    for arm in ("A", "B"):
        label = _one(ax, f"at_risk_label:{arm}")
        assert label.get_text() == names[arm]
        box = label.get_window_extent(renderer)
        numbers = [t.get_window_extent(renderer) for t in _by_gid(ax, f"at_risk:{arm}")]
        assert box.x0 >= axes_box.x0 - 1  # inside the plot's width, not in the left margin
        assert all(box.y0 >= n.y1 - 1 for n in numbers)  # above its own numbers
    short = plot_kaplan_meier(km, by="arm", at_risk_times=[0, 5])
    _draw(short)
    label = _one(short, "at_risk_label:A").get_window_extent(renderer)
    assert label.x1 <= short.get_window_extent(renderer).x0  # short labels stay in the margin
