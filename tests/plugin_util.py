"""Test helpers for plug-ins: an installed distribution faked as a ``*.dist-info`` folder on sys.path."""

from __future__ import annotations

import textwrap
from pathlib import Path


def fake_distribution(folder: Path, name: str, entry_points: str, version: str = "1.0") -> None:
    """A minimal installed distribution ``name`` in ``folder`` advertising ``entry_points`` (the
    text of ``entry_points.txt``), as pip would install it."""
    info = folder / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    (info / "entry_points.txt").write_text(entry_points)


def write_noop_pass_module(path: Path, pass_name: str, doc: str) -> None:
    """A plug-in module at ``path`` defining one pass ``pass_name`` that changes nothing."""
    path.write_text(textwrap.dedent(f"""
        from alphanas.passes import Pass, PassResult

        class Nothing(Pass):
            '''{doc}'''
            name = "{pass_name}"

            def run(self, graph):
                return PassResult(graph, False)
    """))
