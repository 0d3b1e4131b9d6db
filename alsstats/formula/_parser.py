"""R formula text -> a small AST, and the AST back to R's text (``deparse``).

Only R's formula and arithmetic grammar is recognised: names (R syntactic names, with dots,
or any text in backticks), numbers, strings, ``~ + - * / ^ : | || %in% == != < > <= >= & && !``,
parentheses and calls ``f(x, k, name = value)``. Anything else -- ``[``, ``$``, ``@``, ``;``,
a name starting with ``_``, two expressions side by side (``lambda x``) -- is a
:class:`~alsstats.FormulaError` naming the offending token. Nothing is ever evaluated here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from alsstats.errors import FormulaError

__all__ = ["BinOp", "Call", "Name", "Node", "Num", "Paren", "Str", "Unary", "deparse",
           "parse_formula_text", "is_syntactic"]


@dataclass(frozen=True)
class Name:
    id: str


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Str:
    value: str


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple
    kwargs: tuple  # ((name, node), ...)


@dataclass(frozen=True)
class BinOp:
    op: str
    left: object
    right: object


@dataclass(frozen=True)
class Unary:
    op: str
    operand: object


@dataclass(frozen=True)
class Paren:
    expr: object


Node = Name | Num | Str | Call | BinOp | Unary | Paren

_RESERVED = {"if", "else", "repeat", "while", "function", "for", "next", "break", "in",
             "NULL", "Inf", "NaN", "NA", "NA_integer_", "NA_real_", "NA_character_"}
_SYNTACTIC = re.compile(r"(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*|\.")
_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?L?)
  | (?P<name>(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*)
  | (?P<tick>`(?:[^`\\]|\\.)*`)
  | (?P<str>"[^"\\]*"|'[^'\\]*')
  | (?P<op>%[^%\s]*%|\*\*|\|\||&&|==|!=|<=|>=|[~+\-*/^:|&!<>(),=])
""", re.VERBOSE)

# binary operators: (left binding power, right binding power); R's precedence
_BINARY = {
    "~": (10, 11),
    "||": (20, 21), "|": (20, 21),
    "&&": (30, 31), "&": (30, 31),
    "==": (50, 51), "!=": (50, 51), "<": (50, 51), ">": (50, 51), "<=": (50, 51), ">=": (50, 51),
    "+": (60, 61), "-": (60, 61),
    "*": (70, 71), "/": (70, 71),
    "%": (80, 81),  # any %op%
    ":": (90, 91),
    "^": (110, 109),  # right associative, above unary minus
}
_UNARY_BP = {"-": 100, "+": 100, "!": 40, "~": 10}


def is_syntactic(name: str) -> bool:
    """Whether ``name`` is an R syntactic name (usable without backticks)."""
    return bool(_SYNTACTIC.fullmatch(name)) and name not in _RESERVED | {"TRUE", "FALSE"}


def _unescape(text: str) -> str:
    """The name inside backticks, with R's backslash escapes (of a backtick or a backslash)
    read back."""
    return re.sub(r"\\(.)", r"\1", text)


def quote(name: str) -> str:
    """``name`` as R writes it: as is when syntactic, else in backticks (escaped as R's
    ``deparse(backtick = TRUE)``)."""
    if is_syntactic(name):
        return name
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _tokens(text: str) -> list[tuple[str, str, int]]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            bad = text[pos]
            hint = {"[": "subscripts", "$": "attribute access", "@": "attribute access",
                    ";": "several statements", "{": "code blocks", "_": "names starting "
                    "with '_' (quote such a column in backticks)", "\\": "lambdas"}.get(bad)
            extra = f" ({hint} are not part of R's formula grammar)" if hint else ""
            if bad == "_":
                word = re.match(r"_\w*", text[pos:]).group(0)
                raise FormulaError(f"formula {text!r}: unexpected token {word!r}{extra}; "
                                   "formulas are never evaluated as Python")
            raise FormulaError(f"formula {text!r}: unexpected character {bad!r} at position "
                               f"{pos}{extra}; formulas are never evaluated as Python")
        kind = m.lastgroup
        if kind != "ws":
            # R reads ** as ^
            out.append((kind, "^" if m.group(0) == "**" else m.group(0), pos))
        pos = m.end()
    out.append(("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self):
        return self.toks[self.i]

    def take(self):
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def fail(self, tok, what: str = "unexpected token") -> FormulaError:
        shown = tok[1] if tok[0] != "end" else "end of formula"
        return FormulaError(f"formula {self.text!r}: {what} {shown!r} at position {tok[2]}")

    def expect(self, value: str):
        tok = self.take()
        if tok[1] != value or tok[0] not in ("op",):
            raise self.fail(tok, f"expected {value!r}, found")
        return tok

    def expr(self, min_bp: int = 0):
        tok = self.take()
        kind, val = tok[0], tok[1]
        if kind == "num":
            if val.endswith("L"):
                val = val[:-1]
            left = Num(float(val))
        elif kind == "str":
            left = Str(val[1:-1])
        elif kind in ("name", "tick"):
            name = _unescape(val[1:-1]) if kind == "tick" else val
            if kind == "name" and name in _RESERVED - {"Inf", "NaN", "NA"}:
                raise self.fail(tok, "R keyword not allowed in a formula:")
            if kind == "tick" and not name:
                raise self.fail(tok, "empty backticked name")
            nxt = self.peek()
            if nxt[0] == "op" and nxt[1] == "(":
                if kind == "tick":
                    raise self.fail(tok, "a backticked name cannot be called as a function:")
                self.take()
                left = self.call(name)
            else:
                left = Name(name)
        elif kind == "op" and val == "(":
            inner = self.expr(0)
            self.expect(")")
            left = Paren(inner)
        elif kind == "op" and val in _UNARY_BP:
            operand = self.expr(_UNARY_BP[val])
            left = Unary(val, operand)
        else:
            raise self.fail(tok)
        while True:
            tok = self.peek()
            kind, val = tok[0], tok[1]
            if kind == "end" or (kind == "op" and val in (")", ",", "=")):
                return left
            if kind != "op":
                prev = self.toks[self.i - 1][1]
                raise FormulaError(
                    f"formula {self.text!r}: unexpected {val!r} after {prev!r} at position "
                    f"{tok[2]} (two terms side by side, or Python syntax such as lambda, "
                    "which formulas do not have; formulas are never evaluated as Python)")
            key = "%" if val.startswith("%") else val
            if key not in _BINARY:
                raise self.fail(tok, "unexpected operator")
            lbp, rbp = _BINARY[key]
            if lbp < min_bp:
                return left
            self.take()
            right = self.expr(rbp)
            left = BinOp(val, left, right)

    def call(self, func: str) -> Call:
        args, kwargs = [], []
        if self.peek()[1] == ")" and self.peek()[0] == "op":
            self.take()
            return Call(func, (), ())
        while True:
            tok = self.peek()
            nxt = self.toks[self.i + 1]
            if tok[0] in ("name", "tick") and nxt[0] == "op" and nxt[1] == "=":
                self.take()
                self.take()
                name = _unescape(tok[1][1:-1]) if tok[0] == "tick" else tok[1]
                kwargs.append((name, self.expr(0)))
            else:
                if kwargs:
                    raise self.fail(tok, "positional argument after a named one:")
                args.append(self.expr(0))
            tok = self.take()
            if tok[0] == "op" and tok[1] == ")":
                return Call(func, tuple(args), tuple(kwargs))
            if not (tok[0] == "op" and tok[1] == ","):
                raise self.fail(tok, "expected ',' or ')' in the arguments of "
                                     f"{func}(), found")


def parse_formula_text(text: str):
    """Parse ``text`` (a formula or an expression) into an AST."""
    if not isinstance(text, str):
        raise FormulaError(f"formula must be a string, got {type(text).__name__}")
    if not text.strip():
        raise FormulaError("formula is empty")
    p = _Parser(text)
    node = p.expr(0)
    tok = p.peek()
    if tok[0] != "end":
        raise p.fail(tok)
    return node


def _num_text(v: float) -> str:
    """A number as R's deparse writes it (15 significant digits, fixed unless longer)."""
    if math.isinf(v):
        return "Inf" if v > 0 else "-Inf"
    if math.isnan(v):
        return "NaN"
    if v == int(v) and abs(v) < 1e15:
        fixed = str(int(v))
    else:
        fixed = f"{v:.15g}"
        if "e" in fixed:
            fixed = f"{v:.15f}".rstrip("0").rstrip(".")
    mant, exp = f"{v:.14e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    sci = f"{mant}e{int(exp):+03d}"
    return sci if len(sci) < len(fixed) else fixed


_SPACED = {"~", "+", "-", "*", "==", "!=", "<", ">", "<=", ">=", "&", "&&", "|", "||"}


def deparse(node) -> str:
    """R's text of a node: ``I(Days^2)``, ``poly(Days, 2)``, ``status == 2``, ``a:b``."""
    if isinstance(node, Name):
        constant = node.id in ("TRUE", "FALSE", "Inf", "NaN", "NA")
        return node.id if constant else quote(node.id)
    if isinstance(node, Num):
        return _num_text(node.value)
    if isinstance(node, Str):
        return '"' + node.value + '"'
    if isinstance(node, Paren):
        return f"({deparse(node.expr)})"
    if isinstance(node, Unary):
        return f"{node.op}{deparse(node.operand)}"
    if isinstance(node, BinOp):
        if node.op in _SPACED or node.op.startswith("%"):
            return f"{deparse(node.left)} {node.op} {deparse(node.right)}"
        return f"{deparse(node.left)}{node.op}{deparse(node.right)}"
    if isinstance(node, Call):
        parts = [deparse(a) for a in node.args]
        parts += [f"{k} = {deparse(v)}" for k, v in node.kwargs]
        return f"{node.func}({', '.join(parts)})"
    raise TypeError(f"not a formula node: {node!r}")
