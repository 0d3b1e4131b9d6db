"""The README's quick start runs as written."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import alsstats as als

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_quick_start_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the example's image paths do not exist here: coerced rows
    (block,) = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", als.UnclassifiedSubjectsWarning)
        exec(compile(block, str(README), "exec"), namespace)
    assert "Satterthwaite" in capsys.readouterr().out
    assert namespace["wmh"].effect.index[0] == "groupALS:years"
    volumes = namespace["volumes"]
    assert volumes["volume_mm3"].isna().all()
    assert volumes["error"].str.contains("not found").all()


def test_readme_set_up_commands_are_the_ci_commands():
    text = README.read_text()
    ci = (README.parent / ".ci" / "run").read_text()
    commands = re.findall(r"```bash\n(.*?)\n```", text, re.S)
    # a virtual environment first (Debian's system Python refuses pip install), then the
    # two commands as they are pasted into it
    assert commands[0] == "python3 -m venv .venv && . .venv/bin/activate"
    assert commands[1] == "python -m pip install . && alsstats reproduce --out results/"
    assert commands[2] in ci.splitlines()


def test_readme_mentions_every_optional_extra():
    import pytest

    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    extras = tomllib.loads((README.parent / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    text = README.read_text()
    for extra in extras:
        if extra != "test":
            assert f"`.[{extra}]`" in text, extra
