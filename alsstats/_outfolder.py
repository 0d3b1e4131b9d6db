"""The output-folder rule of ``reproduce``: a run never removes or overwrites what it did not create.

Every run writes a marker file, :data:`MARKER` (``.alsstats-output.json``), listing the files it
wrote (paths relative to the folder). Before anything is written, :func:`check_output_folder`
decides whether ``out`` may be used:

- missing, or an empty folder: used (created);
- a folder holding the marker of an earlier run: only the files that run listed are replaced
  (or removed when this run does not write them again); everything else stays untouched;
- a non-empty folder without the marker: refused;
- a regular file (or anything else that is not a folder): refused;
- the current directory, the home directory or the file-system root: refused unless it holds
  an earlier run's marker;
- a folder holding (at any depth, after resolving links) one of the run's input files: refused.

The run is built in a hidden folder beside ``out`` and moved in file by file with
``os.replace`` (atomic per file on one file system) by :func:`publish`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from alsstats.errors import OutputFolderError

__all__ = ["MARKER", "check_output_folder", "printable", "publish", "safe_file_stem",
           "sibling_folder"]

MARKER = ".alsstats-output.json"
"""Name of the file every ``reproduce`` run writes into its output folder."""

_MAX_STEM = 120


def printable(text: str) -> str:
    r"""``text`` for a terminal: control characters (escape sequences, carriage returns) that
    a column name may hold are shown escaped instead of acting on the terminal.

    Examples
    --------
    >>> printable("flair_\x1b[2Jx\nnext")
    'flair_\\x1b[2Jx\\nnext'
    """
    return "".join(ch if ch.isprintable() or ch == " " else repr(ch)[1:-1]
                   for ch in str(text))


def safe_file_stem(name: str, taken: set[str] | None = None) -> str:
    """A file-name stem derived from data (e.g. a column name) that stays one plain file name.

    Path separators, ``..``, control characters, characters most file systems refuse and
    leading dots are replaced by ``_``; the stem is capped at 120 characters (keeping a
    short hash of the original so that long names stay distinct); an empty result becomes
    ``unnamed``. With ``taken`` (stems already used, compared case-insensitively as on macOS
    and Windows file systems) a collision gets a suffix ``-2``, ``-3``, ... and the stem is
    added to ``taken``.

    Examples
    --------
    >>> safe_file_stem("flair_/../../evil_progression")
    'flair________evil_progression'
    >>> taken = set()
    >>> safe_file_stem("flair_a/b", taken), safe_file_stem("flair_a:b", taken)
    ('flair_a_b', 'flair_a_b-2')
    """
    text = unicodedata.normalize("NFC", str(name))
    text = "".join("_" if unicodedata.category(ch).startswith("C") else ch for ch in text)
    text = re.sub(r'[/\\:*?"<>|]', "_", text)
    text = text.replace("..", "__").lstrip(". ").rstrip(". ")
    if not text:
        text = "unnamed"
    if len(text) > _MAX_STEM:
        import hashlib

        digest = hashlib.sha256(str(name).encode("utf-8", "surrogatepass")).hexdigest()[:10]
        text = f"{text[:_MAX_STEM - 11]}-{digest}"
    if taken is None:
        return text
    stem, number = text, 2
    while stem.casefold() in taken:
        stem = f"{text}-{number}"
        number += 1
    taken.add(stem.casefold())
    return stem


def _read_marker(folder: Path) -> list[str]:
    """The relative file paths an earlier run listed; refuses a marker that is not ours."""
    marker = folder / MARKER
    try:
        content = json.loads(marker.read_text(encoding="utf-8"))
        files = content["files"]
        if content.get("tool") != "alsstats" or not isinstance(files, list):
            raise ValueError
    except (OSError, ValueError, KeyError, TypeError):
        raise OutputFolderError(
            f"{folder}: {MARKER} is not a valid alsstats output marker; not touching the folder"
        ) from None
    for entry in files:
        path = PurePosixPath(entry) if isinstance(entry, str) else None
        if (path is None or path.is_absolute() or ".." in path.parts or not path.parts
                or entry != str(path) or "\\" in entry or entry == MARKER):
            raise OutputFolderError(
                f"{folder}: {MARKER} lists {entry!r}, which is not a file inside the folder; "
                "not touching the folder"
            )
    return list(files)


def _is_inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_output_folder(out: str | os.PathLike[str],
                        inputs: Iterable[str | os.PathLike[str]] = ()) -> list[str]:
    """Refuse an output folder the run may not write to; return the earlier run's file list.

    Raises
    ------
    OutputFolderError
        Naming the folder and the rule it breaks (see the module docstring).
    """
    out = Path(out)
    real = Path(os.path.realpath(out))
    for source in inputs:
        source_real = Path(os.path.realpath(source))
        if _is_inside(source_real, real):
            raise OutputFolderError(
                f"--out {out}: the input {source} is inside the output folder; choose an "
                "output folder that does not hold the data"
            )
    if not os.path.lexists(out):
        ancestor = out.absolute().parent
        while not os.path.lexists(ancestor):
            ancestor = ancestor.parent
        if not ancestor.is_dir():
            raise OutputFolderError(f"--out {out}: {ancestor} is a file, not a folder")
        return []
    if out.is_symlink() and not out.is_dir():
        raise OutputFolderError(f"--out {out}: is a link to {os.readlink(out)!r}, not a folder")
    if not out.is_dir():
        raise OutputFolderError(f"--out {out}: exists and is not a folder; give a folder name")
    has_marker = (out / MARKER).is_file()
    protected = {Path(os.path.realpath(p)) for p in (os.getcwd(), Path.home(), "/")}
    if real in protected and not has_marker:
        raise OutputFolderError(
            f"--out {out}: refusing to write results into the current directory, the home "
            "directory or the root; give a new folder, e.g. --out results/"
        )
    if has_marker:
        return _read_marker(out)
    if any(out.iterdir()):
        raise OutputFolderError(
            f"--out {out}: folder is not empty and is not an earlier alsstats output (no "
            f"{MARKER}); give a new or empty folder"
        )
    return []


def sibling_folder(out: Path, kind: str) -> Path:
    """A new hidden folder beside ``out`` with the user's usual permissions (``mkdtemp`` would
    make it readable by its owner only)."""
    folder = out.parent / f".{out.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex}"
    folder.mkdir()
    return folder


def _write_marker(folder: Path, files: list[str], version: str) -> None:
    from alsstats.report import atomic_write_bytes

    content = {
        "tool": "alsstats",
        "version": version,
        "written": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "note": "Files listed here were written by `alsstats reproduce` and are replaced by "
                "its next run into this folder; anything else in the folder is left alone.",
        "files": sorted(files),
    }
    atomic_write_bytes(folder / MARKER, (json.dumps(content, indent=1) + "\n").encode())


def publish(staging: Path, out: Path, earlier: list[str], version: str) -> list[str]:
    """Move the finished run from ``staging`` into ``out`` under the output-folder rule.

    ``earlier`` is what :func:`check_output_folder` returned. Returns the files written
    (relative paths). ``staging`` is removed.
    """
    files = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*")
                   if p.is_file() and p.name != MARKER)
    if not os.path.lexists(out):
        _write_marker(staging, files, version)
        os.replace(staging, out)
        return files
    # The folder may have changed since it was checked: check again, then make sure no file
    # this run writes would land on a file the earlier run did not write, or outside ``out``.
    earlier = check_output_folder(out)
    real = Path(os.path.realpath(out))
    previous = set(earlier)
    for name in files:
        target = out / name
        parent_real = Path(os.path.realpath(target.parent))
        if os.path.lexists(target.parent) and parent_real != real / PurePosixPath(name).parent:
            raise OutputFolderError(
                f"--out {out}: {target.parent} is a link or not a folder; not writing into it")
        if os.path.lexists(target) and (name not in previous or target.is_dir()):
            raise OutputFolderError(
                f"--out {out}: {name} exists and was not written by an earlier alsstats run; "
                "move it away or choose another output folder")
    # The marker first lists old and new files, so an interrupted move leaves nothing that a
    # later run would mistake for the user's.
    _write_marker(out, sorted(previous | set(files)), version)
    for name in files:
        target = out / name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, target)
    for name in sorted(previous - set(files)):
        target = out / name
        if target.is_file() and not target.is_symlink():
            target.unlink()
        for parent in PurePosixPath(name).parents:
            if str(parent) in ("", "."):
                break
            try:
                (out / parent).rmdir()  # only when empty: the user's files inside stay
            except OSError:
                break
    _write_marker(out, files, version)
    shutil.rmtree(staging, ignore_errors=True)
    return files
