"""The one standard record every corpus loader returns."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ParallelCorpus:
    """Parallel text between one language and English.

    Two kinds share this record:

    * aligned (``gold is None``): ``src_texts[i]`` translates ``tgt_texts[i]`` (Tatoeba,
      catalogs, Debian short descriptions);
    * mining (``gold`` set): two pools of sentences with ids and the set of gold
      ``(src_id, tgt_id)`` pairs; most sentences have no translation on the other side
      (BUCC 2018, ``debian-bucc``).

    Attributes:
        name: canonical spec string (``"debian:de-en"``).
        lang: ISO 639-1 code of the non-English side.
        src_texts: the non-English side.
        tgt_texts: the English side.
        src_ids, tgt_ids: sentence ids (required for mining corpora).
        gold: gold ``(src_id, tgt_id)`` pairs, or None for an aligned corpus.
        split: split name (``"fit"``/``"eval"`` for mining corpora) or None.
        meta: provenance: source, version, counts, sha256 of inputs.

    Raises:
        ValueError: inconsistent fields (named with the corpus name).
    """

    name: str
    lang: str
    src_texts: list[str]
    tgt_texts: list[str]
    src_ids: list[str] | None = None
    tgt_ids: list[str] | None = None
    gold: frozenset[tuple[str, str]] | None = None
    split: str | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.gold is None:
            self._check_aligned()
        else:
            self._check_mining()

    @property
    def kind(self) -> str:
        """``"aligned"`` or ``"mining"``."""
        return "aligned" if self.gold is None else "mining"

    def __len__(self) -> int:
        """Number of aligned pairs, or of gold pairs for a mining corpus."""
        return len(self.src_texts) if self.gold is None else len(self.gold)

    def _check_aligned(self) -> None:
        if len(self.src_texts) != len(self.tgt_texts):
            raise ValueError(
                f"corpus {self.name!r}: src_texts has {len(self.src_texts)} items but "
                f"tgt_texts has {len(self.tgt_texts)}; aligned corpora need equal lengths"
            )
        for side, ids, texts in (("src", self.src_ids, self.src_texts),
                                 ("tgt", self.tgt_ids, self.tgt_texts)):
            if ids is not None and len(ids) != len(texts):
                raise ValueError(
                    f"corpus {self.name!r}: {side}_ids has {len(ids)} items, "
                    f"{side}_texts {len(texts)}"
                )

    def _check_mining(self) -> None:
        known = {}
        for side, ids, texts in (("src", self.src_ids, self.src_texts),
                                 ("tgt", self.tgt_ids, self.tgt_texts)):
            if ids is None:
                raise ValueError(f"corpus {self.name!r}: {side}_ids is required with gold")
            if len(ids) != len(texts):
                raise ValueError(
                    f"corpus {self.name!r}: {side}_ids has {len(ids)} items, "
                    f"{side}_texts {len(texts)}"
                )
            known[side] = set(ids)
            if len(known[side]) != len(ids):
                raise ValueError(f"corpus {self.name!r}: {side}_ids are not unique")
        for src_id, tgt_id in self.gold:
            if src_id not in known["src"]:
                raise ValueError(f"corpus {self.name!r}: gold src id {src_id!r} not in src_ids")
            if tgt_id not in known["tgt"]:
                raise ValueError(f"corpus {self.name!r}: gold tgt id {tgt_id!r} not in tgt_ids")
