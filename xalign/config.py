"""The experiment config: frozen dataclasses per stage, composed into one.

Precedence: defaults (here, one comment each) < YAML file < ``--set a.b=value``.
YAML is read with ``safe_load`` and holds data only; unknown keys and wrong types are
rejected with the dotted path of the offending field. The resolved config is written next
to every result.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from xalign.errors import UserError


@dataclass(frozen=True)
class ModelConfig:
    names: tuple[str, ...] = ("e5-small",)  # e5-small, local checkpoint dirs or hub ids
    revision: str | None = None  # hub revision for hub ids (pin it for paper runs)


@dataclass(frozen=True)
class DataConfig:
    aligned: tuple[str, ...] = ("debian:de-en", "debian:fr-en")  # Tatoeba-style corpus specs
    mining: tuple[str, ...] = ()  # BUCC-style corpus specs (fit and eval splits)
    aligned_limit: int | None = 500  # pairs per aligned corpus (None = all)
    mining_limit: int | None = 1000  # gold pairs per mining split (pools scale with it)
    seed: int = 0  # sampling seed of corpora and Debian tasks
    debian_langs: tuple[str, ...] = ("de", "fr", "es", "it", "ja", "ru", "pl", "uk")
    debian_sizes: dict = field(default_factory=dict)  # overrides of the Debian task sizes
    grid_sentences: int = 500  # English sentences for phase-vs-phase CKA
    # hub dataset id -> a local copy with the same configurations, splits and columns
    # (a folder datasets.load_dataset reads), e.g. {nyu-mll/glue: /data/hf/glue}
    hub_mirrors: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ProbeConfig:
    pooling: str = "mean"  # mean (XTREME, special tokens included), cls, mean_nospecial
    max_length: int = 128  # tokens per sentence, special tokens included
    batch_size: int = 512  # sentences per forward pass at most
    batch_tokens: int | None = None  # padded tokens per pass (None: 2048 CPU, 32768 GPU)
    dtype: str = "auto"  # auto (bf16 where measured faster, GPUs), fp32, bf16
    device: str = "auto"  # auto (a GPU when there is one), cpu, cuda
    threads: int | None = None  # torch threads (None = torch's default)
    cka_kind: str = "auto"  # auto (debiased when n <= d, else linear), linear, debiased, rbf
    measures: tuple[str, ...] = ("cka",)  # alignment indices: cka, mknn, procrustes, svcca
    calibrate: int = 0  # permutations for the calibrated (z-score) variants (0 = none)
    phases: tuple[int, ...] = (1, 2)  # phases probed besides phase 0 (0 always is)


@dataclass(frozen=True)
class RetrievalConfig:
    k: int = 4  # neighbours for the margin (LASER uses 4)
    margin: str = "ratio"  # ratio (LASER default), distance, absolute
    mode: str = "max"  # fwd, bwd, intersect, max


@dataclass(frozen=True)
class FinetuneConfig:
    enabled: bool = True  # False = probe the given models only (phase 0)
    intermediate_tasks: tuple[str, ...] = ("debian-match-section",)  # registered task names
    # none | easy | hard | ambiguous | random | full | multi | task_easiest | task_hardest
    conditions: tuple[str, ...] = ("none", "easy", "hard", "random")
    scorer: str = "cartography"  # example difficulty scorer behind easy / hard / ambiguous
    # more scorers whose easy / hard subsets are trained too (conditions easy@<scorer>,
    # hard@<scorer>): does the primary contrast survive another difficulty measure?
    robustness_scorers: tuple[str, ...] = ()
    subset_fraction: float = 0.33  # size of easy / hard subsets (Swayamdipta et al.: 33%)
    cartography_epochs: int = 3  # epochs of the dynamics-recording run
    target_tasks: tuple[str, ...] = ("debian-section",)  # zero-shot target tasks
    languages: tuple[str, ...] | None = None  # evaluation languages (None = the task's)
    seeds: tuple[int, ...] = (0,)  # one full grid per seed
    max_length: int = 128  # tokens per training example
    train_limit: int | None = None  # cap on training examples per task (None = all)
    eval_limit: int | None = None  # cap on evaluation examples per language
    task_difficulty_steps: int = 0  # learning-curve budget per task (0 = skip)
    task_dirs: dict = field(default_factory=dict)  # task name -> local-layout data folder
    intermediate: dict = field(default_factory=dict)  # TrainConfig overrides, phase 1
    target: dict = field(default_factory=dict)  # TrainConfig overrides, phase 2
    # target training task -> phase-2 overrides (TrainConfig fields and max_length), e.g.
    # {squad-v1: {max_length: 384, epochs: 2}}; they also apply to its zero-shot evaluation
    target_per_task: dict = field(default_factory=dict)


@dataclass(frozen=True)
class AnalysisConfig:
    primary_metric: str = "tatoeba_en2xx"  # alignment metric of the report's headline
    primary_layer: int | None = None  # None: the paper's layer for XLM-R, else the last layer
    primary_phase: int = 1  # phase of the headline alignment contrast (1 = after intermediate)
    # condition contrasts, "a-b" = a minus b, paired by seed; missing conditions are skipped
    contrasts: tuple[str, ...] = ("hard-easy", "easy-random", "hard-random", "random-none",
                                  "task_hardest-task_easiest")
    n_boot: int = 2000  # bootstrap resamples (change-vs-accuracy intervals)


@dataclass(frozen=True)
class OutputConfig:
    root: str = "runs"  # run directories go to <root>/<experiment name>
    figures: bool = True  # draw figures and report.md at the end


@dataclass(frozen=True)
class ExperimentConfig:
    name: str = "experiment"
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    output: OutputConfig = field(default_factory=OutputConfig)


def load_config(path: str | Path | None = None, overrides: list[str] | None = None):
    """Defaults < YAML at ``path`` < ``overrides`` (``a.b=value``, value parsed as YAML)."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise UserError(f"config file {path} does not exist")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise UserError(f"{path}: invalid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise UserError(f"{path}: expected a mapping at the top level")
    for item in overrides or []:
        _apply_override(data, item)
    try:
        return build(ExperimentConfig, data, "")
    except ValueError as exc:
        raise UserError(str(exc)) from None


def _apply_override(data: dict, item: str) -> None:
    if "=" not in item:
        raise UserError(f"--set {item!r}: expected KEY=VALUE, e.g. finetune.seeds=[0,1]")
    key, raw = item.split("=", 1)
    parts = key.strip().split(".")
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise UserError(f"--set {key}: {part!r} is not a section")
    try:
        node[parts[-1]] = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise UserError(f"--set {item!r}: the value is not valid YAML "
                        f"({str(exc).splitlines()[0]})") from None


def build(cls, data: Any, where: str):
    """Construct dataclass ``cls`` from a mapping, checking keys and types recursively."""
    if not isinstance(data, dict):
        raise ValueError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in names:
            near = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ValueError(f"unknown config key {path!r} (known: {', '.join(names)}){hint}")
        kwargs[key] = _coerce(hints[key], value, path)
    return cls(**kwargs)


def _coerce(tp, value: Any, path: str):
    if dataclasses.is_dataclass(tp):
        return build(tp, value, path)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, path)
    if origin is tuple:
        if isinstance(value, str | int | float):
            value = [value]
        if not isinstance(value, list | tuple):
            raise ValueError(f"config {path}: expected a list, got {value!r}")
        return tuple(_coerce(args[0], v, f"{path}[{i}]") for i, v in enumerate(value))
    if tp is dict or origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"config {path}: expected a mapping, got {value!r}")
        return dict(value)
    return _scalar(tp, value, path)


def _scalar(tp, value: Any, path: str):
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads "1e-4" as a string
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
    raise ValueError(f"config {path}: expected {tp.__name__}, got {value!r}")


def to_dict(config) -> dict:
    """The resolved config as plain data (tuples as lists), for YAML/JSON."""
    def plain(v):
        if isinstance(v, tuple | list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(config))


def dump_config(config) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False, allow_unicode=True)
