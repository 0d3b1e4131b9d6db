"""Run a per-file function over many files: in chunks, through joblib, with a progress bar.

Files are grouped into a few tasks per worker, so per-task overhead (and the atlas
shipped with each task) is paid per chunk, not per file. Errors that belong to a
file (:class:`~alsstats.errors.ImageReadError`, :class:`~alsstats.errors.DataValidationError`)
are caught in the worker and sent back as plain data; the parent either re-raises
them (``errors="raise"``) or records them in the row (``errors="coerce"``). So are a
:class:`MemoryError` and any other :class:`OSError` while one file is processed: they
are that file's failure. Any other exception is a bug in alsstats (the readers turn
every way a file can be bad into :class:`~alsstats.errors.ImageReadError`) and
propagates unchanged.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from typing import Any

from alsstats.errors import DataValidationError, ImageReadError

_MAX_CHUNK = 64
_TASKS_PER_WORKER = 4


def check_errors_mode(errors: str) -> bool:
    """True for ``"coerce"``, False for ``"raise"``; anything else is an error."""
    if errors not in ("raise", "coerce"):
        raise ValueError(f'errors must be "raise" or "coerce", got {errors!r}')
    return errors == "coerce"


def _is_terminal() -> bool:
    try:
        return bool(sys.stderr.isatty())
    except (AttributeError, ValueError):
        return False


def _one(func: Callable, item: Any, shared: Any) -> tuple[str, Any]:
    try:
        return "ok", func(item, shared)
    except ImageReadError as exc:
        return "ImageReadError", str(exc)
    except DataValidationError as exc:
        return "DataValidationError", exc.problems
    except MemoryError:
        return "ImageReadError", f"{_name(item)}: not enough memory to process this file"
    except OSError as exc:  # the system refused something about this file
        return "ImageReadError", f"{_name(item)}: {type(exc).__name__}: {exc}"


def _name(item: Any) -> str:
    """The file an item stands for (a path, or a tuple whose first element is one)."""
    return str(item[0] if isinstance(item, tuple) else item)


def _run_chunk(func: Callable, items: Sequence[Any], shared: Any) -> list[tuple[str, Any]]:
    return [_one(func, item, shared) for item in items]


def _rebuild(kind: str, payload: Any) -> Exception:
    if kind == "ImageReadError":
        return ImageReadError(payload)
    return DataValidationError(payload)


def error_text(kind: str, payload: Any) -> str:
    """One line for the ``error`` column."""
    if kind == "DataValidationError":
        return "; ".join(payload)
    return str(payload)


def map_files(
    func: Callable[[Any, Any], Any],
    items: Sequence[Any],
    shared: Any,
    *,
    n_jobs: int | None,
    coerce: bool,
    progress: bool,
    desc: str,
) -> list[tuple[str, Any]]:
    """``[(status, value)]`` per item, in order: ``("ok", func(item, shared))`` or an error.

    With ``coerce=False`` the first file error is raised (in item order).
    ``n_jobs=1`` runs in this process; anything else goes through
    :class:`joblib.Parallel`, so ``joblib.parallel_config(backend="dask")``
    sends the chunks to a Dask cluster.
    """
    from joblib import Parallel, delayed, effective_n_jobs
    from tqdm.auto import tqdm

    items = list(items)
    results: list[tuple[str, Any]] = []
    bar = tqdm(
        total=len(items), desc=desc, unit="file", disable=not (progress and _is_terminal())
    )
    try:
        workers = 1 if n_jobs == 1 or len(items) <= 1 else max(1, effective_n_jobs(n_jobs))
        if workers == 1:
            stream = ([_one(func, item, shared)] for item in items)
        else:
            size = max(1, min(_MAX_CHUNK, math.ceil(len(items) / (_TASKS_PER_WORKER * workers))))
            chunks = [items[i : i + size] for i in range(0, len(items), size)]
            stream = Parallel(n_jobs=n_jobs, return_as="generator")(
                delayed(_run_chunk)(func, chunk, shared) for chunk in chunks
            )
        for part in stream:
            if not coerce:
                for kind, payload in part:
                    if kind != "ok":
                        raise _rebuild(kind, payload)
            results.extend(part)
            bar.update(len(part))
    finally:
        bar.close()
    return results
