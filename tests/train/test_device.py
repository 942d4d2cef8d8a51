"""CPU thread choice for training: one thread for small models, every core for large ones."""

import os

import pytest
import torch

from alphanas import zoo
from alphanas.train.device import SMALL_BATCH_MACS, cpu_threads, describe
from alphanas.ir.cost import graph_macs


def test_small_model_trains_on_one_thread():
    g = zoo.build("cnn", input_size=8, in_channels=1, num_classes=10)
    assert graph_macs(g) * 128 < SMALL_BATCH_MACS  # 1.49 MMACs per sample
    assert cpu_threads(g, 128) == 1


def test_large_model_uses_every_core():
    g = zoo.build("resnet18", input_size=32, in_channels=3, num_classes=10)  # 0.56 GMACs per sample
    assert cpu_threads(g, 128) == (os.cpu_count() or 1)


@pytest.mark.parametrize("n", [1, 3])
def test_explicit_request_wins(n):
    g = zoo.build("cnn", input_size=8, in_channels=1, num_classes=10)
    assert cpu_threads(g, 128, n) == n


def test_describe_counts_threads():
    old = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert describe(torch.device("cpu")) == "cpu (1 thread)"
    finally:
        torch.set_num_threads(old)
