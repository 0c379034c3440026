"""XTREME's own on-disk layouts, read from a local folder (``xtreme-dir:PATH:...``).

* Tatoeba (Artetxe & Schwenk 2019, as packaged by XTREME, Hu et al. 2020):
  ``tatoeba.deu-eng.deu`` and ``tatoeba.deu-eng.eng``, one sentence per line, line i of
  one file translating line i of the other.
* BUCC 2018 (Zweigenbaum et al. 2018): ``de-en.sample.de``, ``de-en.sample.en`` with
  lines ``"de-000001<TAB>sentence"``, and ``de-en.sample.gold`` with lines
  ``"de-000001<TAB>en-000123"``; likewise ``training`` (and ``test``, which ships without
  gold and so cannot be scored here).

The files may sit directly in PATH, in XTREME's download sub-folders (``tatoeba/``,
``bucc2018/``), or in the original BUCC 2018 release layout, one folder per pair
(``bucc2018/de-en/de-en.sample.de``, or ``de-en/`` directly under PATH).
"""

from __future__ import annotations

from pathlib import Path

from xalign.corpora.io import read_lines, sha256_file
from xalign.corpora.langs import to_iso639_1
from xalign.corpora.record import ParallelCorpus

# Mining splits: fit the threshold on BUCC's sample, apply it to training (both have gold).
BUCC_SPLITS = {"fit": "sample", "eval": "training", "sample": "sample", "training": "training"}


def _find(root: Path, sub: str, name: str, pair: str | None = None) -> Path:
    """``name`` in ``root``, ``root/sub`` or (BUCC's release layout) ``[root/sub/]pair/``."""
    folders = [root, root / sub]
    if pair is not None:
        folders += [root / sub / pair, root / pair]
    for folder in folders:
        if (folder / name).is_file():
            return folder / name
    looked = ", ".join(str(f) for f in folders[1:])
    raise FileNotFoundError(f"{root / name}: not found (also looked in {looked})")


def find_files(root: Path, kind: str, lang: str) -> list[Path]:
    """The files a ``xtreme-dir`` corpus needs (checked before any work starts).

    Args:
        root: the folder of the spec.
        kind: ``"tatoeba"`` or ``"bucc"``.
        lang: ISO 639-1 code.

    Raises:
        FileNotFoundError: a file is missing (names it and where it was looked for).
    """
    if kind == "tatoeba":
        from xalign.corpora.langs import iso1_to_iso3

        lang3 = iso1_to_iso3(lang)
        return [_find(root, "tatoeba", f"tatoeba.{lang3}-eng.{ext}") for ext in (lang3, "eng")]
    return [_find(root, "bucc2018", f"{lang}-en.{split}.{ext}", f"{lang}-en")
            for split in ("sample", "training") for ext in (lang, "en", "gold")]


def load_tatoeba_dir(root: Path, lang3: str, *, name: str) -> ParallelCorpus:
    """Load XTREME's Tatoeba files for one language from a local folder.

    Args:
        root: folder holding ``tatoeba.<lang3>-eng.<lang3>`` and ``...eng``.
        lang3: XTREME's code, e.g. ``"deu"``.
        name: canonical spec string for the record.

    Returns:
        An aligned corpus (lang converted to ISO 639-1).

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: line counts differ or a file is not UTF-8 (names the file).
    """
    src_path = _find(root, "tatoeba", f"tatoeba.{lang3}-eng.{lang3}")
    tgt_path = _find(root, "tatoeba", f"tatoeba.{lang3}-eng.eng")
    src, tgt = read_lines(src_path), read_lines(tgt_path)
    if len(src) != len(tgt):
        raise ValueError(
            f"{src_path}: {len(src)} lines but {tgt_path.name} has {len(tgt)}; "
            "expected one translation per line"
        )
    meta = {"source": "xtreme-dir/tatoeba", "path": str(root), "count": len(src),
            "sha256": {p.name: sha256_file(p) for p in (src_path, tgt_path)}}
    return ParallelCorpus(name=name, lang=to_iso639_1(lang3), src_texts=src, tgt_texts=tgt,
                          meta=meta)


def read_bucc_sentences(path: Path) -> tuple[list[str], list[str]]:
    """Read a BUCC sentence file of ``"id<TAB>sentence"`` lines.

    Returns:
        ``(ids, texts)`` in file order.

    Raises:
        ValueError: a line lacks the tab, an id is empty or repeated, invalid UTF-8.
    """
    ids, texts, seen = [], [], set()
    for number, line in enumerate(read_lines(path), start=1):
        sent_id, tab, text = line.partition("\t")
        if not tab or not sent_id:
            raise ValueError(f"{path}:{number}: expected 'id<TAB>sentence', got {line[:60]!r}")
        if sent_id in seen:
            raise ValueError(f"{path}:{number}: duplicate sentence id {sent_id!r}")
        seen.add(sent_id)
        ids.append(sent_id)
        texts.append(text)
    return ids, texts


def read_bucc_gold(path: Path, src_ids: set[str], tgt_ids: set[str]) -> frozenset:
    """Read a BUCC gold file of ``"src_id<TAB>tgt_id"`` lines, checking every id exists.

    Raises:
        ValueError: a malformed line or an id absent from the sentence files.
    """
    gold = set()
    for number, line in enumerate(read_lines(path), start=1):
        parts = line.split("\t")
        if len(parts) != 2 or not all(parts):
            raise ValueError(f"{path}:{number}: expected 'src_id<TAB>tgt_id', got {line[:60]!r}")
        if parts[0] not in src_ids or parts[1] not in tgt_ids:
            bad = parts[0] if parts[0] not in src_ids else parts[1]
            raise ValueError(f"{path}:{number}: gold id {bad!r} not in the sentence files")
        gold.add((parts[0], parts[1]))
    return frozenset(gold)


def load_bucc_dir(root: Path, lang: str, split: str, *, name: str) -> ParallelCorpus:
    """Load one BUCC 2018 split (``fit`` = sample, ``eval`` = training) from a local folder.

    Args:
        root: folder with ``<xx>-en.<split>.<xx|en|gold>`` files.
        lang: ISO 639-1 code (``"de"``).
        split: ``"fit"``, ``"eval"``, ``"sample"`` or ``"training"``.
        name: canonical spec string for the record.

    Returns:
        A mining corpus: both pools with ids and the gold pairs.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: unknown split or malformed files (names the file and line).
    """
    if split not in BUCC_SPLITS:
        raise ValueError(f"BUCC split {split!r}: expected one of {sorted(BUCC_SPLITS)}")
    stem = f"{lang}-en.{BUCC_SPLITS[split]}"
    paths = [_find(root, "bucc2018", f"{stem}.{ext}", f"{lang}-en") for ext in (lang, "en", "gold")]
    src_ids, src = read_bucc_sentences(paths[0])
    tgt_ids, tgt = read_bucc_sentences(paths[1])
    gold = read_bucc_gold(paths[2], set(src_ids), set(tgt_ids))
    meta = {"source": "xtreme-dir/bucc2018", "file_split": BUCC_SPLITS[split],
            "path": str(root), "sha256": {p.name: sha256_file(p) for p in paths},
            "counts": {"src": len(src), "tgt": len(tgt), "gold": len(gold)}}
    return ParallelCorpus(name=name, lang=lang, src_texts=src, tgt_texts=tgt, src_ids=src_ids,
                          tgt_ids=tgt_ids, gold=gold, split=split, meta=meta)
