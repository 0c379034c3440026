"""Zero-shot evaluation of a saved task checkpoint (the ``xalign evaluate`` command)."""

from __future__ import annotations

from pathlib import Path

from finetune.evaluate import zero_shot_table
from finetune.tasks import LocalSource, get_task


def evaluate_checkpoint(model_dir: str, task_name: str, *, languages=None, task_dir=None,
                        limit: int | None = None, max_length: int = 128) -> list[dict]:
    """Rows {task, language, metric, value, n} plus the non-English average."""
    from transformers import AutoConfig, AutoTokenizer

    from finetune.heads import AUTO_CLASSES

    task = get_task(task_name)
    if task_dir is not None:
        task = task.with_path(task_dir)
    elif isinstance(task.source, LocalSource) and task.source.path is None:
        task = _offline_task(task)
    path = Path(model_dir)
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"--model {model_dir}: no config.json (expected a checkpoint)")
    arch = (AutoConfig.from_pretrained(path).architectures or ["?"])[0]
    head = AUTO_CLASSES[task.format]
    if not arch.endswith(head.__name__.removeprefix("AutoModel")):
        raise ValueError(f"--model {model_dir} is a {arch}, not a {task.format} model for "
                         f"task {task.name!r}")
    model = head.from_pretrained(path).eval()
    rows = zero_shot_table(model, AutoTokenizer.from_pretrained(path), task,
                           languages=languages, max_length=max_length, limit=limit)
    return [{"task": task.name, **row} for row in rows]


def _offline_task(task):
    from xalign.config import ExperimentConfig, FinetuneConfig
    from xalign.pipeline.data import resolve_tasks

    config = ExperimentConfig(finetune=FinetuneConfig(intermediate_tasks=(),
                                                      target_tasks=(task.name,)))
    return resolve_tasks(config)[1][0]
