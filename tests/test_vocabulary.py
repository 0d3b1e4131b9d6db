"""One vocabulary for arguments (issue 14), and one release of grace for the old spellings.

For every renamed argument: the old spelling warns with AlsstatsDeprecationWarning and gives
the same result as the new one, and old and new together are a TypeError. For every formerly
positional argument: the old positional call still works, warns, and gives the same result.
The cases are checked against the shims themselves, so a shim without a test fails here. A
walk over ``alsstats.__all__`` keeps the vocabulary: ``data`` first, no ``visits``,
``conf_level``, ``years``, ``group`` or ``time`` parameters, keyword-only after the data and
the formula.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
import pytest

import alsstats as als
from alsstats.errors import AlsstatsDeprecationWarning
from alsstats.lme.examples import example_data

matplotlib.use("Agg")

# The calls compared here run on the shipped cohort as it is; what they say about its
# unclassified or dropped subjects is tested elsewhere.
pytestmark = [
    pytest.mark.filterwarnings("ignore::alsstats.errors.UnclassifiedSubjectsWarning"),
    pytest.mark.filterwarnings("ignore::alsstats.errors.DroppedRowsWarning"),
    # eight months of follow-up: some of the analyses' per-subject slope fits are singular
    pytest.mark.filterwarnings("ignore::alsstats.errors.SingularFitWarning"),
]


# --- inputs ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return als.load_example_cohort()


@pytest.fixture(scope="module")
def patients(cohort) -> pd.DataFrame:
    return cohort[cohort["group"] == "ALS"].reset_index(drop=True)


@pytest.fixture(scope="module")
def small_joint(patients) -> pd.DataFrame:
    keep = patients["subject"].isin(pd.unique(patients["subject"])[:60])
    return patients[keep].reset_index(drop=True)


@pytest.fixture(scope="module")
def joint_fit(small_joint):
    return als.fit_joint(small_joint, F_JOINT, S_JOINT)


@pytest.fixture(scope="module")
def lme_data() -> pd.DataFrame:
    return example_data(30)


@pytest.fixture(scope="module")
def slope_fit(lme_data):
    return als.fit_lme(lme_data, "y ~ group * years + (1 + years | subject)")


@pytest.fixture(scope="module")
def km_table(patients) -> pd.DataFrame:
    return als.kaplan_meier(patients, by="phenotype").table


@pytest.fixture(scope="module")
def scan_tree(tmp_path_factory) -> Path:
    """Two sessions of one subject, each with a tiny WMH label map (label 9)."""
    import nibabel as nib

    root = tmp_path_factory.mktemp("bids")
    for session, n_wmh in (("M00", 3), ("M12", 5)):
        folder = root / f"sub-01/ses-{session}/anat"
        folder.mkdir(parents=True)
        labels = np.zeros((4, 4, 4), dtype=np.uint8)
        labels.flat[:n_wmh] = 9
        nib.save(nib.Nifti1Image(labels, np.eye(4)), folder / f"sub-01_ses-{session}_wmh.nii.gz")
    return root


@pytest.fixture(scope="module")
def scan_visits() -> pd.DataFrame:
    return pd.DataFrame({"subject": ["01", "01"], "years": [0.0, 1.0], "session": ["M00", "M12"]})


@dataclass(frozen=True)
class Fixture:
    """A keyword value standing for a fixture (``data=Fixture("patients")``)."""

    name: str


F_COX = "Surv(survival_months, event) ~ age + sex"
F_LME = "y ~ group * years + (1 | subject)"
F_JOINT = "wmh_mm3 ~ years + (1 | subject)"
S_JOINT = "Surv(survival_months / 12, event) ~ 1"
P, C = Fixture("patients"), Fixture("cohort")


def _scans(fx):
    return als.find_scans(fx("scan_tree"))


def _volumes(fx):
    return als.lesion_volumes(_scans(fx)["path"], progress=False)


# --- renamed keywords ------------------------------------------------------------------------
# (function, old keyword, call, old keywords, new keywords); the call gets the fixture getter.
RENAMED: list[tuple[str, str, Callable[..., Any], dict, dict]] = [
    ("kaplan_meier", "time", lambda fx, **k: als.kaplan_meier(fx("patients"), **k),
     dict(time="survival_months"), dict(survival_time="survival_months")),
    ("kaplan_meier", "group", lambda fx, **k: als.kaplan_meier(fx("patients"), **k),
     dict(group="phenotype"), dict(by="phenotype")),
    ("kaplan_meier", "conf_level", lambda fx, **k: als.kaplan_meier(fx("patients"), **k),
     dict(conf_level=0.9), dict(ci_level=0.9)),
    ("logrank_test", "time", lambda fx, **k: als.logrank_test(fx("patients"), by="sex", **k),
     dict(time="survival_months"), dict(survival_time="survival_months")),
    ("logrank_test", "group", lambda fx, **k: als.logrank_test(fx("patients"), **k),
     dict(group="phenotype"), dict(by="phenotype")),
    ("survival_groups", "time", lambda fx, **k: als.survival_groups(fx("cohort"), **k),
     dict(time="survival_months"), dict(survival_time="survival_months")),
    ("survival_groups", "group", lambda fx, **k: als.survival_groups(fx("cohort"), **k),
     dict(group="group"), dict(diagnosis="group")),
    ("fit_cox", "conf_level", lambda fx, **k: als.fit_cox(fx("patients"), F_COX, **k),
     dict(conf_level=0.9), dict(ci_level=0.9)),
    ("fit_cox_time_varying", "visits",
     lambda fx, **k: als.fit_cox_time_varying(formula=F_COX, **k),
     dict(visits=P), dict(data=P)),
    ("fit_cox_time_varying", "conf_level",
     lambda fx, **k: als.fit_cox_time_varying(fx("patients"), F_COX, **k),
     dict(conf_level=0.9), dict(ci_level=0.9)),
    ("fit_cox_time_varying", "years",
     lambda fx, **k: als.fit_cox_time_varying(fx("patients"), F_COX, **k),
     dict(years="years"), dict(visit_time="years")),
    ("time_varying_intervals", "visits",
     lambda fx, **k: als.time_varying_intervals(covariates=["wmh_mm3"], **k),
     dict(visits=P), dict(data=P)),
    ("time_varying_intervals", "time",
     lambda fx, **k: als.time_varying_intervals(fx("patients"), covariates=["wmh_mm3"], **k),
     dict(time="survival_months"), dict(survival_time="survival_months")),
    ("time_varying_intervals", "years",
     lambda fx, **k: als.time_varying_intervals(fx("patients"), covariates=["wmh_mm3"], **k),
     dict(years="years"), dict(visit_time="years")),
    ("baseline_values", "visits", lambda fx, **k: als.baseline_values(columns=["wmh_mm3"], **k),
     dict(visits=P), dict(data=P)),
    ("baseline_values", "time",
     lambda fx, **k: als.baseline_values(fx("patients"), columns=["wmh_mm3"], **k),
     dict(time="years"), dict(visit_time="years")),
    ("subject_slopes", "lme_fit", lambda fx, **k: als.subject_slopes(data=fx("lme_data"), **k),
     dict(lme_fit=Fixture("slope_fit")), dict(fit=Fixture("slope_fit"))),
    ("subject_slopes", "time",
     lambda fx, **k: als.subject_slopes(fx("slope_fit"), fx("lme_data"), **k),
     dict(time="years"), dict(visit_time="years")),
    ("fit_joint", "time", lambda fx, **k: als.fit_joint(fx("small_joint"), F_JOINT, S_JOINT, **k),
     dict(time="years"), dict(visit_time="years")),
    ("JointResult.predict_survival", "level",
     lambda fx, **k: fx("joint_fit").predict_survival(
         fx("small_joint").query("subject == subject.iloc[0]"), [0.5, 1.0], interval=True,
         n_draws=20, seed=1, **k),
     dict(level=0.8), dict(ci_level=0.8)),
    ("baseline_characteristics", "visits", lambda fx, **k: als.baseline_characteristics(**k),
     dict(visits=C), dict(data=C)),
    ("join_volumes", "visits",
     lambda fx, **k: als.join_volumes(measures=_volumes(fx), scans=_scans(fx), **k),
     dict(visits=Fixture("scan_visits")), dict(data=Fixture("scan_visits"))),
    ("plot_trajectories", "group", lambda fx, **k: als.plot_trajectories(fx("patients"), **k),
     dict(group="phenotype"), dict(by="phenotype")),
    ("plot_trajectories", "x",
     lambda fx, **k: als.plot_trajectories(fx("cohort").assign(t=lambda d: d["years"]), **k),
     dict(x="t"), dict(visit_time="t")),
    ("plot_spaghetti", "group", lambda fx, **k: als.plot_spaghetti(fx("cohort"), "wmh_mm3", **k),
     dict(group="group"), dict(by="group")),
    ("plot_spaghetti", "x",
     lambda fx, **k: als.plot_spaghetti(fx("cohort").assign(t=lambda d: d["years"]),
                                        "wmh_mm3", **k),
     dict(x="t"), dict(visit_time="t")),
    ("plot_kaplan_meier", "group", lambda fx, **k: als.plot_kaplan_meier(fx("km_table"), **k),
     dict(group="group"), dict(by="group")),
    ("plot_association", "group",
     lambda fx, **k: als.plot_association(fx("patients"), "wmh_mm3", "alsfrs_r", **k),
     dict(group="sex"), dict(by="sex")),
    # the named analyses (alsstats/analyses/): the table was `visits`
    *[(name, "visits", lambda fx, name=name, more=more, **k: getattr(als, name)(**more, **k),
       dict(visits=C), dict(data=C)) for name, more in [
        ("wmh_progression", {}),
        ("biomarker_progression", {"column": "flair_cc"}),
        ("survival_group_progression", {}),
        ("alsfrs_vs_wmh", {"cutoff_months": None}),
        ("flair_progression", {"roi": "flair_cc"}),
        ("flair_vs_alsfrs", {"roi": "flair_cc", "outcomes": ("alsfrs_r",)}),
        ("phenotype_classifier", {"n_bootstrap": 20}),
        ("wmh_survival_joint", {}),
        ("survival_analysis", {}),
    ]],
]

# --- formerly positional ---------------------------------------------------------------------
# (function, old positional call, the same call with keywords)
POSITIONAL: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
    ("kaplan_meier",
     lambda fx: als.kaplan_meier(fx("patients"), "survival_months", "event", "sex", "log-log",
                                 0.9),
     lambda fx: als.kaplan_meier(fx("patients"), survival_time="survival_months", event="event",
                                 by="sex", conf_type="log-log", ci_level=0.9)),
    ("logrank_test",
     lambda fx: als.logrank_test(fx("patients"), "survival_months", "event", "phenotype"),
     lambda fx: als.logrank_test(fx("patients"), survival_time="survival_months", event="event",
                                 by="phenotype")),
    ("survival_groups",
     lambda fx: als.survival_groups(fx("cohort"), 12, "survival_months", "event", "subject",
                                    "group"),
     lambda fx: als.survival_groups(fx("cohort"), cutoff_months=12,
                                    survival_time="survival_months", event="event",
                                    subject="subject", diagnosis="group")),
    ("fit_cox",
     lambda fx: als.fit_cox(fx("patients"), F_COX, "breslow", None, True, None, 0.9),
     lambda fx: als.fit_cox(fx("patients"), F_COX, ties="breslow", strata=None, robust=True,
                            ci_level=0.9)),
    ("fit_cox_time_varying",
     lambda fx: als.fit_cox_time_varying(fx("patients"), F_COX, "breslow", None, False, 0.9,
                                         "subject", "years", 12.0),
     lambda fx: als.fit_cox_time_varying(fx("patients"), F_COX, ties="breslow", ci_level=0.9,
                                         subject="subject", visit_time="years",
                                         time_scale=12.0)),
    ("time_varying_intervals",
     lambda fx: als.time_varying_intervals(fx("patients"), ["wmh_mm3"], "survival_months",
                                           "event", "subject", "years"),
     lambda fx: als.time_varying_intervals(fx("patients"), covariates=["wmh_mm3"],
                                           survival_time="survival_months", event="event",
                                           subject="subject", visit_time="years")),
    ("baseline_values",
     lambda fx: als.baseline_values(fx("patients"), ["wmh_mm3"], "subject", "years"),
     lambda fx: als.baseline_values(fx("patients"), columns=["wmh_mm3"], subject="subject",
                                    visit_time="years")),
    ("subject_slopes",
     lambda fx: als.subject_slopes(fx("slope_fit"), fx("lme_data"), "years", "subject", False),
     lambda fx: als.subject_slopes(fx("slope_fit"), fx("lme_data"), visit_time="years",
                                   subject="subject", include_fixed=False)),
    ("fit_lme",
     lambda fx: als.fit_lme(fx("lme_data"), F_LME, False),
     lambda fx: als.fit_lme(fx("lme_data"), F_LME, reml=False)),
    ("baseline_characteristics",
     lambda fx: als.baseline_characteristics(fx("cohort"), "phenotype"),
     lambda fx: als.baseline_characteristics(fx("cohort"), by="phenotype")),
    ("simulate_cohort",
     lambda fx: als.simulate_cohort(4, 12, 9, (0, 6), 0.2, ("EDM", "MTL")),
     lambda fx: als.simulate_cohort(4, n_als=12, n_controls=9, visit_months=(0, 6),
                                    dropout=0.2, sites=("EDM", "MTL"))),
    ("write_cohort",
     lambda fx: [p.read_bytes() for p in als.write_cohort(fx("tmp_path") / "old", 3)],
     lambda fx: [p.read_bytes() for p in als.write_cohort(fx("tmp_path") / "new", seed=3)]),
    ("find_scans",
     lambda fx: als.find_scans(fx("scan_tree"), "sub-*/ses-*/anat/*", (".nii.gz",)),
     lambda fx: als.find_scans(fx("scan_tree"), pattern="sub-*/ses-*/anat/*",
                               suffixes=(".nii.gz",))),
    ("lesion_volumes",
     lambda fx: als.lesion_volumes(_scans(fx)["path"], 9, None, 1, "raise", False),
     lambda fx: als.lesion_volumes(_scans(fx)["path"], label=9, atlas=None, n_jobs=1,
                                   errors="raise", progress=False)),
    ("join_volumes",
     lambda fx: als.join_volumes(fx("scan_visits"), _volumes(fx), _scans(fx)),
     lambda fx: als.join_volumes(fx("scan_visits"), _volumes(fx), scans=_scans(fx))),
    ("plot_trajectories",
     lambda fx: als.plot_trajectories(fx("patients"), "wmh_mm3", "phenotype", None, "years"),
     lambda fx: als.plot_trajectories(fx("patients"), "wmh_mm3", by="phenotype", fit=None,
                                      visit_time="years")),
    ("plot_spaghetti",
     lambda fx: als.plot_spaghetti(fx("cohort"), "wmh_mm3", "group", "years"),
     lambda fx: als.plot_spaghetti(fx("cohort"), "wmh_mm3", by="group", visit_time="years")),
    ("plot_kaplan_meier",
     lambda fx: als.plot_kaplan_meier(fx("km_table"), "group", [0, 12, 24]),
     lambda fx: als.plot_kaplan_meier(fx("km_table"), by="group", at_risk_times=[0, 12, 24])),
    ("plot_association",
     lambda fx: als.plot_association(fx("patients"), "wmh_mm3", "alsfrs_r", "sex"),
     lambda fx: als.plot_association(fx("patients"), "wmh_mm3", "alsfrs_r", by="sex")),
    ("biomarker_progression",
     lambda fx: als.biomarker_progression(fx("cohort"), "flair_cc"),
     lambda fx: als.biomarker_progression(fx("cohort"), column="flair_cc")),
    ("flair_progression",
     lambda fx: als.flair_progression(fx("cohort"), "flair_cc"),
     lambda fx: als.flair_progression(fx("cohort"), roi="flair_cc")),
    ("flair_vs_alsfrs",
     lambda fx: als.flair_vs_alsfrs(fx("cohort"), "flair_cc", outcomes=("alsfrs_r",)),
     lambda fx: als.flair_vs_alsfrs(fx("cohort"), roi="flair_cc", outcomes=("alsfrs_r",))),
]


# --- comparing two results of the same call --------------------------------------------------

def _drawn(ax) -> list:
    """What an Axes shows: its artists' ids and data, texts and labels."""
    lines = [(line.get_gid(), line.get_xydata().tolist()) for line in ax.lines]
    collections = [(c.get_gid(), [p.vertices.tolist() for p in c.get_paths()])
                   for c in ax.collections]
    texts = [t.get_text() for t in ax.texts]
    legend = ax.get_legend()
    return [lines, collections, texts, ax.get_xlabel(), ax.get_ylabel(),
            [t.get_text() for t in legend.get_texts()] if legend else None]


def _same(a: Any, b: Any) -> None:
    """Assert two results of the same call are equal (frames, series, axes or results)."""
    from matplotlib.axes import Axes

    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b)
    elif isinstance(a, Axes):
        assert _drawn(a) == _drawn(b)
    elif isinstance(a, list):
        assert a == b
    else:
        assert type(a) is type(b)
        frames = [name for name in ("coefficients", "table", "median", "groups", "counts",
                                    "excluded", "longitudinal", "survival")
                  if isinstance(getattr(a, name, None), (pd.DataFrame, pd.Series))]
        assert frames, f"nothing to compare on {type(a).__name__}"
        for name in frames:
            _same(getattr(a, name), getattr(b, name))
        for name in ("statistic", "p_value", "loglik", "n", "n_events"):
            if hasattr(a, name):
                assert getattr(a, name) == getattr(b, name), name


@pytest.fixture
def fx(request) -> Callable[[str], Any]:
    return request.getfixturevalue


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def _resolve(fx, kwargs: dict) -> dict:
    return {k: fx(v.name) if isinstance(v, Fixture) else v for k, v in kwargs.items()}


# --- the shims -------------------------------------------------------------------------------

@pytest.mark.parametrize("case", RENAMED, ids=[f"{c[0]}-{c[1]}" for c in RENAMED])
def test_old_keyword_warns_and_gives_the_same_result(fx, case):
    _, old_name, call, old, new = case
    expected = call(fx, **_resolve(fx, new))
    with pytest.warns(AlsstatsDeprecationWarning, match=f"{old_name}= is deprecated"):
        got = call(fx, **_resolve(fx, old))
    _same(got, expected)


@pytest.mark.parametrize("case", RENAMED, ids=[f"{c[0]}-{c[1]}" for c in RENAMED])
def test_old_and_new_keyword_together_is_a_type_error(fx, case):
    _, _, call, old, new = case
    with pytest.raises(TypeError, match="got both"):
        call(fx, **_resolve(fx, old), **_resolve(fx, new))


@pytest.mark.parametrize("case", POSITIONAL, ids=[c[0] for c in POSITIONAL])
def test_old_positional_call_warns_and_gives_the_same_result(fx, case):
    _, old_call, new_call = case
    expected = new_call(fx)
    with pytest.warns(AlsstatsDeprecationWarning, match="by position is deprecated"):
        got = old_call(fx)
    _same(got, expected)


def test_positional_and_keyword_for_the_same_argument_is_a_type_error(patients):
    with pytest.raises(TypeError, match="multiple values"):
        als.kaplan_meier(patients, "survival_months", survival_time="survival_months")


def test_new_arguments_are_keyword_only_without_the_shims():
    """Past the old positions nothing more is accepted by position."""
    with pytest.raises(TypeError, match="at most"):
        als.logrank_test(pd.DataFrame(), "t", "e", "g", "subject", "one too many")


def _shims() -> dict[str, dict[str, Any]]:
    """Per public function, what its deprecation wrappers accept: old names, old positions."""
    out: dict[str, dict[str, Any]] = {}
    public = {name: getattr(als, name) for name in als.__all__}
    for class_name, cls in list(public.items()):
        if inspect.isclass(cls):
            public.update({f"{class_name}.{name}": method for name, method in vars(cls).items()
                           if inspect.isfunction(method) and not name.startswith("_")})
    for name, func in public.items():
        while callable(func) and hasattr(func, "__wrapped__"):
            if Path(func.__code__.co_filename).name == "_deprecation.py":
                closure = inspect.getclosurevars(func).nonlocals
                entry = out.setdefault(name, {"renamed": set(), "positional": ()})
                if "old_to_new" in closure:
                    entry["renamed"] |= set(closure["old_to_new"])
                if "names" in closure:
                    entry["positional"] = closure["names"]
            func = func.__wrapped__
    return out


def test_every_shim_has_a_test_here():
    shims = _shims()
    renamed_cases = {(c[0], c[1]) for c in RENAMED}
    positional_cases = {c[0] for c in POSITIONAL}
    for name, entry in shims.items():
        for old in entry["renamed"]:
            assert (name, old) in renamed_cases, f"{name}({old}=...) has no test"
        if entry["positional"] and not set(entry["positional"]) <= {"ax", "ci"}:
            assert name in positional_cases, f"{name}: positional shim has no test"
    # and every case tests a shim that exists (no stale cases)
    for name, old in renamed_cases:
        assert old in shims.get(name, {}).get("renamed", ()), f"{name}({old}=...) is no shim"


# --- the vocabulary --------------------------------------------------------------------------

# Names that mean something else in this package's vocabulary (or nothing any more).
RETIRED = {
    "visits": "data",
    "conf_level": "ci_level",
    "years": "visit_time",
    "time": "visit_time or survival_time",
    "group": "by (curves or groups to compare) or diagnosis (controls left out)",
}

# Public functions that take a table but do not take it first as ``data``, and why.
NOT_DATA_FIRST = {
    # a row-wise score of the ALSFRS-R item columns of any table, named for what it needs
    "alsfrs_domains": "items", "alsfrs_total": "items", "kings_stage": "items",
    "mitos_stage": "items",
    # a manifest file or its table (path -> subject, session), not the visit table
    "from_manifest": "csv",
    # the model comes first; its data are optional, for interactions with time
    "subject_slopes": "fit",
    # a formula building block: the right-hand side is what is parsed, as formulaic does
    "model_design": "rhs",
}

# Positional parameters allowed after ``data`` beyond the formulas and a plot's ``y``.
POSITIONAL_AFTER_DATA = {
    "plot_association": {"x"},  # x and y are the two measures plotted against each other
    "plot_forest": {"terms"},  # which rows of the coefficient table to draw: the forest's y
    "join_volumes": {"measures"},  # the second table, joined onto data
    "reproduce": {"out"},  # the output folder, as on the command line
    "subject_slopes": {"data"},  # see NOT_DATA_FIRST
    "model_design": {"data", "caller", "id_column"},  # see NOT_DATA_FIRST
}
FORMULAS = {"formula", "longitudinal", "survival"}


def _public_functions() -> list[tuple[str, inspect.Signature]]:
    out = []
    for name in als.__all__:
        obj = getattr(als, name)
        if inspect.isfunction(obj) or (callable(obj) and not inspect.isclass(obj)
                                       and hasattr(obj, "__wrapped__")):
            out.append((name, inspect.signature(obj)))
    return out


def _takes_table(signature: inspect.Signature) -> bool:
    return any("DataFrame" in str(p.annotation) for p in signature.parameters.values())


def test_the_walk_sees_the_public_api():
    names = {name for name, _ in _public_functions()}
    assert {"kaplan_meier", "fit_lme", "plot_trajectories", "simulate_cohort"} <= names
    assert sum(_takes_table(sig) for _, sig in _public_functions()) >= 25


@pytest.mark.parametrize("name,signature", _public_functions(),
                         ids=[n for n, _ in _public_functions()])
def test_public_function_speaks_the_vocabulary(name, signature):
    params = list(signature.parameters.values())
    retired = [p.name for p in params if p.name in RETIRED]
    assert not retired, f"{name}: {retired[0]} is now {RETIRED[retired[0]]}"
    if not _takes_table(signature):
        return
    first = params[0].name
    assert first == "data" or NOT_DATA_FIRST.get(name) == first, (
        f"{name}: the table comes first as 'data', not {first!r}")
    allowed = {params[0].name, *FORMULAS, *POSITIONAL_AFTER_DATA.get(name, ())}
    if name.startswith("plot_"):
        allowed.add("y")
    positional = [p.name for p in params
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    extra = [p for p in positional if p not in allowed]
    assert not extra, f"{name}: {extra} should be keyword-only (after data and the formula)"


def _public_methods() -> list[tuple[str, inspect.Signature]]:
    out = []
    for class_name in als.__all__:
        cls = getattr(als, class_name)
        if inspect.isclass(cls):
            out += [(f"{class_name}.{name}", inspect.signature(method))
                    for name, method in vars(cls).items()
                    if inspect.isfunction(method) and not name.startswith("_")]
    return out


def test_public_methods_speak_the_vocabulary():
    methods = _public_methods()
    assert any(name == "JointResult.predict_survival" for name, _ in methods)
    for name, signature in methods:
        retired = [p for p in signature.parameters if p in RETIRED or p == "level"]
        assert not retired, f"{name}: {retired[0]} is retired (ci_level for a CI level)"
