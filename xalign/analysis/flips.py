"""Which Tatoeba pairs flip from correct to wrong (and back) between checkpoints.

Averages hide which sentences move. Each probe unit keeps, per language, direction and
layer, the top-1 hit of every pair as a string of "0"/"1"; this module compares two such
vectors with :func:`retrieval.tatoeba.flips` and writes:

- ``flip_counts``: per comparison, language, layer and direction, how many pairs were
  lost (correct -> wrong) and gained (wrong -> correct) out of n;
- ``flip_pairs``: at the headline layer, in XTREME's direction (English queries), every
  pair that flipped, with its texts, length in words and script, so a researcher can
  read the examples.

Comparisons: within a lineage, phase 0 -> 1 and phase 1 -> 2; between two conditions of
one contrast (same seed and phase), b -> a for the contrast "a-b".
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import numpy as np

from retrieval.tatoeba import flips

DIRECTIONS = ("tgt2src", "src2tgt")  # en -> xx (XTREME's), xx -> en
METRIC = {"tgt2src": "tatoeba_en2xx", "src2tgt": "tatoeba_xx2en"}


def encode_hits(hits: np.ndarray) -> str:
    """(n,) bool -> "0101..." (compact, strict JSON)."""
    return "".join("1" if h else "0" for h in np.asarray(hits, dtype=bool))


def decode_hits(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("ascii"), dtype=np.uint8) == ord("1")


def script_of(text: str) -> str:
    """The Unicode script of a text's first letter (LATIN, CYRILLIC, CJK, ARABIC, ...)."""
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "")
            return name.split(" ")[0] if name else "UNKNOWN"
    return "NONE"


def count_rows(before: dict, after: dict, head: dict) -> list[dict]:
    """Lost / gained counts for every language, direction and layer two probes share.

    Args:
        before, after: a probe's hits, ``{language: {direction: [hits per layer]}}``.
        head: the comparison's identity columns, copied into every row.
    """
    rows = []
    for lang in sorted(before.keys() & after.keys()):
        for direction in DIRECTIONS:
            layers = zip(before[lang].get(direction, ()), after[lang].get(direction, ()),
                         strict=False)
            for layer, (b, a) in enumerate(layers):
                result = flips(decode_hits(b), decode_hits(a))
                rows.append({**head, "language": lang, "layer": layer,
                             "metric": METRIC[direction],
                             "lost": result["n_correct_to_wrong"],
                             "gained": result["n_wrong_to_correct"], "n": result["n"]})
    return rows


def pair_rows(before: dict, after: dict, head: dict, layer: int,
              texts: dict[str, tuple[list[str], list[str]]]) -> Iterable[dict]:
    """Every pair that flipped at ``layer`` in XTREME's direction, with its texts."""
    for lang in sorted(before.keys() & after.keys() & texts.keys()):
        b = before[lang].get("tgt2src", ())
        a = after[lang].get("tgt2src", ())
        if layer >= min(len(b), len(a)):
            continue
        result = flips(decode_hits(b[layer]), decode_hits(a[layer]))
        src, tgt = texts[lang]
        for change, key in (("lost", "correct_to_wrong"), ("gained", "wrong_to_correct")):
            for i in result[key]:
                yield {**head, "language": lang, "layer": layer, "pair": int(i),
                       "change": change, "en": tgt[i], "xx": src[i],
                       "en_words": len(tgt[i].split()), "xx_chars": len(src[i]),
                       "script": script_of(src[i])}
