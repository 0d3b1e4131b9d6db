"""Factor levels in R's order, the same for every model.

A pandas Categorical keeps its categories' order (unused ones dropped); otherwise levels are
sorted as R's ``sort`` / ``factor`` sort text in an English UTF-8 locale (ICU collation):
case-insensitive first, then lower case before upper case (``a < A < b < B``,
``classic < flail_arm < PLS``), punctuation before digits before letters, digits compared as
characters (``"10" < "9"``), accents after the plain letter. Numbers sort numerically and
booleans as ``FALSE < TRUE``; labels are R's ``as.character`` of the values.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

__all__ = ["level_label", "r_collation_key", "r_factorize", "r_levels", "r_order", "r_sort"]

_PUNCT = " \t\n_-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$"
_PUNCT_RANK = {c: i for i, c in enumerate(_PUNCT)}


def _weight(group: int, value: int) -> str:
    """One primary weight as a character: groups punctuation < symbols < digits < letters."""
    return chr(0x10000 * (group + 1) + min(value, 0xFFFF))


def _ascii_tables():
    primary, tertiary = {}, {}
    for code in range(128):
        ch = chr(code)
        if ch in _PUNCT_RANK:
            primary[code] = _weight(0, _PUNCT_RANK[ch])
        elif ch.isdigit():
            primary[code] = _weight(2, int(ch))
        elif ch.isalpha():
            primary[code] = _weight(3, ord(ch.lower()))
        else:
            primary[code] = _weight(1, code)
        tertiary[code] = "1" if ch.isupper() else "0"
    return str.maketrans(primary), str.maketrans(tertiary)


_ASCII_PRIMARY, _ASCII_TERTIARY = _ascii_tables()


_ASCII_PRIMARY_JOINED = {**_ASCII_PRIMARY, 0: "\x00"}


def _ascii_order(values: list[str], array: np.ndarray | None = None) -> np.ndarray:
    """Permutation putting distinct ASCII strings (without NUL) in :func:`r_collation_key`
    order: primary weights by one translation of the joined text, ties (equal but for case)
    lower case first."""
    order = _alnum_order(values, array)
    if order is not None:
        return order
    joined = "\x00".join(values)
    primary = np.array(joined.translate(_ASCII_PRIMARY_JOINED).split("\x00"))
    order = np.argsort(primary, kind="stable")
    ranked = primary[order]
    if (ranked[1:] == ranked[:-1]).any():
        tertiary = np.array(joined.swapcase().split("\x00"))
        order = np.lexsort((tertiary, primary))
    return order


def _alnum_order(values: list[str], array: np.ndarray | None = None) -> np.ndarray | None:
    """:func:`_ascii_order` of ASCII letters and digits (ids such as ``S001``, ``sub07``) in
    one code-point sort, None for other text. The primary weights rank digits before letters
    and letters by their lower case, as code points do among digits and letters of one case;
    so R's order is that of the lower-cased strings when those are distinct (no tie for the
    case rule to break). ``array``: ``values`` as an object array, if the caller has it."""
    body = "".join(values)
    if not body.isalnum():
        return None
    if body.isupper() or body.islower() or body.isdigit():
        if array is not None:
            return np.argsort(array, kind="stable")
        keys = values
    else:
        keys = "\x00".join(values).lower().split("\x00")
        if len(set(keys)) != len(keys):
            return None
    out = np.empty(len(keys), dtype=object)
    out[:] = keys
    return np.argsort(out, kind="stable")


def r_collation_key(text: str) -> tuple:
    """Sort key reproducing R's (ICU, English) string order."""
    text = str(text)
    if text.isascii():
        return (text.translate(_ASCII_PRIMARY), "0" * len(text),
                text.translate(_ASCII_TERTIARY), text)
    return _unicode_key(text)


def _unicode_key(text: str) -> tuple:
    primary, secondary, tertiary = [], [], []
    for ch in unicodedata.normalize("NFD", str(text)):
        if unicodedata.combining(ch):
            if secondary:
                secondary[-1] += 1
            continue
        if ch in _PUNCT_RANK:
            primary.append((0, _PUNCT_RANK[ch]))
        elif ch.isdigit():
            primary.append((2, unicodedata.digit(ch, 0)))
        elif ch.isalpha():
            primary.append((3, ord(ch.lower()[0])))
        else:
            primary.append((1, ord(ch)))
        secondary.append(0)
        tertiary.append(1 if ch.isupper() else 0)
    return ("".join(_weight(g, v) for g, v in primary),
            "".join(chr(0x30 + v) for v in secondary), "".join(map(str, tertiary)), text)


def level_label(value) -> str:
    """R's ``as.character`` of a level value (``1`` not ``1.0``, ``TRUE``/``FALSE``)."""
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if v == int(v) and abs(v) < 1e15:
            return str(int(v))
        return f"{v:.15g}"
    return str(value)


def r_order(uniq: list) -> np.ndarray:
    """Permutation putting distinct non-missing values in R's order (numbers numerically,
    booleans FALSE < TRUE, text by R's English collation)."""
    n = len(uniq)
    if pd.api.types.infer_dtype(uniq, skipna=False) == "string" or n == 0:
        array = uniq if isinstance(uniq, np.ndarray) and uniq.dtype == object else None
        uniq = list(uniq)
        joined = "".join(uniq)
        if joined.isascii() and "\x00" not in joined:  # numpy strings drop trailing NULs
            return _ascii_order(uniq, array)
        return np.array(sorted(range(n), key=lambda i: r_collation_key(uniq[i])), dtype=np.int64)
    types = {type(v) for v in uniq}
    if all(issubclass(t, (bool, np.bool_, int, float, np.integer, np.floating)) for t in types):
        return np.argsort(np.array(uniq, dtype=float), kind="stable")
    return np.array(sorted(range(n), key=lambda i: r_collation_key(level_label(uniq[i]))),
                    dtype=np.int64)


def r_sort(values) -> list:
    """Distinct non-missing ``values`` in R's order (numbers numerically, text as R)."""
    arr = values if isinstance(values, np.ndarray) else np.asarray(list(values), dtype=object)
    uniq = pd.unique(arr.ravel())
    uniq = [v for v, na in zip(uniq, pd.isna(uniq), strict=True) if not na]
    return _take(uniq, r_order(uniq))


def _take(values: list, order: np.ndarray) -> list:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out[order].tolist()


def r_factorize(values: pd.Series) -> tuple[np.ndarray, list]:
    """Codes (-1 for missing) and levels in R's order, in one hashing pass.

    Examples
    --------
    >>> codes, levels = r_factorize(pd.Series(["PLS", "classic", None, "PLS"]))
    >>> codes.tolist(), levels
    ([1, 0, -1, 1], ['classic', 'PLS'])
    """
    codes, levels, _ = factorize_levels(values)
    return codes, levels


def factorize_levels(values: pd.Series) -> tuple[np.ndarray, list, np.ndarray | None]:
    """:func:`r_factorize`, and the levels as an object array when they are all text (else
    None): ``pd.Index`` of that array is the ``pd.Index`` of the list, built without
    re-inspecting every value."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        levels = r_levels(values)
        where = pd.Index(levels).get_indexer(values.cat.categories)
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        return np.where(codes >= 0, where[np.maximum(codes, 0)], -1), levels, None
    text = None
    if values.dtype == object:
        inv, uniq = pd.factorize(values.to_numpy())  # uniq: an object array
        if pd.api.types.infer_dtype(uniq, skipna=False) == "string":
            text = uniq
    else:
        inv, uniq = pd.factorize(values)
    order = r_order(text if text is not None else list(uniq))
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    if len(rank) and inv.min(initial=0) >= 0:
        codes = rank[inv]
    else:
        codes = np.where(inv >= 0, rank[np.maximum(inv, 0)] if len(rank) else -1, -1)
    if text is not None:
        ordered = text[order]
        return codes.astype(np.int64), ordered.tolist(), ordered
    return codes.astype(np.int64), _take(list(uniq), order), None


def r_levels(values: pd.Series) -> list:
    """Factor levels as R orders them: Categorical order (present levels), else :func:`r_sort`.

    Examples
    --------
    >>> r_levels(pd.Series(["PLS", "classic", "flail_arm", "classic"]))
    ['classic', 'flail_arm', 'PLS']
    >>> r_levels(pd.Series(["B", "a"]))
    ['a', 'B']
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        present = pd.unique(values.cat.codes[values.cat.codes >= 0])
        return [values.cat.categories[i] for i in sorted(present)]
    return r_sort(values.to_numpy())
