import os

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

#: fixtures of the models exported from PyTorch (tests/models/exported.py)
pytest_plugins = ["tests.models.exported"]
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
