"""Griffe extension for the docs site: render the docstrings' Sphinx roles as Markdown code spans.

The code's docstrings cross-reference with Sphinx roles (``:class:`PassResult```, ``:func:`~a.b.f```)
and end a paragraph before a code block with ``::``. mkdocstrings renders Markdown, where both would
show up raw; this rewrites them when griffe loads the package (the source files are not touched):
a role becomes a code span of its target (``~a.b.f`` -> ``f``, as Sphinx shows it), and ``::`` at
the end of a line becomes ``:``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|obj|exc|const|ref):`(~?)([^`]+)`")
_LITERAL_BLOCK = re.compile(r"(?<=\S)::$", re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"`{target.rsplit('.', 1)[-1] if tilde else target}`"


def markdown_docstring(text: str) -> str:
    """``text`` with Sphinx roles as code spans and ``::`` line endings as ``:``."""
    return _LITERAL_BLOCK.sub(":", _ROLE.sub(_role, text))


class SphinxRoles(griffe.Extension):
    """Rewrite every loaded object's docstring with :func:`markdown_docstring`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown_docstring(obj.docstring.value)
