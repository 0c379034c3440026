"""Fine-tuning loop: single- or multi-task, exact resume, data-parallel, training dynamics.

``train`` runs unchanged in one process or under ``torchrun`` / ``accelerate launch``
with PyTorch DDP (see :mod:`finetune.distributed`): ``TrainConfig.batch_size`` is the
*global* batch, split over ranks, so a run's result does not depend on the number of
processes. Rank 0 writes every file.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from finetune import checkpoint as ckpt
from finetune import distributed
from finetune.dynamics import DynamicsRecorder, batch_signals, save_dynamics
from finetune.resume import check_resumable, features_digest
from finetune.sampling import Plan
from finetune.train_config import TrainConfig, make_optimizer

__all__ = ["TrainConfig", "TrainResult", "make_optimizer", "train"]

logger = logging.getLogger(__name__)

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
    identity: dict  # config, data_digest, start_fingerprint: what a resume must match
    net: torch.nn.Module | None = None  # distributed.wrap(models): called as net(task, **inputs)
    scaler: torch.amp.GradScaler | None = None
    dynamics: DynamicsRecorder | None = None
    tokenizer: object = None
    state: TrainState = field(default_factory=TrainState)


def train(model, features, collator, config: TrainConfig, out_dir, *, eval_fn=None,
          progress: bool = False, tokenizer=None,
          start_fingerprint: str | None = None) -> TrainResult:
    """Fine-tune ``model`` on ``features``; resume from ``out_dir``'s latest checkpoint.

    A checkpoint is resumed only if it was written with the same config (up to
    ``eval_every`` / ``save_every``), the same features and the same ``start_fingerprint``.

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
        start_fingerprint: an opaque identity of the starting weights (e.g. the encoder
            checkpoint's content hash), stored in every checkpoint.

    Returns:
        TrainResult with the step count, history and ``<out_dir>/final``.

    Raises:
        ValueError: bad config or features (e.g. empty, dynamics for a multi-task run), or
            a checkpoint in ``out_dir`` from another config, other features or another
            start (nothing is resumed or overwritten then).
    """
    run = _start(model, features, collator, config, Path(out_dir), start_fingerprint)
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


def _start(model, features, collator, config: TrainConfig, out_dir: Path,
           start_fingerprint: str | None) -> Run:
    """Set up models, optimizer and plan; restore the latest checkpoint if there is one."""
    ctx = distributed.setup()
    if config.mixed_precision == "fp16" and ctx.device.type != "cuda":
        raise ValueError("mixed_precision='fp16' needs a CUDA GPU; use 'bf16' on CPU")
    models, feats, collators = _as_tasks(model, features, collator)
    plan = Plan(feats, config, ctx.rank, ctx.world_size)
    identity = {"config": dataclasses.asdict(config), "data_digest": features_digest(feats),
                "start_fingerprint": start_fingerprint}
    latest = ckpt.latest_checkpoint(out_dir)
    if latest is not None:  # refuse a stale checkpoint before any model work
        check_resumable(ckpt.read_state(latest), identity, latest)
    named = _prepare_models(models, config, ctx.device)
    optimizer, scheduler = make_optimizer(named, config, plan.total_steps)
    run = Run(config, out_dir, ctx, models, collators, plan, [p for _, p in named],
              optimizer, scheduler, identity,
              scaler=torch.amp.GradScaler("cuda") if config.mixed_precision == "fp16" else None,
              dynamics=_recorder(feats, plan) if config.record_dynamics else None,
              tokenizer=getattr(next(iter(collators.values())), "tokenizer", None))
    # each rank draws its own dropout masks; seeded so a run is reproducible
    torch.manual_seed(config.seed + ctx.rank)
    if latest is not None:
        run.state = TrainState(**ckpt.restore_checkpoint(run, latest))
    # after freezing and restoring: DDP reduces the trainable parameters and starts by
    # broadcasting rank 0's weights
    run.net = distributed.wrap(models, ctx)
    logger.info("training %s for %d steps from step %d (%d process(es))",
                "/".join(models) or "model", plan.total_steps, run.state.step, ctx.world_size)
    return run


def _optimizer_step(run: Run) -> float:
    """Accumulate the step's micro-batches (DDP reduces gradients in the last one), update."""
    micro = run.plan.micro_batches(run.state.step)
    loss = torch.zeros((), dtype=torch.float64)
    for m, (task, epoch, batch) in enumerate(micro):
        local = run.plan.local(batch)
        record = (lambda *a, e=epoch: run.dynamics.record(e, *a)) if run.dynamics else None
        weight = len(local) / len(batch) / len(micro)
        if not local:
            # This rank got no example of a tiny last batch, but DDP's backward is a
            # collective every rank must join: a zero-weighted pass over one example adds
            # zero gradients to the same parameters. (DDP's Join context is made for ranks
            # that run out of batches at the end, not for one empty micro-batch mid-run.)
            local, weight, record = batch[:1], 0.0, None
        inputs = run.collators[task]([run.plan.features[task][i] for i in local])
        with distributed.sync_context(run.net, sync=m == len(micro) - 1):
            loss += _forward_backward(functools.partial(run.net, task), inputs, weight, run,
                                      record)
    # gradients are the same on every rank now, so under fp16 all see the same inf/NaN
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
        shutil.rmtree(tmp, ignore_errors=True)  # debris of a crashed earlier attempt
        tmp.mkdir(parents=True)
        last = run.out_dir / f"checkpoint-{run.state.step}"
        if last.is_dir():  # written at the last step: the same weights, linked
            ckpt.link_models(last, tmp)
        else:
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


def _forward_backward(model, inputs: dict, weight: float, run: Run, record) -> torch.Tensor:
    """Backward of ``weight`` * the batch-mean loss; returns that weighted loss (detached).

    ``weight`` = (local examples / global batch) / micro-batches per step, so summing over
    ranks and micro-batches gives the mean loss of the whole optimizer step. ``model`` is
    called as ``model(**inputs)``.
    """
    config, scaler, device = run.config, run.scaler, run.ctx.device
    example_index = inputs.pop("example_index", None)
    inputs = {k: v.to(device) if torch.is_tensor(v) else v for k, v in inputs.items()}
    dtype = torch.float16 if config.mixed_precision == "fp16" else torch.bfloat16
    with torch.autocast(device.type, dtype=dtype, enabled=config.mixed_precision != "no"):
        outputs = model(**inputs)
    loss = outputs.loss.float() * weight
    # DDP averages gradients over ranks; world_size x each rank's share makes that
    # average the sum of the shares, i.e. the gradient of the global-batch mean loss
    ddp_loss = loss * run.ctx.world_size
    (scaler.scale(ddp_loss) if scaler is not None else ddp_loss).backward()
    if record is not None:  # p(gold), correctness and margin per feature, any format
        record(example_index, batch_signals(outputs, inputs))
    return loss.detach().double().cpu()


def _progress_bar(enabled: bool, total: int, initial: int):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, disable=not enabled, desc="train")
