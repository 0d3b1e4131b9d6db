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

A worker *process* that dies (the kernel's OOM killer, a segfault in a C library,
``os._exit``) breaks the whole pool, and joblib raises the pool's error for every task
still out. Then every result already received is kept and the rest is recovered:
the tasks that had been handed out but had not come back are the suspects. Suspect
chunks are split into one file per task and run again, in a fresh pool, together with
the chunks never handed out; a suspect that is already a single file is run alone,
one ``Parallel`` call of one task each (so never in this process), and a file whose
lone task kills its worker is that file's failure. Each crash costs one pool restart;
only the few files in flight at a crash are ever run one at a time.
"""

from __future__ import annotations

import math
import re
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


def _run_chunk(func: Callable, task: list[int], items: Sequence[Any], shared: Any
               ) -> tuple[list[int], list[tuple[str, Any]]]:
    """The item indices of a task, with each item's result."""
    return task, [_one(func, item, shared) for item in items]


def _rebuild(kind: str, payload: Any) -> Exception:
    if kind == "ImageReadError":
        return ImageReadError(payload)
    return DataValidationError(payload)


def error_text(kind: str, payload: Any) -> str:
    """One line for the ``error`` column."""
    if kind == "DataValidationError":
        return "; ".join(payload)
    return str(payload)


_DIED = (
    "the worker processing this file was terminated ({why}); out of memory? "
    "try n_jobs=1 on a machine with more memory"
)


def _is_process_death(exc: BaseException) -> bool:
    """A worker process died: a broken process pool (loky's ``TerminatedWorkerError``
    is one) or Dask's ``KilledWorker`` (recognised by name: Dask may not be installed)."""
    from concurrent.futures.process import BrokenProcessPool

    if isinstance(exc, BrokenProcessPool):
        return True
    return any(cls.__name__ == "KilledWorker" and cls.__module__.startswith("distributed")
               for cls in type(exc).__mro__)


def _death_reason(exc: BaseException) -> str:
    """What the pool said about the death, e.g. ``exit codes {SIGKILL(-9)}``."""
    found = re.search(r"exit codes? of the workers? (?:are|is) (\{[^}]*\})", str(exc))
    if found:
        return f"exit codes {found.group(1)}"
    return type(exc).__name__


class _Handout:
    """The tasks (lists of item indices) of one ``Parallel`` call, counting how many
    joblib has taken; ``recovering`` after a crash: one task per batch, results as they come."""

    def __init__(self, func: Callable, tasks: list[list[int]], items: list[Any], shared: Any,
                 *, recovering: bool = False):
        self.func, self.tasks, self.items, self.shared = func, tasks, items, shared
        self.recovering = recovering
        self.taken = 0

    def __iter__(self):
        from joblib import delayed

        for task in self.tasks:
            self.taken += 1
            yield delayed(_run_chunk)(self.func, task, [self.items[i] for i in task], self.shared)


def _pool_run(n_jobs: int | None, handout: _Handout):
    """One ``Parallel`` call over ``handout``: ``(task, results)`` per task.

    In task order normally. When recovering, in completion order where joblib can
    (>= 1.4): a result that came back is never lost to the next crash for waiting
    behind a slow one, so only the tasks really in flight stay suspect.
    """
    import joblib

    if not handout.recovering:
        return joblib.Parallel(n_jobs=n_jobs, return_as="generator")(handout)
    version = tuple(int(part) for part in re.findall(r"\d+", joblib.__version__)[:2])
    order = "generator_unordered" if version >= (1, 4) else "generator"
    return joblib.Parallel(n_jobs=n_jobs, return_as=order, batch_size=1)(handout)


class _Recovery:
    """Finish a call whose pool broke: results by item index, the crash that named each killer."""

    def __init__(self, func: Callable, items: list[Any], shared: Any, n_jobs: int | None,
                 workers: int, coerce: bool, bar: Any):
        self.func, self.items, self.shared = func, items, shared
        self.n_jobs, self.coerce, self.bar = n_jobs, coerce, bar
        # more single suspects than this: run them again together first (one restart),
        # which clears all but the few really in flight when the culprit strikes again
        self.isolate_at_most = 2 * workers
        self.suspects = math.inf
        self.done: dict[int, tuple[str, Any]] = {}
        self.crashes: dict[int, BaseException] = {}

    def keep(self, task: list[int], part: list[tuple[str, Any]]) -> None:
        self.done.update(zip(task, part, strict=True))
        self.bar.update(len(part))

    def run(self, tasks: list[list[int]]) -> list[tuple[str, Any]]:
        """Run ``tasks`` (lists of item indices) until every item has a result."""
        while tasks:
            handout = _Handout(self.func, tasks, self.items, self.shared, recovering=True)
            returned: set[int] = set()
            try:
                for task, part in _pool_run(self.n_jobs, handout):
                    self.keep(task, part)
                    returned.add(task[0])
                tasks = []
            except Exception as exc:
                out = [task for task in tasks[: handout.taken] if task[0] not in returned]
                if not _is_process_death(exc) or not out:
                    raise  # a bug, or a pool broken before any task of ours was out
                tasks = self.after_crash(out, tasks[handout.taken :])
            self.raise_first_settled_error()
        return [self.done[i] for i in range(len(self.items))]

    def after_crash(self, out: list[list[int]], untouched: list[list[int]]) -> list[list[int]]:
        """Split the chunks that were out into single files; the single files that were
        out are run alone, or again together while there are many and they get fewer."""
        singles = [task for task in out if len(task) == 1]
        if len(singles) > self.isolate_at_most and len(singles) < self.suspects:
            self.suspects = len(singles)
            return [[i] for task in out for i in task] + untouched
        self.suspects = math.inf
        split = []
        for task in out:
            if len(task) == 1:
                self.isolate(task[0])
                self.raise_first_settled_error()
            else:
                split.extend([i] for i in task)
        return split + untouched

    def isolate(self, index: int) -> None:
        """Run one suspect alone, in a worker process; if that worker dies, it was this file."""
        handout = _Handout(self.func, [[index]], self.items, self.shared, recovering=True)
        try:
            for task, part in _pool_run(self.n_jobs, handout):
                self.keep(task, part)
        except Exception as exc:
            if not _is_process_death(exc):
                raise
            why = _DIED.format(why=_death_reason(exc))
            self.keep([index], [("ImageReadError", f"{_name(self.items[index])}: {why}")])
            self.crashes[index] = exc

    def raise_first_settled_error(self) -> None:
        """With ``errors="raise"``: the first failed item, once every item before it is done."""
        if self.coerce:
            return
        for i in range(len(self.items)):
            if i not in self.done:
                return
            kind, payload = self.done[i]
            if kind != "ok":
                raise _rebuild(kind, payload) from self.crashes.get(i)


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
    from joblib import effective_n_jobs
    from tqdm.auto import tqdm

    items = list(items)
    bar = tqdm(
        total=len(items), desc=desc, unit="file", disable=not (progress and _is_terminal())
    )
    try:
        workers = 1 if n_jobs == 1 or len(items) <= 1 else max(1, effective_n_jobs(n_jobs))
        if workers == 1:
            results: list[tuple[str, Any]] = []
            for item in items:
                _take([_one(func, item, shared)], results, coerce, bar)
            return results
        return _map_chunks(func, items, shared, n_jobs, workers, coerce, bar)
    finally:
        bar.close()


def _take(part: list[tuple[str, Any]], results: list[tuple[str, Any]], coerce: bool,
          bar: Any) -> None:
    """Append a task's results; with ``coerce=False`` raise its first file error."""
    if not coerce:
        for kind, payload in part:
            if kind != "ok":
                raise _rebuild(kind, payload)
    results.extend(part)
    bar.update(len(part))


def _map_chunks(func: Callable, items: list[Any], shared: Any, n_jobs: int | None,
                workers: int, coerce: bool, bar: Any) -> list[tuple[str, Any]]:
    """A few chunks per worker through one ``Parallel`` call; a pool broken by a dying
    worker hands the rest to :class:`_Recovery`."""
    size = max(1, min(_MAX_CHUNK, math.ceil(len(items) / (_TASKS_PER_WORKER * workers))))
    chunks = [list(range(i, min(i + size, len(items)))) for i in range(0, len(items), size)]
    handout = _Handout(func, chunks, items, shared)
    results: list[tuple[str, Any]] = []
    try:
        for _task, part in _pool_run(n_jobs, handout):
            _take(part, results, coerce, bar)
        return results
    except Exception as exc:
        returned = len(results) // size  # every chunk but the last holds `size` items
        if not _is_process_death(exc) or handout.taken == returned:
            raise
        recovery = _Recovery(func, items, shared, n_jobs, workers, coerce, bar)
        recovery.done.update(enumerate(results))
        tasks = recovery.after_crash(chunks[returned : handout.taken], chunks[handout.taken :])
        return recovery.run(tasks)
