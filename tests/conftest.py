"""Session fixtures: offline hub, a tiny random XLM-R and a locally trained tokenizer.

Both are written with ``save_pretrained`` so tests exercise the real ``from_pretrained``
loading path, exactly as a hub or local checkpoint would be loaded.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402

TINY_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Der schnelle braune Fuchs springt über den faulen Hund.",
    "Le renard brun rapide saute par-dessus le chien paresseux.",
    "El rápido zorro marrón salta sobre el perro perezoso.",
    "Быстрая коричневая лиса прыгает через ленивую собаку.",
    "敏捷的棕色狐狸跳过了懒狗。",
    "素早い茶色の狐が怠け者の犬を飛び越える。",
    "الثعلب البني السريع يقفز فوق الكلب الكسول.",
    "library for parsing configuration files",
    "Bibliothek zum Parsen von Konfigurationsdateien",
    "bibliothèque pour analyser les fichiers de configuration",
    "command line tool to manage packages",
    "Kommandozeilenwerkzeug zur Verwaltung von Paketen",
    "outil en ligne de commande pour gérer les paquets",
]

SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>"]


def build_tiny_tokenizer():
    """Train a small Unigram tokenizer with XLM-R's special-token layout."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import XLMRobertaTokenizer

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=300, special_tokens=SPECIAL_TOKENS, unk_token="<unk>"
    )
    tok.train_from_iterator(TINY_TEXTS * 4, trainer=trainer)
    tok.add_special_tokens(["<mask>"])
    tok.post_processor = TemplateProcessing(
        single="<s> $A </s>",
        pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    return XLMRobertaTokenizer(
        tokenizer_object=tok,
        bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
        unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
    )


def build_tiny_model(vocab_size: int, seed: int = 0):
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(seed)
    config = XLMRobertaConfig(
        vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=130, pad_token_id=1,
        bos_token_id=0, eos_token_id=2,
    )
    return XLMRobertaModel(config).eval()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A saved tiny random XLM-R (2 layers, hidden 32) with its tokenizer."""
    out = tmp_path_factory.mktemp("tiny-xlmr")
    tokenizer = build_tiny_tokenizer()
    model = build_tiny_model(len(tokenizer))
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def tiny_model_dir_b(tmp_path_factory, tiny_model_dir):
    """A second tiny XLM-R with other random weights but the same tokenizer."""
    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("tiny-xlmr-b")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    build_tiny_model(len(tokenizer), seed=1).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch, request):
    """Each test gets its own XALIGN_CACHE unless it asks for the shared one (slow tests)."""
    if request.node.get_closest_marker("slow") is None:
        monkeypatch.setenv("XALIGN_CACHE", str(tmp_path / "xalign-cache"))
