"""A run's data: corpora loaded by spec, tasks with their data folders, training examples."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from finetune.tasks import Task
from xalign.config import ExperimentConfig
from xalign.corpora.record import ParallelCorpus
from xalign.errors import user_input

log = logging.getLogger(__name__)


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

    def stamp(self) -> list:
        """What identifies the probing data (names and text digests) in unit inputs."""
        from probe.cache import texts_digest

        stamp = [(c.name, texts_digest(c.src_texts + c.tgt_texts)) for c in self.aligned]
        for fit, ev in self.mining:
            stamp += [(c.name, c.split, texts_digest(c.src_texts + c.tgt_texts), len(c.gold))
                      for c in (fit, ev)]
        return stamp


def load_corpora(config: ExperimentConfig) -> Corpora:
    from xalign.corpora.spec import load_corpus

    data = config.data
    aligned, mining = [], []
    for i, spec in enumerate(data.aligned):
        with user_input(f"data.aligned[{i}] {spec}"):
            aligned.append(load_corpus(spec, limit=data.aligned_limit, seed=data.seed))
    for i, spec in enumerate(data.mining):
        with user_input(f"data.mining[{i}] {spec}"):
            mining.append(tuple(load_corpus(spec, split=split, limit=data.mining_limit,
                                            seed=data.seed) for split in ("fit", "eval")))
    return Corpora(aligned, mining)


def run_tasks(config: ExperimentConfig, names) -> dict[str, Task]:
    """The named tasks with their data folders (offline Debian tasks built once)."""
    from xalign.tasks import resolve_tasks

    data = config.data
    with user_input("finetune tasks"):
        return resolve_tasks(names, task_dirs=config.finetune.task_dirs,
                             debian_langs=data.debian_langs, seed=data.seed,
                             debian_sizes=data.debian_sizes or None,
                             mirrors=data.hub_mirrors)


def train_examples(task: Task, config: ExperimentConfig, seed: int) -> list[dict]:
    """The English training examples of ``task`` (``finetune.train_limit`` of them)."""
    from finetune.data import load_examples

    with user_input(f"task {task.name!r} train split"):
        examples = load_examples(task, "train", limit=config.finetune.train_limit, seed=seed)
    if not examples:
        from xalign.errors import UserError

        raise UserError(f"task {task.name!r} has no training examples")
    return examples
