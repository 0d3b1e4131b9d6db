"""R's term algebra: ``+ - * / ^ :`` and ``0``/``1``/``-1`` to an ordered list of terms.

Follows R's ``terms.formula``: variables are numbered in order of first appearance, a term is
a set of variables labelled in that order (``group:years``), duplicates are dropped, ``a * b``
is ``a + b + a:b``, ``(a + b)^2`` is ``a + b + a:b``, ``a / b`` is ``a + a:b``, ``- t`` deletes
``t``, ``0``/``-1`` remove the intercept, and terms are ordered by interaction order (stable).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from alsstats.errors import FormulaError
from alsstats.formula._parser import BinOp, Call, Num, Paren, Unary, deparse

__all__ = ["Term", "TermSpec", "expand_terms"]

_ZERO = "0"


@dataclass(frozen=True)
class Term:
    """One model term: variable indices (sorted) and R's label."""

    variables: tuple[int, ...]
    label: str


@dataclass
class TermSpec:
    """The expanded right-hand side: variables (nodes, R labels), terms, intercept, offsets."""

    variables: list = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    terms: list[Term] = field(default_factory=list)
    intercept: bool = True
    offsets: list = field(default_factory=list)

    def index(self, node) -> int:
        label = deparse(node)
        if label not in self.labels:
            self.labels.append(label)
            self.variables.append(node)
        return self.labels.index(label)

    @property
    def term_labels(self) -> list[str]:
        return [t.label for t in self.terms]


def _strip(node):
    while isinstance(node, Paren):
        node = node.expr
    return node


def expand_terms(rhs, spec: TermSpec | None = None,
                 special: Callable[[object], bool] | None = None) -> TermSpec:
    """Expand a right-hand side into ``spec`` (a new one by default).

    ``special(node)`` may claim a term-level call (``strata()``, ``offset()`` ...): it is then
    neither a variable nor a term.
    """
    spec = spec if spec is not None else TermSpec()

    def items(node) -> list:
        inner = _strip(node)
        if isinstance(inner, BinOp):
            op = inner.op
            if op == "+":
                return _union(items(inner.left), items(inner.right))
            if op == "-":
                left, right = items(inner.left), items(inner.right)
                out = [t for t in left if t not in right or t == _ZERO]
                if frozenset() in right:
                    out = [t for t in out if t != frozenset()] + [_ZERO]
                return out
            if op == ":":
                return _product(items(inner.left), items(inner.right))
            if op == "*":
                left, right = items(inner.left), items(inner.right)
                return _union(_union(left, right), _product(left, right))
            if op == "/":
                left, right = items(inner.left), items(inner.right)
                whole = frozenset().union(*[t for t in left if t != _ZERO])
                return _union(left, _product([whole], right))
            if op == "^":
                power = _strip(inner.right)
                if not isinstance(power, Num) or power.value != int(power.value) \
                        or power.value < 1:
                    raise FormulaError(f"{deparse(inner)}: the power of a formula term must be "
                                       "a positive whole number (use I(x^2) for arithmetic)")
                base = items(inner.left)
                out = base
                for _ in range(int(power.value) - 1):
                    out = _union(out, _product(out, base))
                return out
            if op in ("|", "||"):
                raise FormulaError(f"random-effect term {deparse(inner)} must be in parentheses "
                                   "and is only allowed in mixed models, e.g. (1 | subject)")
            if op == "%in%":
                return _product(items(inner.left), items(inner.right))
            if op == "~":
                raise FormulaError(f"a formula may contain only one '~' ({deparse(inner)})")
            # comparisons and the like at term level are variables, as in R
        if isinstance(inner, Unary) and inner.op in ("-", "+"):
            operand = _strip(inner.operand)
            if inner.op == "+":
                return items(operand)
            if isinstance(operand, Num) and operand.value in (0, 1):
                return [_ZERO] if operand.value == 1 else [frozenset()]
            raise FormulaError(f"{deparse(inner)}: a term can only be removed from a formula "
                               "with a preceding term ('a - b')")
        if isinstance(inner, Num):
            if inner.value == 1:
                return [frozenset()]
            if inner.value == 0:
                return [_ZERO]
            raise FormulaError(f"number {deparse(inner)} is not a formula term (only 0 and 1 "
                               "are: use I() for arithmetic)")
        if isinstance(inner, Call) and special is not None and special(inner):
            return []
        if isinstance(inner, Call) and inner.func == "offset":
            spec.offsets.append(inner)
            return []
        return [frozenset([spec.index(inner)])]

    found = items(rhs)
    spec.intercept = _ZERO not in found
    terms = [t for t in found if t != _ZERO and t != frozenset()]
    terms = sorted(dict.fromkeys(terms), key=len)
    spec.terms = [Term(tuple(sorted(t)), ":".join(spec.labels[i] for i in sorted(t)))
                  for t in terms]
    return spec


def _union(a: list, b: list) -> list:
    out = list(a)
    for t in b:
        if t not in out:
            out.append(t)
    return out


def _product(a: list, b: list) -> list:
    out: list = []
    for x in a:
        for y in b:
            if _ZERO in (x, y):
                continue
            t = x | y
            if t not in out:
                out.append(t)
    return out
