"""Per-item functions for ``map_files`` that really end the worker process running them.

They live in an importable module so that loky workers can unpickle them.
"""

from __future__ import annotations

import os
import signal
import time

from alsstats.errors import ImageReadError


def square_or_die(item: str, killers: frozenset[str]) -> int:
    """``int(item[1:]) ** 2``; for an item in ``killers``, the process is SIGKILLed (as
    the kernel's OOM killer does)."""
    if item in killers:
        os.kill(os.getpid(), signal.SIGKILL)
    return int(item[1:]) ** 2


def square_or_exit(item: str, killers: frozenset[str]) -> int:
    """As :func:`square_or_die`, but the process leaves through ``os._exit(9)``."""
    if item in killers:
        os._exit(9)
    return int(item[1:]) ** 2


def square_or_bug(item: str, buggy: frozenset[str]) -> int:
    """As :func:`square_or_die`, but an item in ``buggy`` raises a plain bug (KeyError)."""
    if item in buggy:
        raise KeyError(item)
    return int(item[1:]) ** 2


def slow_square_or_die(item: str, shared: tuple[frozenset[str], float]) -> int:
    """As :func:`square_or_die` after sleeping ``shared[1]`` seconds (a file that takes time)."""
    killers, seconds = shared
    time.sleep(seconds)
    return square_or_die(item, killers)


def square_fail_or_die(item: str, shared: tuple[frozenset[str], frozenset[str]]) -> int:
    """As :func:`square_or_die` with ``shared[1]`` as killers; an item in ``shared[0]`` is
    an unreadable file (:class:`~alsstats.errors.ImageReadError`)."""
    unreadable, killers = shared
    if item in unreadable:
        raise ImageReadError(f"{item}: unreadable")
    return square_or_die(item, killers)
