"""`reproduce` orchestrates: its methods text, captions and section titles come from the
results' ``method`` dicts, so a different cut-off or CI level changes them (nothing in the
pipeline says "24 months" or "95%")."""

from __future__ import annotations

import ast
import html as html_module
import json
import warnings
from pathlib import Path

import pytest

import alsstats as als
from alsstats import pipeline
from alsstats.cli import main

COLUMNS = ["subject", "years", "group", "age", "sex", "wmh_mm3", "survival_months", "event"]


def _methods(out: Path) -> str:
    text = html_module.unescape((out / "report.html").read_text())
    return text[text.index("Methods"):]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("methods")
    table = als.load_example_cohort()[COLUMNS]
    path = folder / "visits.csv"
    table.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.AlsstatsWarning)
        als.reproduce(path, folder / "default", quiet=True)
        code = main(["reproduce", "--data", str(path), "--out", str(folder / "changed"),
                     "--cutoff-months", "18", "--ci-level", "0.9"])
    assert code == 0
    return folder / "default", folder / "changed"


def test_methods_text_follows_the_cutoff(runs):
    default, changed = (_methods(out) for out in runs)
    assert "survival cut-off (months): 24" in default
    assert "survival cut-off (months): 18" in changed
    assert "survival cut-off (months): 24" not in changed
    assert "classified at 18 months from baseline MRI" in changed


def test_methods_text_follows_the_ci_level(runs):
    default, changed = (_methods(out) for out in runs)
    assert "95% Wald" in default and "90%" not in default
    assert "90% Wald" in changed and "95%" not in changed
    assert "pointwise 90% intervals" in changed  # Kaplan-Meier, from its result


def test_captions_titles_and_survival_groups_follow_the_settings(runs):
    _, changed = runs
    text = html_module.unescape((changed / "report.html").read_text())
    assert "without the 18-month split" in text
    assert "Survival groups at 18 months" in text
    assert "95%" not in text  # captions, bands and tables: 90% throughout
    manifest = json.loads((changed / "manifest.json").read_text())
    assert "--cutoff-months 18 --ci-level 0.9" in manifest["command"]
    coefficients = (changed / "tables" / "wmh_progression_coefficients.csv").read_text()
    default = (runs[0] / "tables" / "wmh_progression_coefficients.csv").read_text()
    assert coefficients.splitlines()[0] == default.splitlines()[0]
    assert coefficients != default  # narrower intervals, same estimates


def test_survival_section_comes_from_the_recipe(runs):
    default, _ = runs
    text = html_module.unescape((default / "report.html").read_text())
    assert "Survival from the baseline MRI" in text
    assert "Cox model (Efron ties)" in text  # model checks named from method["ties"]
    for name in ("cox_efron", "cox_breslow", "cox_time_varying", "cox_zph",
                 "km_median_by_baseline_wmh", "survival_analysis_coefficients"):
        assert (default / "tables" / f"{name}.csv").exists(), name


def test_bad_settings_refused_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="ci_level"):
        als.reproduce(out=tmp_path / "a", ci_level=95)
    with pytest.raises(ValueError, match="cutoff_months"):
        als.reproduce(out=tmp_path / "b", cutoff_months=-1)
    assert not list(tmp_path.iterdir())


def test_pipeline_calls_the_survival_recipe_not_the_survival_functions():
    tree = ast.parse(Path(pipeline.__file__).read_text())
    called = {node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id
              for node in ast.walk(tree) if isinstance(node, ast.Call)
              and isinstance(node.func, ast.Attribute | ast.Name)}
    assert "survival_analysis" in called
    assert not called & {"fit_cox", "fit_cox_time_varying", "kaplan_meier", "logrank_test",
                         "baseline_values", "survival_groups"}
