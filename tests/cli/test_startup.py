"""Start-up: the command line imports no heavy library before a command needs it (timings are measured by
``python -m alphanas.bench.startup``, not asserted here)."""

import subprocess
import sys

from alphanas.cli import SYNTHESIZERS

HEAVY = ("torch", "onnx", "onnxruntime", "egglog", "matplotlib", "sympy")


def _imported(code: str) -> list[str]:
    probe = f"\nimport sys; print('IMPORTED=' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code + probe], capture_output=True, text=True, check=True)
    out = proc.stdout.split("IMPORTED=")[-1].strip()
    return [m for m in out.split(",") if m]


def test_import_cli_and_build_parser_import_nothing_heavy():
    assert _imported("import alphanas.cli; alphanas.cli.build_parser()") == []


def test_help_version_and_argument_errors_import_nothing_heavy():
    code = ("import alphanas.cli, contextlib, io\n"
            "for argv in (['--help'], ['--version'], ['inspect'], ['bench', 'x.onnx', '--bogus']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            "        try:\n"
            "            alphanas.cli.main(argv)\n"
            "        except SystemExit:\n"
            "            pass")
    assert _imported(code) == []


def test_inspect_imports_nothing_heavy(tmp_path):
    from alphanas import zoo
    from alphanas.ir import save_onnx

    path = tmp_path / "cnn.onnx"
    save_onnx(zoo.build("cnn", input_size=8, in_channels=1, num_classes=10), path)
    code = ("import alphanas.cli, contextlib, io\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n    alphanas.cli.main(['inspect', {str(path)!r}])")
    assert _imported(code) == []  # (the protobuf classes read the model; sympy waits for a symbolic size)


def test_import_alphanas_is_lazy_but_complete():
    assert _imported("import alphanas") == []
    # the names resolve on use (reading and building models needs none of the heavy libraries)
    assert _imported("from alphanas import Graph, load_onnx, zoo\nassert callable(load_onnx) and zoo.build") == []


def test_mutate_choices_match_the_synthesizers():
    from alphanas.synth import SYNTHESIZERS as real

    assert SYNTHESIZERS == real


def test_benchmark_help_lists_every_benchmark_in_one_line(capsys):
    import pkgutil

    import alphanas.bench as bench
    from alphanas.cli import list_benchmarks, main

    try:
        main(["benchmark", "--help"])
    except SystemExit:
        pass
    out = capsys.readouterr().out
    names = [m.name for m in pkgutil.iter_modules(bench.__path__)]
    assert set(list_benchmarks()) == {"conformance", "corpus", "e2e", "lowering", "nb201", "onnx_parity", "properties",
                                      "rewrite", "search_time", "startup", "streaming", "synthesis", "throughput"}
    assert set(list_benchmarks()) <= set(names)
    for name, doc in list_benchmarks().items():
        assert "\n" not in doc and f"  {name:<12} {doc}" in out
