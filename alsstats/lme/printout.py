"""lmerTest's printed ``summary()`` of a mixed model, line by line (:func:`lmer_summary_text`).

R's layout and digits are reproduced from how R formats numbers, not approximated with Python
format specs: ``format(x, digits = d)`` picks, over a whole column, the fewest decimals that
show every entry to ``d`` significant digits (and switches the column to scientific notation
when that is narrower); ``round`` rounds to the nearer of the two decimal neighbours of the
binary value; ``printCoefmat`` formats estimates, standard errors and df together, t values
to 3 decimals and p values with ``format.pval``; ``abbreviate`` shortens the correlation
matrix's labels by dropping lower-case vowels, then lower-case letters, from the right;
``cat(fill = TRUE)``, ``strwrap`` and ``deparse`` decide where long lines break.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from alsstats._rformat import r_format, r_round, zapsmall
from alsstats.formatting import format_p_value
from alsstats.formula._parser import (
    _SPACED,
    BinOp,
    Call,
    Name,
    Num,
    Paren,
    Str,
    Unary,
    _num_text,
    parse_formula_text,
    quote,
)

__all__ = ["lmer_summary_text"]

WIDTH = 80  # getOption("width")
DIGITS = 4  # print.summary.merMod: max(3, getOption("digits") - 3)
COR_MAX = 12  # getOption("lme4.summary.cor.max")
R_CLASS = "lmerModLmerTest"  # the class tag R prints; its width decides the title's line break
CLASS_TAG = "LMEResult"
LEGEND = "0 \u2018***\u2019 0.001 \u2018**\u2019 0.01 \u2018*\u2019 0.05 \u2018.\u2019 0.1 \u2018 \u2019 1"


def _format_one(v: float, digits: int = 7) -> str:
    return r_format([v], digits)[0]


def _format_pval(pv: Sequence[float], digits: int) -> list[str]:
    """R's ``format.pval`` of a p-value column: the package's one p formatter,
    :func:`alsstats.formatting.format_p_value` in R style."""
    return format_p_value([float(p) for p in pv], style="r", digits=digits)


# ---------------------------------------------------------------------------- R's printing
def _print_matrix(cells: list[list[str]], rownames: list[str], colnames: list[str],
                  right: bool) -> list[str]:
    """``print.default`` of a character matrix (``quote = FALSE``): row names left-aligned,
    columns aligned right or left with their headers, blocks of columns that fit the width."""
    rlabw = max((len(r) for r in rownames), default=0)
    ncol = len(colnames)
    widths = [max([len(colnames[j])] + [len(row[j]) for row in cells]) for j in range(ncol)]
    lines: list[str] = []
    jmin = 0
    while jmin < ncol:
        width, jmax = rlabw, jmin
        while True:
            width += widths[jmax] + 1
            jmax += 1
            if not (jmax < ncol and width + widths[jmax] + 1 < WIDTH):
                break

        def cell(text: str, j: int) -> str:
            return " " + (text.rjust(widths[j]) if right else text.ljust(widths[j]))

        lines.append(" " * rlabw + "".join(cell(colnames[j], j) for j in range(jmin, jmax)))
        for name, row in zip(rownames, cells, strict=True):
            lines.append(name.ljust(rlabw) + "".join(cell(row[j], j) for j in range(jmin, jmax)))
        jmin = jmax
    return lines


def _print_named(values: list[str], names: list[str]) -> list[str]:
    """``print`` of a named vector: names over values, all right-aligned to one width."""
    w = max(len(s) for s in values + names)
    per_line = max(1, WIDTH // (w + 1))
    lines = []
    for start in range(0, len(values), per_line):
        sl = slice(start, start + per_line)
        lines.append("".join(n.rjust(w) + " " for n in names[sl]))
        lines.append("".join(v.rjust(w) + " " for v in values[sl]))
    return lines


def _cat_fill(items: list[str], sep: str = " ") -> list[str]:
    """``cat(..., sep = sep, fill = TRUE)``: items written with ``sep`` after each, a new line
    started before an item that would pass the width."""
    lines, current = [], ""
    for k, item in enumerate(items):
        if current and len(current) + len(item) + len(sep) > WIDTH:
            lines.append(current)
            current = ""
        current += item
        if k < len(items) - 1:
            current += sep
    lines.append(current)
    return lines


def _strwrap(text: str, width: int, exdent: int = 0) -> list[str]:
    """``strwrap``: greedy word wrap into lines shorter than ``width``."""
    lines, current = [], ""
    for word in text.split():
        trial = f"{current} {word}" if current else word
        if current and len(trial) >= width - (exdent if lines else 0):
            lines.append(current)
            current = word
        else:
            current = trial
    lines.append(current)
    return [lines[0]] + [" " * exdent + s for s in lines[1:]]


def _abbreviate_one(text: str, minlength: int) -> str:
    """R's C-level abbreviation (``use.classes = TRUE``) of one name: from the right, drop
    lower-case vowels ending a word, then other lower-case vowels, then lower-case letters
    ending a word, then other lower-case letters, then anything but a word's first character,
    until at most ``minlength`` characters (spaces not counted) remain; spaces then go."""
    s = list(text.strip())
    if len(s) < minlength:
        return "".join(s)
    nspace = sum(ch.isspace() for ch in s)
    vowels = set("aeiou")

    def last_char(i: int) -> bool:
        return not s[i - 1].isspace() and (i + 1 >= len(s) or s[i + 1].isspace())

    def first_char(i: int) -> bool:
        return s[i - 1].isspace()

    rules = [lambda i: s[i] in vowels and last_char(i),
             lambda i: s[i] in vowels and not first_char(i),
             lambda i: s[i].islower() and last_char(i),
             lambda i: s[i].islower() and not first_char(i),
             lambda i: not first_char(i) and not s[i].isspace()]
    done = len(s) - nspace <= minlength
    for rule in rules:
        if done:
            break
        for i in range(len(s) - 1, 0, -1):
            if rule(i):
                del s[i]
            if len(s) - nspace <= minlength:
                done = True
                break
    if len(s) > minlength:
        s = s[:1] + [ch for ch in s[1:] if not ch.isspace()]
    return "".join(s)


def _abbreviate(names: list[str], minlength: int) -> list[str]:
    """R's ``abbreviate(names, minlength)``: abbreviations that collide are redone one
    character longer until all differ."""
    uniq = list(dict.fromkeys(names))
    out = {n: _abbreviate_one(n, minlength) for n in uniq}
    length = minlength
    redo = list(uniq)
    while True:
        for n in redo:
            out[n] = _abbreviate_one(n, length)
        seen: dict[str, list[str]] = {}
        for n in uniq:
            seen.setdefault(out[n], []).append(n)
        clashes = [n for group in seen.values() if len(group) > 1 for n in group]
        if not clashes:
            break
        length += 1
        redo = clashes
    return [out[n] for n in names]


class _Deparser:
    """R's ``deparse`` (width.cutoff 60): a line ends after a binary operator or an argument's
    comma once it is longer than 60 characters; continuation lines are indented."""

    BREAKING = _SPACED

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.current = ""
        self.indent = 0
        self.start = True

    def put(self, text: str) -> None:
        if self.start:
            self.start = False
            self.current += "".join("    " if i < 4 else "  " for i in range(self.indent))
        self.current += text

    def linebreak(self, already: bool) -> bool:
        if len(self.current) > 60:
            if not already:
                self.indent += 1
            self.lines.append(self.current)
            self.current, self.start = "", True
            return True
        return already

    def walk(self, node: Any) -> None:
        if isinstance(node, Name):
            constant = node.id in ("TRUE", "FALSE", "Inf", "NaN", "NA")
            self.put(node.id if constant else quote(node.id))
        elif isinstance(node, Num):
            self.put(_num_text(node.value))
        elif isinstance(node, Str):
            self.put('"' + node.value + '"')
        elif isinstance(node, Paren):
            self.put("(")
            self.walk(node.expr)
            self.put(")")
        elif isinstance(node, Unary):
            self.put(node.op)
            self.walk(node.operand)
        elif isinstance(node, BinOp):
            self.walk(node.left)
            if node.op in self.BREAKING or node.op.startswith("%"):
                self.put(f" {node.op} ")
                broke = self.linebreak(False)
                self.walk(node.right)
                if broke:
                    self.indent -= 1
            else:
                self.put(node.op)
                self.walk(node.right)
        elif isinstance(node, Call):
            self.put(f"{node.func}(")
            args = [(None, a) for a in node.args] + list(node.kwargs)
            broke = False
            for k, (name, value) in enumerate(args):
                if name is not None:
                    self.put(f"{name} = ")
                self.walk(value)
                if k < len(args) - 1:
                    self.put(", ")
                    broke = self.linebreak(broke)
            if broke:
                self.indent -= 1
            self.put(")")
        else:
            raise TypeError(f"not a formula node: {node!r}")

    def text(self, node: Any) -> list[str]:
        self.walk(node)
        self.lines.append(self.current)
        return self.lines


def _deparse_lines(formula: str) -> list[str]:
    return _Deparser().text(parse_formula_text(formula))


# ---------------------------------------------------------------------------- the result
def _r_name(term: str) -> str:
    return "(Intercept)" if term == "Intercept" else term


def _title(result: Any) -> list[str]:
    reml = result.estimation == "REML"
    title = "Linear mixed model fit by " + ("REML" if reml else "maximum likelihood ")
    tests = {"satterthwaite": "Satterthwaite's", "kenward-roger": "Kenward-Roger's"}
    df_method = result.method["df_method"]
    if df_method in tests:
        title += f". t-tests use {tests[df_method]} method"
    else:
        title += ". z-tests use the normal approximation"
    if len(title) + 5 + len(R_CLASS) <= WIDTH:
        return [f"{title} ['{CLASS_TAG}']"]
    # R wraps the title, then writes " [", the class and "]" with cat(fill = TRUE); the line
    # breaks are decided with R's class name so that they fall where lmerTest's do.
    lines = _cat_fill(_strwrap(title, WIDTH - 2, exdent=2) + [" [", R_CLASS, "]"], sep="")
    return [line.replace(R_CLASS, CLASS_TAG) for line in lines]


def _call_lines(result: Any) -> list[str]:
    data_name = getattr(result, "data_name", None) or "data"
    return (_cat_fill(["Formula:"] + _deparse_lines(result.formula))
            + _cat_fill(["   Data:", data_name]))


def _criterion_lines(result: Any) -> list[str]:
    if result.estimation == "REML":
        value = r_round(result.deviance, 1)[0]
        return _cat_fill(["REML criterion at convergence:", _format_one(value)])
    values = [result.aic, result.bic, result.loglik, result.deviance,
              float(result.n_obs - result.n_params)]
    rounded = r_round(values, 1)
    shown = r_format(rounded)
    shown[-1] = _format_one(rounded[-1])
    return _print_named(shown, ["AIC", "BIC", "logLik", "deviance", "df.resid"])


def _residual_lines(result: Any) -> list[str]:
    scaled = np.asarray(result.residuals, dtype=float) / math.sqrt(result.residual_variance)
    q = zapsmall(np.quantile(scaled, [0.0, 0.25, 0.5, 0.75, 1.0]), DIGITS + 1)
    return (["Scaled residuals: "]
            + _print_named(r_format(q, DIGITS), ["Min", "1Q", "Median", "3Q", "Max"]) + [""])


def _random_effect_lines(result: Any) -> list[str]:
    vc = result.varcorr
    blocks = []
    for grp in dict.fromkeys(vc["grp"]):
        part = vc[vc["grp"] == grp]
        if grp == "Residual":
            continue
        variances = part[part["var2"].isna()]
        names = list(variances["var1"])
        sd = variances["sdcor"].to_numpy(dtype=float)
        corr = np.eye(len(names))
        for a, b, c in zip(part["var1"], part["var2"], part["sdcor"], strict=True):
            if isinstance(b, str):
                i, j = names.index(a), names.index(b)
                corr[i, j] = corr[j, i] = c
        blocks.append((grp, names, sd, corr))
    resid_sd = math.sqrt(result.residual_variance)
    sds = np.concatenate([b[2] for b in blocks] + [[resid_sd]])
    variance = r_format(sds ** 2, DIGITS)
    std_dev = r_format(sds, DIGITS)
    rows = []
    for grp, names, _, _ in blocks:
        rows += [[grp if k == 0 else "", _r_name(n)] for k, n in enumerate(names)]
    rows.append(["Residual", ""])
    colnames = ["Groups", "Name", "Variance", "Std.Dev."]
    for row, v, s in zip(rows, variance, std_dev, strict=True):
        row += [v, s]
    maxlen = max(len(b[1]) for b in blocks)
    if maxlen > 1:
        corr_rows = []
        for _, names, _, corr in blocks:
            dig = max(2, DIGITS - 2)
            cells = r_format(r_round(corr.ravel(), dig), nsmall=dig)
            k = len(names)
            for i in range(k):
                line = [cells[i * k + j] if j < i else "" for j in range(k)]
                corr_rows.append((line + [""] * (maxlen - k))[:maxlen - 1])
        corr_rows += [[""] * (maxlen - 1)] * (len(rows) - len(corr_rows))
        for row, extra in zip(rows, corr_rows, strict=True):
            row += extra
        colnames += ["Corr"] + [""] * (maxlen - 2)
    counts = "; ".join(dict.fromkeys(f"{b.grp}, {len(b.levels)}" for b in result.random_blocks))
    grps = _cat_fill([f"Number of obs: {result.n_obs}, groups: ", counts])
    return (["Random effects:"] + _print_matrix(rows, [""] * len(rows), colnames, right=False)
            + grps)


def _coefficient_lines(result: Any) -> list[str]:
    tab = result.coefficients
    normal = result.method["df_method"] == "normal"
    cs_cols = ["estimate", "std_error"] + ([] if normal else ["df"])
    coef_se = tab[cs_cols].to_numpy(dtype=float)
    colnames = ["Estimate", "Std. Error"] + ([] if normal else ["df"])
    colnames += ["z value", "Pr(>|z|)"] if normal else ["t value", "Pr(>|t|)"]
    n = len(tab)
    acs = np.abs(coef_se)
    finite = np.isfinite(acs)
    cells = [[""] * (len(colnames)) for _ in range(n)]
    if finite.any():
        nonzero = acs[finite & (acs != 0)]
        digmin = 1 + np.floor(np.log10([nonzero.min(), nonzero.max()])) if nonzero.size \
            else np.array([0.0])
        dec = max([1.0] + list(DIGITS - digmin))
        rounded = r_round(coef_se.ravel(order="F"), dec)
        shown = r_format(rounded, DIGITS)
        # entries shown as 0 that are not 0 (or the reverse) get their own digits
        for k, (orig, text) in enumerate(zip(coef_se.ravel(order="F"), shown, strict=True)):
            if math.isfinite(orig) and (orig == 0) != (float(text) == 0):
                shown[k] = _format_one(orig, DIGITS - 1)
        for k, text in enumerate(shown):
            cells[k % n][k // n] = text
    dig_tst = max(1, min(5, DIGITS - 1))
    stat = r_format(r_round(tab["statistic"].to_numpy(dtype=float), dig_tst), DIGITS)
    pv = [float(p) for p in tab["p_value"]]
    pshown = _format_pval(pv, dig_tst)
    ncs = len(cs_cols)
    for i in range(n):
        cells[i][ncs] = stat[i]
        cells[i][ncs + 1] = pshown[i]
    stars = any(p < 0.1 for p in pv if not math.isnan(p))
    if stars:
        marks = ["***" if p <= 0.001 else "**" if p <= 0.01 else "*" if p <= 0.05
                 else "." if p <= 0.1 else " " for p in pv]
        width = max(len(m) for m in marks)
        for row, mark in zip(cells, marks, strict=True):
            row.append(mark.ljust(width))
        colnames = colnames + [""]
    rownames = [_r_name(t) for t in tab.index]
    lines = ["", "Fixed effects:"] + _print_matrix(cells, rownames, colnames, right=True)
    if stars:
        lines += ["---", "Signif. codes:  " + LEGEND]
    return lines


def _correlation_lines(result: Any) -> list[str]:
    names = [_r_name(t) for t in result.coefficients.index]
    p = len(names)
    if p > COR_MAX:
        return ["", f"Correlation matrix not shown by default, as p = {p} > {COR_MAX}.",
                "Use result.vcov if you need it", ""]
    if p < 2:
        return []
    vcov = np.asarray(result.vcov, dtype=float)
    sd = np.sqrt(np.diag(vcov))
    corr = vcov / np.outer(sd, sd)
    cells = r_format(r_round(corr.ravel(order="F"), 3), nsmall=3)
    rows = _abbreviate(names, 11)
    cols = _abbreviate(names, 6)
    matrix = [[cells[j * p + i] if j < i else "" for j in range(p - 1)] for i in range(1, p)]
    return (["", "Correlation of Fixed Effects:"]
            + _print_matrix(matrix, rows[1:], cols[:-1], right=False))


def _message_lines(result: Any) -> list[str]:
    lines = []
    dropped = list(getattr(result, "dropped_terms", []) or [])
    if dropped:
        s = "s" if len(dropped) > 1 else ""
        lines += ["fit warnings:", f"fixed-effect model matrix is rank deficient so dropping "
                  f"{len(dropped)} column{s} / coefficient{s}"]
    optimizer = dict(getattr(result, "optimizer", {}) or {})
    messages = [str(m) for m in optimizer.get("messages", [])]
    singular_msg = "boundary (singular) fit: see help('isSingular')"
    if result.singular and singular_msg not in messages:
        messages = [singular_msg] + messages
    converged = bool(getattr(result, "converged", True))
    if messages or not converged:
        code = 0 if converged else 1
        status = "(OK)" if converged else f"({optimizer.get('message', '')})"
        name = optimizer.get("name", "alsstats")
        lines += [f"optimizer ({name}) convergence code: {code} {status}"] + messages + [""]
    return lines


def lmer_summary_text(result: Any) -> str:
    """The text lmerTest's ``print(summary(m))`` shows for ``result``, line by line.

    Parameters
    ----------
    result : LMEResult
        A :func:`~alsstats.lme.fit_lme` fit. ``result.data_name`` (default ``"data"``) is
        shown on the ``Data:`` line, where R shows the expression given as ``data``.

    Returns
    -------
    str
        Header (estimation method and df method, ``[LMEResult]`` where R shows the class
        ``lmerModLmerTest``), ``Formula:`` and ``Data:``, the REML criterion or the
        AIC/BIC/logLik/deviance/df.resid table, quantiles of the scaled residuals, the random
        effects (variance, standard deviation, correlations), numbers of observations and
        groups, the fixed effects as ``printCoefmat`` with significance stars, the correlation
        of the fixed effects (abbreviated names), and the fit's messages (rank deficiency,
        singular fit, convergence).

    Notes
    -----
    Formatting follows R 4.2 with ``options(width = 80, digits = 7)`` and a UTF-8 locale
    (the legend's curly quotes). Differences from R: the class tag; the optimizer named in
    the convergence line is alsstats' (R names lme4's); with more than 12 fixed effects R
    suggests ``vcov(x)`` in a message, here ``result.vcov``; z-tests
    (``df_method="normal"``) have no lmerTest counterpart and are printed with ``z value``
    and ``Pr(>|z|)`` columns.

    Examples
    --------
    >>> from alsstats.lme import fit_lme
    >>> from alsstats.lme.examples import example_data
    >>> fit = fit_lme(example_data(), "y ~ group * years + (1 | subject)")
    >>> print(lmer_summary_text(fit).splitlines()[2])
    Formula: y ~ group * years + (1 | subject)
    """
    lines = _title(result) + _call_lines(result) + [""] + _criterion_lines(result) + [""]
    lines += _residual_lines(result) + _random_effect_lines(result)
    if len(result.coefficients):
        lines += _coefficient_lines(result) + _correlation_lines(result)
    lines += _message_lines(result)
    return "\n".join(lines)
