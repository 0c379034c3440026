"""The gettext PO parser and the catalog filters on hand-written catalogs."""

from __future__ import annotations

import zipfile

import pytest

from xalign.corpora.catalogs import dedupe_pairs, entry_pair, locale_of, wheel_pairs
from xalign.corpora.po import parse_po, unquote

PO = r'''# Translation header comment
msgid ""
msgstr ""
"Content-Type: text/plain; charset=UTF-8\n"
"Plural-Forms: nplurals=2; plural=(n != 1);\n"

#: views.py:10
msgid "Save the current page"
msgstr "Die aktuelle Seite speichern"

#, fuzzy
msgid "Delete the selected items"
msgstr "Falsche Übersetzung"

#: multi.py:3
msgid ""
"This value must be "
"an integer."
msgstr ""
"Dieser Wert muss "
"eine ganze Zahl sein."

msgid "A \"quoted\" word and a\ttab\\n"
msgstr "Ein \"zitiertes\" Wort und ein\tTab\\n"

msgctxt "button"
msgid "Close this window now"
msgstr "Dieses Fenster jetzt schließen"

msgid "One file was deleted"
msgid_plural "%(count)s files were deleted"
msgstr[0] "Eine Datei wurde gelöscht"
msgstr[1] "%(count)s Dateien wurden gelöscht"

msgid "Untranslated entry with words"
msgstr ""

msgid "Too short"
msgstr "Zu kurz"

#, python-format, fuzzy
msgid "Another fuzzy entry here"
msgstr "Noch ein Eintrag"
msgid "No blank line before this entry"
msgstr "Keine Leerzeile vor diesem Eintrag"

#~ msgid "An obsolete old message"
#~ msgstr "Eine veraltete alte Nachricht"

#| msgid "The old wording of this"
msgid "The new wording of this"
msgstr "Die neue Formulierung davon"

#~| msgid "Previous obsolete wording"
#~ msgid "Obsolete with a previous string"
#~ msgstr "Veraltet mit vorheriger Zeichenkette"
'''


def test_parse_po_entries_and_fields():
    entries = parse_po(PO)
    by_id = {e.msgid: e for e in entries}
    assert by_id[""].msgstr.startswith("Content-Type: text/plain")
    multi = by_id["This value must be an integer."]
    assert multi.msgstr == "Dieser Wert muss eine ganze Zahl sein."
    assert by_id['A "quoted" word and a\ttab\\n'].msgstr == 'Ein "zitiertes" Wort und ein\tTab\\n'
    assert by_id["Close this window now"].msgctxt == "button"
    plural = by_id["One file was deleted"]
    assert plural.msgid_plural == "%(count)s files were deleted"
    assert plural.msgstr == "Eine Datei wurde gelöscht"
    assert by_id["Delete the selected items"].fuzzy
    assert by_id["Another fuzzy entry here"].flags == {"python-format", "fuzzy"}
    assert not by_id["No blank line before this entry"].fuzzy
    assert by_id["An obsolete old message"].obsolete
    assert by_id["Obsolete with a previous string"].obsolete
    assert "The old wording of this" not in by_id
    assert len(entries) == 14


def test_catalog_filters_keep_only_usable_pairs():
    pairs = [p for e in parse_po(PO) if (p := entry_pair(e)) is not None]
    assert pairs == [
        ("Save the current page", "Die aktuelle Seite speichern"),
        ("This value must be an integer.", "Dieser Wert muss eine ganze Zahl sein."),
        ('A "quoted" word and a tab\\n', 'Ein "zitiertes" Wort und ein Tab\\n'),
        ("Close this window now", "Dieses Fenster jetzt schließen"),
        ("One file was deleted", "Eine Datei wurde gelöscht"),
        ("No blank line before this entry", "Keine Leerzeile vor diesem Eintrag"),
        ("The new wording of this", "Die neue Formulierung davon"),
    ]


def test_unquote_escapes_and_errors():
    assert unquote(r'"a\nb\\c\"d\101\x42"', where="f:1") == 'a\nb\\c"dAB'
    with pytest.raises(ValueError, match="f.po:7"):
        unquote("no quotes", where="f.po:7")


def test_parse_po_rejects_garbage_line_with_location():
    with pytest.raises(ValueError, match="bad.po:2"):
        parse_po('msgid "a"\nthis is not po\n', source="bad.po")


def test_dedupe_pairs_drops_repeats_on_either_side():
    pairs = [("a b c", "x"), ("a b c", "y"), ("d e f", "x"), ("g h i", "z")]
    assert dedupe_pairs(pairs) == [("a b c", "x"), ("g h i", "z")]


@pytest.mark.parametrize(
    ("member", "lang"),
    [("django/conf/locale/de/LC_MESSAGES/django.po", "de"),
     ("wagtail/admin/locale/zh_Hans/LC_MESSAGES/django.po", "zh"),
     ("sphinx/locale/pt_BR/LC_MESSAGES/sphinx.po", "pt"),
     ("django/conf/locale/zh_Hant/LC_MESSAGES/django.po", None),
     ("django/conf/locale/en_GB/LC_MESSAGES/django.po", None),
     ("django/conf/locale/de/LC_MESSAGES/django.mo", None),
     ("django/conf/locale/de/formats.py", None)],
)
def test_locale_of(member, lang):
    assert locale_of(member) == lang


def test_wheel_pairs_reads_po_members_from_zip(tmp_path):
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/locale/de/LC_MESSAGES/django.po", PO)
        archive.writestr("pkg/locale/zh_Hant/LC_MESSAGES/django.po", PO)
        archive.writestr("pkg/locale/fr/LC_MESSAGES/django.po",
                         'msgid "Open the file now"\nmsgstr "Ouvrir le fichier"\n')
    pairs = wheel_pairs(wheel)
    assert sorted(pairs) == ["de", "fr"]
    assert len(pairs["de"]) == 7
    assert pairs["fr"] == [("Open the file now", "Ouvrir le fichier")]
