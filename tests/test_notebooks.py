"""The notebooks in ``notebooks/`` run top to bottom against this source tree.

Each notebook is executed with nbclient in a fresh ``python3`` kernel, with ``notebooks/`` as the
working directory. The kernel is this interpreter (``sys.executable``): the test writes
ipykernel's kernelspec into a temporary ``JUPYTER_PATH``, which Jupyter searches first, so a
stale ``python3`` kernelspec elsewhere (user or system) cannot run the notebooks in another
environment, and nothing needs ``python -m ipykernel install``. A test fails
when any cell raises; it then also checks what the notebook's last cell (tagged ``checks``)
printed, so a notebook that runs but no longer shows what its text claims fails too.

``MPLBACKEND=Agg`` keeps any stray figure off a display; each notebook selects
``%matplotlib inline`` (Agg rendering to PNG) itself, so every figure is really drawn and the
tests count the images.

The kernel is a separate process: pytest's ``filterwarnings`` (alsstats warnings become errors)
does not reach it, so the notebooks show warnings as a user sees them, and the tests assert
that the warnings the text talks about really appear.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbclient  # the test extra's; imported outright, so a missing one fails, never skips
import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CELL_TIMEOUT = 300  # seconds per cell


def _execute(name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Run one notebook in a fresh kernel; return the executed notebook."""
    from ipykernel.kernelspec import write_kernel_spec

    write_kernel_spec(tmp_path / "jupyter" / "kernels" / "python3")  # argv: sys.executable
    jupyter_path = [str(tmp_path / "jupyter"),
                    *filter(None, os.environ.get("JUPYTER_PATH", "").split(os.pathsep))]
    monkeypatch.setenv("JUPYTER_PATH", os.pathsep.join(jupyter_path))
    # The kernel imports alsstats from this source tree (as pytest does), whether or not the
    # package is installed, and draws without a display.
    path = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
        extra_arguments=["--InteractiveShell.colors=nocolor"],  # plain tracebacks in CI logs
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as error:  # name the cell in the failure
        pytest.fail(f"{name}: a cell raised\n{error}", pytrace=False)
    return notebook


def _outputs(notebook):
    return [(cell, output) for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.get("outputs", [])]


def _stream(notebook, name: str) -> str:
    return "".join(output.get("text", "") for _, output in _outputs(notebook)
                   if output.output_type == "stream" and output.get("name") == name)


def _checks(notebook) -> dict:
    """The JSON the cell tagged ``checks`` printed (its last stdout line)."""
    tagged = [cell for cell in notebook.cells
              if "checks" in cell.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "expected exactly one cell tagged 'checks'"
    assert tagged[0] is notebook.cells[-1], "the 'checks' cell must be the last cell"
    text = "".join(output.get("text", "") for output in tagged[0].outputs
                   if output.output_type == "stream" and output.get("name") == "stdout")
    assert text.strip(), "the 'checks' cell printed nothing"
    return json.loads(text.strip().splitlines()[-1])


def _assert_ran_cleanly(notebook) -> None:
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code_cells), "a cell did not run"
    errors = [output for _, output in _outputs(notebook) if output.output_type == "error"]
    assert not errors, errors


def _n_images(notebook) -> int:
    return sum("image/png" in output.get("data", {}) for _, output in _outputs(notebook)
               if output.output_type in ("display_data", "execute_result"))


@pytest.mark.parametrize("name", ["01_wmh_progression.ipynb", "02_survival.ipynb"])
def test_notebook_is_stored_without_outputs(name):
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{name} is stored with outputs; clear them before committing")
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    sources = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    assert "import alsstats as als" in sources


@pytest.mark.slow
def test_01_wmh_progression(monkeypatch, tmp_path):
    notebook = _execute("01_wmh_progression.ipynb", monkeypatch, tmp_path)
    _assert_ran_cleanly(notebook)
    checks = _checks(notebook)
    assert checks["n_subjects"] == 439
    assert checks["true_rate"] == 911.5
    assert checks["ci_low"] <= 911.5 <= checks["ci_high"]
    assert checks["ci_covers_truth"] is True
    assert checks["analysis_matches_fit"] is True
    assert checks["alsfrs_by_hand_matches"] is True
    assert checks["lrt_df"] == 2
    assert checks["short_minus_long"] > 0
    assert checks["n_unclassified"] > 0
    assert -1.5 < checks["alsfrs_per_500"] < -0.5
    assert checks["boot_n_ok"] >= 190
    assert checks["boot_ci_low"] < 911.5 < checks["boot_ci_high"]
    # The text promises a warning about the patients the 24-month split cannot classify.
    assert "UnclassifiedSubjectsWarning" in _stream(notebook, "stderr")
    assert _n_images(notebook) >= 6  # spaghetti, 2A, 2B, 3A, 3B, forest: all really drawn


@pytest.mark.slow
def test_02_survival(monkeypatch, tmp_path):
    notebook = _execute("02_survival.ipynb", monkeypatch, tmp_path)
    _assert_ran_cleanly(notebook)
    checks = _checks(notebook)
    assert checks["n_als"] == 232
    assert checks["n_unclassified"] > 0
    assert checks["n_short"] + checks["n_long"] + checks["n_unclassified"] == 232
    assert checks["km_groups"] == ["low", "high"]
    assert 0 <= checks["logrank_p"] <= 1
    assert checks["cox_terms"] == ["wmh_per_1000", "age", "sexM"]
    assert checks["efron_breslow_close"] is True
    assert checks["zph_has_global"] is True
    assert checks["tv_n_intervals"] > checks["n_als"]
    assert checks["two_stage_hr_per_100"] > 1  # faster WMH growth, higher hazard (simulated)
    assert checks["blup_sd"] < checks["model_slope_sd"]  # the shrinkage the caveat describes
    assert "UnclassifiedSubjectsWarning" in _stream(notebook, "stderr")
    assert _n_images(notebook) >= 3  # Kaplan-Meier, forest, slopes

