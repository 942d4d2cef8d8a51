"""Access to the property framework for synthesis: which ``PropertySet`` to use, and cheap state keys.

Synthesis evaluates properties bottom-up over candidate terms with the properties' own abstract
domains (``Domain.input_state`` / ``transfer`` / ``join``) and turns root states into ``Property``
values with ``Property.from_states``. States may be numpy arrays or nested tuples; :func:`freeze`
gives a hashable key for caching and de-duplication.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def properties_module():
    import alphanas.properties as real

    return real


def freeze(x: Any) -> Any:
    """A hashable, value-based key for a property state."""
    if x is None or isinstance(x, (int, float, str, bool)):
        return x
    try:
        hash(x)
        return x
    except TypeError:
        pass
    if isinstance(x, np.ndarray):
        return ("nd", x.shape, x.dtype.str, x.tobytes())
    if isinstance(x, (tuple, list)):
        return tuple(freeze(e) for e in x)
    if isinstance(x, dict):
        return tuple(sorted((k, freeze(v)) for k, v in x.items()))
    if isinstance(x, (frozenset, set)):
        return frozenset(freeze(e) for e in x)
    try:
        hash(x)
        return x
    except TypeError:
        return repr(x)


def property_classes(names) -> list:
    reg = properties_module().registry()
    return [reg[n] for n in names]


def make_set(props: dict):
    """A ``PropertySet`` from ``{name: Property}``."""
    return properties_module().PropertySet(props)


def infer(graph, names):
    return properties_module().PropertySet.infer(graph, names=tuple(names))
