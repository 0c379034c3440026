"""Tasks as xalign runs them: finetune's registry plus the offline Debian tasks.

The Debian tasks are data xalign builds (``xalign.corpora.debian_tasks``) from fetched
package descriptions, so xalign registers them here, next to their builder. Importing
this module registers them once; the process-wide registry is never overwritten: a run
works on copies of the tasks that carry their data folder (:func:`resolve_tasks`).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from finetune.tasks import (
    ConcatSource,
    HubSource,
    LocalSource,
    Task,
    get_task,
    list_tasks,
    register_task,
)

DEBIAN_LANGS = ("de", "fr", "es", "it", "ja", "ru", "pl", "uk", "en")

DEBIAN_TASKS = (
    Task("debian-section", "single", LocalSource(None), None, {"text": "text", "label": "label"},
         DEBIAN_LANGS, "accuracy", "target",
         "Debian package Section from its description (labels from meta.json); "
         "zero-shot on translated descriptions held out from English training"),
    Task("debian-match-random", "pair", LocalSource(None), ("match", "mismatch"),
         {"text_a": "text_a", "text_b": "text_b", "label": "label"}, ("en",), "accuracy",
         "intermediate", "Does this description belong to this package? Random negatives"),
    Task("debian-match-section", "pair", LocalSource(None), ("match", "mismatch"),
         {"text_a": "text_a", "text_b": "text_b", "label": "label"}, ("en",), "accuracy",
         "intermediate", "Same as debian-match-random with negatives from the same Section "
         "(harder)"),
    Task("debian-choice", "multiple_choice", LocalSource(None), None,
         {"context": "context", "choices": "choices", "label": "label"}, ("en",), "accuracy",
         "intermediate", "Pick the package's description among 4 choices"),
)
OFFLINE_TASKS = tuple(task.name for task in DEBIAN_TASKS)
# Debian task -> the size key of xalign.corpora.debian_tasks.DEFAULT_SIZES of its train split
DEBIAN_TRAIN_SIZE_KEY = {"debian-section": "train", "debian-match-random": "inter_train",
                         "debian-match-section": "inter_train", "debian-choice": "inter_train"}

for _task in DEBIAN_TASKS:
    register_task(_task)

__all__ = ["OFFLINE_TASKS", "Task", "get_task", "list_tasks", "resolve_tasks", "train_task_of"]


def train_task_of(target: Task) -> str:
    """The task whose English train split trains ``target`` (XTREME-R's protocol)."""
    return target.train_task or target.name


def needs_path(task: Task) -> bool:
    return isinstance(task.source, LocalSource) and task.source.path is None


def mirrored(task: Task, mirrors: dict) -> Task:
    """``task`` reading each hub dataset from its local mirror, where one is given.

    A mirror is a snapshot: the pinned hub revision means nothing for a local folder
    (``datasets`` ignores it there), so the mirrored source carries none; nor does the
    dataset card's train size hold for it (a mirror may be a subset).
    """
    def swap(source: HubSource) -> HubSource:
        if source.path not in mirrors:
            return source
        return replace(source, path=str(mirrors[source.path]), revision=None)

    if not set(hub_ids(task)) & set(mirrors):
        return task
    if isinstance(task.source, HubSource):
        return replace(task, source=swap(task.source), train_size=None)
    return replace(task, source=ConcatSource(tuple(swap(p) for p in task.source.parts)),
                   train_size=None)


def hub_ids(task: Task) -> list[str]:
    """The hub dataset ids a task reads."""
    parts = task.source.parts if isinstance(task.source, ConcatSource) else (task.source,)
    return [p.path for p in parts if isinstance(p, HubSource)]


def resolve_tasks(names, *, task_dirs: dict, debian_langs, seed: int,
                  debian_sizes: dict | None, mirrors: dict | None = None) -> dict[str, Task]:
    """Copies of the named tasks with their data folders; Debian folders are built once.

    Args:
        names: task names (intermediate, target and target-training tasks).
        task_dirs: task name -> local-layout folder, overriding the registered source.
        debian_langs, seed, debian_sizes: how the Debian tasks are built (data config).
        mirrors: hub dataset id -> local copy read instead (data.hub_mirrors).

    Raises:
        ValueError: a task with no data folder that xalign cannot build.
    """
    tasks = {name: mirrored(get_task(name), mirrors or {}) for name in names}
    for name, path in task_dirs.items():
        if name in tasks:
            tasks[name] = tasks[name].with_path(path)
    offline = [t for t in tasks.values() if needs_path(t)]
    unknown = [t.name for t in offline if t.name not in OFFLINE_TASKS]
    if unknown:
        raise ValueError(f"tasks {unknown} have no data folder: set finetune.task_dirs")
    if offline:
        from probe.paths import cache_root
        from xalign.corpora.debian_tasks import build_debian_tasks

        root = cache_root() / "tasks" / f"debian-seed{seed}"
        paths = build_debian_tasks(root, langs=debian_langs, seed=seed, sizes=debian_sizes)
        built = (*debian_langs, "en")
        for task in offline:
            # evaluation languages are the ones whose test files were built
            langs = tuple(lang for lang in task.languages if lang in built) or task.languages
            tasks[task.name] = replace(task.with_path(paths[task.name]), languages=langs)
    return tasks


def local_train_size(task: Task) -> int | None:
    """Lines of a local folder's train.jsonl, or None if it is not (yet) on disk."""
    path = getattr(task.source, "path", None)
    if path is None:
        return None
    for name in ("train.jsonl", "train.en.jsonl"):
        file = Path(path) / name
        if file.is_file():
            with open(file, "rb") as fh:
                return sum(1 for line in fh if line.strip())
    return None
