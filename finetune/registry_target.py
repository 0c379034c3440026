"""XTREME / XTREME-R target tasks with per-language zero-shot evaluation.

Configurations follow the datasets' cards: facebook/xnli and paws-x have one
configuration per language; google/xtreme names them "udpos.<Language>" and
"MLQA.<xx>.<xx>", google/xquad "xquad.<xx>". XQuAD and MLQA have no training split: train
on ``squad-v1`` (SQuAD 1.1, the XTREME protocol) and evaluate on them; XNLI trains on
MNLI. ``revision=None`` = latest. ``train_size`` (planning only) is the English train
split's size: PAWS-X en 49,401, XTREME's UD English 21,253 sentences, WikiANN/PAN-X en
20,000, SQuAD 1.1 87,599, TyDiQA-GoldP English 3,696 (the commonly quoted count).
"""

from __future__ import annotations

from finetune.tasks import HubSource, Task, register_task

XTREME = "Hu et al. 2020, XTREME (ICML); Ruder et al. 2021, XTREME-R (EMNLP)"
XNLI_LANGS = ("ar", "bg", "de", "el", "en", "es", "fr", "hi", "ru", "sw", "th", "tr", "ur",
              "vi", "zh")
PAWSX_LANGS = ("de", "en", "es", "fr", "ja", "ko", "zh")
UDPOS_LANGS = {
    "af": "Afrikaans", "ar": "Arabic", "bg": "Bulgarian", "de": "German", "el": "Greek",
    "en": "English", "es": "Spanish", "et": "Estonian", "eu": "Basque", "fa": "Persian",
    "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi", "hu": "Hungarian",
    "id": "Indonesian", "it": "Italian", "ja": "Japanese", "ko": "Korean", "mr": "Marathi",
    "nl": "Dutch", "pt": "Portuguese", "ru": "Russian", "ta": "Tamil", "te": "Telugu",
    "tr": "Turkish", "ur": "Urdu", "vi": "Vietnamese", "zh": "Chinese",
}
UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
        "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")
WIKIANN_LANGS = ("ar", "bg", "de", "el", "en", "es", "et", "eu", "fa", "fi", "fr", "he",
                 "hi", "hu", "id", "it", "ja", "ko", "nl", "pt", "ru", "sw", "ta", "te",
                 "th", "tr", "ur", "vi", "zh")
NER_TAGS = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
XQUAD_LANGS = ("ar", "de", "el", "en", "es", "hi", "ro", "ru", "th", "tr", "vi", "zh")
MLQA_LANGS = ("ar", "de", "en", "es", "hi", "vi", "zh")
TYDIQA_LANGS = ("ar", "bn", "en", "fi", "id", "ko", "ru", "sw", "te")
QA_FIELDS = {"context": "context", "question": "question", "answers": "answers", "id": "id"}

TARGET_TASKS = (
    Task("xnli", "pair", HubSource("facebook/xnli", language_configs={
         lang: lang for lang in XNLI_LANGS}), ("entailment", "neutral", "contradiction"),
         {"text_a": "premise", "text_b": "hypothesis", "label": "label"}, XNLI_LANGS,
         "accuracy", "target", "Cross-lingual NLI; English train = MNLI",
         "Conneau et al. 2018", train_task="mnli"),
    Task("pawsx", "pair", HubSource("google-research-datasets/paws-x", language_configs={
         lang: lang for lang in PAWSX_LANGS}), ("not_paraphrase", "paraphrase"),
         {"text_a": "sentence1", "text_b": "sentence2", "label": "label", "id": "id"},
         PAWSX_LANGS, "accuracy", "target", "Cross-lingual paraphrase adversaries",
         "Yang et al. 2019", train_size=49_401),
    Task("udpos", "tagging", HubSource("google/xtreme", language_configs={
         lang: f"udpos.{name}" for lang, name in UDPOS_LANGS.items()}), UPOS,
         {"tokens": "tokens", "tags": "pos_tags"}, tuple(UDPOS_LANGS), "accuracy", "target",
         "Universal Dependencies POS tagging (XTREME), token accuracy", XTREME, train_size=21_253),
    Task("wikiann", "tagging", HubSource("unimelb-nlp/wikiann", language_configs={
         lang: lang for lang in WIKIANN_LANGS}), NER_TAGS,
         {"tokens": "tokens", "tags": "ner_tags"}, WIKIANN_LANGS, "f1", "target",
         "WikiANN / PAN-X named entities, entity-level F1 (seqeval-style)",
         "Pan et al. 2017; Rahimi et al. 2019", train_size=20_000),
    Task("squad-v1", "qa", HubSource("rajpurkar/squad", splits={"train": "train",
         "validation": "validation"}), None, QA_FIELDS, ("en",), "squad", "target",
         "SQuAD 1.1: the English training data for xquad, mlqa (XTREME protocol)",
         "Rajpurkar et al. 2016", train_size=87_599),
    # google/xtreme names its XQuAD configurations "XQuAD.<xx>" and lacks Romanian;
    # google/xquad has all 12 languages as "xquad.<xx>" (validation only)
    Task("xquad", "qa", HubSource("google/xquad", splits={"validation": "validation",
         "test": "validation"}, language_configs={
         lang: f"xquad.{lang}" for lang in XQUAD_LANGS}), None, QA_FIELDS, XQUAD_LANGS,
         "squad", "target", "XQuAD (evaluation only; train on squad-v1)",
         "Artetxe et al. 2020", train_task="squad-v1"),
    Task("mlqa", "qa", HubSource("google/xtreme", splits={"validation": "validation",
         "test": "test"}, language_configs={
         lang: f"MLQA.{lang}.{lang}" for lang in MLQA_LANGS}), None, QA_FIELDS, MLQA_LANGS,
         "squad", "target", "MLQA, same-language context and question (train on squad-v1)",
         "Lewis et al. 2020", train_task="squad-v1"),
    Task("tydiqa", "qa", HubSource("juletxara/tydiqa_xtreme", revision="refs/convert/parquet",
         splits={"train": "train", "validation": "validation", "test": "validation"},
         language_configs={lang: lang for lang in TYDIQA_LANGS}), None, QA_FIELDS,
         TYDIQA_LANGS, "squad", "target",
         "TyDiQA-GoldP as split by XTREME (English train; dev per language)",
         "Clark et al. 2020", train_size=3_696),
)

for _task in TARGET_TASKS:
    register_task(_task)
