"""Debian package descriptions and their human translations, fetched with apt.

Debian's archive ships, per release, a ``Packages`` index (package, section, the English
short description and ``Description-md5``) and ``Translation-xx`` indexes
(``Description-md5`` and ``Description-xx``: short line plus long paragraphs). The md5 is
that of the exact English description, so translations align with their English original
exactly. xalign fetches the indexes with the machine's own apt sources into the cache
(an apt config file of its own; the system lists are never touched) and caches the parsed
tables as JSONL.

Licence: every description is under its package's licence; the text is fetched at run
time into the user's cache and never redistributed with xalign.
"""

from __future__ import annotations

import getpass
import json
import logging
import subprocess
import time
from pathlib import Path

from xalign.corpora.debian_index import (
    english_table,
    iter_stanzas,
    read_index,
    translation_table,
)
from xalign.corpora.debian_pairs import aligned_pairs, english_pool
from xalign.corpora.io import atomic_write_text, read_jsonl, sha256_file, write_json, write_jsonl

log = logging.getLogger(__name__)

# Debian locale -> ISO 639-1; the translation languages xalign fetches.
DEBIAN_LANGS = {"de": "de", "fr": "fr", "es": "es", "ru": "ru", "zh_CN": "zh", "ja": "ja",
                "it": "it", "pl": "pl", "uk": "uk", "ko": "ko"}
SUITE = "bookworm"
FORMAT_VERSION = 3


def debian_dir() -> Path:
    """The cache folder of this source: ``<cache_root>/debian``."""
    from probe.paths import cache_root

    return cache_root() / "debian"


def apt_config(root: Path) -> str:
    """The text of xalign's own apt config: translation indexes on, state under ``root``."""
    langs = "; ".join(f'"{loc}"' for loc in ("en", *DEBIAN_LANGS))
    # Dir::State::status points at the system status file read-only; everything apt
    # writes (lists, partial downloads, caches) stays under root.
    return (
        "#clear Acquire::Languages;\n"
        f"Acquire::Languages {{ {langs}; }};\n"
        f'Dir::State::Lists "{root / "lists"}";\n'
        f'Dir::Cache "{root / "apt-cache"}";\n'
        'Dir::Cache::pkgcache "";\nDir::Cache::srcpkgcache "";\n'
        'Dir::State::status "/var/lib/dpkg/status";\n'
        f'APT::Sandbox::User "{getpass.getuser()}";\n'
    )


def apt_update(root: Path) -> None:
    """Run ``apt-get -c <root>/apt.conf update`` so the indexes land in ``root/lists``.

    Raises:
        RuntimeError: apt-get failed (stderr tail included).
    """
    for sub in ("lists/partial", "apt-cache/archives/partial"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    conf = root / "apt.conf"
    atomic_write_text(conf, apt_config(root))
    done = subprocess.run(["apt-get", "-q", "-c", str(conf), "update"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"apt-get update failed: {done.stderr[-500:]}")


def find_index(lists: Path, kind: str) -> Path:
    """Find the main-component index ``kind`` (``Packages`` or ``Translation-de``) of SUITE.

    Raises:
        FileNotFoundError: apt did not fetch it (names the pattern).
    """
    middle = "binary-*" if kind == "Packages" else "i18n"
    pattern = f"*_dists_{SUITE}_main_{middle}_{kind.replace('_', '%5f')}*"
    found = sorted(p for p in lists.glob(pattern) if not p.name.endswith(".diff"))
    if not found:
        raise FileNotFoundError(f"{lists}/{pattern}: no such apt index (run xalign fetch debian)")
    return found[0]


def fetch_debian(*, force: bool = False) -> dict:
    """Fetch the indexes with apt and cache the parsed tables (idempotent).

    Returns:
        The meta record: suite, index sha256, row counts per table, aligned pair counts
        per language and unit, size of the English mining pool, seconds taken.
    """
    root = debian_dir()
    meta_path = root / "meta.json"
    if meta_path.exists() and not force:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        if meta.get("format") == FORMAT_VERSION:
            return meta
    start = time.perf_counter()
    apt_update(root)
    fetched = time.perf_counter() - start
    return build_tables(root / "lists", root, fetch_seconds=fetched)


def build_tables(lists: Path, out: Path, *, fetch_seconds: float = 0.0) -> dict:
    """Parse apt indexes in ``lists`` into ``out``/english.jsonl and translations.<xx>.jsonl.

    Returns:
        The meta record written to ``out/meta.json``.
    """
    start = time.perf_counter()
    indexes = {"Packages": find_index(lists, "Packages"),
               "Translation-en": find_index(lists, "Translation-en")}
    english = english_table(iter_stanzas(read_index(indexes["Packages"])),
                            iter_stanzas(read_index(indexes["Translation-en"])))
    write_jsonl(out / "english.jsonl", english)
    counts, pairs = {"english": len(english)}, {}
    for loc, lang in DEBIAN_LANGS.items():
        try:
            path = find_index(lists, f"Translation-{loc}")
        except FileNotFoundError:
            log.warning("debian: no Translation-%s index; skipping %s", loc, lang)
            continue
        indexes[f"Translation-{loc}"] = path
        rows = translation_table(iter_stanzas(read_index(path)), loc)
        write_jsonl(out / f"translations.{lang}.jsonl", rows)
        counts[lang] = len(rows)
        pairs[lang] = {unit: len(aligned_pairs(english, rows, unit=unit))
                       for unit in ("short", "paragraph")}
    meta = {"format": FORMAT_VERSION, "suite": SUITE, "source": "Debian apt indexes",
            "sha256": {k: sha256_file(p) for k, p in indexes.items()}, "counts": counts,
            "pairs": pairs, "english_pool": len(english_pool(english)),
            "fetch_seconds": round(fetch_seconds, 2),
            "parse_seconds": round(time.perf_counter() - start, 2)}
    write_json(out / "meta.json", meta)
    return meta


def load_english() -> list[dict]:
    """The English table (package, section, md5, short, paragraphs), fetching if needed."""
    fetch_debian()
    return read_jsonl(debian_dir() / "english.jsonl")


def load_translations(lang: str) -> list[dict]:
    """The Translation table of ``lang`` (package, md5, short, paragraphs).

    Raises:
        ValueError: no translation index for ``lang`` (lists the languages there are).
    """
    meta = fetch_debian()
    langs = sorted(k for k in meta["counts"] if k != "english")
    if lang not in langs:
        raise ValueError(f"debian: no translations for language {lang!r}; have {langs}")
    return read_jsonl(debian_dir() / f"translations.{lang}.jsonl")


def load_tables(lang: str) -> tuple[list[dict], list[dict], dict]:
    """Return ``(english_rows, translated_rows, meta)`` for ``lang``, fetching if needed."""
    translated = load_translations(lang)
    return load_english(), translated, fetch_debian()
