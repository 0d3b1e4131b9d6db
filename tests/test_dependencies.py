"""What alsstats needs installed: optional extras fail clearly, test-only peers stay out."""

from __future__ import annotations

import ast
import json
import runpy
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "data" / "example_labels"


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_the_package_imports_no_test_only_peer():
    for path in sorted((ROOT / "alsstats").rglob("*.py")):
        imported = _imported_modules(path)
        assert not imported & {"lifelines", "statsmodels"}, path
        if "sklearn" in imported:  # the optional extra, imported where it is used only
            assert path.name == "analyses.py" or "analyses" in path.parts, path


def test_loading_every_public_name_loads_no_test_only_peer():
    result = _run(
        "import sys, alsstats\n"
        "for name in alsstats.__all__: getattr(alsstats, name)\n"
        "print(sorted(m for m in ('lifelines', 'statsmodels', 'sklearn') if m in sys.modules))"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


_WITHOUT_SKLEARN = "import sys\nsys.modules['sklearn'] = None  # as if it were not installed\n"


def test_classifier_without_scikit_learn_says_what_to_install():
    result = _run(
        _WITHOUT_SKLEARN
        + "import alsstats as als\n"
        "try:\n"
        "    als.phenotype_classifier(als.load_example_cohort())\n"
        "except ImportError as error:\n"
        "    print('ImportError:', error)\n"
    )
    assert result.returncode == 0, result.stderr
    assert "ImportError: phenotype_classifier needs scikit-learn" in result.stdout
    assert "python -m pip install 'alsstats[classifier]'" in result.stdout


@pytest.mark.slow
def test_reproduce_without_scikit_learn_skips_only_the_classifier(tmp_path):
    out = tmp_path / "results"
    result = _run(
        _WITHOUT_SKLEARN
        + "import warnings; warnings.simplefilter('ignore')\n"
        + f"from alsstats import reproduce; reproduce(out={str(out)!r})\n"
    )
    assert result.returncode == 0, result.stderr
    line = ("phenotype classification with qFLAIR: skipped: needs scikit-learn "
            "(python -m pip install 'alsstats[classifier]')")
    assert line in result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    status = {entry["analysis"]: entry["status"] for entry in manifest["analyses"]}
    assert status.pop("phenotype classification with qFLAIR") == "skipped"
    assert set(status.values()) == {"ran"}
    assert (out / "report.html").is_file()
    assert (out / "figures" / "fig2a_wmh_als_vs_control.png").is_file()


def test_example_label_maps_are_reproducible_and_measured_as_documented(tmp_path):
    script = runpy.run_path(str(EXAMPLES / "make_label_maps.py"))
    expected = pd.read_csv(EXAMPLES / "volumes_expected.csv")
    for subject, radius in script["RADII_MM"].items():
        name = f"{subject}_wmh.nii.gz"
        data = script["label_map"](radius)
        assert script["nifti_gz_bytes"](data) == (EXAMPLES / name).read_bytes(), name
        row = expected.loc[expected["file"] == name].iloc[0]
        assert int((data == 9).sum()) == row["n_voxels"]
    out = tmp_path / "volumes.csv"
    files = sorted(str(p) for p in EXAMPLES.glob("*.nii.gz"))
    result = subprocess.run([sys.executable, "-m", "alsstats", "volumes", *files, "--label",
                             "9", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    assert [Path(p).name for p in table["path"]] == list(expected["file"])
    assert table["volume_mm3"].tolist() == expected["volume_mm3"].tolist()
