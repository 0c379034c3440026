"""Fixtures of the corpora tests: synthetic apt indexes and XTREME-layout folders."""

from __future__ import annotations

import hashlib

import pytest

SECTIONS = ("games", "utils", "sound")
WORDS = {"games": "board puzzle strategy arcade card chess racing shooter",
         "utils": "disk file backup archive search rename compare monitor",
         "sound": "audio mixer player synthesizer recorder codec tuner volume"}


def synthetic_packages(n_per_section: int = 20) -> list[dict]:
    """Packages with distinct short descriptions and one or two long paragraphs."""
    rows = []
    for section in SECTIONS:
        words = WORDS[section].split()
        for i in range(n_per_section):
            name = f"{section}-pkg{i:02d}"
            short = f"{words[i % len(words)]} tool number {i} for {section}"
            paras = [f"{name} is a {section} program that does {words[(i + 1) % len(words)]} "
                     f"work very well, release {i}.", f"This package contains {name} files."]
            if i % 5 == 4:
                paras = paras[:1]
            # odd packages are built from the source of the even one before them
            source = f"{section}-pkg{i - i % 2:02d}"
            rows.append({"package": name, "source": source, "section": section,
                         "short": short, "paras": paras})
    return rows


def _desc_field(short: str, paras: list[str]) -> str:
    body = "\n .\n".join(" " + p for p in paras)
    return f"{short}\n{body}"


def _md5(short: str, paras: list[str]) -> str:
    # Debian hashes the English description (short line, newline, long text, newline).
    return hashlib.md5((_desc_field(short, paras) + "\n").encode()).hexdigest()


def write_lists(folder, packages, langs=("de", "fr")) -> None:
    """Write plain-text Packages / Translation-xx indexes in apt's list naming."""
    folder.mkdir(parents=True, exist_ok=True)
    prefix = "deb.example_debian_dists_bookworm_main"
    pkgs, en = [], []
    tr = {lang: [] for lang in langs}
    for k, row in enumerate(packages):
        md5 = _md5(row["short"], row["paras"])
        section = f"contrib/{row['section']}" if k % 7 == 0 else row["section"]
        source = "" if row["source"] == row["package"] else f"Source: {row['source']} (1.0)\n"
        pkgs.append(f"Package: {row['package']}\n{source}Version: 1.0\n"
                    f"Description: {row['short']}\n"
                    f"Description-md5: {md5}\nSection: {section}\nPriority: optional\n")
        en.append(f"Package: {row['package']}\nDescription-md5: {md5}\n"
                  f"Description-en: {_desc_field(row['short'], row['paras'])}\n")
        for lang in langs:
            if k % 3 != 2:  # two packages in three are translated
                paras = [f"[{lang}] {p}" for p in row["paras"]]
                desc = _desc_field(f"[{lang}] {row['short']}", paras)
                tr[lang].append(f"Package: {row['package']}\nDescription-md5: {md5}\n"
                                f"Description-{lang}: {desc}\n")
    (folder / f"{prefix}_binary-amd64_Packages").write_text("\n".join(pkgs))
    (folder / f"{prefix}_i18n_Translation-en").write_text("\n".join(en))
    for lang in langs:
        (folder / f"{prefix}_i18n_Translation-{lang}").write_text("\n".join(tr[lang]))


@pytest.fixture
def debian_cache(tmp_path):
    """The per-test XALIGN_CACHE holding parsed synthetic Debian tables (no network)."""
    from xalign.corpora.debian import build_tables, debian_dir

    packages = synthetic_packages()
    write_lists(tmp_path / "lists", packages)
    meta = build_tables(tmp_path / "lists", debian_dir())
    return {"packages": packages, "meta": meta}
