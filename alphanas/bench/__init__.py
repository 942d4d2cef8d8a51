"""Benchmark scripts (``python -m alphanas.bench.NAME`` or ``alphanas benchmark NAME``) and the NAS-Bench-201 harness.

A leaf: no module of :mod:`alphanas` imports ``alphanas.bench`` except the CLI, which runs the scripts
(``tests/test_layout.py`` holds the rule).
"""
