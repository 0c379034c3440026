"""A small gettext PO parser (no third-party dependency), enough for translation catalogs.

Handles multi-line strings, C escapes, ``msgctxt``, plural forms (``msgstr[0]`` is
taken with ``msgid``), ``#,`` flags such as ``fuzzy``, and obsolete ``#~`` entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b",
            "f": "\f", "v": "\v", "?": "?", "'": "'"}
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{1,2}|[0-7]{1,3}|.)")
_KEYWORD_RE = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?)\s+(".*")\s*$')


@dataclass
class PoEntry:
    """One catalog entry. ``msgstr`` holds the singular (or ``msgstr[0]``) translation."""

    msgid: str = ""
    msgstr: str = ""
    msgctxt: str | None = None
    msgid_plural: str | None = None
    flags: set[str] = field(default_factory=set)
    obsolete: bool = False
    line: int = 0

    @property
    def fuzzy(self) -> bool:
        """True when translators marked the entry as needing review."""
        return "fuzzy" in self.flags


def unquote(token: str, *, where: str) -> str:
    """Turn a PO string literal (with its quotes) into text, resolving C escapes.

    Raises:
        ValueError: the token is not a double-quoted literal (``where`` names file:line).
    """
    if len(token) < 2 or token[0] != '"' or token[-1] != '"':
        raise ValueError(f"{where}: expected a double-quoted string, got {token[:40]!r}")

    def replace(match: re.Match) -> str:
        code = match.group(1)
        if code[0] == "x":
            return chr(int(code[1:], 16))
        if code[0].isdigit():
            return chr(int(code, 8))
        return _ESCAPES.get(code, "\\" + code)

    return _ESCAPE_RE.sub(replace, token[1:-1])


def parse_po(text: str, *, source: str = "<po>") -> list[PoEntry]:
    """Parse PO text into entries (the header entry, msgid "", included).

    Args:
        text: the catalog's text.
        source: file name used in error messages.

    Returns:
        Entries in file order.

    Raises:
        ValueError: a line that is neither a comment, a keyword line nor a continuation.
    """
    entries: list[PoEntry] = []
    entry, key, seen_msgid = PoEntry(line=1), None, False
    # split on "\n" only: str.splitlines also breaks at U+2028, U+0085 ..., which PO
    # strings may carry raw
    for number, raw in enumerate(text.split("\n"), start=1):
        raw = raw.removesuffix("\r")
        line, obsolete = _strip_obsolete(raw.strip())
        where = f"{source}:{number}"
        if line.startswith("#"):
            if seen_msgid:  # a comment after strings starts the next entry
                entries.append(entry)
                entry, key, seen_msgid = PoEntry(line=number), None, False
            if line.startswith("#,"):
                entry.flags.update(f.strip() for f in line[2:].split(",") if f.strip())
        elif line.startswith('"'):
            if key is None:
                raise ValueError(f"{where}: continuation line without a keyword")
            _append(entry, key, unquote(line, where=where))
        elif line:
            match = _KEYWORD_RE.match(line)
            if not match:
                raise ValueError(f"{where}: unexpected line {raw[:60]!r}")
            key = match.group(1)
            if key in ("msgctxt", "msgid") and seen_msgid:  # no blank line between entries
                entries.append(entry)
                entry, seen_msgid = PoEntry(line=number), False
            seen_msgid = seen_msgid or key == "msgid"
            entry.obsolete = entry.obsolete or obsolete
            _append(entry, key, unquote(match.group(2), where=where), start=True)
    if seen_msgid:
        entries.append(entry)
    return entries


def _strip_obsolete(line: str) -> tuple[str, bool]:
    """``#~ msgid "x"`` -> (``msgid "x"``, True); ``#~| msgid`` (previous string) -> a comment."""
    if not line.startswith("#~"):
        return line, False
    body = line[2:].strip()
    return ("#" + body if body.startswith("|") else body), True


def _append(entry: PoEntry, key: str, text: str, *, start: bool = False) -> None:
    """Add ``text`` to the field named by ``key``; plural forms other than [0] are ignored."""
    if key.startswith("msgstr["):
        if key != "msgstr[0]":
            return
        key = "msgstr"
    if key in ("msgctxt", "msgid_plural"):
        current = getattr(entry, key)
        setattr(entry, key, text if start or current is None else current + text)
    else:
        setattr(entry, key, text if start else getattr(entry, key) + text)
