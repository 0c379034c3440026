"""Language codes: every dataset-native code is converted to ISO 639-1 here, and only here.

Sources name languages in their own ways: XTREME's Tatoeba uses ISO 639-3 (``deu``,
``cmn``), Debian uses POSIX locales (``zh_CN``), gettext catalogs use Django/Babel locale
names (``zh_Hans``, ``pt_BR``, ``sr_Latn``). Inside xalign a language is always the
two-letter ISO 639-1 code, and pairs are written ``xx-en``.
"""

from __future__ import annotations

import re

# ISO 639-3 (and the few ISO 639-2/B codes seen in corpora) -> ISO 639-1. Covers XTREME's
# 36 Tatoeba languages plus the languages of the offline sources.
ISO3_TO_ISO1 = {
    "afr": "af", "ara": "ar", "arb": "ar", "ben": "bn", "bul": "bg", "cat": "ca",
    "ces": "cs", "cmn": "zh", "zho": "zh", "chi": "zh", "dan": "da", "deu": "de",
    "ger": "de", "ell": "el", "eng": "en", "est": "et", "eus": "eu", "fas": "fa",
    "pes": "fa", "fin": "fi", "fra": "fr", "fre": "fr", "heb": "he", "hin": "hi",
    "hun": "hu", "ind": "id", "ita": "it", "jav": "jv", "jpn": "ja", "kat": "ka",
    "kaz": "kk", "kor": "ko", "mal": "ml", "mar": "mr", "msa": "ms", "zsm": "ms",
    "nld": "nl", "dut": "nl", "nob": "nb", "pol": "pl", "por": "pt", "ron": "ro",
    "rus": "ru", "slk": "sk", "slv": "sl", "spa": "es", "swa": "sw", "swh": "sw",
    "swe": "sv", "tam": "ta", "tel": "te", "tgl": "tl", "tha": "th", "tur": "tr",
    "ukr": "uk", "urd": "ur", "vie": "vi", "yor": "yo",
}

# Locale variants that are a different script from the base language's usual one: they
# are skipped rather than merged, so "zh" stays Simplified Chinese and "sr" Cyrillic.
OTHER_SCRIPT_LOCALES = frozenset(
    {"zh_hant", "zh_tw", "zh_hk", "sr_latn", "sr@latin", "uz@cyrillic", "be@latin"}
)

_ISO1 = re.compile(r"^[a-z]{2}$")


def to_iso639_1(code: str) -> str:
    """Convert a dataset-native language code to ISO 639-1.

    Args:
        code: ``"deu"``, ``"zh_CN"``, ``"zh-Hans"``, ``"pt_BR"``, ``"cmn"``, ``"de"`` ...

    Returns:
        The two-letter code, e.g. ``"de"``, ``"zh"``, ``"pt"``.

    Raises:
        ValueError: the code is unknown or names another script of the language
            (``zh_Hant``, ``sr_Latn``), which would otherwise be merged silently.
    """
    norm = code.strip().lower().replace("-", "_")
    if norm in OTHER_SCRIPT_LOCALES:
        raise ValueError(f"language code {code!r} is a non-default script variant; skipped")
    base = re.split(r"[_@.]", norm, maxsplit=1)[0]
    if _ISO1.fullmatch(base):
        return base
    if base in ISO3_TO_ISO1:
        return ISO3_TO_ISO1[base]
    raise ValueError(f"language code {code!r}: expected ISO 639-1/639-3 or a locale name")


def iso1_to_iso3(lang: str) -> str:
    """Return the ISO 639-3 code XTREME's Tatoeba files use for ``lang`` (``"de"`` -> ``"deu"``).

    Raises:
        ValueError: no Tatoeba code is known for ``lang``.
    """
    # Tatoeba in XTREME names Chinese "cmn", Persian "pes", Swahili "swh".
    preferred = {"zh": "cmn", "fa": "pes", "sw": "swh", "ar": "ara", "ms": "zsm"}
    if lang in preferred:
        return preferred[lang]
    for iso3, iso1 in ISO3_TO_ISO1.items():
        if iso1 == lang and iso3 not in {"ger", "fre", "dut", "chi", "zho"}:
            return iso3
    raise ValueError(f"language {lang!r}: no ISO 639-3 code known")
