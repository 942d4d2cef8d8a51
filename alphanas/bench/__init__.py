"""Datasets, onnxruntime benchmarking, tabular benchmarks, benchmark scripts and reports.

Nothing in the core packages imports ``alphanas.bench``; the CLI wires them together.
"""
