"""One summary shape for every result: :class:`Summary`, built only by :func:`render_summary`.

A summary is a title and blocks: headed key/value lines (:func:`lines`), tables
(:func:`table`) and preformatted text (:func:`preformatted`). :func:`render_summary` turns
them into plain text (consoles, ``print``) and HTML (notebooks, the report) in one place, so
every result prints its numbers the same way: p values only through
:func:`alsstats.formatting.format_p_value`, other numbers in fixed point (never scientific
notation), tables without an index column.

This module also holds the shape of ``to_frame()``: :data:`STANDARD_COLUMNS` first, then what
is specific to the result (:func:`standard_frame`).
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from alsstats.formatting import format_cell, format_p_value, format_significant

__all__ = ["STANDARD_COLUMNS", "Summary", "lines", "preformatted", "render_summary",
           "standard_frame", "table"]

STANDARD_COLUMNS = ["term", "estimate", "std_error", "statistic", "df", "p_value", "ci_low",
                    "ci_high"]

_P_COLUMNS = ("p_value", "p_adjusted", "p")


@dataclass(frozen=True)
class Summary:
    """What a result's ``summary()`` returns: a title, plain text and HTML.

    ``str(summary)`` and ``repr(summary)`` are the text (so ``print`` and a console show it);
    notebooks show :meth:`_repr_html_`; the report embeds :meth:`as_html`. Build one with
    :func:`render_summary`.

    Attributes
    ----------
    title : str
    text : str
        Plain text, tables aligned in columns.
    """

    title: str
    text: str
    _html: str = field(repr=False, compare=False)

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return self.text

    def as_html(self) -> str:
        """An HTML fragment (a ``<div class='alsstats-summary'>``): the title as a heading,
        key/value lines as definition lists, tables without an index column."""
        return self._html

    def _repr_html_(self) -> str:
        return self._html


@dataclass(frozen=True)
class _Block:
    kind: str  # "lines", "table" or "text"
    heading: str | None
    items: tuple[tuple[str, Any], ...] = ()
    frame: pd.DataFrame | None = None
    text: str = ""
    p_columns: tuple[str, ...] = _P_COLUMNS
    digits: int = 4


def lines(heading: str | None, items: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> _Block:
    """A block of ``key: value`` lines under an optional heading (``None`` values are left
    out; keys holding p values, e.g. ``p_value``, go through the p formatter)."""
    pairs = items.items() if isinstance(items, Mapping) else items
    return _Block("lines", heading, tuple((str(k), v) for k, v in pairs if v is not None))


def table(heading: str | None, frame: pd.DataFrame, *,
          p_columns: Sequence[str] = _P_COLUMNS, digits: int = 4) -> _Block:
    """A table under an optional heading. A named index becomes the first column(s), an
    unnamed one (row numbers) is dropped; columns in ``p_columns`` go through the p formatter,
    other numbers get ``digits`` significant digits in fixed point."""
    named = any(name is not None for name in frame.index.names)
    shown = frame.reset_index(drop=not named)
    return _Block("table", heading, frame=shown, p_columns=tuple(p_columns), digits=digits)


def preformatted(heading: str | None, text: str) -> _Block:
    """Text kept as it is (e.g. a printout laid out as R's)."""
    return _Block("text", heading, text=text)


def render_summary(title: str, blocks: Sequence[_Block], *, text: str | None = None,
                   p_style: str = "paper") -> Summary:
    """The one renderer of result summaries.

    Parameters
    ----------
    title : str
    blocks : sequence
        Made by :func:`lines`, :func:`table` and :func:`preformatted`, in display order.
    text : str, optional
        The plain text to use instead of rendering ``blocks`` as text (e.g. a printout laid
        out exactly as R's); the HTML still shows ``blocks``.
    p_style : {"paper", "r"}
        Style of the p values in the text (:func:`alsstats.formatting.format_p_value`). The
        HTML always prints p as papers do (``< 0.001``, three decimals), never in scientific
        notation.

    Returns
    -------
    Summary

    Examples
    --------
    >>> import pandas as pd
    >>> s = render_summary("Test", [lines(None, {"n": 12, "p_value": 0.0004}),
    ...                             table("Rows", pd.DataFrame({"term": ["a"], "estimate": [0.5]}))])
    >>> print(s)
    Test
    ====
    n: 12
    p_value: < 0.001
    <BLANKLINE>
    Rows
    term estimate
    a      0.5000
    """
    if text is None:
        parts = [title, "=" * len(title)]
        for i, block in enumerate(blocks):
            if i:
                parts.append("")
            parts.extend(_block_text(block, p_style))
        text = "\n".join(parts)
    body = "".join(_block_html(block, "paper") for block in blocks)
    markup = (f"<div class='alsstats-summary'><h4>{html.escape(title)}</h4>{body}</div>")
    return Summary(title=title, text=text, _html=markup)


# ------------------------------------------------------------------ cells
def _value_text(key: str, value: Any, p_style: str, digits: int, *, for_html: bool) -> str:
    if isinstance(value, (float, np.floating, int, np.integer)) and not isinstance(
            value, (bool, np.bool_)) and key in _P_COLUMNS:
        return format_p_value(float(value), style=p_style)
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_value_text(str(k), v, p_style, digits, for_html=for_html)}"
                         for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(_value_text(key, v, p_style, digits, for_html=for_html)
                         for v in value) or "none"
    if isinstance(value, (float, np.floating)) and not for_html:
        text = format_significant(float(value), digits)
        return text.rstrip("0").rstrip(".") if key and "." in text else text
    if isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_)) \
            and not for_html:
        return str(int(value))
    if for_html:
        return format_cell(value)
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    return str(value)


def _cells(block: _Block, p_style: str, *, for_html: bool) -> tuple[list[str], list[list[str]],
                                                                      list[bool]]:
    frame = block.frame
    header = [str(c) for c in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(
        frame[c]) for c in frame.columns]
    columns = []
    for name, is_number in zip(frame.columns, numeric, strict=True):
        values = frame[name].tolist()
        if is_number and str(name) in block.p_columns:
            texts = format_p_value([float(v) for v in values], style=p_style)
            if not for_html:
                texts = [t if t != "—" else "NaN" for t in texts]
        else:
            texts = [_value_text("", v, p_style, block.digits, for_html=for_html)
                     for v in values]
        columns.append(texts)
    rows = [list(row) for row in zip(*columns, strict=True)] if columns else []
    return header, rows, numeric


# ------------------------------------------------------------------ text
def _block_text(block: _Block, p_style: str) -> list[str]:
    out = [block.heading] if block.heading else []
    if block.kind == "lines":
        out += [f"{key}: {_value_text(key, value, p_style, block.digits, for_html=False)}"
                for key, value in block.items]
    elif block.kind == "text":
        out += block.text.splitlines()
    else:
        header, rows, numeric = _cells(block, p_style, for_html=False)
        widths = [max([len(h), *(len(r[j]) for r in rows)]) for j, h in enumerate(header)]
        def line(cells: list[str]) -> str:
            return " ".join(c.rjust(w) if num else c.ljust(w)
                            for c, w, num in zip(cells, widths, numeric, strict=True)).rstrip()
        out.append(" ".join(h.rjust(w) if num else h.ljust(w)
                            for h, w, num in zip(header, widths, numeric, strict=True)).rstrip())
        out += [line(r) for r in rows]
    return out


# ------------------------------------------------------------------ HTML
def _block_html(block: _Block, p_style: str) -> str:
    head = f"<h5>{html.escape(block.heading)}</h5>" if block.heading else ""
    if block.kind == "lines":
        items = "".join(
            f"<dt>{html.escape(key)}</dt><dd>"
            f"{html.escape(_value_text(key, value, p_style, block.digits, for_html=True))}</dd>"
            for key, value in block.items)
        return f"{head}<dl>{items}</dl>"
    if block.kind == "text":
        return f"{head}<pre>{html.escape(block.text)}</pre>"
    header, rows, numeric = _cells(block, p_style, for_html=True)
    align = ["right" if num else "left" for num in numeric]
    th = "".join(f"<th style='text-align: {a}'>{html.escape(h)}</th>"
                 for h, a in zip(header, align, strict=True))
    body = "".join("<tr>" + "".join(f"<td style='text-align: {a}'>{html.escape(c)}</td>"
                                    for c, a in zip(row, align, strict=True)) + "</tr>"
                   for row in rows)
    return f"{head}<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


# ------------------------------------------------------------------ to_frame
def standard_frame(frame: pd.DataFrame, term: str | Sequence[str] | None = None,
                   **constant: Any) -> pd.DataFrame:
    """``frame`` with :data:`STANDARD_COLUMNS` first (missing ones NaN), then its other
    columns, a fresh 0..n-1 index.

    ``term`` names the column (or gives the values) of ``term``; by default a column
    ``term``, else the index. ``constant`` adds columns of one value each.
    """
    out = frame.copy()
    if term is None:
        if "term" not in out.columns:
            name = out.index.name
            out = out.reset_index()
            out = out.rename(columns={name if name is not None else "index": "term"})
        else:
            out = out.reset_index(drop=True)
    elif isinstance(term, str):
        out = out.reset_index(drop=True).rename(columns={term: "term"})
    else:
        out = out.reset_index(drop=True)
        out.insert(0, "term", list(term))
    for column, value in constant.items():
        out[column] = value
    for column in STANDARD_COLUMNS:
        if column not in out.columns:
            out[column] = np.nan if column != "term" else ""
    numeric = [c for c in STANDARD_COLUMNS if c != "term"]
    out[numeric] = out[numeric].astype(float)
    out["term"] = out["term"].astype(str)
    rest = [c for c in out.columns if c not in STANDARD_COLUMNS]
    return out[STANDARD_COLUMNS + rest]
