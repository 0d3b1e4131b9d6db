"""`reproduce --out X` never removes or overwrites what it did not create (issue 9, item 1).

Every test builds real folders and files; nothing is mocked. Runs use a small table (WMH only)
so that each takes about a second.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import alsstats as als
from alsstats.cli import main

MARKER = ".alsstats-output.json"


@pytest.fixture(scope="module")
def minimal():
    return als.load_example_cohort()[["subject", "years", "group", "age", "sex", "wmh_mm3"]]


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder``: content and modification time (ns)."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "error" in line.lower()]
    assert len(lines) == 1 and lines[0].startswith("alsstats reproduce: error: "), err
    assert "Traceback" not in err
    return lines[0]


def test_folder_with_users_file_and_the_input_table_stays_intact(tmp_path, minimal, capsys):
    folder = tmp_path / "study"
    folder.mkdir()
    notes = folder / "notes.txt"
    notes.write_text("my notes: do not lose\n")
    table = folder / "visits.csv"
    minimal.to_csv(table, index=False)
    os.utime(notes, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    before = _snapshot(folder)

    code = main(["reproduce", "--data", str(table), "--out", str(folder)])
    assert _snapshot(folder) == before  # byte-identical, same modification times
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study"]  # no staging left
    assert code == 1
    assert "inside the output folder" in _one_line_error(capsys)
    with pytest.raises(als.OutputFolderError, match="inside the output folder"):
        als.reproduce(table, folder, quiet=True)
    assert _snapshot(folder) == before


def test_non_empty_folder_without_marker_is_refused(tmp_path, minimal, capsys):
    folder = tmp_path / "mine"
    (folder / "figures").mkdir(parents=True)
    (folder / "figures" / "fig2a_wmh_als_vs_control.png").write_bytes(b"my own figure")
    (folder / "report.html").write_text("my own report")
    before = _snapshot(folder)
    with pytest.raises(als.OutputFolderError, match="not empty"):
        als.reproduce(minimal, folder, quiet=True)
    table = tmp_path / "visits.csv"
    minimal.to_csv(table, index=False)
    assert main(["reproduce", "--data", str(table), "--out", str(folder)]) == 1
    assert MARKER in _one_line_error(capsys)
    assert _snapshot(folder) == before


def test_regular_file_as_out_is_refused(tmp_path, minimal, capsys):
    target = tmp_path / "results"
    target.write_text("a file, not a folder")
    before = target.stat().st_mtime_ns
    with pytest.raises(als.OutputFolderError, match="not a folder"):
        als.reproduce(minimal, target, quiet=True)
    assert main(["reproduce", "--out", str(target)]) == 1
    _one_line_error(capsys)
    assert target.read_text() == "a file, not a folder" and target.stat().st_mtime_ns == before


def test_current_directory_and_home_are_refused_even_when_empty(tmp_path, minimal, monkeypatch,
                                                               capsys):
    empty = tmp_path / "here"
    empty.mkdir()
    monkeypatch.chdir(empty)
    with pytest.raises(als.OutputFolderError, match="current directory"):
        als.reproduce(minimal, ".", quiet=True)
    assert main(["reproduce", "--out", "."]) == 1
    assert "current directory" in _one_line_error(capsys)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    with pytest.raises(als.OutputFolderError, match="home"):
        als.reproduce(minimal, home, quiet=True)
    with pytest.raises(als.OutputFolderError):
        als.reproduce(minimal, "/", quiet=True)
    assert list(empty.iterdir()) == [] and list(home.iterdir()) == []


def test_earlier_output_replaces_only_its_own_files(tmp_path, minimal):
    out = tmp_path / "results"
    with_flair = als.load_example_cohort()[["subject", "years", "group", "age", "sex",
                                            "wmh_mm3", "flair_cc"]]
    als.reproduce(with_flair, out, quiet=True)
    first = json.loads((out / MARKER).read_text())
    assert first["tool"] == "alsstats" and "report.html" in first["files"]
    assert "figures/flair_cc_als_vs_control.png" in first["files"]
    notes = out / "notes.txt"
    notes.write_text("keep me")
    own_figure = out / "figures" / "my_extra_plot.png"
    own_figure.write_bytes(b"the user's figure")
    kept = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (notes, own_figure)}

    als.reproduce(minimal, out, quiet=True)

    second = json.loads((out / MARKER).read_text())
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in kept} == kept
    # the earlier run's qFLAIR figure is not written again: removed, as the marker listed it
    assert not (out / "figures" / "flair_cc_als_vs_control.png").exists()
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert written == set(second["files"]) | {MARKER, "notes.txt", "figures/my_extra_plot.png"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_users_file_where_a_new_output_would_go_is_refused(tmp_path, minimal):
    out = tmp_path / "results"
    with pytest.warns(als.SkippedAnalysisWarning, match="WMH progression"):
        als.reproduce(minimal[minimal["group"] == "ALS"], out, quiet=True)
    assert not (out / "figures" / "fig2a_wmh_als_vs_control.png").exists()
    (out / "figures").mkdir(exist_ok=True)
    users = out / "figures" / "fig2a_wmh_als_vs_control.png"
    users.write_bytes(b"the user's own figure 2A")
    before = _snapshot(out)
    with pytest.raises(als.OutputFolderError, match="fig2a_wmh_als_vs_control.png"):
        als.reproduce(minimal, out, quiet=True)
    assert _snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results"]


def test_input_table_inside_an_earlier_output_is_refused(tmp_path, minimal):
    out = tmp_path / "results"
    als.reproduce(minimal, out, quiet=True)
    table = out / "tables" / "visits_copy.csv"
    minimal.to_csv(table, index=False)
    before = _snapshot(out)
    with pytest.raises(als.OutputFolderError, match="inside the output folder"):
        als.reproduce(table, out, quiet=True)
    # also through a symbolic link to the folder
    link = tmp_path / "link"
    link.symlink_to(out)
    with pytest.raises(als.OutputFolderError, match="inside the output folder"):
        als.reproduce(link / "tables" / "visits_copy.csv", out, quiet=True)
    assert _snapshot(out) == before


def test_marker_listing_a_path_outside_is_refused(tmp_path, minimal):
    out = tmp_path / "results"
    als.reproduce(minimal, out, quiet=True)
    victim = tmp_path / "precious.txt"
    victim.write_text("outside the output folder")
    marker = json.loads((out / MARKER).read_text())
    marker["files"].append("../precious.txt")
    (out / MARKER).write_text(json.dumps(marker))
    with pytest.raises(als.OutputFolderError, match="precious"):
        als.reproduce(minimal, out, quiet=True)
    assert victim.read_text() == "outside the output folder"


def test_unwritable_place_is_one_line_error(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    assert main(["reproduce", "--out", str(blocker / "results")]) == 1
    line = _one_line_error(capsys)
    assert "not a folder" in line and str(blocker) in line
    assert blocker.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_parent_is_one_line_error(tmp_path, capsys):
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o555)
    try:
        assert main(["reproduce", "--out", str(parent / "results")]) == 1
        assert "Permission denied" in _one_line_error(capsys)
    finally:
        parent.chmod(0o755)


def test_linked_subfolder_of_an_earlier_output_is_not_written_through(tmp_path, minimal):
    out = tmp_path / "results"
    als.reproduce(minimal, out, quiet=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("not yours")
    for path in (out / "figures").iterdir():
        path.unlink()
    (out / "figures").rmdir()
    (out / "figures").symlink_to(elsewhere)
    with pytest.raises(als.OutputFolderError, match="link"):
        als.reproduce(minimal, out, quiet=True)
    assert sorted(p.name for p in elsewhere.iterdir()) == ["keep.txt"]


def test_failed_run_removes_the_folders_it_made(tmp_path, minimal, monkeypatch):
    from alsstats import pipeline

    def disk_full(run, visits):
        raise OSError(28, "No space left on device (simulated)")

    monkeypatch.setattr(pipeline, "_wmh", disk_full)
    with pytest.raises(OSError, match="simulated"):
        als.reproduce(minimal, tmp_path / "new" / "deeper" / "results", quiet=True)
    assert list(tmp_path.iterdir()) == []
