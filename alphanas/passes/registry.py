"""The pass registry and plug-in loading.

Built-in passes register with :func:`register_pass`. Third-party passes come from the entry-point
group ``alphanas.passes`` (``name = module:PassClass``) or from a module named on the command line
(``--plugin module.path``) that registers its passes when imported (or defines ``ALPHANAS_PASSES``,
a list of :class:`Pass` subclasses).
"""

from __future__ import annotations

import importlib
import inspect
from importlib import metadata

from alphanas.errors import AlphanasError, ParameterError
from alphanas.passes.base import Pass

ENTRY_POINT_GROUP = "alphanas.passes"

_PASSES: dict[str, type[Pass]] = {}
_ORIGIN: dict[str, str] = {}
_entry_points_loaded = False


def register_pass(cls: type[Pass] | None = None, *, origin: str = "builtin", replace: bool = False):
    """Class decorator: register a :class:`Pass` subclass under its ``name``."""

    def deco(c: type[Pass]) -> type[Pass]:
        if not (inspect.isclass(c) and issubclass(c, Pass)):
            raise AlphanasError(f"{c!r} is not a subclass of alphanas.passes.Pass; only passes can be registered")
        if not c.name:
            raise AlphanasError(f"pass class {c.__qualname__} has no name; set the class attribute `name`")
        if c.name in _PASSES and _PASSES[c.name] is not c and not replace:
            raise AlphanasError(f"pass {c.name!r} is already registered (by {_ORIGIN[c.name]}); choose another name")
        _PASSES[c.name] = c
        _ORIGIN[c.name] = origin
        return c

    return deco(cls) if cls is not None else deco


def _load_builtins() -> None:
    import alphanas.passes.builtin  # noqa: F401  (registers the built-in passes)


def load_entry_points() -> list[str]:
    """Load the passes advertised under the ``alphanas.passes`` entry-point group; returns their names."""
    global _entry_points_loaded
    names = []
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as e:
            raise AlphanasError(
                f"plug-in entry point {ep.name!r} ({ep.value}) of group {ENTRY_POINT_GROUP!r} failed to load: "
                f"{type(e).__name__}: {e}; reinstall or uninstall the package that provides it"
            ) from None
        origin = f"entry point {ep.value}"
        for cls in _pass_classes(obj, origin):
            if cls.name in _PASSES and _PASSES[cls.name] is cls:
                names.append(cls.name)
                continue
            register_pass(cls, origin=origin)
            names.append(cls.name)
    _entry_points_loaded = True
    return names


def load_plugin(module: str) -> list[str]:
    """Import ``module`` (a dotted path on ``sys.path``) and register the passes it defines; returns their names."""
    before = set(_PASSES)
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        raise ParameterError(
            "plugin", f"{{plugin}} {module}: cannot import it ({e}); give a dotted module path importable from here "
            "(install the package or add its folder to PYTHONPATH)"
        ) from None
    except Exception as e:  # the module itself is broken: say which, without a traceback
        raise ParameterError("plugin", f"{{plugin}} {module}: importing it raised {type(e).__name__}: {e}") from None
    found = [c for c in vars(mod).values() if inspect.isclass(c) and issubclass(c, Pass) and c is not Pass
             and c.__module__ == mod.__name__ and c.name]
    for cls in getattr(mod, "ALPHANAS_PASSES", found):
        if _PASSES.get(cls.name) is not cls:
            register_pass(cls, origin=f"plugin {module}")
    names = sorted((set(_PASSES) - before) | {c.name for c in getattr(mod, "ALPHANAS_PASSES", found)})
    if not names:
        raise ParameterError("plugin", f"{{plugin}} {module}: the module defines no alphanas pass "
                             "(subclass alphanas.passes.Pass and set `name`)")
    return names


def _pass_classes(obj, origin: str) -> list[type[Pass]]:
    if inspect.isclass(obj) and issubclass(obj, Pass):
        return [obj]
    if isinstance(obj, (list, tuple)) and all(inspect.isclass(c) and issubclass(c, Pass) for c in obj):
        return list(obj)
    raise AlphanasError(f"{origin}: must point to a Pass subclass (or a list of them), got {obj!r}")


def available() -> dict[str, type[Pass]]:
    """Every known pass by name: built-ins and entry-point plug-ins (and modules loaded with ``load_plugin``)."""
    _load_builtins()
    if not _entry_points_loaded:
        load_entry_points()
    return dict(sorted(_PASSES.items()))


def origin(name: str) -> str:
    available()
    return _ORIGIN[name]


def get_pass(name: str, **options) -> Pass:
    """An instance of the pass registered as ``name``."""
    passes = available()
    if name not in passes:
        raise ParameterError("pass", f"unknown pass {name!r}; available: {', '.join(passes)} (plug-ins: {{plugin}} MODULE)",
                             others=("plugin",))
    return passes[name](**options)
