"""Small local-layout task folders for every format, from hand-written examples.

Shared by the finetune-data and finetune-train tests: ``local_task_dirs`` maps each
format to a folder (meta.json, train.jsonl, validation.jsonl, test.en.jsonl,
test.de.jsonl); ``local_tasks`` maps each format to a Task reading that folder.
"""

from __future__ import annotations

import json

import pytest

from finetune.tasks import FORMAT_FIELDS, LocalSource, Task

SINGLE = [
    ("library for parsing configuration files", "libs"),
    ("command line tool to manage packages", "utils"),
    ("The quick brown fox jumps over the lazy dog.", "games"),
    ("Bibliothek zum Parsen von Konfigurationsdateien", "libs"),
]
PAIR = [
    ("library for parsing configuration files",
     "Bibliothek zum Parsen von Konfigurationsdateien", "match"),
    ("command line tool to manage packages", "The quick brown fox jumps over the lazy dog.",
     "mismatch"),
    ("outil en ligne de commande pour gérer les paquets",
     "Kommandozeilenwerkzeug zur Verwaltung von Paketen", "match"),
]
CHOICE = [
    ("library for parsing", ["configuration files", "the lazy dog", "brown fox", "packages"], 0),
    ("command line tool", ["lazy dog", "to manage packages", "quick fox", "le chien"], 1),
]
QA = [
    # answer_start hand-counted: "brown fox" starts at character 10.
    ("The quick brown fox jumps over the lazy dog.", "what jumps over the dog?",
     {"text": ["brown fox"], "answer_start": [10]}),
    ("command line tool to manage packages", "what does the tool manage?",
     {"text": ["packages"], "answer_start": [28]}),
]
TAGGING = [
    (["The", "quick", "brown", "fox"], ["O", "B-ANI", "I-ANI", "I-ANI"]),
    (["library", "for", "parsing", "configuration", "files"], ["B-LIB", "O", "O", "O", "O"]),
    (["Der", "schnelle", "braune", "Fuchs"], ["O", "B-ANI", "I-ANI", "I-ANI"]),
]
LABELS = {"single": ["libs", "utils", "games"], "pair": ["match", "mismatch"],
          "tagging": ["O", "B-ANI", "I-ANI", "B-LIB", "I-LIB"],
          "multiple_choice": None, "qa": None}


def example_rows(fmt: str) -> list[dict]:
    """The hand-written examples of ``fmt`` as local-layout rows."""
    if fmt == "single":
        return [{"id": f"s{i}", "text": t, "label": y} for i, (t, y) in enumerate(SINGLE)]
    if fmt == "pair":
        return [{"id": f"p{i}", "text_a": a, "text_b": b, "label": y}
                for i, (a, b, y) in enumerate(PAIR)]
    if fmt == "multiple_choice":
        return [{"id": f"c{i}", "context": c, "choices": ch, "label": y}
                for i, (c, ch, y) in enumerate(CHOICE)]
    if fmt == "qa":
        return [{"id": f"q{i}", "context": c, "question": q, "answers": a}
                for i, (c, q, a) in enumerate(QA)]
    return [{"id": f"t{i}", "tokens": t, "tags": y} for i, (t, y) in enumerate(TAGGING)]


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                    encoding="utf-8")


def write_task_dir(folder, fmt: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    meta = {"name": f"local-{fmt}", "format": fmt, "labels": LABELS[fmt],
            "languages": ["en", "de"]}
    (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    rows = example_rows(fmt)
    for name in ("train.jsonl", "validation.jsonl", "test.en.jsonl"):
        write_jsonl(folder / name, rows)
    write_jsonl(folder / "test.de.jsonl", rows[::-1])


@pytest.fixture(scope="session")
def local_task_dirs(tmp_path_factory) -> dict:
    """Format -> a local-layout folder holding that format's hand-written examples."""
    root = tmp_path_factory.mktemp("local-tasks")
    dirs = {}
    for fmt in FORMAT_FIELDS:
        write_task_dir(root / fmt, fmt)
        dirs[fmt] = root / fmt
    return dirs


@pytest.fixture(scope="session")
def local_tasks(local_task_dirs) -> dict:
    """Format -> a Task (labels None: read from meta.json) over ``local_task_dirs``."""
    metric = {"qa": "squad", "tagging": "f1"}
    return {
        fmt: Task(f"local-{fmt}", fmt, LocalSource(str(path)), None, {}, ("en", "de"),
                  metric.get(fmt, "accuracy"), "target")
        for fmt, path in local_task_dirs.items()
    }
