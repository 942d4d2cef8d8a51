"""Seed-model zoo, built with the builder API (no torchvision).

``build(name, input_size=..., in_channels=..., num_classes=..., seed=...)`` returns a fresh
:class:`~alphanas.ir.Graph` with a symbolic batch dimension ``N``. Input size and class count are
parameters: 8x8x1 digits, 32x32x3 CIFAR, 224x224x3 ImageNet.
"""

from __future__ import annotations

from collections.abc import Callable

from alphanas.errors import AlphanasError
from alphanas.ir.graph import Graph

_MODELS: dict[str, Callable[..., Graph]] = {}
_DOCS: dict[str, str] = {}


def register_model(name: str, doc: str = "") -> Callable:
    def deco(fn: Callable[..., Graph]) -> Callable[..., Graph]:
        _MODELS[name] = fn
        _DOCS[name] = doc or (fn.__doc__ or "").strip().splitlines()[0]
        return fn

    return deco


def names() -> list[str]:
    _load()
    return sorted(_MODELS)


def describe() -> dict[str, str]:
    _load()
    return dict(sorted(_DOCS.items()))


def build(name: str, **options) -> Graph:
    """Build zoo model ``name``; options: ``input_size``, ``in_channels``, ``num_classes``, ``seed``, ..."""
    _load()
    if name not in _MODELS:
        raise AlphanasError(f"unknown zoo model {name!r}; available: {', '.join(sorted(_MODELS))}")
    try:
        return _MODELS[name](**options)
    except TypeError as e:
        raise AlphanasError(f"zoo model {name!r}: bad option ({e})") from None


def _load() -> None:
    from alphanas.ir.zoo import cnn, efficientnet, mobilenet, resnet, vit  # noqa: F401
