"""The ``alsstats`` command: ``simulate``, ``volumes`` and ``reproduce``.

Each sub-command lives in its own ``_add_<name>`` (argument parser) and
``_run_<name>`` (what it does) pair, so the command line stays a thin layer over
the library's public functions.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from alsstats import __version__
from alsstats._outfolder import printable
from alsstats.errors import (
    DataValidationError,
    FormulaError,
    ImageReadError,
    OutputFolderError,
    TableReadError,
)


def _add_simulate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="write a synthetic CALSNIC-like cohort (visits.csv and truth.json)",
        description="Simulate a CALSNIC-like cohort with known truth and write it to a folder.",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", required=True,
                        help="output folder, e.g. data/synthetic/; an existing visits.csv is "
                             "replaced only when it is an earlier simulation (has truth.json)")
    parser.set_defaults(run=_run_simulate)


def _earlier_simulation(folder: Path) -> bool:
    """Whether ``folder`` holds what ``alsstats simulate`` wrote: visits.csv with the
    simulator's truth.json beside it."""
    import json

    visits, truth = folder / "visits.csv", folder / "truth.json"
    if not (visits.is_file() and truth.is_file()) or visits.is_symlink() or truth.is_symlink():
        return False
    try:
        content = json.loads(truth.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and {"arguments", "counts"} <= set(content)


def _run_simulate(args: argparse.Namespace) -> int:
    from alsstats.synthetic import write_cohort

    folder = Path(args.out)
    if os.path.lexists(folder) and not folder.is_dir():
        raise OutputFolderError(f"--out {folder}: exists and is not a folder")
    existing = [name for name in ("visits.csv", "truth.json")
                if os.path.lexists(folder / name)]
    if existing and not _earlier_simulation(folder):
        # never write over a table the user made: only an earlier simulation is replaced
        raise OutputFolderError(
            f"--out {folder}: {' and '.join(existing)} already there and not an earlier "
            "`alsstats simulate` output (visits.csv with its truth.json); choose another folder")
    written = write_cohort(args.out, seed=args.seed)
    for path in written:
        print(path, file=sys.stderr)
    return 0


def _add_volumes(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "volumes",
        help="lesion volumes from label maps (NIfTI, MINC) to a CSV",
        description="Count label voxels in segmentations and write one row per file.",
    )
    parser.add_argument("paths", nargs="+", help="label-map files (.nii, .nii.gz, .mnc)")
    parser.add_argument(
        "--label", action="append", default=None,
        help="label value to count; repeat for several (default 9, BISON's WMH)",
    )
    parser.add_argument("--atlas", default=None, help="region label image on the same grid")
    parser.add_argument("--lookup", default=None, help="region id -> name table for --atlas")
    parser.add_argument(
        "--out", required=True,
        help="output CSV, e.g. volumes.csv (a new file name: never a folder or one of the "
             "inputs; an existing file only with --overwrite)",
    )
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace an existing --out file (never allowed for one of the inputs)",
    )
    parser.add_argument("--jobs", type=int, default=1, help="parallel workers (-1: all cores)")
    parser.add_argument(
        "--errors", choices=("raise", "coerce"), default="raise",
        help="on a bad file: stop (raise) or keep going with an error column (coerce)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=_run_volumes)


class _VolumesError(Exception):
    """A problem with the ``volumes`` command line, reported as one line."""


def _volume_labels(texts: list[str] | None) -> list[float | int]:
    values: list[float | int] = []
    for text in texts or ["9"]:
        try:
            value = float(text)
        except ValueError:
            raise _VolumesError(f"--label {text!r} is not a number") from None
        if not math.isfinite(value):
            raise _VolumesError(f"--label {text!r}: a label must be a finite number")
        if value in values:
            raise _VolumesError(f"--label {text!r} is given twice")
        values.append(int(value) if value == int(value) else value)
    return values


def _same_file(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (or cannot be looked at): not the same
        return False


def _check_volumes_out(out: str, inputs: list[str], overwrite: bool = False) -> None:
    """Refuse an output that is a folder, not a regular file, one of the inputs, or (without
    ``overwrite``) an existing file."""
    if out.endswith(("/", os.sep)) or os.path.isdir(out):
        raise _VolumesError(f"--out {out} is a folder; give a file name, e.g. "
                            f"{os.path.join(out, 'volumes.csv')}")
    if os.path.lexists(out) and not os.path.isfile(out):
        raise _VolumesError(f"--out {out} exists and is not a regular file; give a new file name")
    for given in inputs:
        if _same_file(out, given):
            raise _VolumesError(f"--out {out} is one of the inputs ({given}); alsstats never "
                                "writes over its inputs: give another file name")
    if os.path.lexists(out) and not overwrite:
        raise _VolumesError(f"--out {out} already exists; alsstats does not replace a file it "
                            "did not create: give a new file name, or --overwrite to replace it")


def _run_volumes(args: argparse.Namespace) -> int:
    from alsstats.imaging import lesion_volumes
    from alsstats.report import write_table

    try:
        labels = _volume_labels(args.label)
        if args.jobs == 0:
            raise _VolumesError("--jobs 0 means no worker; give 1, 2, ... or -1 (all cores)")
        inputs = [p for p in [*args.paths, args.atlas, args.lookup] if p is not None]
        _check_volumes_out(args.out, inputs, args.overwrite)
    except _VolumesError as error:
        print(f"alsstats volumes: error: {error}", file=sys.stderr)
        return 1
    try:
        table = lesion_volumes(
            args.paths,
            label=labels[0] if len(labels) == 1 else labels,
            atlas=args.atlas,
            n_jobs=args.jobs,
            errors=args.errors,
            progress=not args.no_progress,
            lookup=args.lookup,
        )
    except DataValidationError as error:  # a bad atlas or lookup table: its problems, one line
        problems = "; ".join(" ".join(problem.split()) for problem in error.problems)
        print(f"alsstats volumes: error: {problems}", file=sys.stderr)
        return 1
    try:
        write_table(table, args.out)
    except OSError as error:
        print(f"alsstats volumes: error: cannot write {args.out} "
              f"({error.strerror or error})", file=sys.stderr)
        return 1
    failed = int(table["error"].notna().sum()) if "error" in table else 0
    print(f"{args.out}: {len(table)} rows ({failed} unreadable)", file=sys.stderr)
    return 0


def _add_reproduce(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "reproduce",
        help="run the papers' analyses and write figures, tables and a report",
        description=(
            "Run every analysis the visit table allows; write figures, tables and report.html. "
            "Analyses the table cannot support (e.g. no deaths yet) are skipped and listed with "
            "the reason; subjects an analysis leaves out are listed in "
            "tables/excluded_subjects.csv."),
        epilog=(
            "Output folder rule: the run never removes or overwrites a file it did not create. "
            "--out must be a new or empty folder, or the output of an earlier run (recognised "
            "by its .alsstats-output.json marker, which lists the files that run wrote); only "
            "those files are replaced and anything else in the folder stays untouched. A "
            "non-empty folder without the marker, a regular file, the folder holding --data, "
            "and the current directory, home or / (unless an earlier output) are refused."),
    )
    parser.add_argument("--data", default=None, help="visit table (CSV, TSV, Parquet); default: the shipped synthetic cohort")
    parser.add_argument("--out", required=True,
                        help="output folder: new, empty, or an earlier alsstats output")
    parser.add_argument("--cutoff-months", type=float, default=24.0,
                        help="survival-group cut-off, months from the baseline MRI "
                             "(default: %(default)g)")
    parser.add_argument("--ci-level", type=float, default=0.95,
                        help="level of every confidence interval (default: %(default)g)")
    parser.set_defaults(run=_run_reproduce)


def _run_reproduce(args: argparse.Namespace) -> int:
    import shlex
    import warnings

    from alsstats.errors import SkippedAnalysisWarning
    from alsstats.pipeline import reproduce

    with warnings.catch_warnings():
        # the progress log already says which analyses were skipped and why
        warnings.simplefilter("ignore", SkippedAnalysisWarning)
        options = [*(["--cutoff-months", f"{args.cutoff_months:g}"]
                     if args.cutoff_months != 24.0 else []),
                   *(["--ci-level", f"{args.ci_level:g}"] if args.ci_level != 0.95 else [])]
        reproduce(data=args.data, out=args.out, cutoff_months=args.cutoff_months,
                  ci_level=args.ci_level, command=shlex.join(
                      ["alsstats", "reproduce", *(["--data", args.data] if args.data else []),
                       "--out", args.out, *options]))
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``alsstats`` argument parser with all sub-commands."""
    parser = argparse.ArgumentParser(
        prog="alsstats",
        description="Longitudinal statistics of MRI biomarkers in ALS.",
    )
    parser.add_argument("--version", action="version", version=f"alsstats {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_simulate(subparsers)
    _add_volumes(subparsers)
    _add_reproduce(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``alsstats`` console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        return args.run(args)
    except (DataValidationError, FormulaError, ImageReadError, FileNotFoundError,
            TableReadError, OutputFolderError) as error:
        # Problems with the user's input: the message names them; a traceback would not help.
        # One problem is one line; several are listed one per line under a count.
        problems = getattr(error, "problems", None) or [str(error)]
        # Names from the user's files may hold terminal escape sequences: shown escaped.
        if len(problems) == 1:
            text = printable(problems[0])
        else:
            text = "\n".join([f"{len(problems)} problem(s) in the table:",
                              *("  - " + printable(p) for p in problems)])
        print(f"alsstats {args.command}: error: {text}", file=sys.stderr)
        return 1
    except OSError as error:
        # Permissions, a full disk, a read-only file system: one line naming the path.
        where = f": {error.filename}" if error.filename else ""
        reason = error.strerror or str(error)
        print(f"alsstats {args.command}: error: {printable(reason + where)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
