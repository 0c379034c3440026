"""Zero-shot evaluation of a saved task checkpoint (the ``xalign evaluate`` command)."""

from __future__ import annotations

from pathlib import Path

from xalign.errors import UserError


def evaluate_checkpoint(model_dir: str, task_name: str, *, languages=None, task_dir=None,
                        limit: int | None = None, max_length: int = 128) -> list[dict]:
    """Rows {task, language, metric, value, n}, one per evaluation language."""
    from transformers import AutoConfig

    from finetune.heads import AUTO_CLASSES
    from xalign.config import ExperimentConfig
    from xalign.pipeline import fitting
    from xalign.pipeline.data import run_tasks
    from xalign.tasks import get_task

    task = get_task(task_name) if task_dir is None else get_task(task_name).with_path(task_dir)
    if task_dir is None:
        task = run_tasks(ExperimentConfig(), [task_name])[task_name]
    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise UserError(f"--model {model_dir}: no config.json (expected a checkpoint)")
    arch = (AutoConfig.from_pretrained(path).architectures or ["?"])[0]
    head = AUTO_CLASSES[task.format]
    if not arch.endswith(head.__name__.removeprefix("AutoModel")):
        raise UserError(f"--model {model_dir} is a {arch}, not a {task.format} model for "
                        f"task {task.name!r}")
    rows = fitting.evaluate_checkpoint(str(path), task, languages or list(task.languages),
                                       max_length=max_length, limit=limit)
    return [{"task": task.name, **row} for row in rows]
