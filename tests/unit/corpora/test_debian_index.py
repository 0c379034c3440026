"""Parsers of Debian's Packages and Translation indexes on hand-written stanzas."""

from __future__ import annotations

from xalign.corpora.debian_index import (
    english_table,
    iter_stanzas,
    parse_description,
    read_index,
    section_of,
    translation_table,
)

PACKAGES = """Package: 0ad
Version: 0.0.26-3
Description: Real-time strategy game of ancient warfare
Description-md5: d943033bedada21853d2ae54a2578a7b
Tag: game::strategy, interface::graphical,
 uitoolkit::sdl, use::gameplaying
Section: games

Package: foo-tools
Source: foo (1.2-1)
Description: tools for handling foo files
Description-md5: 11111111111111111111111111111111
Section: contrib/utils

Package: nomd5
Description: a package without checksum here
Section: misc
"""

TRANSLATION_EN = """Package: 0ad
Description-md5: d943033bedada21853d2ae54a2578a7b
Description-en: Real-time strategy game of ancient warfare
 0 A.D. is a free, open-source, cross-platform
 real-time strategy game.
 .
 It is historically based.
 .
 Features:
   * verbatim line one
   * verbatim line two
"""

TRANSLATION_DE = """Package: 0ad
Description-md5: d943033bedada21853d2ae54a2578a7b
Description-de: Echtzeit-Strategiespiel über antike Kriegsführung
 0 A.D. ist ein freies, quelloffenes
 Echtzeit-Strategiespiel.
 .
 Es basiert auf Geschichte.

Package: foo-tools
Description-md5: 11111111111111111111111111111111
Description-de: Werkzeuge für Foo-Dateien

Package: other
Description-md5: 99999999999999999999999999999999
Description-fr: pas le bon champ
"""


def test_iter_stanzas_joins_continuation_lines():
    stanzas = list(iter_stanzas(PACKAGES))
    assert [s["Package"] for s in stanzas] == ["0ad", "foo-tools", "nomd5"]
    assert stanzas[0]["Tag"] == (
        "game::strategy, interface::graphical,\n uitoolkit::sdl, use::gameplaying")


def test_parse_description_paragraphs():
    (stanza,) = iter_stanzas(TRANSLATION_EN)
    short, paragraphs = parse_description(stanza["Description-en"])
    assert short == "Real-time strategy game of ancient warfare"
    assert paragraphs == [
        "0 A.D. is a free, open-source, cross-platform real-time strategy game.",
        "It is historically based.",
        "Features: * verbatim line one * verbatim line two",
    ]
    assert parse_description("only a short line") == ("only a short line", [])


def test_section_strips_archive_area():
    assert section_of("contrib/utils") == "utils"
    assert section_of("non-free/games") == "games"
    assert section_of("libs") == "libs"


def test_english_table_joins_on_md5():
    rows = english_table(iter_stanzas(PACKAGES), iter_stanzas(TRANSLATION_EN))
    assert [r["package"] for r in rows] == ["0ad", "foo-tools"]  # no md5 -> skipped
    assert rows[0]["section"] == "games" and len(rows[0]["paragraphs"]) == 3
    # foo-tools has no Translation-en stanza: short from Packages, no paragraphs
    assert rows[0]["source"] == "0ad"  # no Source field: the package is its own source
    assert rows[1] == {"package": "foo-tools", "source": "foo", "section": "utils",
                       "md5": "11111111111111111111111111111111",
                       "short": "tools for handling foo files", "paragraphs": []}


def test_translation_table_reads_only_its_language():
    rows = translation_table(iter_stanzas(TRANSLATION_DE), "de")
    assert [r["package"] for r in rows] == ["0ad", "foo-tools"]
    assert rows[0]["paragraphs"] == ["0 A.D. ist ein freies, quelloffenes Echtzeit-Strategiespiel.",
                                     "Es basiert auf Geschichte."]


def test_read_index_plain_and_compressed(tmp_path):
    import gzip

    plain = tmp_path / "x_Translation-de"
    plain.write_text(TRANSLATION_DE, encoding="utf-8")
    assert read_index(plain) == TRANSLATION_DE
    packed = tmp_path / "x_Translation-de.gz"
    packed.write_bytes(gzip.compress(TRANSLATION_DE.encode("utf-8")))
    assert read_index(packed) == TRANSLATION_DE  # decompressed by apt-helper cat-file
