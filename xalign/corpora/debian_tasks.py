"""Real labelled tasks from Debian package descriptions, written for the fine-tuning stage.

Four tasks, all English-trained; only the target task has non-English test sets:

* ``debian-section`` (target, ``single``): the section (libs, utils, games, ...) of a
  package from its short description. English train/validation; test sets in every
  language of ``langs`` plus en, from human translations of held-out packages.
* ``debian-match-random`` (intermediate, ``pair``): does this long-description paragraph
  (first paragraph, first 60 words) belong to this short description? Negatives are
  paragraphs of random other packages (easy: usually another topic entirely).
* ``debian-match-section`` (intermediate, ``pair``): the same with negatives from the same
  section (harder: the distractor is about a similar kind of software).
* ``debian-choice`` (intermediate, ``multiple_choice``): pick the package's paragraph among
  4, the 3 distractors from the same section.

Zero-shot hygiene: every package, description checksum and source package behind any
test example is held out of all English training data, target and intermediate alike
(binary packages of one source, such as libfoo1 and libfoo-dev, share their wording).
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter, defaultdict
from pathlib import Path

from xalign.corpora.debian_intermediate import build_intermediate
from xalign.corpora.io import write_json, write_jsonl

log = logging.getLogger(__name__)

DEFAULT_LANGS = ("de", "fr", "es", "it", "ja", "ru", "pl", "uk")
# Defaults sized for CPU fine-tuning in minutes; each key may be overridden by `sizes`.
DEFAULT_SIZES = {
    "sections": 8,            # K target labels: the sections best covered in every language
    "train": 3000,            # English target-task training examples, <= train/K per section
    "validation": 500,        # English target-task validation examples
    "test_per_section": 40,   # per language and section: 8 x 40 = up to 320 per language
    "inter_train": 3000,      # per intermediate task
    "inter_validation": 500,
    "inter_test": 500,
}
# Bump when the way tasks are built changes, so cached task folders are rebuilt.
TASKS_VERSION = 3
TASK_NAMES = ("debian-section", "debian-match-random", "debian-match-section", "debian-choice")


def build_debian_tasks(root: Path, *, langs=DEFAULT_LANGS, seed: int = 0,
                       sizes: dict | None = None) -> dict[str, Path]:
    """Write the four Debian tasks under ``root`` (fetching the Debian tables if needed).

    Args:
        root: output folder; each task goes to ``root/<task name>``.
        langs: ISO 639-1 test languages of the target task (en is always added).
        seed: seed of every sampling decision.
        sizes: overrides of :data:`DEFAULT_SIZES`.

    Returns:
        Task name -> task folder. A second call with the same arguments and the same
        Debian indexes reuses the folders (checked through each ``meta.json``).

    Raises:
        ValueError: an unknown size key or a language without Debian translations.
    """
    from xalign.corpora.debian import fetch_debian, load_english, load_translations

    sizes = _resolve_sizes(sizes)
    build = {"version": TASKS_VERSION, "seed": seed, "sizes": sizes, "langs": list(langs),
             "tables_sha256": fetch_debian()["sha256"]}
    paths = {name: Path(root) / name for name in TASK_NAMES}
    if all(_meta_build(p) == build for p in paths.values()):
        log.info("debian tasks: reusing %s", root)
        return paths
    translated = {lang: load_translations(lang) for lang in langs}
    tasks = tasks_from_tables(load_english(), translated, seed=seed, sizes=sizes)
    for name, (meta, files) in tasks.items():
        meta.update({"name": name, "build": build, "source": meta["source"]})
        write_task_dir(paths[name], meta, files)
    return paths


def default_tasks_root() -> Path:
    """Where ``xalign fetch debian`` writes the tasks: ``<cache_root>/debian-tasks``."""
    from probe.paths import cache_root

    return cache_root() / "debian-tasks"


def build_default_tasks() -> dict[str, Path]:
    """Build the tasks with default settings under :func:`default_tasks_root`, testing on
    every default language that has Debian translations."""
    from xalign.corpora.debian import fetch_debian

    available = fetch_debian()["counts"]
    langs = tuple(lang for lang in DEFAULT_LANGS if lang in available)
    return build_debian_tasks(default_tasks_root(), langs=langs)


def _resolve_sizes(sizes: dict | None) -> dict:
    unknown = sorted(set(sizes or {}) - set(DEFAULT_SIZES))
    if unknown:
        raise ValueError(
            f"debian task sizes: unknown key(s) {unknown}; known {sorted(DEFAULT_SIZES)}"
        )
    return {**DEFAULT_SIZES, **(sizes or {})}


def _meta_build(path: Path) -> dict | None:
    try:
        return json.loads((path / "meta.json").read_text(encoding="utf-8")).get("build")
    except (OSError, ValueError):
        return None


def write_task_dir(path: Path, meta: dict, files: dict[str, list[dict]]) -> None:
    """Write ``meta.json`` and the JSONL files into a temp folder, then swap it into place."""
    from xalign import __version__
    from xalign.io import atomic_dir

    with atomic_dir(path) as tmp:
        for filename, rows in files.items():
            write_jsonl(tmp / filename, rows)
        meta["counts"] = {filename.removesuffix(".jsonl"): len(rows)
                          for filename, rows in files.items()}
        write_json(tmp / "meta.json", {**meta, "created_by": f"xalign {__version__}"})


def eligible_english(english: list[dict]) -> dict[str, dict]:
    """English rows usable as labelled examples, by md5: a section, >= 3 words, and a short
    description no other package shares (shared ones are often "transitional package")."""
    counts = Counter(row["short"] for row in english)
    return {row["md5"]: row for row in english
            if row["section"] and counts[row["short"]] == 1 and len(row["short"].split()) >= 3}


def pick_sections(eligible: dict[str, dict], translated: dict[str, list[dict]], k: int
                  ) -> list[str]:
    """The ``k`` sections with the most translated examples in the worst-covered language."""
    per_lang = {lang: Counter(eligible[r["md5"]]["section"] for r in rows if r["md5"] in eligible)
                for lang, rows in translated.items()}
    sections = set().union(*per_lang.values()) if per_lang else set()
    score = {s: min(c[s] for c in per_lang.values()) for s in sections}
    return sorted(sorted(score, key=lambda s: (-score[s], s))[:k])


def sample_tests(eligible, translated, sections, per_section, rng) -> dict[str, list[dict]]:
    """Per language, up to ``per_section`` translated examples of each section (balanced)."""
    tests = {}
    for lang in sorted(translated):
        seen, buckets = set(), defaultdict(list)
        for row in sorted(translated[lang], key=lambda r: r["md5"]):
            src = eligible.get(row["md5"])
            if src and src["section"] in sections and row["short"] and row["short"] not in seen:
                seen.add(row["short"])
                buckets[src["section"]].append({"id": f"{lang}-{row['md5']}", "md5": row["md5"],
                                                "text": row["short"], "label": src["section"]})
        tests[lang] = _balanced(buckets, per_section, rng)
    held = sorted({r["md5"] for rows in tests.values() for r in rows})
    buckets = defaultdict(list)
    for md5 in held:
        row = eligible[md5]
        buckets[row["section"]].append({"id": f"en-{md5}", "md5": md5, "text": row["short"],
                                        "label": row["section"]})
    tests["en"] = _balanced(buckets, per_section, rng)
    return tests


def _balanced(buckets: dict[str, list], per_section: int, rng: random.Random) -> list[dict]:
    out = []
    for section in sorted(buckets):
        rows = buckets[section]
        out.extend(rng.sample(rows, min(per_section, len(rows))))
    rng.shuffle(out)
    return out


def tasks_from_tables(english: list[dict], translated: dict[str, list[dict]], *, seed: int,
                      sizes: dict) -> dict[str, tuple[dict, dict[str, list[dict]]]]:
    """Build every task in memory: name -> (meta, {filename: rows}). Pure and deterministic."""
    rng = random.Random(f"debian-tasks:{seed}")
    eligible = eligible_english(english)
    sections = pick_sections(eligible, translated, sizes["sections"])
    tests = sample_tests(eligible, translated, sections, sizes["test_per_section"], rng)
    held_md5 = {r["md5"] for rows in tests.values() for r in rows}
    held_rows = [row for row in english if row["md5"] in held_md5]
    held_pkgs = {row["package"] for row in held_rows}
    # Hold out whole source packages: libfoo1 and libfoo-dev share most of their text.
    held_srcs = {row.get("source", row["package"]) for row in held_rows}
    free = [row for row in english
            if row["md5"] not in held_md5 and row["package"] not in held_pkgs
            and row.get("source", row["package"]) not in held_srcs]
    target = _target_splits(free, eligible, sections, sizes, rng)
    files = {"train.jsonl": target[0], "validation.jsonl": target[1]}
    files.update({f"test.{lang}.jsonl": [_strip(r) for r in rows] for lang, rows in tests.items()})
    source = "Debian bookworm main: Packages Section + Translation-xx short descriptions"
    tasks = {"debian-section": ({"format": "single", "labels": sections, "source": source,
                                 "languages": sorted(tests), "held_out_packages": len(held_pkgs),
                                 "held_out_sources": len(held_srcs)},
                                files)}
    tasks.update(build_intermediate(free, sizes, rng))
    return tasks


def _strip(row: dict) -> dict:
    return {k: row[k] for k in ("id", "text", "label")}


def _target_splits(free, eligible, sections, sizes, rng) -> tuple[list[dict], list[dict]]:
    """Balanced-ish English train/validation from packages that are not held out."""
    buckets = defaultdict(list)
    for row in sorted(free, key=lambda r: r["md5"]):
        if eligible.get(row["md5"]) is row and row["section"] in sections:
            buckets[row["section"]].append({"id": f"en-{row['md5']}", "text": row["short"],
                                            "label": row["section"]})
    train, validation, spare = [], [], []
    n_train = -(-sizes["train"] // len(sections)) if sections else 0
    n_val = -(-sizes["validation"] // len(sections)) if sections else 0
    for section in sections:
        rows = rng.sample(buckets[section], len(buckets[section]))
        validation.extend(rows[:n_val])
        train.extend(rows[n_val:n_val + n_train])
        spare.extend(rows[n_val + n_train:])
    rng.shuffle(train)
    rng.shuffle(validation)
    rng.shuffle(spare)
    # Small sections cannot fill their share: top up from the others (balanced-ish).
    train = (train + spare)[: sizes["train"]] if len(train) < sizes["train"] else train
    rng.shuffle(train)
    return train[: sizes["train"]], validation[: sizes["validation"]]
