"""Property-based tests (hypothesis) of the corpus parsers: round trips and error contracts.

Each parser is fed text generated the way its format's writer would produce it, and must
give back what was written; malformed input must raise ``ValueError`` naming the file and
line, never another exception.
"""

from __future__ import annotations

import re
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from xalign.corpora.catalogs import MIN_WORDS, entry_pair
from xalign.corpora.debian_index import iter_stanzas, parse_description
from xalign.corpora.langs import ISO3_TO_ISO1, OTHER_SCRIPT_LOCALES, to_iso639_1
from xalign.corpora.po import parse_po
from xalign.corpora.spec import OPTIONS, CorpusSpec, parse_spec
from xalign.corpora.xtreme_dir import read_bucc_gold, read_bucc_sentences

# Few examples and a fixed seed: the file runs in seconds and never flakes; nothing is
# written to an example database inside the worktree.
PROPS = settings(max_examples=50, deadline=None, database=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])

# Line breaks for str.splitlines() that a PO writer leaves unescaped inside strings (it
# escapes \n, \r, \v, \f and writes other control characters in octal); all of them.
RAW_LINE_BREAKS = "\x85\u2028\u2029"
SPLITLINES_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e" + RAW_LINE_BREAKS


def chars_without(excluded: str) -> st.SearchStrategy[str]:
    return st.characters(blacklist_categories=("Cs",), blacklist_characters=excluded)


# --- gettext PO -------------------------------------------------------------------------

_PO_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r", "\a": "\\a",
               "\b": "\\b", "\f": "\\f", "\v": "\\v"}


def po_quote(text: str) -> str:
    """A PO string literal as gettext writes it: C escapes, other controls as 3-digit octal."""
    out = []
    for ch in text:
        if ch in _PO_ESCAPES:
            out.append(_PO_ESCAPES[ch])
        elif ord(ch) < 0x20 or ch == "\x7f":
            out.append(f"\\{ord(ch):03o}")  # three digits: never swallows a following digit
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def po_strings(excluded: str):
    """Strategy of (value, pieces): a string value split into the literal pieces of a
    keyword line and its continuation lines (gettext splits long and multi-line values)."""
    piece = st.text(chars_without(excluded), max_size=8)
    return st.lists(piece, min_size=1, max_size=3).map(lambda ps: ("".join(ps), ps))


@st.composite
def po_entries(draw, excluded: str = RAW_LINE_BREAKS):
    """One catalog entry: its expected fields and the PO lines that write it; ``excluded``
    characters never occur in its strings."""
    strings = po_strings(excluded)
    comment = st.text(chars_without(SPLITLINES_BREAKS), max_size=10)
    flags = draw(st.sets(st.sampled_from(["fuzzy", "python-format", "c-format", "no-wrap"])))
    obsolete = draw(st.booleans())
    ctxt = draw(st.none() | strings)
    msgid = draw(strings)
    plural = draw(st.none() | strings)
    forms = draw(st.lists(strings, min_size=1, max_size=3)) if plural else [draw(strings)]
    prefix = "#~ " if obsolete else ""

    def keyword(name, value_pieces):
        first, *rest = value_pieces[1]
        return [f"{prefix}{name} {po_quote(first)}", *(prefix + po_quote(p) for p in rest)]

    lines = [f"# {c}" for c in draw(st.lists(comment, max_size=2))]
    if draw(st.booleans()):
        lines.append("#: views.py:12 models.py:3")
    if flags:
        lines.append("#, " + ", ".join(sorted(flags)))
    if draw(st.booleans()):
        lines.append(f"#{'~' if obsolete else ''}| msgid {po_quote(draw(comment))}")
    if ctxt is not None:
        lines += keyword("msgctxt", ctxt)
    lines += keyword("msgid", msgid)
    if plural is None:
        lines += keyword("msgstr", forms[0])
    else:
        lines += keyword("msgid_plural", plural)
        for i, form in enumerate(forms):
            lines += keyword(f"msgstr[{i}]", form)
    expected = {"msgctxt": None if ctxt is None else ctxt[0], "msgid": msgid[0],
                "msgid_plural": None if plural is None else plural[0],
                "msgstr": forms[0][0], "flags": flags, "obsolete": obsolete}
    return expected, lines


@st.composite
def po_catalogs(draw, excluded: str = RAW_LINE_BREAKS):
    """(expected entries, PO text); entries are separated by a blank line or by nothing."""
    entries = draw(st.lists(po_entries(excluded), min_size=1, max_size=5))
    lines: list[str] = []
    for i, (_, entry_lines) in enumerate(entries):
        if i and draw(st.booleans()):
            lines.append("")
        lines += entry_lines
    ending = draw(st.sampled_from(["\n", "", "\n\n"]))
    return [e for e, _ in entries], "\n".join(lines) + ending


def parsed_fields(entry) -> dict:
    return {"msgctxt": entry.msgctxt, "msgid": entry.msgid, "msgid_plural": entry.msgid_plural,
            "msgstr": entry.msgstr, "flags": entry.flags, "obsolete": entry.obsolete}


def check_po_round_trip(catalog) -> None:
    expected, text = catalog
    parsed = parse_po(text)
    assert [parsed_fields(e) for e in parsed] == expected
    for entry in parsed:
        assert entry.fuzzy == ("fuzzy" in entry.flags)
        # the catalog filter drops fuzzy and obsolete entries (xalign.corpora.catalogs)
        english, translated = " ".join(entry.msgid.split()), " ".join(entry.msgstr.split())
        usable = not (entry.fuzzy or entry.obsolete) and translated \
            and len(english.split()) >= MIN_WORDS
        assert entry_pair(entry) == ((english, translated) if usable else None)


@PROPS
@given(po_catalogs())
def test_po_round_trip(catalog):
    check_po_round_trip(catalog)


@PROPS
@given(po_catalogs(excluded=""))
@example(([{"msgctxt": None, "msgid": "a\u2028b", "msgid_plural": None, "msgstr": "c",
            "flags": set(), "obsolete": False}], 'msgid "a\u2028b"\nmsgstr "c"\n'))
def test_po_round_trip_with_unicode_line_separators(catalog):
    check_po_round_trip(catalog)


PO_FRAGMENTS = st.sampled_from(['msgid "', 'msgstr "', "msgstr[1] ", "msgctxt ", "#~ ", "#, ",
                                '"', "\\", "\\x", "\\7", "\n", "\n\n", " ", "x", "é"])


@PROPS
@given(st.lists(PO_FRAGMENTS | st.text(max_size=4)).map("".join))
def test_po_garbage_raises_value_error_naming_the_line(text):
    try:
        parse_po(text, source="cat.po")
    except ValueError as exc:
        assert re.match(r"cat\.po:\d+: ", str(exc)), exc


# --- BUCC sentence and gold files --------------------------------------------------------

BUCC_ID = st.text(chars_without("\t\n\r"), min_size=1, max_size=8)
BUCC_TEXT = st.text(chars_without("\n\r"), max_size=12)


def write_file(folder: str, name: str, lines: list[str], ending: str = "\n") -> Path:
    path = Path(folder) / name
    path.write_bytes("".join(line + ending for line in lines).encode("utf-8"))
    return path


def bucc_lines(ids, texts) -> list[str]:
    return [f"{i}\t{t}" for i, t in zip(ids, texts, strict=True)]


@PROPS
@given(st.lists(BUCC_ID, unique=True, max_size=8).flatmap(
    lambda ids: st.tuples(st.just(ids), st.lists(BUCC_TEXT, min_size=len(ids),
                                                 max_size=len(ids)))),
       st.sampled_from(["\n", "\r\n"]))
def test_bucc_sentences_round_trip(pool, ending):
    ids, texts = pool
    with tempfile.TemporaryDirectory() as folder:
        path = write_file(folder, "de-en.sample.de", bucc_lines(ids, texts), ending)
        assert read_bucc_sentences(path) == (ids, texts)


@st.composite
def bucc_with_bad_line(draw):
    """Valid sentence lines with one malformed line inserted; returns (lines, bad line no)."""
    ids = draw(st.lists(BUCC_ID, unique=True, min_size=1, max_size=6))
    lines = bucc_lines(ids, draw(st.lists(BUCC_TEXT, min_size=len(ids), max_size=len(ids))))
    at = draw(st.integers(0, len(lines)))
    kind = draw(st.sampled_from(["no tab", "empty id", "duplicate id"]))
    if kind == "no tab":
        bad = draw(st.text(chars_without("\t\n\r"), max_size=10))
    elif kind == "empty id":
        bad = "\t" + draw(BUCC_TEXT)
    else:
        assume(at > 0)
        bad = f"{ids[draw(st.integers(0, at - 1))]}\t{draw(BUCC_TEXT)}"
    return lines[:at] + [bad] + lines[at:], at + 1


@PROPS
@given(bucc_with_bad_line())
def test_bucc_sentences_malformed_line_names_file_and_line(case):
    lines, bad_line = case
    with tempfile.TemporaryDirectory() as folder:
        path = write_file(folder, "de-en.sample.de", lines)
        with pytest.raises(ValueError, match=f"^{re.escape(str(path))}:{bad_line}: "):
            read_bucc_sentences(path)


@PROPS
@given(st.binary(max_size=40))
def test_bucc_readers_on_arbitrary_bytes_raise_value_error_only(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "de-en.sample.gold"
        path.write_bytes(data)
        for read in (read_bucc_sentences, lambda p: read_bucc_gold(p, {"a"}, {"b"})):
            try:
                read(path)
            except ValueError as exc:
                assert str(exc).startswith(f"{path}:"), exc


@st.composite
def gold_files(draw):
    src = draw(st.lists(BUCC_ID, unique=True, min_size=1, max_size=5))
    tgt = draw(st.lists(BUCC_ID, unique=True, min_size=1, max_size=5))
    pairs = draw(st.lists(st.tuples(st.sampled_from(src), st.sampled_from(tgt)), max_size=8))
    return set(src), set(tgt), pairs


@PROPS
@given(gold_files())
def test_bucc_gold_round_trip(case):
    src, tgt, pairs = case
    with tempfile.TemporaryDirectory() as folder:
        path = write_file(folder, "de-en.sample.gold", [f"{s}\t{t}" for s, t in pairs])
        assert read_bucc_gold(path, src, tgt) == frozenset(pairs)


@PROPS
@given(gold_files(), st.data())
def test_bucc_gold_malformed_line_names_file_and_line(case, data):
    src, tgt, pairs = case
    lines = [f"{s}\t{t}" for s, t in pairs]
    s, t = data.draw(st.sampled_from(sorted(src))), data.draw(st.sampled_from(sorted(tgt)))
    unknown = data.draw(BUCC_ID.filter(lambda i: i not in src | tgt))
    bad = data.draw(st.sampled_from([
        s + t, f"{s}\t{t}\t{t}", f"\t{t}", f"{s}\t", f"{unknown}\t{t}", f"{s}\t{unknown}"]))
    at = data.draw(st.integers(0, len(lines)))
    with tempfile.TemporaryDirectory() as folder:
        path = write_file(folder, "de-en.sample.gold", lines[:at] + [bad] + lines[at:])
        with pytest.raises(ValueError, match=f"^{re.escape(str(path))}:{at + 1}: "):
            read_bucc_gold(path, src, tgt)


# --- corpus specs ------------------------------------------------------------------------

TATOEBA_LANGS = sorted(set(ISO3_TO_ISO1.values()) - {"en"})  # every one has an ISO 639-3 code
OPTION_VALUE = st.text(string.ascii_letters + string.digits + "._-/:=?", max_size=8)
ANY_OPTION_VALUE = st.text(chars_without("&\n"), max_size=8)
XTREME_PATH = st.text(chars_without("\n?~"), min_size=1, max_size=12)


@st.composite
def lang_texts(draw, *, pair: bool) -> str:
    """One of the spellings a spec may use for a language (``deu``, ``de_XX``, ``de-en``)."""
    iso1 = draw(st.sampled_from(TATOEBA_LANGS))
    iso3 = [k for k, v in ISO3_TO_ISO1.items() if v == iso1]
    text = draw(st.sampled_from([iso1, *iso3, f"{iso1}_XX", iso1.upper()]))
    if pair:
        text += draw(st.sampled_from(["-en", "-eng", "-en_US", "-EN"]))
    return text


@st.composite
def valid_specs(draw, values: st.SearchStrategy[str] = OPTION_VALUE) -> str:
    scheme = draw(st.sampled_from(sorted(OPTIONS)))
    lang = draw(lang_texts(pair=draw(st.booleans())))
    keys = draw(st.lists(st.sampled_from(sorted(OPTIONS[scheme])), unique=True)
                if OPTIONS[scheme] else st.just([]))
    opts = "&".join(f"{k}={draw(values)}" for k in keys)
    if scheme.startswith("xtreme-dir:"):
        body = f"xtreme-dir:{draw(XTREME_PATH)}:{scheme.split(':')[1]}:{lang}"
    else:
        body = f"{scheme}:{lang}"
    return body + (f"?{opts}" if opts else "")


def check_canonical_is_a_fixed_point(spec: str) -> None:
    parsed = parse_spec(spec)
    assert isinstance(parsed, CorpusSpec)
    assert parse_spec(parsed.canonical) == parsed
    assert parse_spec(parsed.canonical).canonical == parsed.canonical


@PROPS
@given(valid_specs())
def test_spec_canonical_is_a_fixed_point(spec):
    check_canonical_is_a_fixed_point(spec)


@PROPS
@given(valid_specs(values=ANY_OPTION_VALUE))
@example("tatoeba:deu?revision=x &dataset=y")
def test_spec_canonical_is_a_fixed_point_with_spaces_in_options(spec):
    check_canonical_is_a_fixed_point(spec)


@PROPS
@given(st.sampled_from(["tatoeba", "xtreme-dir:/x:tatoeba"]),
       st.text(string.ascii_lowercase, min_size=2, max_size=2))
@example("tatoeba", "qq")
def test_spec_accepted_tatoeba_language_has_a_canonical_form(head, lang):
    try:
        parse_spec(f"{head}:{lang}")
    except ValueError:
        return  # refused when parsed, not later when the corpus is loaded
    check_canonical_is_a_fixed_point(f"{head}:{lang}")


def test_a_tatoeba_language_without_an_iso3_code_is_refused_when_parsed():
    with pytest.raises(ValueError, match="tatoeba:qq"):
        parse_spec("tatoeba:qq")


SPEC_FRAGMENTS = st.sampled_from(
    ["xtreme-dir:", ":tatoeba:", ":bucc:", "tatoeba:", "bucc:", "debian:", "debian-bucc:",
     "catalogs:", "de", "deu", "-en", "-", ":", "?", "&", "=", "pool=", "unit=", "/",
     "zh_Hant", " ", "\n"])


def check_garbage_spec(text: str) -> None:
    try:
        parsed = parse_spec(text)
    except ValueError:
        return
    assert isinstance(parsed, CorpusSpec)


@PROPS
@given(st.lists(SPEC_FRAGMENTS | st.text(chars_without("~"), max_size=4)).map("".join))
def test_spec_garbage_raises_value_error_only(text):
    check_garbage_spec(text)


@PROPS
@given(st.lists(SPEC_FRAGMENTS | st.text(max_size=4) | st.just("~")).map("".join))
@example("xtreme-dir:~zz:tatoeba:deu")
def test_spec_garbage_with_home_paths_raises_value_error_only(text):
    check_garbage_spec(text)


# --- Debian deb822 indexes ---------------------------------------------------------------

FIELD_NAME = st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=8)
FIELD_FIRST_LINE = st.text(chars_without("\n"), max_size=12).map(str.strip)
CONTINUATION = st.text(chars_without("\n"), min_size=1, max_size=12).filter(
    lambda s: s.strip()).map(lambda s: " " + s)


@st.composite
def stanzas(draw) -> dict[str, str]:
    names = draw(st.lists(FIELD_NAME, unique=True, min_size=1, max_size=4))
    return {name: "\n".join([draw(FIELD_FIRST_LINE), *draw(st.lists(CONTINUATION,
                                                                    max_size=3))])
            for name in names}


def deb822(stanza: dict[str, str]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in stanza.items())


@PROPS
@given(st.lists(stanzas(), max_size=4), st.sampled_from(["\n\n", "\n\n\n"]))
def test_iter_stanzas_round_trip(written, separator):
    text = separator.join(deb822(s) for s in written) + "\n"
    assert list(iter_stanzas(text)) == written


WORD = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc")),
               min_size=1, max_size=6).filter(lambda w: not any(c.isspace() for c in w))
LINE_WORDS = st.lists(WORD, min_size=1, max_size=4).filter(lambda ws: ws != ["."])


@PROPS
@given(st.lists(WORD, min_size=1, max_size=5),
       st.lists(st.lists(LINE_WORDS, min_size=1, max_size=3), max_size=3))
def test_parse_description_round_trip(short, paragraphs):
    """Debian Policy 5.6.13: short line, then paragraphs of ' '-indented lines split by ' .'."""
    body = "\n .\n".join("\n".join(" " + " ".join(line) for line in p) for p in paragraphs)
    value = " ".join(short) + ("\n" + body if body else "")
    stanza = next(iter_stanzas(f"Package: p\nDescription-en: {value}\n"))
    assert parse_description(stanza["Description-en"]) == (
        " ".join(short), [" ".join(w for line in p for w in line) for p in paragraphs])


# --- language codes ----------------------------------------------------------------------

ISO1 = re.compile(r"[a-z]{2}")


def check_iso639_1(code: str) -> None:
    try:
        iso1 = to_iso639_1(code)
    except ValueError:
        return
    assert ISO1.fullmatch(iso1), iso1
    assert to_iso639_1(iso1) == iso1


@PROPS
@given(st.text(chars_without("\n"), max_size=8)
       | st.sampled_from(sorted(ISO3_TO_ISO1)) | st.sampled_from(sorted(OTHER_SCRIPT_LOCALES)))
def test_to_iso639_1_output_is_a_fixed_point(code):
    check_iso639_1(code)


@PROPS
@given(st.text(max_size=8))
@example("aa\n_")
def test_to_iso639_1_output_is_a_fixed_point_with_newlines(code):
    check_iso639_1(code)


@PROPS
@given(st.sampled_from(sorted(ISO3_TO_ISO1.items())), st.sampled_from(["", "_", "-", "@", "."]),
       st.sampled_from(["", "BR", "Latn", "latin", "Hant", "TW"]),
       st.sampled_from([str.lower, str.upper, str.title]), st.sampled_from(["", " "]))
def test_to_iso639_1_of_known_codes_and_locales(pair, sep, region, case, pad):
    iso3, iso1 = pair
    for base in (iso3, iso1):
        code = pad + case(base + (sep + region if sep and region else "")) + pad
        if code.strip().lower().replace("-", "_") in OTHER_SCRIPT_LOCALES:
            with pytest.raises(ValueError, match="script variant"):
                to_iso639_1(code)
        else:
            assert to_iso639_1(code) == iso1
