"""A run's data: offline tasks registered with their folders, corpora loaded by spec."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from finetune.tasks import LocalSource, Task, get_task, register_task
from probe.paths import cache_root
from xalign.config import ExperimentConfig
from xalign.corpora.record import ParallelCorpus
from xalign.corpora.spec import load_corpus

log = logging.getLogger(__name__)

DEBIAN_PREFIX = "debian-"


@dataclass(frozen=True)
class Corpora:
    aligned: list[ParallelCorpus]
    mining: list[tuple[ParallelCorpus, ParallelCorpus]]  # (fit split, eval split)

    def english_sentences(self, n: int) -> list[str]:
        """Up to n unique English sentences from the aligned corpora, in a fixed order."""
        seen: dict[str, None] = {}
        for corpus in self.aligned:
            for text in corpus.tgt_texts:
                seen.setdefault(text, None)
        return list(seen)[:n]


def resolve_tasks(config: ExperimentConfig) -> tuple[list[Task], list[Task]]:
    """Intermediate and target tasks; offline Debian tasks get their data folders built."""
    ft = config.finetune
    names = list(ft.intermediate_tasks) + list(ft.target_tasks)
    tasks = {name: get_task(name) for name in names}
    for name, path in ft.task_dirs.items():
        if name not in tasks:
            raise ValueError(f"finetune.task_dirs names {name!r}, which is not among the "
                             f"intermediate or target tasks {names}")
        if not Path(path).is_dir():
            raise FileNotFoundError(f"finetune.task_dirs.{name}: folder {path} does not exist")
        tasks[name] = tasks[name].with_path(path)
    offline = [t for t in tasks.values()
               if isinstance(t.source, LocalSource) and t.source.path is None]
    if offline:
        if not all(t.name.startswith(DEBIAN_PREFIX) for t in offline):
            bad = [t.name for t in offline if not t.name.startswith(DEBIAN_PREFIX)]
            raise ValueError(f"tasks {bad} have no data folder: register them with a path")
        from xalign.corpora.debian_tasks import build_debian_tasks

        root = cache_root() / "tasks" / f"debian-seed{config.data.seed}"
        paths = build_debian_tasks(root, langs=config.data.debian_langs,
                                   seed=config.data.seed, sizes=config.data.debian_sizes or None)
        built = tuple(config.data.debian_langs) + ("en",)
        for task in offline:
            # evaluation languages are the ones whose test files were built
            langs = tuple(lang for lang in task.languages if lang in built) or task.languages
            local = replace(task.with_path(paths[task.name]), languages=langs)
            tasks[task.name] = register_task(local, overwrite=True)
    return ([tasks[n] for n in ft.intermediate_tasks], [tasks[n] for n in ft.target_tasks])


def load_corpora(config: ExperimentConfig) -> Corpora:
    data = config.data
    aligned = [load_corpus(spec, limit=data.aligned_limit, seed=data.seed) for spec in data.aligned]
    mining = [
        tuple(load_corpus(spec, split=split, limit=data.mining_limit, seed=data.seed)
              for split in ("fit", "eval"))
        for spec in data.mining
    ]
    return Corpora(aligned, mining)
