"""Data-parallel training with PyTorch ``DistributedDataParallel`` (torchrun / accelerate launch).

The process group is initialised from the usual launcher environment variables
(``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``, ``LOCAL_RANK``): NCCL on GPU,
gloo on CPU. Without them everything is a plain single-process run.

All tasks' models go into one :class:`TaskModels` module that dispatches by task name, so
DDP wraps a shared encoder once (two DDP instances over one encoder would all-reduce its
gradients twice and disagree about which parameters were used). Multi-task runs set
``find_unused_parameters=True``: a step trains one task's head and leaves the others
without a gradient, which DDP then neither waits for nor touches (so AdamW skips them as
it does in one process). DDP averages gradients over ranks; the trainer backpropagates
``world_size`` times each rank's share of the global-batch mean loss, so the average is
that mean's gradient, independent of the number of processes.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """Only the main process writes files."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup() -> DistContext:
    """Join the process group announced by the launcher, or run single-process.

    Returns:
        The rank, world size and the device this process trains on.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available()
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if world_size <= 1:
        return DistContext(device=device)
    if not dist.is_initialized():
        if cuda:
            torch.cuda.set_device(device)
        dist.init_process_group(backend="nccl" if cuda else "gloo")
        logger.info("joined process group: rank %d of %d", dist.get_rank(), world_size)
    return DistContext(dist.get_rank(), dist.get_world_size(), local_rank, device)


class TaskModels(torch.nn.Module):
    """Every task's model in one module; ``forward(task, **inputs)`` runs that task's model.

    Models that share an encoder (``finetune.sampling.share_encoder``) hold the same
    parameter objects, which ``parameters()`` lists once.
    """

    def __init__(self, models: Mapping[str, torch.nn.Module]) -> None:
        super().__init__()
        self.index = {name: i for i, name in enumerate(models)}
        # a ModuleList, not a ModuleDict: the single task is named "", not a valid key
        self.models = torch.nn.ModuleList(models.values())

    def forward(self, task: str, **inputs):
        return self.models[self.index[task]](**inputs)


def wrap(models: Mapping[str, torch.nn.Module], ctx: DistContext) -> torch.nn.Module:
    """The module the training step calls: :class:`TaskModels`, inside DDP when distributed.

    Call it after freezing parameters (DDP reduces only those that require a gradient).
    DDP starts by broadcasting rank 0's parameters and buffers to every rank.
    """
    net = TaskModels(models)
    if not ctx.enabled:
        return net
    return DistributedDataParallel(
        net, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
        find_unused_parameters=len(models) > 1)


def sync_context(net: torch.nn.Module, sync: bool):
    """``no_sync()`` unless ``sync``: micro-batches before a step's last only accumulate.

    DDP still records which parameters the skipped micro-batches used, so a head trained
    only by an earlier micro-batch of the step is all-reduced with the last one.
    """
    if sync or not isinstance(net, DistributedDataParallel):
        return contextlib.nullcontext()
    return net.no_sync()


def barrier(ctx: DistContext) -> None:
    """Wait for all ranks (no-op when single-process)."""
    if ctx.enabled:
        dist.barrier()


def all_reduce_sum(ctx: DistContext, tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over ranks in place and return it (a CPU tensor may go through NCCL)."""
    if ctx.enabled:
        on_device = tensor.to(ctx.device)  # NCCL reduces GPU tensors only
        dist.all_reduce(on_device, op=dist.ReduceOp.SUM)
        tensor.copy_(on_device)
    return tensor


def all_reduce_arrays(ctx: DistContext, arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Copies of numpy ``arrays`` summed over ranks (the inputs are left untouched)."""
    if not ctx.enabled:
        return tuple(arrays)
    return tuple(all_reduce_sum(ctx, torch.from_numpy(a.copy())).numpy() for a in arrays)
