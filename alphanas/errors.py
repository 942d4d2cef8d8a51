"""User-facing errors.

Every error a user can cause (bad file, bad option, malformed model) is an :class:`AlphanasError`:
the CLI prints its message on one line and exits with status 2, never a traceback.
"""

from __future__ import annotations


class AlphanasError(Exception):
    """An error caused by user input: message says what, where, and how to fix it."""

    exit_code = 2


class InvalidGraphError(AlphanasError):
    """The graph breaks an IR invariant (cycle, dangling input, shape mismatch); names the node."""


class UnsupportedModelError(AlphanasError):
    """The model uses something alphanas cannot handle (opset, op form)."""


class MissingDependencyError(AlphanasError):
    """An optional dependency (onnxruntime, ray, ...) is needed for this operation."""
