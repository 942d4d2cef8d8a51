import os

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

#: fixtures of the models exported from PyTorch (tests/models/exported.py)
pytest_plugins = ["tests.models.exported"]
os.environ.setdefault("OMP_NUM_THREADS", "1")
# training in the tests (and in the CLI subprocesses they start) uses the deterministic mode, so that
# seeded runs repeat bit for bit on CUDA machines too (alphanas.train.precision); cuBLAS reads its
# workspace setting when it starts, hence before any test runs
os.environ.setdefault("ALPHANAS_DETERMINISTIC", "1")
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
