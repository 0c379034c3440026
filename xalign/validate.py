"""Every check that needs no model weights and no data download, run before any work.

:func:`validate` checks each enumerated value against its registry, parses every corpus
spec, checks every local path, types the training overrides and checks each task's format
against what the conditions ask of it. It returns :class:`Facts`, what the plan needs to
know about tasks and sizes. Errors are :class:`~xalign.errors.UserError` naming the dotted
config field.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

from finetune.trainer import TrainConfig
from xalign.config import ExperimentConfig, build
from xalign.errors import UserError, choice, user_input

DTYPES = ("auto", "fp32", "bf16")
DEVICES = ("auto", "cpu", "cuda")
CKA_KINDS = ("auto", "linear", "debiased", "rbf")
SCORERS_EXTRA = ("cartography",)  # confidence-based subsets of Swayamdipta et al. 2020
# CPU-friendly defaults of the pipeline's training runs; finetune.intermediate / target
# override any TrainConfig field.
PIPELINE_TRAIN_DEFAULTS = {"save_every": 50}


def validate(config: ExperimentConfig) -> Facts:
    """Check the whole config; returns the facts the plan is built from.

    A local data path that does not exist yet (a BUCC folder, a task folder the user must
    provide, such as CCGbank) is not an error of the config itself: it goes to
    ``Facts.missing``, which ``--plan`` lists and a real run refuses before any work.
    """
    missing: list[str] = []
    _check_model(config)
    check_probe(config)
    _check_data(config, missing)
    facts = Facts(config, missing)
    _check_analysis(config, facts)
    return facts


def train_config(config: ExperimentConfig, which: str, seed: int = 0, *,
                 task: str | None = None, **extra) -> TrainConfig:
    """The TrainConfig of ``which`` (intermediate, target, cartography) for ``task``.

    Precedence: pipeline defaults < finetune.<intermediate|target> < (targets only)
    finetune.target_per_task.<task> < what the unit itself fixes (``extra``). Typed and
    checked; errors name the field.
    """
    ft = config.finetune
    section = "target" if which == "target" else "intermediate"
    where = f"finetune.{section}"
    overrides = dict(getattr(ft, section))
    if which == "target" and task in ft.target_per_task:
        where = f"finetune.target_per_task.{task}"
        overrides.update({k: v for k, v in ft.target_per_task[task].items()
                          if k != "max_length"})
    if which == "cartography":
        extra = {"epochs": ft.cartography_epochs, "max_steps": None, "record_dynamics": True,
                 **extra}
    values = {**PIPELINE_TRAIN_DEFAULTS, **overrides, **extra, "seed": seed}
    try:
        return build(TrainConfig, values, where)
    except ValueError as exc:
        message = str(exc)
        if message.startswith("config "):
            message = message.removeprefix("config ")
        elif not message.startswith("unknown config key"):
            message = f"{where}: {message}"  # a range check of TrainConfig itself
        raise UserError(message) from None


def max_length(config: ExperimentConfig, task: str, *, target: bool = False) -> int:
    """Tokens per example of ``task`` (for a target's training task, target_per_task may
    override finetune.max_length)."""
    ft = config.finetune
    per_task = ft.target_per_task.get(task, {}) if target else {}
    return int(per_task.get("max_length", ft.max_length))


def _check_model(config: ExperimentConfig) -> None:
    if not config.model.names:
        raise UserError("model.names: empty; name at least one model")
    for i, name in enumerate(config.model.names):
        if name == "e5-small":
            continue
        path = Path(name).expanduser()
        if path.exists() or name.startswith((".", "/", "~")):
            if not (path / "config.json").is_file():
                raise UserError(f"model.names[{i}]: {name!r} is not a checkpoint folder "
                                "(no config.json)")
        elif not _looks_like_hub_id(name):
            raise UserError(f"model.names[{i}]: {name!r} is neither e5-small, a local folder "
                            "nor a hub id like 'FacebookAI/xlm-roberta-large'")


def _looks_like_hub_id(name: str) -> bool:
    parts = name.split("/")
    ok = all(p and all(c.isalnum() or c in "-_." for c in p) for p in parts)
    return ok and len(parts) <= 2


def check_probe(config: ExperimentConfig, *, prefix: str = "") -> None:
    """Probe and retrieval settings; ``prefix="--"`` names them as command-line flags."""
    from probe.pooling import POOLERS
    from retrieval.margin import MODES, margin_names
    from xalign.probing import MEASURES

    def name(section: str, field: str) -> str:
        return f"--{field.replace('_', '-')}" if prefix else f"{section}.{field}"

    probe, ret = config.probe, config.retrieval
    choice(name("probe", "pooling"), probe.pooling, sorted(POOLERS))
    choice(name("probe", "dtype"), probe.dtype, DTYPES)
    choice(name("probe", "device"), probe.device, DEVICES)
    choice(name("probe", "cka_kind"), probe.cka_kind, CKA_KINDS)
    for i, measure in enumerate(probe.measures):
        choice(f"probe.measures[{i}]", measure, MEASURES)
    choice(name("retrieval", "margin"), ret.margin, margin_names())
    choice(name("retrieval", "mode"), ret.mode, MODES)
    for field, value, low in ((name("probe", "max_length"), probe.max_length, 8),
                              (name("probe", "batch_size"), probe.batch_size, 1),
                              ("probe.calibrate", probe.calibrate, 0),
                              (name("retrieval", "k"), ret.k, 1),
                              ("data.grid_sentences", config.data.grid_sentences, 4)):
        if value < low:
            raise UserError(f"{field}: {value} is too small (at least {low})")
    for i, phase in enumerate(probe.phases):
        if phase not in (1, 2):
            raise UserError(f"probe.phases[{i}]: {phase}; expected 1 or 2 (phase 0, the "
                            "pretrained model, is always probed)")
    if probe.batch_tokens is not None and probe.batch_tokens < probe.max_length:
        raise UserError(f"{name('probe', 'batch_tokens')}: {probe.batch_tokens} is smaller than "
                        f"one sentence of max_length {probe.max_length}")
    if probe.threads is not None and probe.threads < 1:
        raise UserError(f"{name('probe', 'threads')}: {probe.threads}; expected a positive "
                        "count")


def _check_data(config: ExperimentConfig, missing: list[str]) -> None:
    from xalign.corpora.debian import DEBIAN_LANGS
    from xalign.corpora.spec import LOADERS, parse_spec
    from xalign.corpora.xtreme_dir import find_files

    data = config.data
    for kind, specs, mining in (("aligned", data.aligned, False), ("mining", data.mining, True)):
        langs: dict[str, str] = {}
        for i, spec in enumerate(specs):
            where = f"data.{kind}[{i}]"
            with user_input(where):
                parsed = parse_spec(spec)
                if parsed.scheme.startswith("debian") and \
                        parsed.lang not in set(DEBIAN_LANGS.values()):
                    raise ValueError(f"no Debian translations for {parsed.lang!r} (have "
                                     f"{', '.join(sorted(DEBIAN_LANGS.values()))})")
                if LOADERS[parsed.scheme][1] != mining:
                    other = "mining" if not mining else "aligned"
                    raise ValueError(f"{spec!r} is a{'n' * (other == 'aligned')} {other} "
                                     f"corpus; list it under data.{other}")
            if parsed.path is not None:
                try:
                    with user_input(where):
                        find_files(parsed.path, parsed.scheme.split(":")[1], parsed.lang)
                except UserError as exc:
                    if not isinstance(exc.__cause__, FileNotFoundError):
                        raise
                    missing.append(str(exc))
            if parsed.lang in langs:
                raise UserError(f"{where}: {spec!r} and {langs[parsed.lang]!r} are both "
                                f"{parsed.lang!r}; use one corpus per language")
            langs[parsed.lang] = spec
    for field, value in (("data.aligned_limit", data.aligned_limit),
                         ("data.mining_limit", data.mining_limit)):
        if value is not None and value < 1:
            raise UserError(f"{field}: {value}; expected a positive count or null")
    available = set(DEBIAN_LANGS.values())
    for i, lang in enumerate(data.debian_langs):
        choice(f"data.debian_langs[{i}]", lang, sorted(available))
    for hub_id, folder in data.hub_mirrors.items():
        if not Path(str(folder)).expanduser().is_dir():
            missing.append(f"data.hub_mirrors.{hub_id}: folder {folder} does not exist")
    with user_input("data.debian_sizes"):
        from xalign.corpora.debian_tasks import _resolve_sizes

        _resolve_sizes(data.debian_sizes)


def _check_analysis(config: ExperimentConfig, facts: Facts) -> None:
    from xalign.plan import CONDITIONS
    from xalign.probing import metric_names

    an = config.analysis
    for i, contrast in enumerate(an.contrasts):
        parts = contrast.split("-")
        if len(parts) != 2:
            raise UserError(f"analysis.contrasts[{i}]: {contrast!r}; expected 'a-b' with two "
                            f"conditions, e.g. hard-easy")
        for part in parts:
            choice(f"analysis.contrasts[{i}]", part, CONDITIONS)
    choice("analysis.primary_metric", an.primary_metric, metric_names(config.probe.measures))
    if an.primary_phase not in (1, 2):
        raise UserError(f"analysis.primary_phase: {an.primary_phase}; expected 1 or 2")
    if an.primary_phase not in config.probe.phases:
        raise UserError(f"analysis.primary_phase: {an.primary_phase} is not among "
                        f"probe.phases {list(config.probe.phases)}: the headline needs it probed")
    if an.primary_layer is not None:
        for name in config.model.names:
            n_layers = facts.num_layers(name)
            if n_layers is not None and not 0 <= an.primary_layer <= n_layers:
                raise UserError(f"analysis.primary_layer: {an.primary_layer} is outside "
                                f"0..{n_layers} of model {name!r} (hidden_states indices)")
    if an.n_boot < 100:
        raise UserError(f"analysis.n_boot: {an.n_boot}; expected at least 100 resamples")


class Facts:
    """What the plan knows about tasks and sizes; built by checking ``config.finetune``."""

    def __init__(self, config: ExperimentConfig, missing: list[str]):
        from xalign.validate_finetune import check_finetune

        self.config, self.missing = config, missing
        self.tasks, self.targets = check_finetune(config, missing)

    def train_tasks(self) -> list[str]:
        """The distinct English training tasks of the targets, in target order."""
        return list(dict.fromkeys(self.targets.values()))

    def targets_of(self, train_task: str) -> list[str]:
        return [t for t, train in self.targets.items() if train == train_task]

    def train_size(self, name: str) -> int | None:
        from xalign.tasks import DEBIAN_TRAIN_SIZE_KEY, local_train_size

        task, limit = self.tasks[name], self.config.finetune.train_limit
        n = local_train_size(task) or task.train_size
        if n is None and name in DEBIAN_TRAIN_SIZE_KEY:
            from xalign.corpora.debian_tasks import _resolve_sizes

            n = _resolve_sizes(self.config.data.debian_sizes)[DEBIAN_TRAIN_SIZE_KEY[name]]
        return n if n is None or limit is None else min(n, limit)

    def phase1_examples(self, condition: str, task: str) -> int | None:
        ft = self.config.finetune
        if condition == "multi":
            sizes = [self.train_size(t) for t in ft.intermediate_tasks]
            return None if None in sizes else sum(sizes)
        if condition in ("task_easiest", "task_hardest"):
            sizes = [self.train_size(t) for t in ft.intermediate_tasks]
            return None if None in sizes else math.floor(ft.subset_fraction * min(sizes))
        n = self.train_size(task)
        if n is None or condition == "full":
            return n
        return math.floor(ft.subset_fraction * n)

    def steps(self, n: int | None, which: str, *, task: str | None = None,
              multi: bool = False) -> int | None:
        from xalign.plan import steps_for

        tconf = train_config(self.config, which, task=None if multi else task)
        if multi:
            sizes = [self.train_size(t) for t in self.config.finetune.intermediate_tasks]
            batches = None if None in sizes else sum(
                math.ceil(s / tconf.batch_size) for s in sizes)
        else:
            batches = None if n is None else math.ceil(n / tconf.batch_size)
        if batches is None and tconf.max_steps is None:
            return None
        return steps_for(n, batches or 0, tconf.epochs, tconf.grad_accum, tconf.max_steps)

    def contrast_pairs(self, *, exclude_none: bool = False) -> list[tuple[str, str]]:
        conds = set(self.config.finetune.conditions)
        pairs = [tuple(c.split("-")) for c in self.config.analysis.contrasts]
        return [(a, b) for a, b in pairs if a in conds and b in conds
                and not (exclude_none and "none" in (a, b))]

    def num_layers(self, model: str) -> int | None:
        """Transformer blocks L of ``model`` when knowable offline (hidden_states = L + 1)."""
        from xalign.models_offline import num_layers

        return num_layers(model)


def plain(tconf: TrainConfig) -> dict:
    return dataclasses.asdict(tconf)
