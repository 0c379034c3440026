"""Training hyper-parameters (``TrainConfig``) and the optimizer and schedule they define."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import torch

MIXED_PRECISION = ("no", "bf16", "fp16")
SAMPLING = ("proportional", "temperature")


@dataclass(frozen=True)
class TrainConfig:
    """Training hyper-parameters; defaults follow XLM-R fine-tuning practice."""

    learning_rate: float = 2e-5  # peak AdamW learning rate
    epochs: int = 3  # passes over the data (multi-task: over the sum of all tasks' batches)
    max_steps: int | None = None  # optimizer steps; overrides epochs when set
    batch_size: int = 32  # GLOBAL examples per micro-batch, summed over all ranks
    grad_accum: int = 1  # micro-batches per optimizer step
    warmup_ratio: float = 0.1  # fraction of steps with linear warm-up, then linear decay to 0
    weight_decay: float = 0.01  # AdamW decay; never on biases and LayerNorm weights
    max_grad_norm: float = 1.0  # gradient clipping (0 or None disables)
    seed: int = 0  # fixes batch order, task schedule and dropout
    mixed_precision: str = "no"  # "bf16" (CPU or GPU autocast) or "fp16" (GPU, loss scaling)
    gradient_checkpointing: bool = False  # recompute activations in backward to save memory
    freeze_embeddings: bool = False  # freeze the WORD embedding matrix only (see docs)
    length_grouped: bool = True  # batches of similar length (less padding)
    eval_every: int | None = None  # call eval_fn every N steps (and at the end)
    save_every: int | None = None  # write checkpoint-<step> every N steps (and at the end)
    record_dynamics: bool = False  # p_gold/correctness per example per epoch (cartography)
    multitask_sampling: str = "proportional"  # or "temperature": p_t ~ n_t ** (1 / T)
    temperature: float = 2.0  # T for temperature sampling

    def __post_init__(self) -> None:
        if self.mixed_precision not in MIXED_PRECISION:
            raise ValueError(f"mixed_precision must be one of {MIXED_PRECISION}, "
                             f"got {self.mixed_precision!r}")
        if self.multitask_sampling not in SAMPLING:
            raise ValueError(f"multitask_sampling must be one of {SAMPLING}, "
                             f"got {self.multitask_sampling!r}")
        for name in ("epochs", "batch_size", "grad_accum"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainConfig.{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_steps", "eval_every", "save_every"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"TrainConfig.{name} must be None or >= 1, got {value}")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError(f"TrainConfig.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")

    @classmethod
    def from_dict(cls, data: Mapping) -> TrainConfig:
        """Build from a mapping, rejecting unknown keys."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig keys {unknown}; known: {sorted(known)}")
        return cls(**data)


def make_optimizer(named_params, config: TrainConfig, total_steps: int):
    """AdamW (no decay on biases / LayerNorm) and linear warm-up then linear decay to 0."""
    no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
    decay = [p for n, p in named_params if not n.endswith(no_decay)]
    rest = [p for n, p in named_params if n.endswith(no_decay)]
    groups = [{"params": decay, "weight_decay": config.weight_decay},
              {"params": rest, "weight_decay": 0.0}]
    device = named_params[0][1].device.type if named_params else "cpu"
    # the fused kernel is ~3.5x faster than the per-tensor loop on CPU, where the
    # 250k-row word-embedding update dominates a step
    optimizer = torch.optim.AdamW(groups, lr=config.learning_rate,
                                  fused=device in ("cpu", "cuda") or None)
    warmup = int(config.warmup_ratio * total_steps)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / (warmup + 1)  # never exactly 0, so step 1 already learns
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
