"""Parsers for Debian's deb822 indexes: ``Packages`` and ``Translation-xx`` (pure functions).

A stanza is a block of ``Field: value`` lines separated by blank lines; continuation
lines start with a space. In a description the first line is the short description;
the long description follows, one leading space stripped, with a line of a single ``.``
separating paragraphs (Debian Policy 5.6.13).
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path

APT_HELPER = "/usr/lib/apt/apt-helper"


def read_index(path: Path) -> str:
    """Return an index's text, decompressing ``.lz4``/``.gz``/``.xz`` with apt's own helper.

    Raises:
        FileNotFoundError: the file does not exist.
        RuntimeError: apt-helper failed.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such index file")
    if path.suffix not in {".lz4", ".gz", ".xz", ".bz2", ".zst"}:
        return path.read_text(encoding="utf-8")
    done = subprocess.run([APT_HELPER, "cat-file", str(path)], capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{APT_HELPER} cat-file {path} failed: {done.stderr[-300:]!r}")
    return done.stdout.decode("utf-8", errors="replace")


def iter_stanzas(text: str) -> Iterator[dict[str, str]]:
    """Yield each stanza as ``{field: value}``; continuation lines are kept after ``\\n``."""
    stanza: dict[str, str] = {}
    last = None
    for line in text.split("\n"):
        if not line.strip():
            if stanza:
                yield stanza
            stanza, last = {}, None
        elif line[0] in " \t":
            if last is not None:
                stanza[last] += "\n" + line
        else:
            name, _, value = line.partition(":")
            last = name.strip()
            stanza[last] = value.strip()
    if stanza:
        yield stanza


def parse_description(value: str) -> tuple[str, list[str]]:
    """Split a description field into its short line and long paragraphs.

    Args:
        value: the field value as returned by :func:`iter_stanzas`.

    Returns:
        ``(short, paragraphs)``; whitespace inside a paragraph is collapsed to one space
        (verbatim lines, which start with two spaces, are joined too).
    """
    lines = value.split("\n")
    paragraphs, current = [], []
    for line in lines[1:]:
        body = line[1:] if line[:1] in " \t" else line
        if body.strip() == ".":
            paragraphs.append(current)
            current = []
        else:
            current.append(body.strip())
    paragraphs.append(current)
    joined = [" ".join(" ".join(p).split()) for p in paragraphs]
    return " ".join(lines[0].split()), [p for p in joined if p]


def section_of(value: str) -> str:
    """``"contrib/games"`` -> ``"games"``: the archive area is not part of the label."""
    return value.rsplit("/", 1)[-1].strip()


def english_table(packages: Iterable[dict], translation_en: Iterable[dict]) -> list[dict]:
    """Join the Packages index with Translation-en on ``Description-md5``.

    Returns:
        One row per package in index order: ``{"package", "source", "section", "md5",
        "short", "paragraphs"}``; packages without a Description-md5 are skipped.
    """
    long_by_md5 = {}
    for stanza in translation_en:
        md5, desc = stanza.get("Description-md5"), stanza.get("Description-en")
        if md5 and desc:
            long_by_md5[md5] = parse_description(desc)
    rows = []
    for stanza in packages:
        md5 = stanza.get("Description-md5")
        if not md5 or "Package" not in stanza:
            continue
        short, paragraphs = long_by_md5.get(md5, (None, []))
        if short is None:
            short = parse_description(stanza.get("Description", ""))[0]
        # "Source: foo (1.2-1)" -> "foo"; binary packages of one source share text
        source = stanza.get("Source", stanza["Package"]).split(" ")[0]
        rows.append({"package": stanza["Package"], "source": source,
                     "section": section_of(stanza.get("Section", "")),
                     "md5": md5, "short": short, "paragraphs": paragraphs})
    return rows


def translation_table(stanzas: Iterable[dict], locale: str) -> list[dict]:
    """Rows ``{"package", "md5", "short", "paragraphs"}`` of a Translation-``locale`` index."""
    field = f"Description-{locale}"
    rows = []
    for stanza in stanzas:
        md5, desc = stanza.get("Description-md5"), stanza.get(field)
        if md5 and desc and "Package" in stanza:
            short, paragraphs = parse_description(desc)
            rows.append({"package": stanza["Package"], "md5": md5, "short": short,
                         "paragraphs": paragraphs})
    return rows
