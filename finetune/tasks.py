"""The task registry: a task is mostly data (source, format, labels, fields, languages).

Built-in tasks live in ``registry_intermediate.py`` (the nine English intermediate tasks
of Phang et al. 2020) and ``registry_target.py`` (XTREME / XTREME-R target tasks), plus
whatever the caller registers (xalign registers the offline Debian tasks it builds).
The built-ins are registered by explicit import the first time the registry is read,
never by a scan.

Field specifications (``Task.fields``: our field name -> dataset column) understand a
tiny vocabulary so that every hub layout normalises to the local-layout schema:

- ``"col"``: the column's value; ``"col.key"``: a key inside a dict column
  (``"choices.text"``, ``"answers"``);
- ``"a+b"``: several string columns joined with a space (CosmosQA context + question);
- ``"a,b,c"``: several columns collected into a list (CosmosQA ``answer0..answer3``).
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field, replace
from pathlib import Path

FORMATS = ("single", "pair", "multiple_choice", "qa", "tagging")
METRICS = ("accuracy", "f1", "squad")
ROLES = ("intermediate", "target")

# Our field names per format, i.e. the keys of one example in the local layout.
FORMAT_FIELDS: dict[str, tuple[str, ...]] = {
    "single": ("text", "label"),
    "pair": ("text_a", "text_b", "label"),
    "multiple_choice": ("context", "choices", "label"),
    "qa": ("context", "question", "answers"),
    "tagging": ("tokens", "tags"),
}

_BUILTIN_MODULES = (
    "finetune.registry_intermediate",
    "finetune.registry_target",
)


def _default_splits() -> dict[str, str]:
    return {"train": "train", "validation": "validation", "test": "test"}


@dataclass(frozen=True)
class HubSource:
    """A Hugging Face dataset (or a local folder ``datasets.load_dataset`` can read).

    Attributes:
        path: hub id ("nyu-mll/glue") or a local folder of data files.
        config: dataset configuration ("mnli"); per-language tasks use language_configs.
        revision: a pinned commit or branch; None means the latest revision.
        splits: our split name -> the dataset's split name ("validation" ->
            "validation_matched"); "+" concatenates splits ("train_r1+train_r2").
        language_configs: evaluation language -> configuration ("de" -> "PAWS-X.de").
    """

    path: str
    config: str | None = None
    revision: str | None = None
    splits: dict[str, str] = field(default_factory=_default_splits)
    language_configs: dict[str, str] | None = None


@dataclass(frozen=True)
class LocalSource:
    """A folder in the local layout (meta.json, train/validation.jsonl, test.<lang>.jsonl).

    ``path=None`` means the folder is only known at run time (``Task.with_path``).
    """

    path: str | None = None


@dataclass(frozen=True)
class ConcatSource:
    """Several hub datasets with the same columns and label order, read one after another.

    Used for ANLI+ (ANLI rounds 1-3 + MNLI + SNLI + FEVER-NLI, Phang et al. 2020).
    """

    parts: tuple[HubSource, ...]


@dataclass(frozen=True)
class Task:
    """One task: where its data is, how to read it and how to score it.

    Attributes:
        name: registry key ("mnli").
        format: one of FORMATS.
        source: HubSource, LocalSource or ConcatSource.
        labels: class names in label-id order (tag names for tagging); None for
            extractive QA and multiple choice, or to read them from a local meta.json.
        fields: our field name -> dataset column (see the module docstring).
        languages: evaluation languages, ISO 639-1.
        metric: "accuracy", "f1" (entity F1 for tagging) or "squad" (EM / F1).
        role: "intermediate" or "target".
        description: one line for ``xalign tasks``.
        citation: the dataset's paper.
        train_task: targets only: the registered task whose English train split trains
            it (XTREME-R: xquad and mlqa train on squad-v1, xnli on mnli); None = its own.
        train_size: examples in the English train split (from the dataset card), for
            planning; None = unknown until loaded.
    """

    name: str
    format: str
    source: HubSource | LocalSource | ConcatSource
    labels: tuple[str, ...] | None
    fields: dict[str, str]
    languages: tuple[str, ...]
    metric: str
    role: str
    description: str = ""
    citation: str = ""
    train_task: str | None = None
    train_size: int | None = None

    def __post_init__(self) -> None:
        for attr, allowed in (("format", FORMATS), ("metric", METRICS), ("role", ROLES)):
            value = getattr(self, attr)
            if value not in allowed:
                raise ValueError(f"task {self.name!r}: {attr}={value!r}, expected one of {allowed}")
        missing = [f for f in FORMAT_FIELDS[self.format] if f not in self.fields]
        if missing and not isinstance(self.source, LocalSource):
            raise ValueError(f"task {self.name!r}: fields lack {missing} for format {self.format}")

    def with_path(self, path: str | Path) -> Task:
        """A copy of this task whose data is the local-layout folder ``path``."""
        return replace(self, source=LocalSource(path=str(path)))


_REGISTRY: dict[str, Task] = {}
_builtins_loaded = False


def _load_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        for module in _BUILTIN_MODULES:
            importlib.import_module(module)


def register_task(task: Task, *, overwrite: bool = False) -> Task:
    """Add ``task`` to the registry; a second task of the same name needs overwrite=True."""
    if task.name in _REGISTRY and not overwrite:
        raise ValueError(f"task {task.name!r} is already registered (pass overwrite=True)")
    _REGISTRY[task.name] = task
    return task


def get_task(name: str) -> Task:
    """The registered task ``name``.

    Raises:
        ValueError: unknown name; the message lists the known names and near matches.
    """
    _load_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name]
    known = sorted(_REGISTRY)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    raise ValueError(f"unknown task {name!r}.{hint} Known tasks: {', '.join(known)}")


def list_tasks() -> list[Task]:
    """All registered tasks, sorted by role (intermediate first) then name."""
    _load_builtins()
    return sorted(_REGISTRY.values(), key=lambda t: (ROLES.index(t.role), t.name))


def describe_source(source: HubSource | LocalSource | ConcatSource) -> str:
    """A one-line human description of where a task's data comes from."""
    if isinstance(source, LocalSource):
        return f"local:{source.path}" if source.path else "local:(set at run time)"
    if isinstance(source, ConcatSource):
        return " + ".join(describe_source(p) for p in source.parts)
    name = source.path + (f"/{source.config}" if source.config else "")
    if source.language_configs and not source.config:
        name += "/<per-language>"
    rev = source.revision
    if rev and len(rev) == 40 and all(c in "0123456789abcdef" for c in rev):
        rev = rev[:10]  # a commit id; branch names stay whole
    return name + (f"@{rev}" if rev else "")
