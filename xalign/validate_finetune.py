"""Checks of ``finetune.*``: conditions, scorer, tasks, targets, languages, training overrides.

Part of :func:`xalign.validate.validate`; kept apart so each module stays short.
"""

from __future__ import annotations

from pathlib import Path

from finetune.tasks import Task
from xalign.config import ExperimentConfig
from xalign.errors import UserError, choice


def check_finetune(config: ExperimentConfig, missing: list[str]
                   ) -> tuple[dict[str, Task], dict[str, str]]:
    """Check the fine-tuning section; data folders still to provide go to ``missing``.

    Returns:
        (task name -> registered Task for every task the run trains or evaluates,
         target name -> the name of its English training task).
    """
    from xalign.plan import CONDITIONS, TASK_LEVEL
    from xalign.validate import train_config

    ft = config.finetune
    if not ft.enabled:
        return {}, {}
    if not ft.conditions:
        raise UserError("finetune.conditions: empty; list at least one (e.g. none)")
    for i, cond in enumerate(ft.conditions):
        choice(f"finetune.conditions[{i}]", cond, CONDITIONS)
    _unique("finetune.conditions", ft.conditions)
    _unique("finetune.seeds", ft.seeds)
    _unique("finetune.intermediate_tasks", ft.intermediate_tasks)
    if not ft.seeds:
        raise UserError("finetune.seeds: empty; list at least one seed")
    trained = [c for c in ft.conditions if c != "none"]
    if trained and not ft.intermediate_tasks:
        raise UserError(f"finetune.conditions {trained} need finetune.intermediate_tasks")
    if "multi" in ft.conditions and len(ft.intermediate_tasks) < 2:
        raise UserError("finetune.conditions: 'multi' trains several intermediate tasks at once; "
                        "list at least two in finetune.intermediate_tasks")
    level = [c for c in ft.conditions if c in TASK_LEVEL]
    if level and (len(ft.intermediate_tasks) < 2 or not ft.task_difficulty_steps):
        raise UserError(f"finetune.conditions {level} pick tasks by measured difficulty: they "
                        "need >= 2 intermediate_tasks and finetune.task_difficulty_steps > 0")
    if not 0 < ft.subset_fraction <= 1 / 3 + 1e-9:
        raise UserError(f"finetune.subset_fraction: {ft.subset_fraction}; expected a value in "
                        "(0, 1/3] so that easy, hard and ambiguous subsets are disjoint")
    _check_scorer("finetune.scorer", ft.scorer)
    for i, scorer in enumerate(ft.robustness_scorers):
        _check_scorer(f"finetune.robustness_scorers[{i}]", scorer)
        if scorer == ft.scorer:
            raise UserError(f"finetune.robustness_scorers[{i}]: {scorer!r} is the main scorer")
    if ft.robustness_scorers and not {"easy", "hard"} & set(ft.conditions):
        raise UserError("finetune.robustness_scorers retrain easy / hard subsets: list easy "
                        "or hard in finetune.conditions")
    for field, value in (("finetune.cartography_epochs", ft.cartography_epochs),
                         ("finetune.max_length", ft.max_length)):
        if value < 1:
            raise UserError(f"{field}: {value}; expected a positive number")
    for field, value in (("finetune.train_limit", ft.train_limit),
                         ("finetune.eval_limit", ft.eval_limit)):
        if value is not None and value < 1:
            raise UserError(f"{field}: {value}; expected a positive count or null")
    if ft.task_difficulty_steps < 0:
        raise UserError(f"finetune.task_difficulty_steps: {ft.task_difficulty_steps}; "
                        "expected >= 0 (0 = skip)")
    for which in ("intermediate", "target", "cartography"):
        train_config(config, which)
    tasks, targets = _check_tasks(config)
    _check_task_dirs(ft.task_dirs, tasks, missing)
    _check_per_task(config, tasks, targets)
    return tasks, targets


def _check_per_task(config: ExperimentConfig, tasks: dict, targets: dict) -> None:
    from xalign.validate import max_length, train_config

    trained = set(targets.values())
    for name, overrides in config.finetune.target_per_task.items():
        where = f"finetune.target_per_task.{name}"
        if name not in trained:
            raise UserError(f"{where}: {name!r} is not a target training task of this run "
                            f"({', '.join(sorted(trained)) or 'none'})")
        if not isinstance(overrides, dict):
            raise UserError(f"{where}: expected a mapping of overrides")
        train_config(config, "target", task=name)
        value = overrides.get("max_length", 8)
        if not isinstance(value, int) or isinstance(value, bool) or value < 8:
            raise UserError(f"{where}.max_length: {value!r}; expected an integer >= 8")
        max_length(config, name, target=True)


def _unique(field: str, values) -> None:
    seen = set()
    for value in values:
        if value in seen:
            raise UserError(f"{field}: {value!r} is listed twice")
        seen.add(value)


def _check_scorer(field: str, scorer: str) -> None:
    from finetune.difficulty import list_scorers
    from xalign.validate import SCORERS_EXTRA

    choice(field, scorer, [*SCORERS_EXTRA, *list_scorers()])


def _get(field: str, name: str) -> Task:
    from xalign.tasks import get_task, list_tasks

    choice(field, name, sorted(t.name for t in list_tasks()))
    return get_task(name)


def _check_tasks(config: ExperimentConfig) -> tuple[dict[str, Task], dict[str, str]]:
    from xalign.tasks import train_task_of

    ft = config.finetune
    tasks: dict[str, Task] = {}
    for i, name in enumerate(ft.intermediate_tasks):
        tasks[name] = _get(f"finetune.intermediate_tasks[{i}]", name)
    targets = {}
    for i, name in enumerate(ft.target_tasks):
        target = _get(f"finetune.target_tasks[{i}]", name)
        if target.role != "target":
            raise UserError(f"finetune.target_tasks[{i}]: {name!r} is an {target.role} task "
                            "(see `xalign tasks --role target`)")
        tasks[name] = target
        train = train_task_of(target)
        tasks[train] = _get(f"finetune.target_tasks[{i}] (its train task)", train)
        _check_head(tasks[train], target, f"finetune.target_tasks[{i}]")
        targets[name] = train
        _check_languages(config, target, f"finetune.target_tasks[{i}]")
    return tasks, targets


def _check_head(train: Task, target: Task, where: str) -> None:
    """The head trained on ``train`` must read ``target``: same format and label order."""
    if train.name == target.name:
        return
    if train.format != target.format or (train.labels and target.labels
                                         and train.labels != target.labels):
        raise UserError(f"{where}: {target.name!r} ({target.format}, labels {target.labels}) "
                        f"cannot be scored by a head trained on {train.name!r} "
                        f"({train.format}, labels {train.labels})")


def _check_languages(config: ExperimentConfig, target: Task, where: str) -> None:
    from xalign.corpora.langs import to_iso639_1
    from xalign.tasks import OFFLINE_TASKS

    available = set(target.languages)
    if target.name in OFFLINE_TASKS:
        available &= {*config.data.debian_langs, "en"}
    for i, lang in enumerate(config.finetune.languages or ()):
        try:
            code = to_iso639_1(lang)
        except ValueError as exc:
            raise UserError(f"finetune.languages[{i}]: {exc}") from None
        if code not in available:
            raise UserError(f"finetune.languages[{i}]: {lang!r} is not an evaluation language "
                            f"of {where} {target.name!r} (has {', '.join(sorted(available))})")


def _check_task_dirs(task_dirs: dict, tasks: dict[str, Task], missing: list[str]) -> None:
    from xalign.tasks import OFFLINE_TASKS, needs_path

    for name, path in task_dirs.items():
        where = f"finetune.task_dirs.{name}"
        if name not in tasks:
            raise UserError(f"{where}: {name!r} is not among the run's tasks "
                            f"({', '.join(tasks)})")
        folder = Path(str(path)).expanduser()
        if not folder.is_dir():
            missing.append(f"{where}: folder {path} does not exist")
        elif not any(folder.glob("*.jsonl")):
            raise UserError(f"{where}: {path} has no train.jsonl / validation.jsonl / "
                            "test.<lang>.jsonl (the local task layout, docs/finetune-tasks.md)")
    for name, task in tasks.items():
        if needs_path(task) and name not in OFFLINE_TASKS and name not in task_dirs:
            missing.append(f"task {name!r} has no public source: set finetune.task_dirs."
                           f"{name} to a local-layout folder ({task.description[:60]}...)")
