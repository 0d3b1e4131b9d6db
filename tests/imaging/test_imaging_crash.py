"""A worker process that dies (SIGKILL, ``os._exit``) costs only the file it was processing.

Real loky worker processes are killed here; nothing of joblib is mocked. ``_pool_run`` is
only wrapped to count the ``Parallel`` calls and the ones a dead worker broke.
"""

from __future__ import annotations

import pytest
from crash_helpers import square_fail_or_die, square_or_bug, square_or_die, square_or_exit

import alsstats.imaging._batch as batch
from alsstats.errors import ImageReadError

ITEMS = [f"f{i:02d}" for i in range(20)]


@pytest.fixture
def pool_calls(monkeypatch):
    """``{"calls": n, "broken": m}``: Parallel calls made, and how many a process death broke."""
    counts = {"calls": 0, "broken": 0}
    real = batch._pool_run

    def counted(n_jobs, handout):
        counts["calls"] += 1
        try:
            yield from real(n_jobs, handout)
        except Exception as exc:
            counts["broken"] += batch._is_process_death(exc)
            raise

    monkeypatch.setattr(batch, "_pool_run", counted)
    return counts


def run(func, killers, *, coerce=True, items=ITEMS, n_jobs=2):
    return batch.map_files(func, items, frozenset(killers), n_jobs=n_jobs, coerce=coerce,
                           progress=False, desc="test")


def assert_only_killers_failed(results, killers, items=ITEMS):
    assert len(results) == len(items)
    for item, (kind, payload) in zip(items, results, strict=True):
        if item in killers:
            assert kind == "ImageReadError"
            assert payload.startswith(f"{item}: the worker processing this file was terminated (")
            assert "out of memory? try n_jobs=1" in payload
        else:
            assert (kind, payload) == ("ok", int(item[1:]) ** 2)


@pytest.mark.parametrize("killer", ["f00", "f09", "f19"])
def test_one_killer_costs_only_its_file(killer, pool_calls):
    results = run(square_or_die, {killer})
    assert_only_killers_failed(results, {killer})
    assert "SIGKILL" in results[ITEMS.index(killer)][1]
    # a few pool restarts (one per broken pool), never one per file; how many files are in
    # flight at a crash depends on timing, so the bounds leave room over the measured counts
    assert 1 <= pool_calls["broken"] <= 10  # measured 3-4
    assert pool_calls["calls"] <= 19  # measured 3-10; one per file would be 20


def test_os_exit_reports_the_exit_code():
    results = run(square_or_exit, {"f05"})
    assert_only_killers_failed(results, {"f05"})
    assert "{EXIT(9)}" in results[5][1]


def test_two_killers_both_identified(pool_calls):
    killers = {"f03", "f16"}
    assert_only_killers_failed(run(square_or_die, killers), killers)
    assert pool_calls["broken"] <= 10


def test_neighbouring_killers_in_one_chunk():
    killers = {"f06", "f07", "f08"}
    assert_only_killers_failed(run(square_or_die, killers), killers)


def test_raise_names_the_killer_not_its_chunk():
    with pytest.raises(ImageReadError, match=r"^f10: the worker processing this file was "
                                             r"terminated") as caught:
        run(square_or_die, {"f10"}, coerce=False)
    assert batch._is_process_death(caught.value.__cause__)


def test_raise_gives_the_first_failure_in_item_order():
    with pytest.raises(ImageReadError, match=r"^f04: "):
        run(square_or_die, {"f04", "f13"}, coerce=False)


def test_normal_run_makes_one_pool_call(pool_calls):
    results = run(square_or_die, set())
    assert results == [("ok", int(item[1:]) ** 2) for item in ITEMS]
    assert pool_calls == {"calls": 1, "broken": 0}


def test_in_process_run_needs_no_pool(pool_calls):
    assert run(square_or_die, set(), n_jobs=1) == [("ok", i * i) for i in range(20)]
    assert pool_calls["calls"] == 0


def test_a_bug_still_propagates_unchanged(pool_calls):
    with pytest.raises(KeyError, match="f07"):
        run(square_or_bug, {"f07"})
    assert pool_calls == {"calls": 1, "broken": 0}


def test_threading_backend_is_untouched(pool_calls):
    joblib = pytest.importorskip("joblib")
    with joblib.parallel_config(backend="threading"):
        assert run(square_or_die, set()) == [("ok", int(i[1:]) ** 2) for i in ITEMS]
        with pytest.raises(KeyError, match="f12"):
            run(square_or_bug, {"f12"})
    assert pool_calls == {"calls": 2, "broken": 0}


def test_process_death_is_recognised_by_type():
    from concurrent.futures.process import BrokenProcessPool

    from joblib.externals.loky.process_executor import TerminatedWorkerError

    assert batch._is_process_death(TerminatedWorkerError("gone"))
    assert batch._is_process_death(BrokenProcessPool("gone"))
    assert not batch._is_process_death(RuntimeError("gone"))
    assert not batch._is_process_death(ImageReadError("gone"))
    killed_worker = pytest.importorskip("distributed.scheduler").KilledWorker
    assert batch._is_process_death(killed_worker("task", "worker", 3))


@pytest.mark.parametrize(("unreadable", "killer", "first"),
                         [("f02", "f05", "f02"), ("f12", "f05", "f05"), ("f19", "f00", "f00")])
def test_raise_orders_file_errors_and_killers_by_item(unreadable, killer, first):
    shared = (frozenset({unreadable}), frozenset({killer}))
    with pytest.raises(ImageReadError, match=rf"^{first}: "):
        batch.map_files(square_fail_or_die, ITEMS, shared, n_jobs=2, coerce=False,
                        progress=False, desc="test")


def test_coerce_keeps_file_errors_and_killers_apart():
    shared = (frozenset({"f02", "f11"}), frozenset({"f05"}))
    results = batch.map_files(square_fail_or_die, ITEMS, shared, n_jobs=2, coerce=True,
                              progress=False, desc="test")
    assert results[2] == ("ImageReadError", "f02: unreadable")
    assert results[11] == ("ImageReadError", "f11: unreadable")
    others = [r for i, r in enumerate(results) if i not in (2, 11)]
    assert_only_killers_failed(others, {"f05"}, items=[i for i in ITEMS if i not in ("f02", "f11")])


def test_one_killer_among_200_files(pool_calls):
    items = [f"f{i:03d}" for i in range(200)]
    results = run(square_or_die, {"f099"}, items=items)
    assert_only_killers_failed(results, {"f099"}, items=items)
    assert pool_calls["broken"] <= 15  # measured 4-6
    assert pool_calls["calls"] <= 40  # measured 9-10; one per file would be 200
