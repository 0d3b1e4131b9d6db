"""One release of grace for renamed or formerly positional arguments.

Every public function that changed its arguments wears one of these decorators, so an old
call keeps working for one release and says, with an :class:`alsstats.AlsstatsDeprecationWarning`,
what to write instead.
"""

from __future__ import annotations

import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from alsstats._stack import user_stacklevel
from alsstats.errors import AlsstatsDeprecationWarning

__all__ = ["formerly_positional", "renamed_arguments", "renamed_attribute"]

F = TypeVar("F", bound=Callable[..., Any])

_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def formerly_positional(*names: str) -> Callable[[F], F]:
    """Accept ``names`` by position (as the previous release did) with a deprecation warning.

    ``names`` are the keyword-only parameters that used to follow the positional ones, in
    their old order (e.g. ``"ax"``, ``"ci"``). Positional use still works for one release and
    raises :class:`alsstats.AlsstatsDeprecationWarning` naming the keyword to write instead.

    Examples
    --------
    >>> import warnings
    >>> @formerly_positional("scale")
    ... def area(side, *, scale=1.0):
    ...     return side * side * scale
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     area(2.0, 3.0)
    12.0
    >>> str(caught[0].message)
    'area: passing scale by position is deprecated and stops working in the next release; write scale=...'
    """

    def decorate(func: F) -> F:
        n_positional = sum(
            p.kind in _POSITIONAL for p in inspect.signature(func).parameters.values()
        )

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            extra = args[n_positional:]
            if extra:
                if len(extra) > len(names):
                    raise TypeError(
                        f"{func.__name__}() takes at most {n_positional + len(names)} "
                        f"positional arguments ({len(args)} given)"
                    )
                moved = names[: len(extra)]
                twice = [name for name in moved if name in kwargs]
                if twice:
                    raise TypeError(f"{func.__name__}() got multiple values for {twice[0]!r}")
                warnings.warn(
                    f"{func.__name__}: passing {', '.join(moved)} by position is deprecated "
                    f"and stops working in the next release; write "
                    + ", ".join(f"{name}=..." for name in moved),
                    AlsstatsDeprecationWarning,
                    stacklevel=user_stacklevel(),
                )
                kwargs.update(zip(moved, extra, strict=True))
                args = args[:n_positional]
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def renamed_arguments(**old_to_new: str) -> Callable[[F], F]:
    """Accept the old keyword names ``old_to_new`` for one release, with a deprecation warning.

    Passing both the old and the new name is a ``TypeError``; so is an old name the function
    never had.

    Examples
    --------
    >>> import warnings
    >>> @renamed_arguments(conf_level="ci_level")
    ... def interval(*, ci_level=0.95):
    ...     return ci_level
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     interval(conf_level=0.9)
    0.9
    >>> str(caught[0].message)
    'interval: conf_level= is deprecated and stops working in the next release; write ci_level='
    """

    def decorate(func: F) -> F:
        parameters = inspect.signature(func).parameters
        unknown = [new for new in old_to_new.values() if new not in parameters]
        if unknown:
            raise TypeError(f"renamed_arguments: {func.__name__} has no parameter {unknown[0]!r}")

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in old_to_new.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise TypeError(f"{func.__name__}() got both {old}= (deprecated) and {new}=")
                warnings.warn(
                    f"{func.__name__}: {old}= is deprecated and stops working in the next "
                    f"release; write {new}=",
                    AlsstatsDeprecationWarning,
                    stacklevel=user_stacklevel(),
                )
                kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def renamed_attribute(old: str, new: str) -> property:
    """A read-only property ``old`` that returns attribute ``new`` for one release, with a
    deprecation warning (for result attributes that were renamed).

    Examples
    --------
    >>> import warnings
    >>> class Result:
    ...     ci_level = 0.9
    ...     conf_level = renamed_attribute("conf_level", "ci_level")
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     Result().conf_level
    0.9
    >>> str(caught[0].message)
    'Result.conf_level is deprecated and stops working in the next release; use .ci_level'
    """

    def getter(self: Any) -> Any:
        warnings.warn(
            f"{type(self).__name__}.{old} is deprecated and stops working in the next release; "
            f"use .{new}",
            AlsstatsDeprecationWarning,
            stacklevel=user_stacklevel(),
        )
        return getattr(self, new)

    return property(getter, doc=f"Deprecated: use ``{new}``.")
