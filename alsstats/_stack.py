"""Where a warning should point: the first frame outside alsstats.

A fixed ``stacklevel`` breaks as soon as a call goes through a decorator (the deprecation shims
of :mod:`alsstats._deprecation`) or a helper, and the warning then names an alsstats file
instead of the researcher's line. :func:`user_stacklevel` counts the frames instead.
"""

from __future__ import annotations

import os
import sys

__all__ = ["user_stacklevel"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_stacklevel() -> int:
    """The ``stacklevel`` for a ``warnings.warn`` call made by this function's caller that
    points at the first frame outside the alsstats package (the user's code or a test).

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     warnings.warn("here", UserWarning, stacklevel=user_stacklevel())
    >>> caught[0].filename.startswith(_PACKAGE_DIR)
    False
    """
    frame = sys._getframe(1)  # the function about to call warnings.warn
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
            _PACKAGE_DIR):
        frame = frame.f_back
        level += 1
    return level
