"""Execute a plan: every unit in order, each through the unit store (skip, resume or run).

The context holds what units share: the config, the run's unit store, the tasks with
their data folders, the corpora and the resolved encoders, each loaded on first use, so a
run whose units are all recorded loads no model and no dataset.
"""

from __future__ import annotations

import logging
from functools import cached_property
from pathlib import Path

from probe.models import load_tokenizer
from xalign.pipeline.units import Units
from xalign.plan import Plan, Unit

log = logging.getLogger(__name__)


class Context:
    """What the units of one run share; everything heavy is loaded lazily."""

    def __init__(self, plan: Plan, run_dir: Path, units: Units):
        self.plan, self.config, self.run_dir, self.units = plan, plan.config, run_dir, units
        self.results: dict[str, object] = {}
        self._encoders: dict[str, object] = {}

    @property
    def ft(self):
        return self.config.finetune

    @cached_property
    def tasks(self) -> dict:
        from finetune.tasks import get_task
        from xalign.pipeline.data import run_tasks
        from xalign.tasks import train_task_of

        names = [*self.ft.intermediate_tasks, *self.ft.target_tasks]
        names += [train_task_of(get_task(t)) for t in self.ft.target_tasks]
        return run_tasks(self.config, list(dict.fromkeys(names)))

    @cached_property
    def corpora(self):
        from xalign.pipeline.data import load_corpora

        return load_corpora(self.config)

    def check_data(self) -> None:
        """Load every split and corpus the plan reads, so a missing or unreachable dataset
        stops the run before the first unit trains, not at task four."""
        from finetune.data import load_examples
        from xalign.errors import user_input

        kinds = {u.kind for u in self.plan.units}
        needs = {}  # (task, split) -> languages
        for unit in self.plan.units:
            if unit.kind in ("task_difficulty", "selection", "phase1") and unit.inter_task:
                for name in unit.inter_task.split("+"):
                    needs[(name, "train")] = (None,)
                    if unit.kind == "task_difficulty":
                        needs[(name, "validation")] = (None,)
            elif unit.kind == "phase2":
                needs[(unit.train_task, "train")] = (None,)
            elif unit.kind == "zeroshot":
                target = self.tasks[unit.eval_task]
                needs[(unit.eval_task, "test")] = tuple(self.ft.languages or target.languages)
        if any(u.kind == "phase1" and not u.inter_task for u in self.plan.units):
            for name in self.ft.intermediate_tasks:  # a task-level condition picks one
                needs[(name, "train")] = (None,)
        for (name, split), languages in needs.items():
            for language in languages:
                where = f"task {name!r}, {split} split" + (f" ({language})" if language else "")
                with user_input(where):
                    examples = load_examples(self.tasks[name], split, language=language,
                                             limit=CHECKED_EXAMPLES, seed=0)
                    if split == "train":
                        self._check_features(name, examples)
        if kinds & {"probe", "phase_cka", "condition_cka"}:
            self.corpora  # noqa: B018  (loads and checks every probing corpus)

    def _check_features(self, name: str, examples: list[dict]) -> None:
        """Featurise a sample with each model's tokenizer at the task's max length (e.g. a
        QA window too short for its questions fails here, not after hours of training)."""
        from finetune.features import featurize
        from xalign.validate import max_length

        target = name in {u.train_task for u in self.plan.units if u.kind == "phase2"}
        for model in self.config.model.names:
            tokenizer = load_tokenizer(self.base_path(model))
            featurize(self.tasks[name], examples, tokenizer,
                      max_length=max_length(self.config, name, target=target))

    def base_path(self, model: str) -> str:
        return str(self.encoder(model).path)

    def encoder(self, name_or_path: str, model: str | None = None):
        """A resolved encoder (weights load lazily); checkpoints take their model's prefix."""
        from probe.models import load_encoder

        if name_or_path not in self._encoders:
            prefix = None if model is None else self.encoder(model).prefix
            self._encoders[name_or_path] = load_encoder(
                name_or_path, revision=self.config.model.revision if model is None else None,
                prefix=prefix, device=self.config.probe.device)
        return self._encoders[name_or_path]

    def checkpoint(self, unit_name: str | None, model: str) -> str:
        """The folder of the weights a unit produced (None: the pretrained model)."""
        if unit_name is None:
            return self.base_path(model)
        return self.results[unit_name]["encoder"]


PROBING = ("probe", "phase_cka", "condition_cka")
CHECKED_EXAMPLES = 64  # training examples per task featurised before any work


def execute(plan: Plan, run_dir: Path, *, on_unit=None) -> Context:
    """Run (or reuse) every unit of ``plan``; the context holds name -> JSON result.

    Under torchrun (WORLD_SIZE > 1) every rank runs the training units together (DDP),
    while the probing units are sharded: unit i runs on rank i mod WORLD_SIZE only, and
    after a barrier every rank reads the others' records, so each checkpoint x corpus is
    probed once.
    """
    from xalign.pipeline import steps, training
    from xalign.pipeline.units import barrier

    runners = {"task_difficulty": training.task_difficulty, "selection": training.selection,
               "phase1": training.phase1, "phase2": training.phase2,
               "zeroshot": training.zeroshot, "probe": steps.probe,
               "phase_cka": steps.phase_cka, "condition_cka": steps.condition_cka}
    rank, world = _join_ranks()
    ctx = Context(plan, Path(run_dir), Units(run_dir, on_done=on_unit))
    if any(ctx.units.record(u.name) is None for u in plan.units):
        ctx.check_data()
    probing = [u for u in plan.units if u.kind in PROBING]
    elsewhere = [u for i, u in enumerate(probing) if i % world != rank]
    skip = {u.name for u in elsewhere}
    for unit in plan.units:
        if unit.name not in skip:
            ctx.results[unit.name] = runners[unit.kind](ctx, unit)
    if elsewhere:
        barrier()
        for unit in elsewhere:
            ctx.results[unit.name] = ctx.units.record(unit.name)["result"]
            ctx.units.on_done(unit.name, True)
    return ctx


def _join_ranks() -> tuple[int, int]:
    """(rank, world size): join the launcher's process group when there is one."""
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    from finetune.distributed import setup

    ctx = setup()
    return ctx.rank, ctx.world_size


def producer_of(unit: Unit) -> str | None:
    """The unit whose weights a probing unit reads (its last dependency)."""
    return unit.deps[-1] if unit.deps else None
