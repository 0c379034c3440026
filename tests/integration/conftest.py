"""A complete tiny experiment on disk: model, task folders, XTREME-layout corpora, config."""

from __future__ import annotations

import json
import random

import pytest
import yaml

WORDS = ["library", "tool", "parser", "daemon", "game", "driver", "font", "editor", "server",
         "client", "archive", "shell", "network", "music", "image", "document"]
LANGS = ("de", "fr", "ja")  # zero-shot languages: 2 conditions x 3 = 6 observations


def sentence(rng: random.Random, n: int = 5) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def build_tasks(root, rng):
    inter, target = root / "inter", root / "target"
    inter.mkdir(), target.mkdir()
    pairs = []
    for i in range(30):
        a = sentence(rng)
        b = a if i % 2 == 0 else sentence(rng)
        pairs.append({"id": f"p{i}", "text_a": a, "text_b": b,
                      "label": "match" if i % 2 == 0 else "mismatch"})
    write_jsonl(inter / "train.jsonl", pairs)
    write_jsonl(inter / "validation.jsonl", pairs[:10])
    (inter / "meta.json").write_text(json.dumps({"name": "inter", "format": "pair",
                                                 "labels": ["match", "mismatch"]}))
    labels = ["libs", "games"]

    def single(prefix, n, lang=""):
        return [{"id": f"{prefix}{i}", "text": f"{lang}{sentence(rng)} {labels[i % 2]}",
                 "label": labels[i % 2]} for i in range(n)]

    write_jsonl(target / "train.jsonl", single("t", 24))
    write_jsonl(target / "validation.jsonl", single("v", 8))
    for lang in ("en",) + LANGS:
        write_jsonl(target / f"test.{lang}.jsonl", single(f"{lang}-", 10, f"[{lang}] "))
    (target / "meta.json").write_text(json.dumps({"name": "target", "format": "single",
                                                  "labels": labels,
                                                  "languages": ["en", *LANGS]}))
    return inter, target


def build_corpora(root, rng):
    xt = root / "xtreme"
    xt.mkdir()
    for lang, lang3 in (("de", "deu"), ("fr", "fra")):
        en = [sentence(rng, 6) + f" {i}" for i in range(20)]
        (xt / f"tatoeba.{lang3}-eng.eng").write_text("\n".join(en) + "\n")
        (xt / f"tatoeba.{lang3}-eng.{lang3}").write_text(
            "\n".join(f"{lang} {s}" for s in en) + "\n")
    for split in ("sample", "training"):
        en = [sentence(rng, 6) + f" {split} {i}" for i in range(25)]
        (xt / f"de-en.{split}.en").write_text(
            "".join(f"en-{split}-{i:04d}\t{s}\n" for i, s in enumerate(en)))
        (xt / f"de-en.{split}.de").write_text(
            "".join(f"de-{split}-{i:04d}\tde {en[i] if i < 10 else sentence(rng)}\n"
                    for i in range(15)))
        (xt / f"de-en.{split}.gold").write_text(
            "".join(f"de-{split}-{i:04d}\ten-{split}-{i:04d}\n" for i in range(10)))
    return xt


@pytest.fixture
def tiny_experiment(tmp_path, tiny_model_dir):
    """(config path, experiment folder) for a full tiny run."""
    rng = random.Random(0)
    inter, target = build_tasks(tmp_path, rng)
    xt = build_corpora(tmp_path, rng)
    train = {"epochs": 1, "batch_size": 8, "learning_rate": 1.0e-3, "save_every": 2}
    config = {
        "name": "tiny",
        "model": {"names": [str(tiny_model_dir)]},
        "data": {"aligned": [f"xtreme-dir:{xt}:tatoeba:deu", f"xtreme-dir:{xt}:tatoeba:fra"],
                 "mining": [f"xtreme-dir:{xt}:bucc:de-en"], "aligned_limit": None,
                 "mining_limit": None, "grid_sentences": 30},
        "probe": {"max_length": 32, "batch_size": 8},
        "finetune": {"intermediate_tasks": ["debian-match-section"],
                     "target_tasks": ["debian-section"], "languages": ["en", *LANGS],
                     "task_dirs": {"debian-match-section": str(inter),
                                   "debian-section": str(target)},
                     "cartography_epochs": 2, "max_length": 32, "task_difficulty_steps": 2,
                     "intermediate": train, "target": train},
        "output": {"root": str(tmp_path / "runs")},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, tmp_path
