"""English <-> translation pairs from the gettext catalogs shipped inside Python wheels.

Django, Sphinx and Wagtail (all BSD-licensed) ship their translations as ``.po`` files in
their wheels. Each entry pairs an English ``msgid`` with a human translation; after
filtering they make a small, clean, many-language parallel corpus of UI sentences.

Filtering (in this order): drop the header, fuzzy, obsolete (``#~``) and untranslated
entries; take ``msgstr[0]`` for plural entries; collapse whitespace; drop entries whose
English side has fewer than 3 words; drop a pair whose English or translated text was
already seen for that language (first wins; catalogs are read in a fixed order).
Placeholders (``%(name)s``, ``{count}``, ``%s``) and inline markup are kept: they are part
of both sides and stripping them would leave broken sentences.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from xalign.corpora.io import read_jsonl, sha256_file, write_json, write_jsonl
from xalign.corpora.langs import to_iso639_1
from xalign.corpora.po import PoEntry, parse_po

log = logging.getLogger(__name__)

# Exact wheels on PyPI (pure Python, so one wheel fits every platform).
WHEELS = {"django": "5.2.19", "sphinx": "9.0.4", "wagtail": "8.0.1"}
MIN_WORDS = 3
FORMAT_VERSION = 1


def catalogs_dir() -> Path:
    """The cache folder of this source: ``<cache_root>/catalogs``."""
    from probe.paths import cache_root

    return cache_root() / "catalogs"


def download_wheels(dest: Path) -> list[Path]:
    """Download the pinned wheels with pip (no dependencies, binary only) if absent.

    Raises:
        RuntimeError: pip failed (its stderr tail is included).
    """
    dest.mkdir(parents=True, exist_ok=True)
    wanted = {pkg: f"{pkg}-{ver}-py3-none-any.whl" for pkg, ver in WHEELS.items()}
    missing = [f"{pkg}=={WHEELS[pkg]}" for pkg, whl in wanted.items() if not (dest / whl).exists()]
    if missing:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "-q", "-d", str(dest), *missing]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"pip download {missing} failed: {done.stderr[-500:]}")
    return [dest / whl for whl in wanted.values()]


def entry_pair(entry: PoEntry) -> tuple[str, str] | None:
    """Return ``(english, translation)`` for a usable entry, else None (see module rules)."""
    if entry.fuzzy or entry.obsolete or not entry.msgid or not entry.msgstr:
        return None
    english, translated = " ".join(entry.msgid.split()), " ".join(entry.msgstr.split())
    if len(english.split()) < MIN_WORDS or not translated:
        return None
    return english, translated


def locale_of(member: str) -> str | None:
    """The ISO 639-1 language of a ``.../locale/<loc>/LC_MESSAGES/x.po`` member, or None.

    English catalogs and other-script variants (``zh_Hant``, ``sr_Latn``) give None.
    """
    parts = member.split("/")
    if "LC_MESSAGES" not in parts or not member.endswith(".po"):
        return None
    loc = parts[parts.index("LC_MESSAGES") - 1]
    try:
        lang = to_iso639_1(loc)
    except ValueError:
        return None
    return None if lang == "en" else lang


def wheel_pairs(wheel: Path) -> dict[str, list[tuple[str, str]]]:
    """All usable pairs per language from the ``.po`` members of one wheel (sorted order)."""
    out: dict[str, list[tuple[str, str]]] = {}
    with zipfile.ZipFile(wheel) as archive:
        for member in sorted(archive.namelist()):
            lang = locale_of(member)
            if lang is None:
                continue
            text = archive.read(member).decode("utf-8")
            for entry in parse_po(text, source=f"{wheel.name}:{member}"):
                pair = entry_pair(entry)
                if pair is not None:
                    out.setdefault(lang, []).append(pair)
    return out


def dedupe_pairs(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Keep the first pair for each English text and each translated text."""
    seen_en, seen_xx, kept = set(), set(), []
    for english, translated in pairs:
        if english in seen_en or translated in seen_xx:
            continue
        seen_en.add(english)
        seen_xx.add(translated)
        kept.append((english, translated))
    return kept


def fetch_catalogs(*, force: bool = False) -> dict:
    """Download the wheels, parse their catalogs, cache pairs per language as JSONL.

    Returns:
        The cache's meta record: wheel versions and sha256, pair counts per language,
        fetch seconds. A second call returns the cached record without re-parsing.
    """
    root = catalogs_dir()
    meta_path = root / "meta.json"
    if meta_path.exists() and not force:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") == FORMAT_VERSION and meta.get("wheels_pinned") == WHEELS:
            return meta
    start = time.perf_counter()
    wheels = download_wheels(root / "wheels")
    merged: dict[str, list[tuple[str, str]]] = {}
    for wheel in wheels:
        for lang, pairs in wheel_pairs(wheel).items():
            merged.setdefault(lang, []).extend(pairs)
    counts = {}
    for lang in sorted(merged):
        pairs = dedupe_pairs(merged[lang])
        counts[lang] = len(pairs)
        write_jsonl(root / f"pairs.{lang}.jsonl", ({"en": e, lang: t} for e, t in pairs))
    meta = {"format": FORMAT_VERSION, "source": "gettext catalogs in PyPI wheels",
            "wheels_pinned": WHEELS, "licence": "BSD (django, sphinx, wagtail)",
            "sha256": {w.name: sha256_file(w) for w in wheels}, "counts": counts,
            "seconds": round(time.perf_counter() - start, 2)}
    write_json(meta_path, meta)
    log.info("catalogs: %d languages, %.1f s", len(counts), meta["seconds"])
    return meta


def load_catalog_pairs(lang: str) -> tuple[list[str], list[str], dict]:
    """Return ``(translations, english, meta)`` for one language, fetching if needed.

    Raises:
        ValueError: no catalog pairs for ``lang`` (the message lists the languages).
    """
    meta = fetch_catalogs()
    if lang not in meta["counts"]:
        raise ValueError(f"catalogs: no pairs for language {lang!r}; have {sorted(meta['counts'])}")
    rows = read_jsonl(catalogs_dir() / f"pairs.{lang}.jsonl")
    return [r[lang] for r in rows], [r["en"] for r in rows], meta
