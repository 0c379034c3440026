"""Training checkpoints without pickle: weights, optimizer, scheduler, RNG and trainer state.

Layout of ``<out_dir>/checkpoint-<step>/``:

- ``model.safetensors`` + ``config.json`` (``save_pretrained``); for multi-task runs one
  such sub-folder per task (``<task>/``), each holding the shared encoder and its head;
- tokenizer files when a tokenizer is given;
- ``optimizer.safetensors``: every optimizer state tensor as ``state.<param>.<key>``, the
  param groups as JSON in the safetensors metadata;
- ``scheduler.json``: the LR scheduler's ``state_dict``;
- ``rng.json`` (rank 0) and ``rng-<rank>.json`` (other ranks): Python, numpy, torch and
  CUDA generator states, so dropout masks continue exactly after a resume;
- ``trainer_state.json``: step, loss/eval history, world size and what a resume must
  match (:mod:`finetune.resume`): resolved config, ``data_digest`` of the features,
  ``start_fingerprint`` of the starting weights; written last.

A checkpoint is assembled in ``.tmp-checkpoint-<step>/`` and renamed into place, so a
crash never leaves a half-written ``checkpoint-<step>``.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import random
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, safe_open, save_file

from finetune import distributed

logger = logging.getLogger(__name__)

CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")
STATE_FILE = "trainer_state.json"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_umask()


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temporary sibling of ``path``; rename it onto ``path`` if the block succeeds.

    The one atomic file writer of finetune/ (checkpoints, dynamics): a reader never sees a
    half-written file, a failed write leaves nothing behind, the mode follows the umask.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: object) -> None:
    """Write JSON atomically."""
    with atomic_file(path) as tmp:
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))


def checkpoint_dirs(out_dir: str | Path) -> list[tuple[int, Path]]:
    """Complete checkpoints in ``out_dir`` as (step, path), oldest first."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    found = []
    for child in out_dir.iterdir():
        match = CHECKPOINT_RE.match(child.name)
        if match and (child / STATE_FILE).is_file():
            found.append((int(match.group(1)), child))
    return sorted(found)


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete ``checkpoint-<step>`` folder, or None."""
    found = checkpoint_dirs(out_dir)
    return found[-1][1] if found else None


def save_models(models: Mapping[str, torch.nn.Module], folder: Path, tokenizer=None) -> None:
    """``save_pretrained`` one model into ``folder`` or several into ``folder/<task>/``."""
    if len(models) == 1 and "" in models:
        models[""].save_pretrained(folder)
    else:
        for name, model in models.items():
            model.save_pretrained(folder / name)
    if tokenizer is not None:
        tokenizer.save_pretrained(folder)


# What a checkpoint holds besides the models that save_models wrote (top level only).
_RESUME_ONLY = ("optimizer.safetensors", "scheduler.json", STATE_FILE)
_RESUME_PREFIXES = ("rng", "dynamics_raw_")


def link_models(checkpoint: Path, folder: Path) -> None:
    """Give ``folder`` the model and tokenizer files of ``checkpoint`` as hard links.

    ``final/`` after a checkpoint at the last step holds the same bytes: linking them
    costs nothing, where writing the weights again costs a second or more per model on
    a CPU (XLM-R's 250k-token embedding matrix alone is 384 MB at 384 wide). Files are
    only ever replaced by rename, never changed in place, so sharing an inode is safe;
    where a link is refused (another file system) the file is copied.
    """
    checkpoint, folder = Path(checkpoint), Path(folder)
    for src in sorted(checkpoint.rglob("*")):
        rel = src.relative_to(checkpoint)
        top = len(rel.parts) == 1
        if src.is_dir() or top and (rel.name in _RESUME_ONLY
                                    or rel.name.startswith(_RESUME_PREFIXES)):
            continue
        dst = folder / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src, dst)
        except OSError:
            shutil.copy2(src, dst)


def load_models(models: Mapping[str, torch.nn.Module], folder: Path) -> None:
    """Load weights saved by :func:`save_models` into the given models, in place."""
    for name, model in models.items():
        sub = folder / name if name else folder
        files = sorted(sub.glob("model*.safetensors"))
        if not files:
            raise FileNotFoundError(f"{sub}: no model*.safetensors in checkpoint")
        state = {}
        for file in files:
            state.update(load_file(file))
        result = model.load_state_dict(state, strict=False)
        if result.unexpected_keys:
            raise ValueError(f"{sub}: unexpected weights {result.unexpected_keys[:5]}")
        tied = set(getattr(model, "all_tied_weights_keys", {}) or {})
        missing = [k for k in result.missing_keys if k not in tied]
        if missing:
            raise ValueError(f"{sub}: missing weights {missing[:5]}")


def save_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> None:
    """Optimizer ``state_dict`` as safetensors; non-tensor state values become 0-d tensors."""
    sd = optimizer.state_dict()
    tensors, scalars = {}, []
    for idx, state in sd["state"].items():
        for key, value in state.items():
            name = f"state.{idx}.{key}"
            if not torch.is_tensor(value):
                scalars.append(name)
                value = torch.tensor(value, dtype=torch.float64)
            tensors[name] = value.detach().cpu().contiguous().clone()
    meta = {"param_groups": json.dumps(sd["param_groups"]), "scalars": json.dumps(scalars)}
    with atomic_file(path) as tmp:
        save_file(tensors, tmp, metadata=meta)


def load_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> None:
    """Restore an optimizer saved by :func:`save_optimizer`."""
    if not path.is_file():
        raise FileNotFoundError(f"{path}: optimizer state missing from checkpoint")
    with safe_open(path, framework="pt") as f:
        meta = f.metadata()
        scalars = set(json.loads(meta["scalars"]))
        state: dict[int, dict] = {}
        for name in f.keys():
            _, idx, key = name.split(".", 2)
            value = f.get_tensor(name)
            state.setdefault(int(idx), {})[key] = value.item() if name in scalars else value
    groups = json.loads(meta["param_groups"])
    # JSON turns tuples (AdamW's betas) into lists; give them back the live groups' types
    for saved, live in zip(groups, optimizer.param_groups, strict=False):
        for key, value in live.items():
            if isinstance(value, tuple) and isinstance(saved.get(key), list):
                saved[key] = tuple(saved[key])
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def _encode_bytes(t: torch.Tensor) -> str:
    return base64.b64encode(t.numpy().tobytes()).decode()


def _decode_bytes(s: str) -> torch.Tensor:
    return torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8).clone()


def rng_state() -> dict:
    """All random generator states of this process as JSON-able data."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": [version, list(mt), gauss],
        "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
        "torch": _encode_bytes(torch.get_rng_state()),
    }
    if torch.cuda.is_available():
        state["cuda"] = [_encode_bytes(s) for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: Mapping) -> None:
    """Restore the states captured by :func:`rng_state`."""
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(_decode_bytes(state["torch"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([_decode_bytes(s) for s in state["cuda"]])


def rng_file(folder: Path, rank: int) -> Path:
    return folder / ("rng.json" if rank == 0 else f"rng-{rank}.json")


def tmp_checkpoint_dir(out_dir: Path, step: int) -> Path:
    """The staging folder all ranks write into before rank 0 renames it."""
    return Path(out_dir) / f".tmp-checkpoint-{step}"


def publish(tmp: Path, final: Path) -> None:
    """Move a fully written staging folder to its final name, replacing an old one.

    The old folder is renamed aside first and deleted only once the new one is in place:
    a crash at any moment leaves the old folder or the new one, never neither.
    """
    if final.exists():
        old = final.with_name(f".old-{final.name}")
        shutil.rmtree(old, ignore_errors=True)  # a leftover of an earlier crash
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old)
    else:
        os.replace(tmp, final)


def read_state(folder: Path) -> dict:
    """``trainer_state.json`` of a checkpoint."""
    path = Path(folder) / STATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not a complete checkpoint (trainer_state.json missing)")
    return json.loads(path.read_text())


def read_json(path: Path) -> dict:
    """Read a JSON file of a checkpoint, naming the file when it is missing."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing from checkpoint")
    return json.loads(path.read_text())


def save_checkpoint(run, dynamics_arrays=None) -> Path:
    """Write ``<out_dir>/checkpoint-<step>`` for a :class:`finetune.trainer.Run`.

    All ranks call this (each writes its RNG state); rank 0 writes the rest and renames the
    staging folder into place after everyone is done.
    """
    ctx, step = run.ctx, run.state.step
    tmp, final = tmp_checkpoint_dir(run.out_dir, step), Path(run.out_dir) / f"checkpoint-{step}"
    if ctx.is_main:
        shutil.rmtree(tmp, ignore_errors=True)  # debris of a crashed earlier attempt
        tmp.mkdir(parents=True)
    distributed.barrier(ctx)
    write_json(rng_file(tmp, ctx.rank), rng_state())
    distributed.barrier(ctx)
    if ctx.is_main:
        save_models(run.models, tmp, run.tokenizer)
        save_optimizer(run.optimizer, tmp / "optimizer.safetensors")
        write_json(tmp / "scheduler.json", run.scheduler.state_dict())
        if dynamics_arrays is not None:
            run.dynamics.save_raw(tmp, dynamics_arrays)
        write_json(tmp / STATE_FILE, {
            "global_step": step, "history": run.state.history, "world_size": ctx.world_size,
            **run.identity,  # config, data_digest, start_fingerprint
            "scaler": run.scaler.state_dict() if run.scaler is not None else None,
        })
        publish(tmp, final)
        logger.info("saved %s", final)
    distributed.barrier(ctx)
    return final


def restore_checkpoint(run, folder: Path) -> dict:
    """Load a checkpoint into a run (weights, optimizer, scheduler, scaler, RNG, dynamics).

    The caller has checked that the checkpoint belongs to this run
    (:func:`finetune.resume.check_resumable`).

    Returns:
        ``{"step", "history"}`` to continue from.
    """
    saved = read_state(folder)
    if saved["world_size"] != run.ctx.world_size:
        logger.warning("%s was written by %d processes, resuming with %d: same batches, "
                       "other dropout masks", folder, saved["world_size"], run.ctx.world_size)
    load_models(run.models, folder)
    load_optimizer(run.optimizer, folder / "optimizer.safetensors")
    run.scheduler.load_state_dict(read_json(folder / "scheduler.json"))
    if run.scaler is not None and saved.get("scaler"):
        run.scaler.load_state_dict(saved["scaler"])
    rng = rng_file(folder, run.ctx.rank)
    if rng.is_file():
        set_rng_state(read_json(rng))
    if run.dynamics is not None:
        run.dynamics.load_raw(folder, keep=run.ctx.is_main)
    logger.info("resumed from %s at step %d", folder, saved["global_step"])
    return {"step": saved["global_step"], "history": saved["history"]}

