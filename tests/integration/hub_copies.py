"""Tiny local copies of every hub dataset the registered tasks read, in the hub's own layout.

Each copy is a folder shaped like the hub repository: a README.md whose YAML header lists
the configurations and their data files per split (what ``datasets.load_dataset`` reads
for a local folder, as for a hub repo), and one parquet file per split that carries the
hub's features: ClassLabel names, nested ``answers``, string labels where the hub has
strings, ``-1`` / ``""`` where the hub has rows without a gold label. The rows are a
handful of short sentences of words the tiny test tokenizer knows; answer offsets are
real character offsets into the context.

``write_hub_copies`` returns ``data.hub_mirrors`` (hub id -> folder); ``write_ccg`` writes
the local-layout CCG folder (CCGbank is not on the hub) for ``finetune.task_dirs.ccg``.
Column layouts follow the datasets' cards (``dataset_info`` features) as of 2025.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from datasets import ClassLabel, Dataset, Features, Sequence, Value

from finetune.registry_target import UDPOS_LANGS
from finetune.tasks import get_task

NLI = ("entailment", "neutral", "contradiction")
UPOS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
        "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")
NER = ("O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC")
WORDS = {
    "en": "the quick brown fox jumps over lazy dog library for parsing configuration files "
          "command line tool to manage packages".split(),
    "de": "der schnelle braune Fuchs springt über den faulen Hund Bibliothek zum Parsen von "
          "Kommandozeilenwerkzeug zur Verwaltung Paketen".split(),
    "fr": "le renard brun rapide saute chien paresseux bibliothèque pour analyser les "
          "fichiers de configuration outil en ligne commande".split(),
    "es": "el rápido zorro marrón salta sobre perro perezoso".split(),
    "ru": "Быстрая коричневая лиса прыгает через ленивую собаку".split(),
    "ar": "الثعلب البني السريع يقفز فوق الكلب الكسول".split(),
    "zh": list("敏捷的棕色狐狸跳过了懒狗"),
    "ja": list("素早い茶色の狐が怠け者の犬を飛び越える"),
}
STRING = Value("string")
ANSWERS = {"text": Sequence(STRING), "answer_start": Sequence(Value("int32"))}


def write_hub_copies(root, rng: random.Random, *, n_train: int = 12, n_eval: int = 6,
                     langs=("de", "ar")) -> dict[str, str]:
    """Write a copy of every hub dataset the built-in tasks read; returns id -> folder.

    Args:
        root: folder to write into (one subfolder per dataset).
        rng: the source of every random choice (words, labels, spans).
        n_train: rows per train split (ANLI: per round, split in three).
        n_eval: rows per validation / test split and per evaluation language.
        langs: evaluation languages besides English, written for each target task
            that evaluates on them.
    """
    root = Path(root)
    rows = _Rows(rng, n_train, n_eval)
    langs = ("en", *(lang for lang in langs if lang != "en"))

    def of(target: str) -> list[str]:  # the languages a target evaluates on
        return [lang for lang in langs if lang in get_task(target).languages]

    copies = {
        "nyu-mll/glue": rows.glue(),
        "facebook/anli": rows.anli(),
        "stanfordnlp/snli": rows.snli(),
        "pietrolesci/nli_fever": rows.nli_fever(),
        "rajpurkar/squad_v2": rows.squad("squad_v2", unanswerable=True),
        "rajpurkar/squad": rows.squad("plain_text", unanswerable=False),
        "Rowan/hellaswag": rows.hellaswag(),
        "allenai/cosmos_qa": rows.cosmos_qa(),
        "tau/commonsense_qa": rows.commonsense_qa(),
        "facebook/xnli": rows.xnli(of("xnli")),
        "google-research-datasets/paws-x": rows.pawsx(of("pawsx")),
        "google/xtreme": rows.xtreme(of("udpos"), of("mlqa")),
        "google/xquad": rows.xquad(of("xquad")),
        "unimelb-nlp/wikiann": rows.wikiann(of("wikiann")),
        "juletxara/tydiqa_xtreme": rows.tydiqa(of("tydiqa")),
    }
    mirrors = {}
    for hub_id, configs in copies.items():
        folder = root / hub_id.replace("/", "__")
        write_repo(folder, configs)
        mirrors[hub_id] = str(folder)
    return mirrors


def write_repo(folder: Path, configs: dict[str, tuple[Features, dict[str, list[dict]]]]) -> None:
    """A hub-style dataset folder: README ``configs`` -> ``<config>/<split>-*.parquet``.

    Args:
        folder: the dataset folder (created).
        configs: configuration name -> (features, split name -> rows).
    """
    lines = ["---", "configs:"]
    for config, (features, splits) in configs.items():
        lines += [f"- config_name: {config}", "  data_files:"]
        (folder / config).mkdir(parents=True)
        for split, split_rows in splits.items():
            path = folder / config / f"{split}-00000-of-00001.parquet"
            Dataset.from_list(split_rows, features=features).to_parquet(str(path))
            lines += [f"  - split: {split}", f"    path: {config}/{split}-*"]
    (folder / "README.md").write_text("\n".join([*lines, "---", ""]), encoding="utf-8")


def write_ccg(folder, rng: random.Random, *, n_train: int = 12, n_eval: int = 6) -> str:
    """The local-layout CCG folder: train/validation/test.en.jsonl + meta.json supertags."""
    folder = Path(folder)
    folder.mkdir(parents=True)
    tags = ["N", "NP[nb]/N", "(S[dcl]\\NP)/NP", "S[dcl]\\NP", "."]
    (folder / "meta.json").write_text(json.dumps({"name": "ccg", "format": "tagging",
                                                  "labels": tags, "languages": ["en"]}))
    for split, n in (("train", n_train), ("validation", n_eval), ("test", n_eval)):
        lines = []
        for i in range(n):
            tokens = _words(rng, "en", rng.randint(3, 6))
            lines.append(json.dumps({"id": f"ccg-{split}-{i}", "tokens": tokens,
                                     "tags": [rng.choice(tags) for _ in tokens]}))
        (folder / f"{split}.en.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(folder)


def _words(rng: random.Random, lang: str, n: int) -> list[str]:
    return [rng.choice(WORDS.get(lang, WORDS["en"])) for _ in range(n)]


class _Rows:
    """Row builders, one per dataset; each returns config -> (features, split -> rows)."""

    def __init__(self, rng: random.Random, n_train: int, n_eval: int):
        self.rng, self.n_train, self.n_eval = rng, n_train, n_eval

    def text(self, lang: str = "en", n: int | None = None) -> str:
        return " ".join(_words(self.rng, lang, n or self.rng.randint(3, 6)))

    def sizes(self, *splits: str) -> dict[str, int]:
        return {s: self.n_train if s.startswith("train") else self.n_eval for s in splits}

    # --- pairs and single sentences ------------------------------------------------------

    def glue(self):
        def config(columns, labels, splits):
            features = Features({**{c: STRING for c in columns},
                                 "label": ClassLabel(names=list(labels)), "idx": Value("int32")})
            return features, {split: [{**{c: self.text() for c in columns},
                                       "label": i % len(labels), "idx": i} for i in range(n)]
                              for split, n in self.sizes(*splits).items()}

        return {"mnli": config(("premise", "hypothesis"), NLI,
                               ("train", "validation_matched", "validation_mismatched")),
                "qqp": config(("question1", "question2"), ("not_duplicate", "duplicate"),
                              ("train", "validation")),
                "sst2": config(("sentence",), ("negative", "positive"), ("train", "validation"))}

    def anli(self):
        features = Features({"uid": STRING, "premise": STRING, "hypothesis": STRING,
                             "label": ClassLabel(names=list(NLI)), "reason": STRING})
        splits = {}
        for r in (1, 2, 3):
            for split, n in (("train", max(1, self.n_train // 3)),
                             ("dev", max(1, self.n_eval // 3)), ("test", max(1, self.n_eval // 3))):
                splits[f"{split}_r{r}"] = [
                    {"uid": f"r{r}-{split}-{i}", "premise": self.text(), "hypothesis": self.text(),
                     "label": i % 3, "reason": self.text() if split == "train" else ""}
                    for i in range(n)]
        return {"plain_text": (features, splits)}

    def snli(self):
        features = Features({"premise": STRING, "hypothesis": STRING,
                             "label": ClassLabel(names=list(NLI))})
        # SNLI marks pairs without a gold label (no annotator majority) with -1
        return {"plain_text": (features, {
            split: [{"premise": self.text(), "hypothesis": self.text(),
                     "label": -1 if i % 5 == 4 else i % 3} for i in range(n)]
            for split, n in self.sizes("train", "validation", "test").items()})}

    def nli_fever(self):
        features = Features({"cid": Value("int64"), "fid": STRING, "premise": STRING,
                             "hypothesis": STRING, "verifiable": Value("int64"),
                             "fever_gold_label": STRING, "label": ClassLabel(names=list(NLI))})
        gold = ("SUPPORTS", "NOT ENOUGH INFO", "REFUTES")
        return {"default": (features, {
            split: [{"cid": i, "fid": f"{split}-{i}", "premise": self.text(),
                     "hypothesis": self.text(), "verifiable": int(i % 3 != 1),
                     "fever_gold_label": gold[i % 3], "label": i % 3} for i in range(n)]
            for split, n in self.sizes("train", "dev", "test").items()})}

    def xnli(self, langs):
        features = Features({"premise": STRING, "hypothesis": STRING,
                             "label": ClassLabel(names=list(NLI))})

        def rows(lang):
            return [{"premise": self.text(lang), "hypothesis": self.text(lang), "label": i % 3}
                    for i in range(self.n_eval)]

        return {lang: (features, {"test": rows(lang), "validation": rows(lang)})
                for lang in langs}

    def pawsx(self, langs):
        features = Features({"id": Value("int32"), "sentence1": STRING, "sentence2": STRING,
                             "label": ClassLabel(names=["0", "1"])})
        out = {}
        for lang in langs:
            splits = ("train", "test", "validation") if lang == "en" else ("test", "validation")
            out[lang] = (features, {split: [{"id": i + 1, "sentence1": self.text(lang),
                                             "sentence2": self.text(lang), "label": i % 2}
                                            for i in range(n)]
                                    for split, n in self.sizes(*splits).items()})
        return out

    # --- multiple choice -----------------------------------------------------------------

    def hellaswag(self):
        features = Features({"ind": Value("int32"), "activity_label": STRING, "ctx_a": STRING,
                             "ctx_b": STRING, "ctx": STRING, "endings": Sequence(STRING),
                             "source_id": STRING, "split": STRING, "split_type": STRING,
                             "label": STRING})
        splits = {}
        for split, n in self.sizes("train", "validation", "test").items():
            rows = []
            for i in range(n):
                ctx_a, ctx_b = self.text(), self.text(n=2)
                rows.append({"ind": 100 * len(splits) + i, "activity_label": self.text(n=2),
                             "ctx_a": ctx_a, "ctx_b": ctx_b, "ctx": f"{ctx_a} {ctx_b}",
                             "endings": [self.text() for _ in range(4)],
                             "source_id": f"activitynet~v_{split}{i}",
                             "split": {"validation": "val"}.get(split, split),
                             "split_type": "indomain" if i % 2 else "zeroshot",
                             # the hub's label is a digit string; test labels are hidden
                             "label": "" if split == "test" else str(i % 4)})
            splits[split] = rows
        return {"default": (features, splits)}

    def cosmos_qa(self):
        features = Features({"id": STRING, "context": STRING, "question": STRING,
                             **{f"answer{k}": STRING for k in range(4)}, "label": Value("int32")})
        return {"default": (features, {
            split: [{"id": f"cosmos-{split}-{i}", "context": self.text(), "question": self.text(),
                     **{f"answer{k}": self.text() for k in range(4)},
                     "label": -1 if split == "test" else i % 4} for i in range(n)]
            for split, n in self.sizes("train", "validation", "test").items()})}

    def commonsense_qa(self):
        features = Features({"id": STRING, "question": STRING, "question_concept": STRING,
                             "choices": {"label": Sequence(STRING), "text": Sequence(STRING)},
                             "answerKey": STRING})
        return {"default": (features, {
            split: [{"id": f"csqa-{split}-{i}", "question": self.text(),
                     "question_concept": self.text(n=1),
                     "choices": {"label": list("ABCDE"), "text": [self.text(n=2) for _ in "ABCDE"]},
                     "answerKey": "" if split == "test" else "ABCDE"[i % 5]} for i in range(n)]
            for split, n in self.sizes("train", "validation", "test").items()})}

    # --- extractive QA -------------------------------------------------------------------

    def qa_row(self, lang: str, uid: str, *, title: bool, answers: int = 1) -> dict:
        """A context with answer spans at their true character offsets."""
        words = _words(self.rng, lang, self.rng.randint(6, 10))
        sep = "" if lang in ("zh", "ja") else " "
        context = sep.join(words)
        starts, texts = [], []
        for _ in range(answers):
            a = self.rng.randrange(len(words) - 1)
            b = self.rng.randint(a + 1, min(len(words), a + 3))
            starts.append(len(sep.join(words[:a])) + (len(sep) if a else 0))
            texts.append(sep.join(words[a:b]))
            assert context[starts[-1]:starts[-1] + len(texts[-1])] == texts[-1]
        row = {"id": uid, "context": context, "question": self.text(lang),
               "answers": {"text": texts, "answer_start": starts}}
        return {"id": uid, "title": self.text(lang, 2), **row} if title else row

    def squad(self, config: str, *, unanswerable: bool):
        features = Features({"id": STRING, "title": STRING, "context": STRING,
                             "question": STRING, "answers": ANSWERS})
        splits = {}
        for split, n in self.sizes("train", "validation").items():
            rows = []
            for i in range(n):
                row = self.qa_row("en", f"{config}-{split}-{i}", title=True,
                                  answers=1 if split == "train" else 2)
                if unanswerable and i % 3 == 2:  # SQuAD 2.0: no answer = empty lists
                    row["answers"] = {"text": [], "answer_start": []}
                rows.append(row)
            splits[split] = rows
        return {config: (features, splits)}

    def xquad(self, langs):
        features = Features({"id": STRING, "context": STRING, "question": STRING,
                             "answers": ANSWERS})
        return {f"xquad.{lang}": (features, {"validation": [
            self.qa_row(lang, f"xquad-{lang}-{i}", title=False) for i in range(self.n_eval)]})
            for lang in langs}

    def tydiqa(self, langs):
        features = Features({"id": STRING, "title": STRING, "context": STRING,
                             "question": STRING, "answers": ANSWERS})
        return {lang: (features, {split: [self.qa_row(lang, f"tydiqa-{lang}-{split}-{i}",
                                                      title=True) for i in range(n)]
                                  for split, n in self.sizes("train", "validation").items()})
                for lang in langs}

    # --- tagging and google/xtreme -------------------------------------------------------

    def xtreme(self, udpos_langs, mlqa_langs):
        """google/xtreme: udpos.<Language> (POS ids) and MLQA.<xx>.<xx> configurations."""
        udpos = Features({"tokens": Sequence(STRING),
                          "pos_tags": Sequence(ClassLabel(names=list(UPOS)))})
        mlqa = Features({"id": STRING, "title": STRING, "context": STRING, "question": STRING,
                         "answers": ANSWERS})
        out = {}
        for lang in udpos_langs:
            splits = ("train", "validation", "test") if lang == "en" else ("validation", "test")
            out[f"udpos.{UDPOS_LANGS[lang]}"] = (udpos, {
                split: [self.pos_row(lang) for _ in range(n)]
                for split, n in self.sizes(*splits).items()})
        for lang in mlqa_langs:
            out[f"MLQA.{lang}.{lang}"] = (mlqa, {split: [
                self.qa_row(lang, f"mlqa-{lang}-{split}-{i}", title=True)
                for i in range(self.n_eval)] for split in ("test", "validation")})
        return out

    def pos_row(self, lang: str) -> dict:
        tokens = _words(self.rng, lang, self.rng.randint(3, 7))
        return {"tokens": tokens, "pos_tags": [self.rng.randrange(len(UPOS)) for _ in tokens]}

    def ner_row(self, lang: str) -> dict:
        tokens = _words(self.rng, lang, self.rng.randint(3, 7))
        tags, spans = [0] * len(tokens), []
        start = self.rng.randrange(len(tokens))
        end = min(len(tokens), start + self.rng.randint(1, 2))
        kind = self.rng.choice(("PER", "ORG", "LOC"))
        tags[start:end] = [NER.index(f"B-{kind}")] + [NER.index(f"I-{kind}")] * (end - start - 1)
        spans.append(f"{kind}: {' '.join(tokens[start:end])}")
        return {"tokens": tokens, "ner_tags": tags, "langs": [lang] * len(tokens), "spans": spans}

    def wikiann(self, langs):
        features = Features({"tokens": Sequence(STRING),
                             "ner_tags": Sequence(ClassLabel(names=list(NER))),
                             "langs": Sequence(STRING), "spans": Sequence(STRING)})
        sizes = self.sizes("validation", "test", "train")
        return {lang: (features, {split: [self.ner_row(lang) for _ in range(n)]
                                  for split, n in sizes.items()}) for lang in langs}
