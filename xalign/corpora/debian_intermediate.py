"""The three English intermediate tasks built from Debian long descriptions.

All three use the same packages in the same splits, so they differ only in how the
wrong answers are chosen: random other packages (easy) or packages of the same section
(hard). Distractor paragraphs come from any package that is not held out.
"""

from __future__ import annotations

import random
from collections import defaultdict

MAX_WORDS = 60  # the first paragraph is cut to this many words to keep sequences short
N_CHOICES = 4
SOURCE = "Debian bookworm main: Translation-en short description + first long paragraph"


def first_paragraph(row: dict) -> str:
    """The first long-description paragraph, cut to :data:`MAX_WORDS` words."""
    return " ".join(row["paragraphs"][0].split()[:MAX_WORDS]) if row["paragraphs"] else ""


def intermediate_pool(free: list[dict]) -> list[dict]:
    """Packages usable for the intermediate tasks: unique short text and unique paragraph,
    >= 3 words, and a section with at least N_CHOICES such packages (for same-section
    distractors). Sorted by md5 for determinism."""
    seen_short, seen_para, rows = set(), set(), []
    for row in sorted(free, key=lambda r: r["md5"]):
        para = first_paragraph(row)
        if (len(row["short"].split()) < 3 or len(para.split()) < 3 or row["short"] in seen_short
                or para in seen_para):
            continue
        seen_short.add(row["short"])
        seen_para.add(para)
        rows.append({"md5": row["md5"], "short": row["short"], "para": para,
                     "section": row["section"]})
    size = defaultdict(int)
    for row in rows:
        size[row["section"]] += 1
    return [row for row in rows if size[row["section"]] >= N_CHOICES]


def _distractors(row, k, pool, by_section, same_section, rng) -> list[str]:
    """``k`` paragraphs of other packages (same section or anywhere), without repeats."""
    candidates = by_section[row["section"]] if same_section else pool
    picked: list[str] = []
    while len(picked) < k:
        other = candidates[rng.randrange(len(candidates))]
        if other["md5"] != row["md5"] and other["para"] not in picked:
            picked.append(other["para"])
    return picked


def _pair_rows(rows, pool, by_section, same_section, rng) -> list[dict]:
    """Alternate match / mismatch so the labels are balanced."""
    out = []
    for i, row in enumerate(rows):
        if i % 2 == 0:
            out.append({"id": f"{row['md5']}-match", "text_a": row["short"],
                        "text_b": row["para"], "label": "match"})
        else:
            para = _distractors(row, 1, pool, by_section, same_section, rng)[0]
            out.append({"id": f"{row['md5']}-mismatch", "text_a": row["short"],
                        "text_b": para, "label": "mismatch"})
    return out


def _choice_rows(rows, pool, by_section, rng) -> list[dict]:
    out = []
    for row in rows:
        choices = _distractors(row, N_CHOICES - 1, pool, by_section, True, rng)
        label = rng.randrange(N_CHOICES)
        choices.insert(label, row["para"])
        out.append({"id": row["md5"], "context": row["short"], "choices": choices,
                    "label": label})
    return out


def build_intermediate(free: list[dict], sizes: dict, rng: random.Random) -> dict:
    """Build the three intermediate tasks: name -> (meta, {filename: rows})."""
    pool = intermediate_pool(free)
    by_section = defaultdict(list)
    for row in pool:
        by_section[row["section"]].append(row)
    chosen = rng.sample(pool, min(len(pool), sizes["inter_train"] + sizes["inter_validation"]
                                  + sizes["inter_test"]))
    cut1 = sizes["inter_train"]
    cut2 = cut1 + sizes["inter_validation"]
    splits = {"train.jsonl": chosen[:cut1], "validation.jsonl": chosen[cut1:cut2],
              "test.en.jsonl": chosen[cut2:]}
    tasks = {}
    for name, same in (("debian-match-random", False), ("debian-match-section", True)):
        files = {f: _pair_rows(rows, pool, by_section, same, rng) for f, rows in splits.items()}
        tasks[name] = ({"format": "pair", "labels": ["match", "mismatch"], "languages": ["en"],
                        "source": SOURCE, "negatives": "same section" if same else "random"},
                       files)
    files = {f: _choice_rows(rows, pool, by_section, rng) for f, rows in splits.items()}
    tasks["debian-choice"] = ({"format": "multiple_choice", "labels": None, "languages": ["en"],
                               "source": SOURCE, "distractors": "same section"}, files)
    return tasks

