"""Fixtures the CLI tests share with the pass tests (the demo model, a registry restored after each test)."""

from tests.passes.conftest import clean_registry, demo_model  # noqa: F401  (fixtures, found by name)
