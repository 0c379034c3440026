"""Data-parallel training with plain ``torch.distributed`` (works under torchrun / accelerate).

Why not ``DistributedDataParallel``: in multi-task runs each step trains one task's head
while the other heads get no gradient, and the last global batch may split unevenly over
ranks. Instead every rank computes gradients of its share of the *global-batch mean* loss
and one flattened ``all_reduce(SUM)`` per optimizer step adds them up. The result equals a
single-process step on the whole global batch (up to float summation order), for any number
of ranks, including ranks that received no example.

The process group is initialised from the usual launcher environment variables
(``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``, ``MASTER_PORT``, ``LOCAL_RANK``): NCCL on GPU,
gloo on CPU. Without them everything is a no-op single-process run.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

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


def barrier(ctx: DistContext) -> None:
    """Wait for all ranks (no-op when single-process)."""
    if ctx.enabled:
        dist.barrier()


def all_reduce_sum(ctx: DistContext, tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over ranks in place and return it."""
    if ctx.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_reduce_grads(ctx: DistContext, params: Sequence[torch.nn.Parameter]) -> None:
    """Sum the gradients of ``params`` over ranks with one flattened all-reduce.

    Parameters without a gradient on this rank (an unused head) count as zeros, so every
    rank sends the same layout and the collective matches.
    """
    if not ctx.enabled:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = torch.cat([g.reshape(-1) for g in grads])  # (total parameters,)
    dist.all_reduce(flat, op=dist.ReduceOp.SUM)
    offset = 0
    for p in params:
        n = p.numel()
        p.grad = flat[offset : offset + n].view_as(p).clone()
        offset += n


def all_reduce_arrays(ctx: DistContext, arrays: Sequence[np.ndarray]) -> tuple[np.ndarray, ...]:
    """Copies of numpy ``arrays`` summed over ranks (the inputs are left untouched)."""
    if not ctx.enabled:
        return tuple(arrays)
    return tuple(all_reduce_sum(ctx, torch.from_numpy(a.copy())).numpy() for a in arrays)
