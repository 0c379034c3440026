"""Build a real SentencePiece unigram model file from pieces, scores and a normalisation map.

XLM-R's tokenizer is a SentencePiece unigram model whose ids are shifted by fairseq's
convention (``<s>=0 <pad>=1 </s>=2 <unk>=3``, SentencePiece piece ``i >= 3`` at id ``i + 1``,
``<mask>`` last). The packed e5 file stores the pieces in the fairseq order and the
normaliser as a per-codepoint replacement map. To get a tokenizer that the
``sentencepiece`` library *and* Hugging Face load natively, we

1. compile the replacement map into SentencePiece's ``precompiled_charsmap`` by training a
   throw-away model with ``normalization_rule_tsv`` (SentencePiece's own compiler), and
2. write a ``ModelProto`` with the real pieces and scores and that normaliser.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as spm_pb2

# SentencePiece ids of the three special pieces in XLM-R's original model.
SPM_UNK, SPM_BOS, SPM_EOS = 0, 1, 2
FAIRSEQ_OFFSET = 1  # Hugging Face id = SentencePiece id + 1 for ordinary pieces


def compile_charsmap(norm_map: dict[int, tuple[int, ...]]) -> bytes:
    """Compile a codepoint -> codepoints map into SentencePiece's precompiled charsmap."""
    lines = []
    for cp, outs in sorted(norm_map.items()):
        # an empty target deletes the character (control characters in nmt_nfkc)
        target = " ".join(f"{o:X}" for o in outs)
        lines.append(f"{cp:X}\t{target}")
    with tempfile.TemporaryDirectory() as tmp:
        tsv = Path(tmp) / "rules.tsv"
        tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
        model = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(["a b c d e f g h i j k l m n o p"] * 20),
            model_writer=model,
            model_type="char",
            vocab_size=20,
            normalization_rule_tsv=str(tsv),
            minloglevel=2,
        )
    proto = spm_pb2.ModelProto()
    proto.ParseFromString(model.getvalue())
    return proto.normalizer_spec.precompiled_charsmap


def build_unigram_model(
    pieces: list[str], scores: list[float], charsmap: bytes, *, n_special: int = 4
) -> bytes:
    """Serialise an XLM-R style SentencePiece unigram model.

    Args:
        pieces: pieces in Hugging Face (fairseq) order; the first ``n_special`` are
            ``<s> <pad> </s> <unk>`` and a trailing ``<mask>`` is dropped (Hugging Face adds
            it back as the last id).
        scores: log-probabilities aligned with ``pieces``.
        charsmap: the compiled normaliser from :func:`compile_charsmap`.

    Returns:
        The bytes of a ``sentencepiece.bpe.model`` file.
    """
    if pieces[:n_special] != ["<s>", "<pad>", "</s>", "<unk>"]:
        raise ValueError(f"expected XLM-R special pieces first, got {pieces[:n_special]}")
    body = pieces[n_special:]
    body_scores = list(scores[n_special:])
    if body and body[-1] == "<mask>":
        body, body_scores = body[:-1], body_scores[:-1]
    proto = spm_pb2.ModelProto()
    kinds = spm_pb2.ModelProto.SentencePiece
    for piece, kind in (("<unk>", kinds.UNKNOWN), ("<s>", kinds.CONTROL), ("</s>", kinds.CONTROL)):
        proto.pieces.add(piece=piece, score=0.0, type=kind)
    for piece, score in zip(body, body_scores, strict=True):
        proto.pieces.add(piece=piece, score=float(score), type=kinds.NORMAL)
    trainer = proto.trainer_spec
    trainer.model_type = spm_pb2.TrainerSpec.UNIGRAM
    trainer.vocab_size = len(proto.pieces)
    trainer.unk_id, trainer.bos_id, trainer.eos_id, trainer.pad_id = SPM_UNK, SPM_BOS, SPM_EOS, -1
    norm = proto.normalizer_spec
    norm.name = "nmt_nfkc"
    norm.precompiled_charsmap = charsmap
    norm.add_dummy_prefix = True
    norm.remove_extra_whitespaces = True
    norm.escape_whitespaces = True
    return proto.SerializeToString()
