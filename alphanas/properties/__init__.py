"""Program properties by abstract interpretation: shape, depth, mixing, cost; ``Property``, ``PropertySet``.

``PropertySet.infer(graph_or_subgraph)`` runs one forward analysis (:func:`analyze`) over the nodes
with the domains of the requested properties and returns their values for every (input, output)
pair. Per-op mixing rules live in :mod:`alphanas.properties.access`; each op definition names its rule
(``OpDef.access``). Concrete oracles for tests are in :mod:`alphanas.properties.oracle`.
"""

from alphanas.properties.base import Domain, Property, analyze
from alphanas.properties.cost import CostProperty
from alphanas.properties.depth import DepthDomain, DepthProperty
from alphanas.properties.mixing import Mixing, MixingDomain, MixingProperty
from alphanas.properties.propset import PropertySet
from alphanas.properties.registry import register_property, registry
from alphanas.properties.shape import ShapeDomain, ShapeProperty

__all__ = [
    "CostProperty", "DepthDomain", "DepthProperty", "Domain", "Mixing", "MixingDomain", "MixingProperty",
    "Property", "PropertySet", "ShapeDomain", "ShapeProperty", "analyze", "register_property", "registry",
]
