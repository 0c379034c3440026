"""The experiment as a plan: every unit of work, its identity and what it depends on.

:func:`build_plan` validates the whole config (:mod:`xalign.validate`) and lists the units
in the order they run, before anything is loaded, trained or written. ``xalign run
--plan`` prints it; ``xalign run`` executes it (:mod:`xalign.pipeline.execute`); the result
tables are assembled from the units' records (:mod:`xalign.pipeline.assemble`).

Unit kinds, per model and seed (REFERENCE.md "Data flow"):

- ``task_difficulty``: the pretrained model's normalised dev error on an intermediate task
  after a fixed step budget (needed for ``task_easiest`` / ``task_hardest``);
- ``selection``: training dynamics on an intermediate task -> easy / hard / ambiguous ids;
- ``phase1``: intermediate training of one condition (``none`` has none: phase 1 = 0);
- ``phase2``: target-task training on the target's English training task;
- ``zeroshot``: evaluation of a phase-2 checkpoint on one target, per language;
- ``probe``: alignment metrics of one checkpoint at every layer;
- ``phase_cka``: layer x layer CKA between a checkpoint and its pretrained model;
- ``condition_cka``: per-layer CKA between two conditions' checkpoints (same seed, phase).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass, field

from xalign.config import ExperimentConfig

CONDITIONS = {
    "none": "no intermediate training (phase 1 is the pretrained model)",
    "easy": "the easiest examples of the task by the difficulty scorer (subset_fraction)",
    "hard": "the hardest examples of the task by the difficulty scorer (subset_fraction)",
    "ambiguous": "the most variable examples (Dataset Cartography), same size",
    "random": "a label-stratified random subset of the same size as easy / hard",
    "full": "every training example of the task",
    "multi": "all intermediate tasks at once (multi-task, one shared encoder)",
    "task_easiest": "the measured-easiest intermediate task, random subset of a common size",
    "task_hardest": "the measured-hardest intermediate task, random subset of a common size",
}
PER_TASK = ("easy", "hard", "ambiguous", "random", "full")  # one phase-1 unit per task
SELECTED = ("easy", "hard", "ambiguous")  # need the selection unit's training dynamics
TASK_LEVEL = ("task_easiest", "task_hardest")  # need every task's measured difficulty
KINDS = ("task_difficulty", "selection", "phase1", "phase2", "zeroshot", "probe", "phase_cka",
         "condition_cka")
TRAINING_KINDS = KINDS[:5]


@dataclass(frozen=True)
class Unit:
    """One unit of work; ``name`` is its folder under ``<run>/units/``."""

    kind: str
    name: str
    model: str
    seed: int | None = None
    condition: str = ""
    inter_task: str = ""  # "" for none and before a task-level condition is measured
    phase: int | None = None
    train_task: str = ""
    eval_task: str = ""
    deps: tuple[str, ...] = ()
    examples: int | None = None  # training examples, where known before loading
    steps: int | None = None  # optimizer steps, where known
    other: tuple[str, ...] = ()  # condition_cka: (condition_b, inter_task_b)

    def record(self) -> dict:
        """A JSON-ready description (``xalign run --plan --json``)."""
        out = {k: v for k, v in asdict(self).items() if v not in ("", None, ())}
        out.setdefault("model", self.model)
        for key in ("condition", "seed"):
            out.setdefault(key, getattr(self, key))
        out["task"] = self.inter_task or self.train_task or self.eval_task
        out["deps"] = list(self.deps)
        return out


@dataclass(frozen=True)
class Lineage:
    """One checkpoint lineage (model, condition, inter_task, seed) and its producers.

    ``phase1`` is the unit that trains phase 1 (None: the pretrained model); ``phase2``
    maps each target training task to its unit.
    """

    model: str
    condition: str
    inter_task: str
    seed: int
    phase1: str | None
    phase2: dict[str, str] = field(default_factory=dict)


@dataclass
class Plan:
    config: ExperimentConfig
    units: list[Unit]
    lineages: list[Lineage]
    ranking_units: dict = field(default_factory=dict)  # model -> task_difficulty unit names
    missing: list[str] = field(default_factory=list)  # data to provide before running

    def kinds(self) -> Counter:
        return Counter(u.kind for u in self.units)

    def subset(self, kinds) -> Plan:
        """The units of ``kinds`` and every unit they depend on, in plan order."""
        by_name = {u.name: u for u in self.units}
        keep: set[str] = set()
        stack = [u.name for u in self.units if u.kind in kinds]
        while stack:
            name = stack.pop()
            if name not in keep:
                keep.add(name)
                stack += list(by_name[name].deps)
        return Plan(self.config, [u for u in self.units if u.name in keep], self.lineages,
                    self.ranking_units, self.missing)


def build_plan(config: ExperimentConfig) -> Plan:
    """Validate ``config`` and list every unit of the experiment in execution order.

    Touches no model weights, downloads nothing and writes nothing.

    Raises:
        UserError: any invalid value, missing path or impossible combination, named by
            its dotted config field.
    """
    from xalign.validate import validate

    facts = validate(config)
    return _Builder(config, facts).build()


class _Builder:
    def __init__(self, config: ExperimentConfig, facts):
        self.config, self.facts = config, facts
        self.ft = config.finetune
        self.units: list[Unit] = []
        self.lineages: list[Lineage] = []
        self.ranking: dict[str, list[str]] = {}

    def add(self, unit: Unit) -> str:
        self.units.append(unit)
        return unit.name

    def build(self) -> Plan:
        for model in self.config.model.names:
            self._model(model)
        return Plan(self.config, self.units, self.lineages, self.ranking, self.facts.missing)

    def _model(self, model: str) -> None:
        ft, slug = self.ft, _slug(model)
        if not ft.enabled:
            self.lineages.append(Lineage(model, "none", "", ft.seeds[0], None))
        else:
            if ft.task_difficulty_steps:
                self.ranking[model] = [self.add(Unit(
                    "task_difficulty", f"taskdiff-{slug}-{task}-s{seed}", model, seed,
                    inter_task=task, examples=self.facts.train_size(task),
                    steps=ft.task_difficulty_steps))
                    for task in ft.intermediate_tasks for seed in ft.seeds]
            for seed in ft.seeds:
                self._seed(model, slug, seed)
        self._probes(model, slug)

    def _seed(self, model: str, slug: str, seed: int) -> None:
        ft = self.ft
        selection = {}
        if any(c in SELECTED for c in ft.conditions):
            for task in ft.intermediate_tasks:
                n = self.facts.train_size(task)
                selection[task] = self.add(Unit(
                    "selection", f"select-{slug}-{task}-s{seed}", model, seed,
                    inter_task=task, examples=n,
                    steps=self.facts.steps(n, "cartography", task=task)))
        for cond in ft.conditions:
            if cond == "none":
                self._lineage(model, slug, seed, "none", "", None)
            elif cond in PER_TASK:
                for task in ft.intermediate_tasks:
                    self._phase1(model, slug, seed, cond, task,
                                 (selection[task],) if cond in SELECTED else ())
            elif cond == "multi":
                self._phase1(model, slug, seed, cond, "+".join(ft.intermediate_tasks), ())
            else:  # task-level: the task is chosen from the measured ranking at run time
                self._phase1(model, slug, seed, cond, "", tuple(self.ranking[model]))
        for scorer in ft.robustness_scorers:  # the same subsets by another measure
            for cond in (c for c in ("easy", "hard") if c in ft.conditions):
                for task in ft.intermediate_tasks:
                    self._phase1(model, slug, seed, f"{cond}@{scorer}", task,
                                 (selection[task],))

    def _phase1(self, model, slug, seed, cond, task, deps) -> None:
        n = self.facts.phase1_examples(cond.split("@")[0], task)
        tag = "multi" if cond == "multi" else task
        label = cond.replace("@", "-by-")
        name = self.add(Unit("phase1", f"phase1-{slug}-{label}{_tag(tag)}-s{seed}", model, seed,
                             cond, task, 1, deps=deps, examples=n,
                             steps=self.facts.steps(n, "intermediate", task=task or None,
                                                    multi=cond == "multi")))
        self._lineage(model, slug, seed, cond, task, name)

    def _lineage(self, model, slug, seed, cond, task, phase1) -> None:
        label = f"{cond}{_tag('multi' if cond == 'multi' else task)}".replace("@", "-by-")
        phase2 = {}
        # robustness conditions train the target only when the headline is after it
        robust_only = "@" in cond and self.config.analysis.primary_phase == 1
        for train_task in [] if robust_only else self.facts.train_tasks():
            n = self.facts.train_size(train_task)
            phase2[train_task] = self.add(Unit(
                "phase2", f"phase2-{slug}-{label}-{train_task}-s{seed}", model, seed, cond,
                task, 2, train_task, deps=(phase1,) if phase1 else (), examples=n,
                steps=self.facts.steps(n, "target", task=train_task)))
            for target in self.facts.targets_of(train_task):
                self.add(Unit("zeroshot", f"zeroshot-{slug}-{label}-{target}-s{seed}", model,
                              seed, cond, task, 2, train_task, target,
                              deps=(phase2[train_task],)))
        self.lineages.append(Lineage(model, cond, task, seed, phase1, phase2))

    def _probes(self, model: str, slug: str) -> None:
        base = self.add(Unit("probe", f"probe-{slug}-pretrained", model, phase=0))
        for lin in (lin for lin in self.lineages if lin.model == model):
            producers = ([(1, "", lin.phase1)] if lin.phase1 else []) + \
                [(2, t, u) for t, u in lin.phase2.items()]
            for phase, train_task, producer in producers:
                if phase not in self.config.probe.phases:
                    continue
                suffix = producer.split("-", 1)[1]
                common = dict(model=model, seed=lin.seed, condition=lin.condition,
                              inter_task=lin.inter_task, phase=phase, train_task=train_task)
                self.add(Unit("probe", f"probe-p{phase}-{suffix}", deps=(producer,), **common))
                self.add(Unit("phase_cka", f"cka-p{phase}-{suffix}", deps=(base, producer),
                              **common))
        self._condition_pairs(model, slug)

    def _condition_pairs(self, model: str, slug: str) -> None:
        """CKA between the checkpoints of two conditions that a configured contrast pairs."""
        lineages = [lin for lin in self.lineages if lin.model == model]
        for a, b in self.facts.contrast_pairs(exclude_none=True):
            for la in (lin for lin in lineages if lin.condition == a):
                for lb in (lin for lin in lineages if lin.condition == b and lin.seed == la.seed
                           and (lin.inter_task == la.inter_task or a in TASK_LEVEL)):
                    for phase, train_task, ua, ub in _shared_phases(la, lb):
                        if phase not in self.config.probe.phases:
                            continue
                        name = (f"ccka-{slug}-{a}{_tag(la.inter_task)}-{b}{_tag(lb.inter_task)}"
                                f"-p{phase}{_tag(train_task)}-s{la.seed}")
                        self.add(Unit("condition_cka", name, model, la.seed, a, la.inter_task,
                                      phase, train_task, deps=(ua, ub),
                                      other=(b, lb.inter_task)))


def _shared_phases(la: Lineage, lb: Lineage):
    if la.phase1 and lb.phase1:
        yield 1, "", la.phase1, lb.phase1
    for train_task in sorted(la.phase2.keys() & lb.phase2.keys()):
        yield 2, train_task, la.phase2[train_task], lb.phase2[train_task]


def _tag(text: str) -> str:
    return f"-{text}" if text else ""


def _slug(name: str) -> str:
    from pathlib import Path

    return "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(name).name or name)


def steps_for(n: int | None, batches: int, epochs: int, grad_accum: int,
              max_steps: int | None) -> int | None:
    """Optimizer steps of a run (finetune.sampling.Plan's rule); None if n is unknown."""
    if max_steps is not None:
        return max_steps
    if n is None:
        return None
    return math.ceil(epochs * batches / grad_accum)
