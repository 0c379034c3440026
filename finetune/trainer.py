"""Fine-tuning loop: single- or multi-task, exact resume, data-parallel, training dynamics.

``train`` runs unchanged in one process or under ``torchrun`` / ``accelerate launch``
(see :mod:`finetune.distributed`): ``TrainConfig.batch_size`` is the *global* batch, split
over ranks, so a run's result does not depend on the number of processes. Rank 0 writes
every file.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from finetune import checkpoint as ckpt
from finetune import distributed
from finetune.dynamics import DynamicsRecorder, batch_signals, save_dynamics
from finetune.sampling import Plan

logger = logging.getLogger(__name__)

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


@dataclass
class TrainResult:
    """What a finished (or resumed and finished) run produced."""

    global_step: int
    history: list[dict] = field(default_factory=list)  # {"step", "loss", "lr", **eval metrics}
    checkpoint_dir: Path | None = None  # <out_dir>/final
    dynamics_path: Path | None = None  # <out_dir>/dynamics.json when record_dynamics


@dataclass
class TrainState:
    """The mutable part of a run that a checkpoint stores besides weights and optimizer."""

    step: int = 0
    history: list[dict] = field(default_factory=list)


def _as_tasks(model, features, collator) -> tuple[dict, dict, dict]:
    """Normalise single-task arguments to dicts keyed by task ("" for a single task)."""
    if isinstance(features, Mapping):
        if not isinstance(model, Mapping) or set(model) != set(features):
            raise ValueError(f"multi-task features for {sorted(features)} need a dict of models "
                             "with the same task names")
        if not isinstance(collator, Mapping):
            collator = dict.fromkeys(features, collator)
        return dict(model), dict(features), dict(collator)
    if isinstance(model, Mapping):
        raise ValueError(f"a dict of models ({sorted(model)}) needs a dict of features per task")
    return {"": model}, {"": features}, {"": collator}


def _prepare_models(models: dict, config: TrainConfig, device: torch.device) -> list:
    """Move to device, set train mode and options; return the unique trainable parameters."""
    params, seen = [], set()
    for model in models.values():
        model.to(device).train()
        if config.gradient_checkpointing and model.supports_gradient_checkpointing:
            # transformers >= 5.x renamed it; keep working on the older 5.x releases
            enable = getattr(model, "activation_checkpointing_enable", None)
            enable = enable or model.gradient_checkpointing_enable
            enable({"use_reentrant": False})
        if config.freeze_embeddings:
            model.get_input_embeddings().weight.requires_grad_(False)
        for name, p in model.named_parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                params.append((name, p))
    return params


@dataclass
class Run:
    """Everything one training run holds; checkpoints save and restore its state."""

    config: TrainConfig
    out_dir: Path
    ctx: distributed.DistContext
    models: dict
    collators: dict
    plan: Plan
    params: list
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler | None = None
    dynamics: DynamicsRecorder | None = None
    tokenizer: object = None
    state: TrainState = field(default_factory=TrainState)


def train(model, features, collator, config: TrainConfig, out_dir, *, eval_fn=None,
          progress: bool = False, tokenizer=None) -> TrainResult:
    """Fine-tune ``model`` on ``features``; resume from ``out_dir``'s latest checkpoint.

    Args:
        model: a transformers model with a task head, or task name -> model (multi-task;
            make them share one encoder with :func:`finetune.sampling.share_encoder`).
        features: list of feature dicts (``input_ids``, ``attention_mask``, ``labels`` or
            QA positions, ``example_index``), or task name -> such a list.
        collator: callable(list[dict]) -> dict of tensors incl. ``example_index``; or a
            dict per task.
        config: hyper-parameters.
        out_dir: checkpoints, ``final/`` and dynamics go here.
        eval_fn: called as ``eval_fn(model)`` (multi-task: the dict of models) in eval mode
            on rank 0 every ``eval_every`` steps; returns metrics merged into ``history``.
        progress: show a tqdm bar on rank 0.
        tokenizer: saved into every checkpoint and ``final/`` when given (default: the
            collator's ``tokenizer`` attribute, if it has one).

    Returns:
        TrainResult with the step count, history and ``<out_dir>/final``.

    Raises:
        ValueError: bad config or features (e.g. empty, dynamics for a multi-task run).
    """
    run = _start(model, features, collator, config, Path(out_dir))
    run.tokenizer = tokenizer if tokenizer is not None else run.tokenizer
    bar = _progress_bar(progress and run.ctx.is_main, run.plan.total_steps, run.state.step)
    while run.state.step < run.plan.total_steps:
        loss = _optimizer_step(run)
        run.state.step += 1
        step, last = run.state.step, run.state.step == run.plan.total_steps
        entry = {"step": step, "loss": loss, "lr": run.scheduler.get_last_lr()[0]}
        if eval_fn is not None and config.eval_every and (last or step % config.eval_every == 0):
            entry.update(_evaluate(eval_fn, run))
        run.state.history.append(entry)
        logger.debug("step %d loss %.4f", step, loss)
        bar.update(1)
        if config.save_every and (last or step % config.save_every == 0):
            ckpt.save_checkpoint(run, _reduced(run))
    bar.close()
    return _finish(run)


def _start(model, features, collator, config: TrainConfig, out_dir: Path) -> Run:
    """Set up models, optimizer and plan; restore the latest checkpoint if there is one."""
    ctx = distributed.setup()
    if config.mixed_precision == "fp16" and ctx.device.type != "cuda":
        raise ValueError("mixed_precision='fp16' needs a CUDA GPU; use 'bf16' on CPU")
    models, feats, collators = _as_tasks(model, features, collator)
    plan = Plan(feats, config, ctx.rank, ctx.world_size)
    named = _prepare_models(models, config, ctx.device)
    optimizer, scheduler = make_optimizer(named, config, plan.total_steps)
    run = Run(config, out_dir, ctx, models, collators, plan, [p for _, p in named],
              optimizer, scheduler,
              scaler=torch.amp.GradScaler("cuda") if config.mixed_precision == "fp16" else None,
              dynamics=_recorder(feats, plan) if config.record_dynamics else None,
              tokenizer=getattr(next(iter(collators.values())), "tokenizer", None))
    # each rank draws its own dropout masks; seeded so a run is reproducible
    torch.manual_seed(config.seed + ctx.rank)
    latest = ckpt.latest_checkpoint(out_dir)
    if latest is not None:
        run.state = TrainState(**ckpt.restore_checkpoint(run, latest))
    logger.info("training %s for %d steps from step %d (%d process(es))",
                "/".join(models) or "model", plan.total_steps, run.state.step, ctx.world_size)
    return run


def _optimizer_step(run: Run) -> float:
    """Accumulate the step's micro-batches, reduce gradients over ranks, update."""
    micro = run.plan.micro_batches(run.state.step)
    loss = torch.zeros((), dtype=torch.float64)
    for task, epoch, batch in micro:
        local = run.plan.local(batch)
        if not local:  # this rank got no example of a tiny last batch; it still syncs below
            continue
        inputs = run.collators[task]([run.plan.features[task][i] for i in local])
        record = (lambda *a, e=epoch: run.dynamics.record(e, *a)) if run.dynamics else None
        weight = len(local) / len(batch) / len(micro)
        loss += _forward_backward(run.models[task], inputs, weight, run, record)
    # reduce before unscaling so every rank sees the same inf/NaN check under fp16
    distributed.all_reduce_grads(run.ctx, run.params)
    if run.scaler is not None:
        run.scaler.unscale_(run.optimizer)
    distributed.all_reduce_sum(run.ctx, loss)
    if run.config.max_grad_norm:
        torch.nn.utils.clip_grad_norm_(run.params, run.config.max_grad_norm)
    if run.scaler is not None:
        run.scaler.step(run.optimizer)
        run.scaler.update()
    else:
        run.optimizer.step()
    run.optimizer.zero_grad(set_to_none=True)
    run.scheduler.step()
    return float(loss)


def _evaluate(eval_fn: Callable, run: Run) -> dict:
    """Call ``eval_fn`` on rank 0 in eval mode; other ranks wait."""
    metrics: dict = {}
    if run.ctx.is_main:
        for m in run.models.values():
            m.eval()
        with torch.no_grad():
            metrics = dict(eval_fn(run.models.get("", run.models)))
        for m in run.models.values():
            m.train()
    distributed.barrier(run.ctx)
    return metrics


def _finish(run: Run) -> TrainResult:
    """Write ``final/`` (model + resolved config) and the training dynamics."""
    final = run.out_dir / "final"
    reduced = _reduced(run)
    dyn_path = run.out_dir / "dynamics.json" if run.dynamics else None
    if run.ctx.is_main:
        tmp = run.out_dir / ".tmp-final"
        tmp.mkdir(parents=True, exist_ok=True)
        ckpt.save_models(run.models, tmp, run.tokenizer)
        ckpt.write_json(tmp / "train_config.json", dataclasses.asdict(run.config))
        ckpt.publish(tmp, final)
        if reduced is not None:
            dynamics, n_epochs = run.dynamics.finalize(reduced)
            meta = {"n_epochs": n_epochs, "steps": run.state.step, "seed": run.config.seed}
            save_dynamics(run.out_dir, dynamics, meta)
    distributed.barrier(run.ctx)
    return TrainResult(run.state.step, run.state.history, final, dyn_path)


def _recorder(feats: dict, plan: Plan) -> DynamicsRecorder:
    if len(feats) != 1:
        raise ValueError("record_dynamics supports single-task runs only; got tasks "
                         f"{sorted(feats)}")
    (task, features), = feats.items()
    return DynamicsRecorder([f["example_index"] for f in features], plan.n_epochs(task))


def _reduced(run: Run) -> tuple[np.ndarray, ...] | None:
    """The recorder's arrays summed over ranks (each rank saw different examples)."""
    if run.dynamics is None:
        return None
    return distributed.all_reduce_arrays(run.ctx, run.dynamics.arrays())


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


def _forward_backward(model, inputs: dict, weight: float, run: Run, record) -> torch.Tensor:
    """Backward of ``weight`` * the batch-mean loss; returns that weighted loss (detached).

    ``weight`` = (local examples / global batch) / micro-batches per step, so summing over
    ranks and micro-batches gives the mean loss of the whole optimizer step.
    """
    config, scaler, device = run.config, run.scaler, run.ctx.device
    example_index = inputs.pop("example_index", None)
    inputs = {k: v.to(device) if torch.is_tensor(v) else v for k, v in inputs.items()}
    dtype = torch.float16 if config.mixed_precision == "fp16" else torch.bfloat16
    with torch.autocast(device.type, dtype=dtype, enabled=config.mixed_precision != "no"):
        outputs = model(**inputs)
    loss = outputs.loss.float() * weight
    (scaler.scale(loss) if scaler is not None else loss).backward()
    if record is not None:  # p(gold), correctness and margin per feature, any format
        record(example_index, batch_signals(outputs, inputs))
    return loss.detach().double().cpu()


def _progress_bar(enabled: bool, total: int, initial: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, desc="train")
