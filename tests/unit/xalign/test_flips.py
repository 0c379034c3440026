"""Which Tatoeba pairs flip: counts and pairs equal a brute-force comparison."""

from __future__ import annotations

import numpy as np

from xalign.analysis.flips import count_rows, decode_hits, encode_hits, pair_rows, script_of


def probe_hits(rng, n=40, layers=3):
    return {lang: {d: [encode_hits(rng.random(n) < 0.6) for _ in range(layers)]
                   for d in ("tgt2src", "src2tgt")} for lang in ("de", "ru")}


def test_counts_equal_a_brute_force_comparison():
    rng = np.random.default_rng(0)
    before, after = probe_hits(rng), probe_hits(rng)
    rows = count_rows(before, after, {"model": "m"})
    assert len(rows) == 2 * 2 * 3  # languages x directions x layers
    for row in rows:
        direction = "tgt2src" if row["metric"] == "tatoeba_en2xx" else "src2tgt"
        b = [c == "1" for c in before[row["language"]][direction][row["layer"]]]
        a = [c == "1" for c in after[row["language"]][direction][row["layer"]]]
        assert row["lost"] == sum(x and not y for x, y in zip(b, a, strict=True))
        assert row["gained"] == sum(y and not x for x, y in zip(b, a, strict=True))
        # accuracy after minus before is (gained - lost) / n
        assert (sum(a) - sum(b)) == row["gained"] - row["lost"] and row["n"] == 40


def test_pairs_carry_their_texts_lengths_and_scripts():
    before = {"ru": {"tgt2src": ["110", "000"]}}
    after = {"ru": {"tgt2src": ["011", "000"]}}
    texts = {"ru": (["один", "два", "три"], ["one", "two words", "three"])}
    rows = list(pair_rows(before, after, {"seed": 0}, 0, texts))
    assert [(r["pair"], r["change"]) for r in rows] == [(0, "lost"), (2, "gained")]
    assert rows[0]["en"] == "one" and rows[0]["xx"] == "один"
    assert rows[1]["script"] == "CYRILLIC" and rows[1]["en_words"] == 1
    assert list(pair_rows(before, after, {}, 1, texts)) == []  # nothing flips at layer 1


def test_hits_round_trip_and_scripts():
    hits = np.array([True, False, True])
    assert decode_hits(encode_hits(hits)).tolist() == hits.tolist()
    assert [script_of(t) for t in ("Hund", "собака", "犬", "كلب", "123")] == [
        "LATIN", "CYRILLIC", "CJK", "ARABIC", "NONE"]
