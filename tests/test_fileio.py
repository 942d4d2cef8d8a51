"""Atomic writes: complete file or untouched original, usual permissions, nothing left behind."""

import os
import stat

import pytest

from alphanas.fileio import atomic_path, write_bytes_atomic


def test_writes_with_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        write_bytes_atomic(tmp_path / "a.bin", b"xyz")
    finally:
        os.umask(old)
    p = tmp_path / "a.bin"
    assert p.read_bytes() == b"xyz"
    assert stat.S_IMODE(p.stat().st_mode) == 0o644
    assert sorted(os.listdir(tmp_path)) == ["a.bin"]


def test_failure_keeps_the_original_and_leaves_no_temp(tmp_path):
    p = tmp_path / "model.onnx"
    p.write_bytes(b"original")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert p.read_bytes() == b"original"
    assert os.listdir(tmp_path) == ["model.onnx"]


def test_save_onnx_gives_usual_permissions(tmp_path):
    from alphanas import save_onnx, zoo

    old = os.umask(0o022)
    try:
        save_onnx(zoo.build("cnn", input_size=8, in_channels=1), tmp_path / "m.onnx")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.onnx").stat().st_mode) == 0o644
