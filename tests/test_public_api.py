"""The flat public API has one source of truth: ``_LAZY`` (plus the eager imports).

``alsstats/__init__.py`` lists each lazily loaded name once, in ``_LAZY``; the
``TYPE_CHECKING`` block repeats the imports for static type checkers. These tests keep the
copies equal, so a name added in one place and forgotten in another fails here.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import alsstats

INIT = Path(alsstats.__file__)


def _tree() -> ast.Module:
    return ast.parse(INIT.read_text(), str(INIT))


def _type_checking_imports() -> dict[str, str]:
    block = next(node for node in _tree().body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    return {alias.asname or alias.name: node.module for node in block.body
            if isinstance(node, ast.ImportFrom) for alias in node.names}


def _eager_imports() -> dict[str, str]:
    return {alias.asname or alias.name: node.module for node in _tree().body
            if isinstance(node, ast.ImportFrom) and node.module.startswith("alsstats")
            for alias in node.names}


def test_type_checking_imports_equal_the_lazy_table():
    assert _type_checking_imports() == alsstats._WHERE


def test_all_is_the_eager_and_lazy_names_and_each_resolves():
    expected = set(_eager_imports()) | set(alsstats._WHERE) | {"__version__"}
    assert set(alsstats.__all__) == expected
    assert len(alsstats.__all__) == len(set(alsstats.__all__))  # listed once
    for name in alsstats.__all__:
        assert getattr(alsstats, name) is not None, name


def test_each_lazy_name_is_public_in_its_module():
    for name, module_name in alsstats._WHERE.items():
        module = importlib.import_module(module_name)
        assert name in getattr(module, "__all__", ()), f"{name} not in {module_name}.__all__"


def test_every_exported_warning_and_error_is_in_the_package_namespace():
    from alsstats import errors

    assert set(errors.__all__) <= set(alsstats.__all__)
