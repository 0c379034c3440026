"""Batch order: length-grouped batches, multi-task sampling, rank sharding, shared encoders.

Every order here is a pure function of (seed, epoch, step): nothing is consumed from a
stateful iterator. Exact resume therefore only needs the step counter, and every rank of a
distributed run computes the same global batches and keeps its own slice.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence

import numpy as np

# Length grouping sorts within windows of this many batches (as Hugging Face's
# LengthGroupedSampler does): batches of similar lengths, yet still a random order.
MEGABATCH_FACTOR = 50


def feature_length(feature: Mapping) -> int:
    """Number of tokens a feature will pad to (the longest choice for multiple choice)."""
    ids = feature["input_ids"]
    if ids and isinstance(ids[0], list | tuple):
        return max(len(choice) for choice in ids)
    return len(ids)


def epoch_batches(
    lengths: Sequence[int], batch_size: int, *, seed: int, epoch: int, length_grouped: bool = True
) -> list[list[int]]:
    """Split one epoch of feature indices into global batches.

    Args:
        lengths: (n,) token count per feature.
        batch_size: features per global batch (the last batch may be smaller).
        seed: run seed; with ``epoch`` it fixes the order.
        epoch: 0-based epoch; each epoch gets a fresh shuffle.
        length_grouped: sort by length inside windows of ``MEGABATCH_FACTOR`` batches, then
            shuffle the batch order, so padding is small but order stays random.

    Returns:
        Batches of indices; every index in ``range(n)`` appears exactly once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    if not length_grouped:
        return [order[i : i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    window = batch_size * MEGABATCH_FACTOR
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        # stable sort keeps the random order among equal lengths
        chunk = chunk[np.argsort([-lengths[i] for i in chunk], kind="stable")]
        batches += [chunk[i : i + batch_size].tolist() for i in range(0, len(chunk), batch_size)]
    # the longest batch goes first so an out-of-memory error shows at step 1, not hours later
    longest = max(range(len(batches)), key=lambda b: max(lengths[i] for i in batches[b]))
    rest = [b for b in range(len(batches)) if b != longest]
    rest = [rest[i] for i in rng.permutation(len(rest))]
    return [batches[b] for b in [longest, *rest]]


def task_probabilities(sizes: Mapping[str, int], *, temperature: float = 1.0) -> dict[str, float]:
    """Multi-task sampling probabilities p_t proportional to n_t ** (1 / temperature).

    temperature = 1 is proportional sampling; larger values flatten towards uniform
    (Arivazhagan et al. 2019, "Massively Multilingual NMT"; T = 2 is a common choice).

    Args:
        sizes: number of training batches (or examples) per task, all > 0.
        temperature: > 0.

    Returns:
        Probability per task, in the order of ``sizes``; they sum to 1.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if not sizes or min(sizes.values()) <= 0:
        raise ValueError(f"every task needs at least one example, got sizes {dict(sizes)}")
    weights = {name: n ** (1.0 / temperature) for name, n in sizes.items()}
    total = sum(weights.values())
    return {name: w / total for name, w in weights.items()}


def task_schedule(
    probabilities: Mapping[str, float], n_steps: int, *, seed: int
) -> list[str]:
    """Task of every micro-batch: ``n_steps`` independent draws from ``probabilities``."""
    names = list(probabilities)
    rng = np.random.default_rng([seed, 7919])
    draws = rng.choice(len(names), size=n_steps, p=[probabilities[n] for n in names])
    return [names[i] for i in draws]


def task_seed(seed: int, task: str) -> int:
    """A per-task seed that does not depend on Python's salted string hash."""
    return seed * 1_000_003 + zlib.crc32(task.encode())


def shard(batch: Sequence[int], rank: int, world_size: int) -> list[int]:
    """Rank ``rank``'s contiguous slice of a global batch (sizes differ by at most one)."""
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    per, extra = divmod(len(batch), world_size)
    start = rank * per + min(rank, extra)
    return list(batch[start : start + per + (rank < extra)])


def batches_per_epoch(n_features: int, batch_size: int) -> int:
    """Number of global batches one epoch of ``n_features`` yields."""
    return math.ceil(n_features / batch_size)


def share_encoder(models: Mapping[str, object]) -> dict[str, object]:
    """Make per-task models use one encoder (hard parameter sharing).

    The shared encoder is the first one that has a pooler: a multiple-choice head reads
    the pooled output, which a sequence classifier's encoder (built without a pooler)
    lacks, so sharing that one would fail at the first multiple-choice batch.

    Args:
        models: task name -> transformers model with a task head; all must have the same
            base-model class and hidden size.

    Returns:
        The same models (modified in place): each one's ``base_model`` is the shared one,
        so the encoder is trained by all tasks and each task keeps its own head.
    """
    if not models:
        raise ValueError("share_encoder needs at least one model")
    names = list(models)
    pooled = [n for n in names if getattr(models[n].base_model, "pooler", None) is not None]
    names = pooled[:1] + [n for n in names if n not in pooled[:1]]
    first = models[names[0]]
    for name in names[1:]:
        model = models[name]
        if type(model.base_model) is not type(first.base_model):
            raise ValueError(
                f"model {name!r} has encoder {type(model.base_model).__name__}, "
                f"expected {type(first.base_model).__name__} like {names[0]!r}"
            )
        if model.config.hidden_size != first.config.hidden_size:
            raise ValueError(
                f"model {name!r} has hidden_size {model.config.hidden_size}, "
                f"expected {first.config.hidden_size}"
            )
        setattr(model, model.base_model_prefix, first.base_model)
    return dict(models)


class Plan:
    """The whole run's micro-batch order, computable for any step (hence exact resume).

    Micro-batch m trains task ``schedule[m]`` (single task: always the same); it is that
    task's k-th micro-batch, i.e. batch ``k % n_batches`` of the task's epoch
    ``k // n_batches`` in :func:`epoch_batches` order.

    Args:
        features: task name -> list of feature dicts.
        config: a TrainConfig (batch_size, grad_accum, epochs, max_steps, seed,
            length_grouped, multitask_sampling, temperature).
        rank, world_size: this process's place in a data-parallel run.
    """

    def __init__(self, features: Mapping[str, list], config, rank: int = 0, world_size: int = 1):
        for task, feats in features.items():
            if not feats:
                raise ValueError(f"task {task or 'features'!r}: no training features")
        if config.batch_size < world_size:
            raise ValueError(f"batch_size {config.batch_size} is smaller than the "
                             f"{world_size} processes; every rank needs examples")
        self.features, self.config = features, config
        self.rank, self.world_size = rank, world_size
        self.lengths = {t: [feature_length(f) for f in fs] for t, fs in features.items()}
        self.n_batches = {t: batches_per_epoch(len(fs), config.batch_size)
                          for t, fs in features.items()}
        per_epoch = sum(self.n_batches.values())
        if config.max_steps is not None:
            self.total_micro = config.max_steps * config.grad_accum
        else:
            self.total_micro = config.epochs * per_epoch
        self.total_steps = math.ceil(self.total_micro / config.grad_accum)
        self.tasks = list(features)
        temperature = 1.0 if config.multitask_sampling == "proportional" else config.temperature
        if len(self.tasks) == 1:
            self.schedule = None
        else:
            probs = task_probabilities({t: len(fs) for t, fs in features.items()},
                                       temperature=temperature)
            self.schedule = task_schedule(probs, self.total_micro, seed=config.seed)
        self._index = self._task_positions()
        self._epochs: dict[tuple[str, int], list[list[int]]] = {}

    def _task_positions(self) -> list[int] | None:
        """k for every micro-batch: how many earlier micro-batches trained the same task."""
        if self.schedule is None:
            return None
        seen = dict.fromkeys(self.tasks, 0)
        positions = []
        for task in self.schedule:
            positions.append(seen[task])
            seen[task] += 1
        return positions

    def n_epochs(self, task: str) -> int:
        """Epochs (complete or started) of ``task`` in the single-task case."""
        return math.ceil(self.total_micro / self.n_batches[task])

    def _batches(self, task: str, epoch: int) -> list[list[int]]:
        key = (task, epoch)
        if key not in self._epochs:
            self._epochs = {key: epoch_batches(
                self.lengths[task], self.config.batch_size, seed=task_seed(self.config.seed, task),
                epoch=epoch, length_grouped=self.config.length_grouped)} | {
                k: v for k, v in self._epochs.items() if k[0] != task}
        return self._epochs[key]

    def micro_batches(self, step: int) -> list[tuple[str, int, list[int]]]:
        """(task, epoch, global batch indices) of each micro-batch of optimizer step ``step``."""
        ga = self.config.grad_accum
        out = []
        for m in range(step * ga, min((step + 1) * ga, self.total_micro)):
            task = self.tasks[0] if self.schedule is None else self.schedule[m]
            k = m if self._index is None else self._index[m]
            epoch, pos = divmod(k, self.n_batches[task])
            out.append((task, epoch, self._batches(task, epoch)[pos]))
        return out

    def local(self, batch: Sequence[int]) -> list[int]:
        """This rank's share of a global batch."""
        return shard(batch, self.rank, self.world_size)
