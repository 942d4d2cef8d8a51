"""The package layout's import rules, read from the source (``ast``; nothing is imported):

* ``alphanas.bench`` is a leaf: outside ``alphanas/bench`` only the CLI (``alphanas/cli.py``) imports it;
* the CLI is the top: no module of ``alphanas`` imports ``alphanas.cli``.

Every import counts, those inside functions (lazy imports) included.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import alphanas

PACKAGE_ROOT = Path(alphanas.__file__).resolve().parent


def module_name(path: Path, root: Path = PACKAGE_ROOT) -> str:
    """``alphanas/bench/nb201/__init__.py`` -> ``alphanas.bench.nb201``."""
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_statements(path: Path, root: Path = PACKAGE_ROOT) -> list[tuple[int, list[str]]]:
    """``(line, modules)`` for every import statement in the file, relative imports resolved to absolute
    names; ``from a import b, c`` gives ``[a, a.b, a.c]`` (``b`` and ``c`` may be submodules)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path, root)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[tuple[int, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.append((node.lineno, [a.name for a in node.names]))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            found.append((node.lineno, [stem, *(f"{stem}.{a.name}" for a in node.names if a.name != "*")]))
    return sorted(found)


def _is(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(root: Path = PACKAGE_ROOT) -> list[str]:
    """One line per import statement that breaks the layout rules, naming the module, the line and the import."""
    bad: list[str] = []
    top = root.name
    bench, cli = f"{top}.bench", f"{top}.cli"
    for path in sorted(root.rglob("*.py")):
        mod = module_name(path, root)
        may_import_bench = _is(mod, bench) or mod == cli
        may_import_cli = mod in (cli, f"{top}.__main__")
        for line, modules in import_statements(path, root):
            hit = next((m for m in modules if _is(m, bench)), None)
            if hit and not may_import_bench:
                bad.append(f"{mod} (line {line}) imports {hit}: only {cli} and the {bench} package may import {bench}")
            hit = next((m for m in modules if _is(m, cli)), None)
            if hit and not may_import_cli:
                bad.append(f"{mod} (line {line}) imports {hit}: nothing in {top} imports the CLI ({cli} is the top)")
    return bad


def test_bench_is_a_leaf_and_the_cli_is_the_top():
    bad = violations()
    assert not bad, "layout rules broken:\n" + "\n".join(bad)


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "alphanas"
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return root


@pytest.mark.parametrize("rel, text, expected", [
    ("search/run.py", "def f():\n    from alphanas.bench import e2e\n",
     "alphanas.search.run (line 2) imports alphanas.bench"),
    ("train/trainer.py", "import alphanas.bench.nb201\n", "alphanas.train.trainer (line 1) imports alphanas.bench.nb201"),
    ("search/run.py", "from ..bench.nb201 import Cell\n", "alphanas.search.run (line 1) imports alphanas.bench.nb201"),
    ("bench/e2e.py", "from alphanas.cli import main\n", "alphanas.bench.e2e (line 1) imports alphanas.cli"),
    ("console.py", "from alphanas import cli\n", "alphanas.console (line 1) imports alphanas.cli"),
])
def test_a_forbidden_import_is_reported_with_module_line_and_import(tmp_path, rel, text, expected):
    root = _package(tmp_path, {"__init__.py": "", "cli.py": "from alphanas.bench import e2e\n",
                               "bench/__init__.py": "", "bench/nb201/__init__.py": "from alphanas.bench import e2e\n",
                               rel: text})
    bad = violations(root)
    assert len(bad) == 1 and bad[0].startswith(expected), bad


def test_allowed_imports_are_not_reported(tmp_path):
    root = _package(tmp_path, {"__init__.py": "", "cli.py": "def f():\n    import alphanas.bench.e2e\n",
                               "bench/__init__.py": "", "bench/e2e.py": "from alphanas.bench.nb201 import Cell\n",
                               "bench/nb201/__init__.py": "from .space import Cell\nfrom alphanas.console import run_main\n",
                               "search/run.py": "from alphanas.benchmarks_elsewhere import x\nfrom alphanas.client import y\n"})
    assert violations(root) == []


def flag_mentions(root: Path = PACKAGE_ROOT) -> list[str]:
    """Error messages raised by library modules that name a command-line flag (``--something``).

    The library names its parameters; only the front ends (``alphanas/cli.py``, ``alphanas/console.py``
    and the benchmark scripts in ``alphanas/bench``) speak in flags."""
    import re

    flag = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]+")
    top = root.name
    bad: list[str] = []
    for path in sorted(root.rglob("*.py")):
        mod = module_name(path, root)
        if mod in (f"{top}.cli", f"{top}.console") or _is(mod, f"{top}.bench"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            for const in ast.walk(node.exc):
                if isinstance(const, ast.Constant) and isinstance(const.value, str) and flag.search(const.value):
                    bad.append(f"{mod} (line {node.lineno}): {flag.search(const.value).group()}")
    return bad


def test_library_errors_name_parameters_not_flags():
    bad = flag_mentions()
    assert not bad, "library errors naming command-line flags:\n" + "\n".join(bad)


def test_flag_mentions_are_found(tmp_path):
    root = _package(tmp_path, {
        "core.py": 'def f(x):\n    raise ValueError(f"use --max-rounds {x}")\n',
        "cli.py": 'def g():\n    raise SystemExit("--help")\n',
        "ok.py": 'def h():\n    raise ValueError("max_rounds must be >= 1 (x-y--z)")\n',
    })
    assert flag_mentions(root) == ["alphanas.core (line 2): --max-rounds"]
