"""The property registry: built-in properties plus plug-ins from the entry-point group
``alphanas.properties`` (each entry point names a :class:`~alphanas.properties.base.Property`
subclass; its ``name`` is the key).

A plug-in package declares, e.g. in ``setup.cfg``::

    [options.entry_points]
    alphanas.properties =
        sparsity = mypkg.props:SparsityProperty
"""

from __future__ import annotations

import warnings
from importlib.metadata import entry_points

from alphanas.properties.base import Property

GROUP = "alphanas.properties"

_BUILTIN: dict[str, type[Property]] = {}
_extra: dict[str, type[Property]] = {}
_plugins: dict[str, type[Property]] | None = None


def register_property(cls: type[Property]) -> type[Property]:
    """Register a property class under ``cls.name`` (also usable as a decorator)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    _extra[cls.name] = cls
    return cls


def registry(reload: bool = False) -> dict[str, type[Property]]:
    """``name -> Property class``: built-ins, explicitly registered ones, then entry points (read once;
    ``reload=True`` reads them again)."""
    global _plugins
    if not _BUILTIN:
        from alphanas.properties.cost import CostProperty
        from alphanas.properties.depth import DepthProperty
        from alphanas.properties.mixing import MixingProperty
        from alphanas.properties.shape import ShapeProperty

        for c in (ShapeProperty, DepthProperty, MixingProperty, CostProperty):
            _BUILTIN[c.name] = c
    if _plugins is None or reload:
        _plugins = _load_plugins()
    out = dict(_BUILTIN)
    out.update(_extra)
    for name, cls in _plugins.items():
        out.setdefault(name, cls)
    return out


def _load_plugins() -> dict[str, type[Property]]:
    out: dict[str, type[Property]] = {}
    for ep in entry_points(group=GROUP):
        if ep.name in out:
            continue
        try:
            cls = ep.load()
        except Exception as e:  # a broken plug-in must not break the built-ins
            warnings.warn(f"property plug-in {ep.name!r} ({ep.value}) failed to load: {e}", stacklevel=2)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Property)):
            warnings.warn(f"property plug-in {ep.name!r} ({ep.value}) is not a Property subclass", stacklevel=2)
            continue
        out[ep.name] = cls
    return out
