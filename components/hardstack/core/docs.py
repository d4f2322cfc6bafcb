"""`help(SomeArgs)` shows every field with its meaning and default.

No Pulumi import. Python keeps no attribute docstrings, so `documented` reads them from the class
source (the string literal under each annotated field) and writes them into the class docstring.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap
from enum import Enum
from typing import Any, TypeVar

T = TypeVar("T", bound=type)


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> the docstring written under it in the class body."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    docs: dict[str, str] = {}
    for node, following in zip(body.body, [*body.body[1:], None], strict=True):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(following, ast.Expr)
            and isinstance(following.value, ast.Constant)
            and isinstance(following.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(following.value.value)
    return docs


def _default(f: dataclasses.Field[Any]) -> str:
    if isinstance(f.default, Enum):
        return repr(f.default.value)
    if f.default is not dataclasses.MISSING:
        return repr(f.default)
    factory: Any = f.default_factory
    if factory is not dataclasses.MISSING:
        return repr(factory())
    return "required"


def documented(cls: T) -> T:
    """Append a `Fields:` section (name, default, meaning) to a dataclass's docstring."""
    docs = field_docs(cls)
    own = cls.__doc__ or ""
    if own.startswith(f"{cls.__name__}("):  # the signature dataclass writes when there is no docstring
        own = f"Arguments of {cls.__name__.removesuffix('Args')}."
    lines = [inspect.cleandoc(own), "", "Fields:"]
    for f in dataclasses.fields(cls):
        lines.append(f"    {f.name} (default: {_default(f)})")
        lines += [f"        {line}" for line in docs.get(f.name, "(undocumented)").splitlines()]
    cls.__doc__ = "\n".join(lines)
    return cls
