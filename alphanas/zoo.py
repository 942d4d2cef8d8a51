"""Public entry point to the seed-model zoo: ``alphanas.zoo.build(name, **options)``."""

from alphanas.ir.zoo import build, describe, names

__all__ = ["build", "describe", "names"]
