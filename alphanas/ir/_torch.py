"""torch, imported on first use: the one place the IR's op definitions get ``torch`` from.

Importing torch takes seconds; commands that only read a model (``alphanas inspect``, ``--help``) never
need it. The op modules write ``from alphanas.ir._torch import F, nn, torch`` and use these names inside
their lowering functions as usual: the first attribute access imports the real module. A module-level
table that names a torch function (the activations of :mod:`alphanas.ir.ops.elementwise`) uses
:func:`lazy` instead, which returns a stand-in resolved when the lowering emits it (:func:`resolve`, called
by :meth:`alphanas.ir.torch_lowering.LowerCtx.call`) or when it is called.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any


class _LazyModule:
    """A module imported on the first attribute access."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name}>"


class LazyFunction:
    """A reference to the function at dotted ``path`` (e.g. ``torch.relu``), imported on first use."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fn: Any = None

    def resolve(self) -> Any:
        """The real function (importing its module)."""
        if self._fn is None:
            module, _, name = self.path.rpartition(".")
            self._fn = getattr(importlib.import_module(module), name)
        return self._fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<lazy {self.path}>"


def lazy(path: str) -> Any:
    """A stand-in for the function at dotted ``path``, importing it on first call (:class:`LazyFunction`)."""
    return LazyFunction(path)


def resolve(fn: Any) -> Any:
    """``fn`` itself, or the real function behind a :func:`lazy` stand-in."""
    return fn.resolve() if isinstance(fn, LazyFunction) else fn


if TYPE_CHECKING:
    import torch as torch
    import torch.nn.functional as F
    from torch import nn as nn
else:
    torch = _LazyModule("torch")
    F = _LazyModule("torch.nn.functional")
    nn = _LazyModule("torch.nn")

__all__ = ["F", "LazyFunction", "lazy", "nn", "resolve", "torch"]
