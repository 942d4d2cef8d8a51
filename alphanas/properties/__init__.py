"""Program properties by abstract interpretation: shape, depth, mixing, cost; ``Property``, ``PropertySet``."""
