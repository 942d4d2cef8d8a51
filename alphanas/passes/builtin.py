"""Imports the built-in passes (registering them) and defines the default pipeline."""

from __future__ import annotations

from alphanas.passes import bnfold, constfold, cse, dce, egraph, identity, reshape  # noqa: F401

#: The passes ``alphanas rewrite`` runs when no ``--pass`` is given, in order, to a fixed point.
DEFAULT_PIPELINE = ("identity-elim", "const-fold", "bn-fold", "reshape-chain", "cse", "egraph", "dce")
