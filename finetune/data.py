"""Load a task's examples from the hub or a local folder into the local-layout schema.

Whatever the source, an example is one dict (labels as integer ids):
single {"id", "text", "label"}; pair {"id", "text_a", "text_b", "label"};
multiple_choice {"id", "context", "choices", "label"}; qa {"id", "context", "question",
"answers": {"text", "answer_start"}}; tagging {"id", "tokens", "tags"}.
Local files may hold labels and tags as names or ids; rows without a gold label (SNLI's
-1, hidden test labels) are dropped.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np

from finetune.tasks import ConcatSource, HubSource, LocalSource, Task

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")


def load_examples(
    task: Task, split: str, *, language: str | None = None, limit: int | None = None,
    seed: int = 0,
) -> list[dict]:
    """Examples of ``task``'s ``split`` in one language, normalised to the local schema.

    Args:
        task: a registered (or ad-hoc) Task.
        split: "train", "validation" or "test".
        language: ISO 639-1 code among task.languages; None = English (or the only one).
        limit: keep a random subset of this many examples (original order kept).
        seed: seed of that subset.

    Raises:
        ValueError: unknown split or language, missing column, bad label, no data folder.
        FileNotFoundError: a local-layout file is missing.
    """
    if split not in SPLITS:
        raise ValueError(f"split {split!r} of task {task.name!r}: expected one of {SPLITS}")
    if language is not None and language not in task.languages:
        raise ValueError(f"language {language!r} of task {task.name!r}: expected one of "
                         f"{task.languages}")
    labels = resolve_labels(task)
    rows = _read_rows(task, split, language)
    examples = []
    for i, row in enumerate(rows):
        example = normalise_row(task, row, labels, default_id=f"{split}-{i}")
        if example is not None:
            examples.append(example)
    if len(examples) < len(rows):
        log.info("%s/%s: dropped %d rows without a gold label", task.name, split,
                 len(rows) - len(examples))
    if limit is not None and limit < len(examples):
        keep = np.sort(np.random.default_rng(seed).choice(len(examples), limit, replace=False))
        examples = [examples[i] for i in keep]
    return examples


def resolve_labels(task: Task) -> tuple[str, ...] | None:
    """task.labels, or the "labels" of a local folder's meta.json when the task has none."""
    if task.labels is not None or not isinstance(task.source, LocalSource):
        return task.labels
    meta_path = _local_dir(task) / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        labels = json.loads(meta_path.read_text(encoding="utf-8")).get("labels")
    except json.JSONDecodeError as exc:
        raise ValueError(f"{meta_path}: not valid JSON ({exc})") from exc
    if labels is not None and not (isinstance(labels, list) and all(
            isinstance(x, str) for x in labels)):
        raise ValueError(f"{meta_path}: 'labels' must be a list of strings or null")
    return tuple(labels) if labels is not None else None


def _local_dir(task: Task) -> Path:
    path = task.source.path
    if path is None:
        raise ValueError(f"task {task.name!r} has no data folder yet: pass a path to a "
                         "local-layout folder (Task.with_path)")
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"data folder of task {task.name!r} not found: {folder}")
    return folder


def _read_rows(task: Task, split: str, language: str | None) -> list[dict]:
    source = task.source
    if isinstance(source, LocalSource):
        return _read_local(task, split, language)
    parts = source.parts if isinstance(source, ConcatSource) else (source,)
    parts = [p for p in parts if split in p.splits]
    if not parts:
        raise ValueError(f"task {task.name!r} has no {split!r} split. {task.description}")
    rows: list[dict] = []
    for part in parts:
        rows.extend(_read_hub(task, part, split, language))
    return rows


def _read_local(task: Task, split: str, language: str | None) -> list[dict]:
    folder = _local_dir(task)
    lang = language or ("en" if "en" in task.languages else task.languages[0])
    if split == "test":
        names = [f"test.{lang}.jsonl"] + (["test.jsonl"] if lang == "en" else [])
    elif lang == "en":  # English train/validation usually carry no language tag
        names = [f"{split}.jsonl", f"{split}.en.jsonl"]
    else:
        names = [f"{split}.{lang}.jsonl"]
    for name in names:
        if (folder / name).is_file():
            return read_jsonl(folder / name)
    raise FileNotFoundError(f"task {task.name!r}: no {' or '.join(names)} in {folder}")


def read_jsonl(path: Path) -> list[dict]:
    """One JSON object per line; blank lines are skipped."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object per line")
            rows.append(row)
    return rows


def _read_hub(task: Task, source: HubSource, split: str, language: str | None) -> list[dict]:
    import datasets

    config = source.config
    if source.language_configs is not None:
        lang = language or "en"
        if lang not in source.language_configs:
            raise ValueError(f"task {task.name!r} has no configuration for language {lang!r}; "
                             f"expected one of {sorted(source.language_configs)}")
        config = source.language_configs[lang]
    log.info("loading %s (%s) split %s", source.path, config, source.splits[split])
    dataset = datasets.load_dataset(
        source.path, config, split=source.splits[split], revision=source.revision
    )
    return dataset.to_list()


def normalise_row(
    task: Task, row: dict, labels: tuple[str, ...] | None, default_id: str = ""
) -> dict | None:
    """One dataset row in the local-layout schema; None if it has no gold label."""
    fields = task.fields
    get = lambda name: _field(task.name, row, fields.get(name, name))  # noqa: E731
    ex_id = str(_field(task.name, row, fields["id"]) if "id" in fields
                else row.get("id", default_id))
    fmt = task.format
    if fmt == "qa":
        answers = get("answers")
        if not isinstance(answers, dict) or set(answers) < {"text", "answer_start"}:
            raise ValueError(f"task {task.name!r}, row {ex_id}: 'answers' must hold "
                             "'text' and 'answer_start' lists")
        return {"id": ex_id, "context": get("context"), "question": get("question"),
                "answers": {"text": list(answers["text"]),
                            "answer_start": [int(s) for s in answers["answer_start"]]}}
    if fmt == "tagging":
        tokens = list(get("tokens"))
        tags = [_label_id(task.name, t, labels) for t in get("tags")]
        if len(tags) != len(tokens) or None in tags:
            raise ValueError(f"task {task.name!r}, row {ex_id}: {len(tokens)} tokens but "
                             f"{len(tags)} valid tags")
        return {"id": ex_id, "tokens": tokens, "tags": tags}
    example: dict = {"id": ex_id}
    if fmt == "multiple_choice":
        example["context"] = get("context")
        example["choices"] = [str(c) for c in get("choices")]
        n_classes = len(example["choices"])
    else:
        for name in ("text",) if fmt == "single" else ("text_a", "text_b"):
            example[name] = get(name)
        n_classes = len(labels) if labels is not None else None
    label = _label_id(task.name, get("label"), labels, n_classes)
    if label is None:
        return None
    example["label"] = label
    return example


def _field(task_name: str, row: dict, spec: str):
    """Resolve a field spec ("col", "col.key", "a+b", "a,b,c") against one row."""
    if "," in spec:
        return [_field(task_name, row, s) for s in spec.split(",")]
    if "+" in spec:
        return " ".join(str(_field(task_name, row, s)) for s in spec.split("+"))
    column, _, key = spec.partition(".")
    if column not in row:
        raise ValueError(f"task {task_name!r}: column {column!r} not found; columns are "
                         f"{sorted(row)}")
    value = row[column]
    if key:
        if not isinstance(value, dict) or key not in value:
            raise ValueError(f"task {task_name!r}: column {column!r} has no key {key!r}")
        value = value[key]
    return value


def _label_id(task_name: str, value, labels: tuple[str, ...] | None,
              n_classes: int | None = None) -> int | None:
    """A label (id, name, digit string or answer letter) as an id; None = no gold label."""
    if value is None or value == "" or value == -1:
        return None
    if isinstance(value, bool | np.bool_):  # BoolQ-style answers: False = 0, True = 1
        value = int(value)
    if isinstance(value, str):
        if labels is not None and value in labels:
            return labels.index(value)
        if value.lstrip("-").isdigit():
            return _label_id(task_name, int(value), labels, n_classes)
        if labels is None and len(value) == 1 and value.isupper():
            value = ord(value) - ord("A")  # CommonsenseQA answerKey "A".."E"
        else:
            raise ValueError(f"task {task_name!r}: label {value!r} is not one of {labels}")
    n = n_classes if n_classes is not None else (len(labels) if labels else None)
    if not isinstance(value, int | np.integer) or value < 0 or (
            n is not None and value >= n):
        raise ValueError(f"task {task_name!r}: label {value!r} outside 0..{(n or 0) - 1}")
    return int(value)
