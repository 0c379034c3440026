"""Corpus specs, parsed in one place, and ``load_corpus`` that dispatches on the scheme.

Spec syntax (``?key=value&...`` options at the end are optional)::

    catalogs:ar-en                    gettext catalogs of django/sphinx/wagtail (aligned)
    debian:de-en[?unit=paragraph]     Debian short descriptions or paragraphs (aligned)
    debian-bucc:fr-en[?pool=12000&gold=N]  Debian BUCC-like mining (splits fit / eval); gold
                                      caps gold pairs per half, the English pool stays
    tatoeba:deu[?dataset=ID&revision=REV]   XTREME Tatoeba from the hub (aligned)
    bucc:de[?dataset=ID&revision=REV]       XTREME BUCC 2018 from the hub (fit / eval)
    xtreme-dir:PATH:tatoeba:deu       XTREME's Tatoeba files in a local folder
    xtreme-dir:PATH:bucc:de-en        BUCC 2018 files in a local folder (fit / eval)
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from xalign.corpora.langs import iso1_to_iso3, to_iso639_1
from xalign.corpora.record import ParallelCorpus
from xalign.corpora.sampling import subsample

MINING_SPLITS = ("fit", "eval")


@dataclass(frozen=True)
class CorpusSpec:
    """A parsed spec: scheme, ISO 639-1 language, optional folder and options."""

    scheme: str
    lang: str
    path: Path | None = None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def canonical(self) -> str:
        """The normalised spec string, used as the corpus name."""
        if self.scheme == "tatoeba" or self.scheme == "xtreme-dir:tatoeba":
            body = iso1_to_iso3(self.lang)
        elif self.scheme == "bucc":
            body = self.lang
        else:
            body = f"{self.lang}-en"
        head = self.scheme
        if self.path is not None:
            head = f"xtreme-dir:{self.path}:{self.scheme.split(':')[1]}"
        opts = "&".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"{head}:{body}" + (f"?{opts}" if opts else "")


_XTREME_DIR = re.compile(r"^xtreme-dir:(?P<path>.+):(?P<task>tatoeba|bucc):(?P<lang>[^:]+)$")
OPTIONS = {"catalogs": set(), "debian": {"unit"}, "debian-bucc": {"pool", "gold"},
           "tatoeba": {"dataset", "revision"}, "bucc": {"dataset", "revision"},
           "xtreme-dir:tatoeba": set(), "xtreme-dir:bucc": set()}
KNOWN_SCHEMES = ("catalogs", "debian", "debian-bucc", "tatoeba", "bucc", "xtreme-dir")


def _lang(text: str, spec: str) -> str:
    """``de-en``, ``deu``, ``de`` -> ``de``; the English side must be ``en``."""
    first, _, second = text.partition("-")
    if second and to_iso639_1(second) != "en":
        raise ValueError(f"corpus spec {spec!r}: expected a pair 'xx-en', got {text!r}")
    try:
        return to_iso639_1(first)
    except ValueError as exc:
        raise ValueError(f"corpus spec {spec!r}: {exc}") from None


def _options(text: str, scheme: str, spec: str) -> dict[str, str]:
    options = {}
    for item in filter(None, text.split("&")):
        key, eq, value = item.partition("=")
        if not eq or key.strip() not in OPTIONS[scheme]:
            allowed = sorted(OPTIONS[scheme]) or "none"
            raise ValueError(f"corpus spec {spec!r}: unknown option {item!r}; allowed: {allowed}")
        options[key.strip()] = value.strip()
    return options


def parse_spec(spec: str) -> CorpusSpec:
    """Parse a corpus spec string (see the module docstring for the syntax).

    Raises:
        ValueError: unknown scheme (with the known ones and a close match), bad language,
            or an option the scheme does not take.
    """
    body, _, opts = spec.strip().partition("?")
    match = _XTREME_DIR.match(body)
    if match:
        scheme = f"xtreme-dir:{match['task']}"
        try:
            path = Path(match["path"]).expanduser()
        except RuntimeError as exc:  # "~user" of an unknown user
            raise ValueError(f"corpus spec {spec!r}: cannot expand {match['path']!r} "
                             f"({exc})") from None
        parsed = CorpusSpec(scheme, _lang(match["lang"], spec), path,
                            _options(opts, scheme, spec))
        return _checked(parsed, spec)
    scheme, colon, rest = body.partition(":")
    if scheme not in OPTIONS or scheme.startswith("xtreme-dir") or not colon or not rest:
        near = difflib.get_close_matches(scheme, KNOWN_SCHEMES, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"corpus spec {spec!r}: unknown scheme {scheme!r}; known: "
                         f"{', '.join(KNOWN_SCHEMES)} (form 'scheme:xx-en'){hint}")
    return _checked(CorpusSpec(scheme, _lang(rest, spec), None, _options(opts, scheme, spec)),
                    spec)


def _checked(parsed: CorpusSpec, spec: str) -> CorpusSpec:
    """A spec whose canonical form exists (Tatoeba needs an ISO 639-3 code for its files)."""
    try:
        parsed.canonical  # noqa: B018
    except ValueError as exc:
        raise ValueError(f"corpus spec {spec!r}: {exc}") from None
    return parsed


def _positive_int(value: str, what: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise ValueError(f"{what}={value!r}: expected a positive integer")
    return int(value)


def _load_catalogs(parsed: CorpusSpec, split: str | None, seed: int) -> ParallelCorpus:
    from xalign.corpora.catalogs import load_catalog_pairs

    src, tgt, meta = load_catalog_pairs(parsed.lang)
    return ParallelCorpus(parsed.canonical, parsed.lang, src, tgt,
                          meta={"source": meta["source"], "sha256": meta["sha256"],
                                "wheels": meta["wheels_pinned"], "count": len(src)})


def _load_debian(parsed: CorpusSpec, split: str | None, seed: int) -> ParallelCorpus:
    from xalign.corpora.debian import load_tables
    from xalign.corpora.debian_pairs import aligned_pairs

    english, translated, meta = load_tables(parsed.lang)
    unit = parsed.options.get("unit", "short")
    triples = aligned_pairs(english, translated, unit=unit)
    return ParallelCorpus(parsed.canonical, parsed.lang, [t[2] for t in triples],
                          [t[1] for t in triples],
                          meta={"source": meta["source"], "suite": meta["suite"], "unit": unit,
                                "sha256": meta["sha256"], "count": len(triples)})


def _load_debian_bucc(parsed: CorpusSpec, split: str | None, seed: int) -> ParallelCorpus:
    from xalign.corpora.debian import load_tables
    from xalign.corpora.debian_pairs import DEFAULT_POOL, mining_half

    english, translated, meta = load_tables(parsed.lang)
    pool = _positive_int(parsed.options.get("pool", str(DEFAULT_POOL)), "pool")
    gold = parsed.options.get("gold")
    half = mining_half(english, translated, parsed.lang, MINING_SPLITS.index(split),
                       pool=pool, seed=seed,
                       max_gold=None if gold is None else _positive_int(gold, "gold"))
    counts = {"src": len(half["src_ids"]), "tgt": len(half["tgt_ids"]),
              "gold": len(half["gold"])}
    return ParallelCorpus(parsed.canonical, parsed.lang, split=split,
                          meta={"source": meta["source"], "suite": meta["suite"], "pool": pool,
                                "gold": gold,
                                "seed": seed, "sha256": meta["sha256"], "counts": counts},
                          **half)


def _load_tatoeba(parsed: CorpusSpec, split: str | None, seed: int) -> ParallelCorpus:
    from xalign.corpora.hub import XTREME_ID, load_hub_tatoeba

    return load_hub_tatoeba(iso1_to_iso3(parsed.lang), name=parsed.canonical,
                            dataset=parsed.options.get("dataset", XTREME_ID),
                            revision=parsed.options.get("revision"))


def _load_bucc(parsed: CorpusSpec, split: str | None, seed: int) -> ParallelCorpus:
    from xalign.corpora.hub import XTREME_ID, load_hub_bucc

    return load_hub_bucc(parsed.lang, split, name=parsed.canonical,
                         dataset=parsed.options.get("dataset", XTREME_ID),
                         revision=parsed.options.get("revision"))


def _load_dir_tatoeba(parsed: CorpusSpec, split: str | None, seed: int) -> ParallelCorpus:
    from xalign.corpora.xtreme_dir import load_tatoeba_dir

    return load_tatoeba_dir(parsed.path, iso1_to_iso3(parsed.lang), name=parsed.canonical)


def _load_dir_bucc(parsed: CorpusSpec, split: str | None, seed: int) -> ParallelCorpus:
    from xalign.corpora.xtreme_dir import load_bucc_dir

    return load_bucc_dir(parsed.path, parsed.lang, split, name=parsed.canonical)


# scheme -> (loader, is a mining corpus). Loaders import their source lazily so that
# parsing a spec never needs `datasets` or apt.
LOADERS: dict[str, tuple[Callable, bool]] = {
    "catalogs": (_load_catalogs, False), "debian": (_load_debian, False),
    "debian-bucc": (_load_debian_bucc, True), "tatoeba": (_load_tatoeba, False),
    "bucc": (_load_bucc, True), "xtreme-dir:tatoeba": (_load_dir_tatoeba, False),
    "xtreme-dir:bucc": (_load_dir_bucc, True),
}


def load_corpus(spec: str, *, split: str | None = None, limit: int | None = None,
                seed: int = 0) -> ParallelCorpus:
    """Load a corpus by spec, fetching offline-source data into the cache if needed.

    Args:
        spec: a corpus spec (module docstring).
        split: mining corpora: ``"fit"`` (threshold fitting) or ``"eval"`` (default);
            aligned corpora take no split.
        limit: at most this many aligned pairs (or gold pairs of a mining corpus, the rest
            of the pools scaled by the same fraction), sampled reproducibly from ``seed``.
        seed: seed of the sampling and of the debian-bucc halves.

    Returns:
        A :class:`ParallelCorpus` whose ``name`` is the canonical spec.

    Raises:
        ValueError: bad spec, split or limit; malformed data files.
        FileNotFoundError: a local folder or file is missing.
    """
    parsed = parse_spec(spec)
    loader, mining = LOADERS[parsed.scheme]
    if mining:
        split = "eval" if split is None else split
        if split not in MINING_SPLITS and not parsed.scheme.startswith("xtreme-dir"):
            raise ValueError(f"corpus {parsed.canonical!r}: split {split!r}, expected fit or eval")
    elif split is not None:
        raise ValueError(f"corpus {parsed.canonical!r} is aligned and has no split; got {split!r}")
    if limit is not None and limit <= 0:
        raise ValueError(f"limit={limit}: expected a positive integer or None")
    corpus = loader(parsed, split, seed)
    return corpus if limit is None else subsample(corpus, limit, seed=seed)
