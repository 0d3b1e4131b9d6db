"""Writing results to disk: tables, figures and a one-page HTML report.

Everything here is I/O. Every file is written to a temporary name beside its target and
renamed into place, so an interrupted run never leaves a half-written file.
"""

from __future__ import annotations

import base64
import html
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["ReportSection", "atomic_write_bytes", "save_figure", "write_report", "write_table"]


def atomic_write_bytes(path: str | os.PathLike[str], payload: bytes) -> Path:
    """Write ``payload`` to ``path`` through a temporary sibling and an atomic rename.

    The sibling is created with ``open(..., "xb")`` under a unique name, so the file gets the
    user's usual permissions (umask); ``tempfile.mkstemp`` would leave it readable by its
    owner only.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temporary, "xb") as stream:
            stream.write(payload)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


def write_table(table: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a tidy table as CSV (index kept when it is named, e.g. ``term``)."""
    keep_index = table.index.name is not None or any(n is not None for n in table.index.names)
    text = table.to_csv(index=keep_index, float_format="%.10g")
    return atomic_write_bytes(path, text.encode())


def save_figure(figure, stem: str | os.PathLike[str], formats: Sequence[str] = ("png", "pdf"),
                dpi: int = 200) -> list[Path]:
    """Save a matplotlib figure as ``stem.png`` and ``stem.pdf`` (atomically), TrueType fonts
    embedded in the PDF."""
    import io

    from alsstats.plotting import truetype_fonts

    written = []
    for fmt in formats:
        buffer = io.BytesIO()
        with truetype_fonts():
            figure.savefig(buffer, format=fmt, dpi=dpi, bbox_inches="tight")
        written.append(atomic_write_bytes(Path(f"{stem}.{fmt}"), buffer.getvalue()))
    return written


@dataclass
class ReportSection:
    """One section of the HTML report: a heading, prose, figures and tables."""

    title: str
    text: str = ""
    figures: list[Path] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.88em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; margin: 0.5em 0; } .caption { color: #555; font-size: 0.9em; }
.methods li { margin-bottom: 0.4em; }
"""


def _figure_html(path: Path) -> str:
    encoded = base64.b64encode(Path(path).read_bytes()).decode()
    return (
        f'<figure><img alt="{html.escape(path.stem)}" src="data:image/png;base64,{encoded}">'
        f'<figcaption class="caption">{html.escape(path.name)}</figcaption></figure>'
    )


def _table_html(name: str, table: pd.DataFrame) -> str:
    body = table.to_html(float_format=lambda v: f"{v:.4g}", na_rep="", border=0)
    return f"<h3>{html.escape(name)}</h3>{body}"


def write_report(
    path: str | os.PathLike[str],
    *,
    title: str,
    intro: str,
    sections: Sequence[ReportSection],
    methods: Sequence[str],
) -> Path:
    """Write a self-contained HTML page (figures embedded as PNG) atomically."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>",
    ]
    for section in sections:
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        if section.text:
            parts.append(f"<p>{html.escape(section.text)}</p>")
        parts.extend(_figure_html(figure) for figure in section.figures)
        parts.extend(_table_html(name, table) for name, table in section.tables.items())
    parts.append("<h2>Methods</h2><ul class='methods'>")
    parts.extend(f"<li>{html.escape(line)}</li>" for line in methods)
    parts.append("</ul></body></html>")
    return atomic_write_bytes(path, "\n".join(parts).encode())
