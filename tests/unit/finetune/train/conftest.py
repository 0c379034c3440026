"""Fixtures for the finetune training tests: tiny features and finetune-data's Collator."""

from __future__ import annotations

import pytest
from ft_train_helpers import make_collator, make_features


@pytest.fixture
def features():
    return make_features(24)


@pytest.fixture
def collator(tiny_model_dir):
    return make_collator(tiny_model_dir)


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny models train ~10x faster on one thread than with two contending ones."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
