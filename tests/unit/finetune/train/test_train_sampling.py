"""Batch order, multi-task sampling probabilities and rank sharding."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest

from finetune.sampling import (
    Plan,
    epoch_batches,
    feature_length,
    shard,
    task_probabilities,
    task_schedule,
)


def test_temperature_probabilities_known_values():
    sizes = {"a": 100, "b": 400}
    assert task_probabilities(sizes, temperature=1.0) == pytest.approx({"a": 0.2, "b": 0.8})
    # T = 2: sqrt(100) = 10, sqrt(400) = 20 -> 1/3, 2/3
    assert task_probabilities(sizes, temperature=2.0) == pytest.approx({"a": 1 / 3, "b": 2 / 3})
    flat = task_probabilities(sizes, temperature=1e6)
    assert flat == pytest.approx({"a": 0.5, "b": 0.5}, abs=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        task_probabilities(sizes, temperature=0)
    with pytest.raises(ValueError, match="at least one example"):
        task_probabilities({"a": 0})


def test_schedule_frequencies_follow_probabilities():
    counts = Counter(task_schedule({"a": 0.25, "b": 0.75}, 20_000, seed=3))
    assert counts["a"] / 20_000 == pytest.approx(0.25, abs=0.01)
    assert task_schedule({"a": 0.5, "b": 0.5}, 50, seed=1) == task_schedule(
        {"a": 0.5, "b": 0.5}, 50, seed=1)


@pytest.mark.parametrize("grouped", [True, False])
def test_epoch_is_a_partition_and_seeded(grouped):
    lengths = np.random.default_rng(0).integers(1, 100, size=103).tolist()
    batches = epoch_batches(lengths, 8, seed=1, epoch=0, length_grouped=grouped)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(103))
    assert [len(b) for b in batches].count(8) == 12
    assert batches == epoch_batches(lengths, 8, seed=1, epoch=0, length_grouped=grouped)
    assert batches != epoch_batches(lengths, 8, seed=1, epoch=1, length_grouped=grouped)


def test_length_grouping_reduces_padding():
    lengths = np.random.default_rng(0).integers(1, 200, size=800).tolist()

    def padding(batches):
        return sum(len(b) * max(lengths[i] for i in b) - sum(lengths[i] for i in b)
                   for b in batches)

    grouped = epoch_batches(lengths, 16, seed=0, epoch=0, length_grouped=True)
    plain = epoch_batches(lengths, 16, seed=0, epoch=0, length_grouped=False)
    assert padding(grouped) < 0.1 * padding(plain)
    assert max(lengths[i] for i in grouped[0]) == max(lengths)  # longest batch first


def test_shard_splits_a_batch_without_overlap():
    batch = list(range(7))
    parts = [shard(batch, r, 3) for r in range(3)]
    assert parts == [[0, 1, 2], [3, 4], [5, 6]]
    assert shard([9], 1, 2) == []
    with pytest.raises(ValueError, match="rank"):
        shard(batch, 3, 3)


def test_feature_length_of_multiple_choice_is_longest_choice():
    assert feature_length({"input_ids": [[1, 2], [1, 2, 3, 4], [5]]}) == 4
    assert feature_length({"input_ids": [1, 2, 3]}) == 3


def _config(**kw):
    base = dict(batch_size=4, grad_accum=1, epochs=2, max_steps=None, seed=0,
                length_grouped=True, multitask_sampling="proportional", temperature=2.0)
    return SimpleNamespace(**{**base, **kw})


def test_plan_multitask_covers_each_task_epoch_by_epoch():
    feats = {"a": [{"input_ids": [0] * (i % 5 + 1)} for i in range(10)],
             "b": [{"input_ids": [0] * 3} for _ in range(30)]}
    plan = Plan(feats, _config(grad_accum=2))
    # proportional: 3 + 8 = 11 batches per epoch, 2 epochs, 2 micro-batches per step
    assert plan.total_micro == 22 and plan.total_steps == 11
    seen = {"a": Counter(), "b": Counter()}
    for step in range(plan.total_steps):
        for task, epoch, batch in plan.micro_batches(step):
            seen[task].update((epoch, i) for i in batch)
    # every example of an epoch a task finished appears exactly once in that epoch
    assert all(seen["b"][(0, i)] == 1 for i in range(30))
    assert sum(seen["a"].values()) + sum(seen["b"].values()) <= 22 * 4


def test_plan_rejects_fewer_examples_than_ranks():
    with pytest.raises(ValueError, match="batch_size 1"):
        Plan({"": [{"input_ids": [1]}]}, _config(batch_size=1), rank=0, world_size=2)
    with pytest.raises(ValueError, match="no training features"):
        Plan({"": []}, _config())
