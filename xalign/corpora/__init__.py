"""Parallel corpora: one record type, one spec syntax, real offline sources.

Public entry points: :func:`load_corpus` (by spec string), :func:`parse_spec`,
:class:`ParallelCorpus`, :func:`to_iso639_1`, the fetchers :func:`fetch_debian` and
:func:`fetch_catalogs`, and :func:`build_debian_tasks` for the fine-tuning tasks.
"""

from __future__ import annotations

from xalign.corpora.catalogs import fetch_catalogs
from xalign.corpora.debian import fetch_debian
from xalign.corpora.debian_tasks import build_debian_tasks
from xalign.corpora.langs import to_iso639_1
from xalign.corpora.record import ParallelCorpus
from xalign.corpora.spec import load_corpus, parse_spec

__all__ = [
    "ParallelCorpus",
    "build_debian_tasks",
    "fetch_catalogs",
    "fetch_debian",
    "load_corpus",
    "parse_spec",
    "to_iso639_1",
]
