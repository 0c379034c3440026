"""The nine English intermediate tasks of Phang et al. (2020), arXiv 2005.13013.

Hub ids, configurations, columns and label orders follow the datasets' cards. A
``revision`` is pinned where a commit was found; ``None`` means the latest revision, and
``refs/convert/parquet`` is the hub's own parquet export of a script-based dataset
(datasets >= 4 no longer runs loading scripts). ``train_size`` is the English train split's
size from the dataset files on the hub (for planning only): ANLI+ = ANLI r1-r3 162,865 +
MNLI 392,702 + SNLI 549,367 (550,152 minus the rows without a gold label) + FEVER-NLI
208,346; CCG = CCGbank sections 02-21, 39,604 sentences (the common count, not checked
against LDC's release here).
"""

from __future__ import annotations

from finetune.tasks import ConcatSource, HubSource, LocalSource, Task, register_task

PHANG_2020 = (
    "Phang et al. 2020, English intermediate-task training improves zero-shot "
    "cross-lingual transfer too (AACL)"
)
NLI_LABELS = ("entailment", "neutral", "contradiction")  # 0, 1, 2 in every source below
NLI_FIELDS = {"text_a": "premise", "text_b": "hypothesis", "label": "label"}

MNLI = HubSource(
    "nyu-mll/glue", "mnli",
    # GLUE test labels are hidden: our "test" is the mismatched validation set.
    splits={"train": "train", "validation": "validation_matched",
            "test": "validation_mismatched"},
)
ANLI = HubSource(
    "facebook/anli",
    splits={"train": "train_r1+train_r2+train_r3", "validation": "dev_r1+dev_r2+dev_r3",
            "test": "test_r1+test_r2+test_r3"},
)
SNLI = HubSource("stanfordnlp/snli")  # label -1 (no gold) rows are dropped at loading
FEVER_NLI = HubSource(
    "pietrolesci/nli_fever", revision="1eddac63112eee1fdf1966e0bca27a5ff248c772",
    splits={"train": "train", "validation": "dev"},  # test has no labels
)

INTERMEDIATE_TASKS = (
    Task("anli-plus", "pair", ConcatSource((ANLI, MNLI, SNLI, FEVER_NLI)), NLI_LABELS,
         NLI_FIELDS, ("en",), "accuracy", "intermediate",
         "ANLI+ = ANLI rounds 1-3 + MNLI + SNLI + FEVER-NLI, concatenated", PHANG_2020,
         train_size=1_313_280),
    Task("mnli", "pair", MNLI, NLI_LABELS, NLI_FIELDS, ("en",), "accuracy", "intermediate",
         "MultiNLI (GLUE)", "Williams et al. 2018", train_size=392_702),
    Task("qqp", "pair", HubSource("nyu-mll/glue", "qqp", splits={"train": "train",
         "validation": "validation"}), ("not_duplicate", "duplicate"),
         {"text_a": "question1", "text_b": "question2", "label": "label", "id": "idx"},
         ("en",), "accuracy", "intermediate", "Quora Question Pairs (GLUE)", "GLUE",
         train_size=363_846),
    Task("sst2", "single", HubSource("nyu-mll/glue", "sst2", splits={"train": "train",
         "validation": "validation"}), ("negative", "positive"),
         {"text": "sentence", "label": "label", "id": "idx"}, ("en",), "accuracy",
         "intermediate", "Stanford Sentiment Treebank, binary (GLUE)", "Socher et al. 2013",
         train_size=67_349),
    Task("squad-v2", "qa", HubSource("rajpurkar/squad_v2", splits={"train": "train",
         "validation": "validation"}), None,
         {"context": "context", "question": "question", "answers": "answers", "id": "id"},
         ("en",), "squad", "intermediate",
         "SQuAD 2.0 (with unanswerable questions), the version Phang et al. 2020 used",
         "Rajpurkar et al. 2018", train_size=130_319),
    Task("hellaswag", "multiple_choice", HubSource("Rowan/hellaswag", splits={
         "train": "train", "validation": "validation"}), None,
         {"context": "ctx", "choices": "endings", "label": "label", "id": "ind"},
         ("en",), "accuracy", "intermediate", "HellaSwag sentence completion, 4 endings",
         "Zellers et al. 2019", train_size=39_905),
    Task("cosmosqa", "multiple_choice", HubSource("allenai/cosmos_qa",
         revision="refs/convert/parquet", splits={"train": "train",
         "validation": "validation"}), None,
         {"context": "context+question", "choices": "answer0,answer1,answer2,answer3",
          "label": "label", "id": "id"},
         ("en",), "accuracy", "intermediate", "Cosmos QA commonsense reading comprehension",
         "Huang et al. 2019", train_size=25_262),
    Task("commonsenseqa", "multiple_choice", HubSource("tau/commonsense_qa", splits={
         "train": "train", "validation": "validation"}), None,
         # answerKey is a letter A-E; choices.label is always A..E in order.
         {"context": "question", "choices": "choices.text", "label": "answerKey",
          "id": "id"},
         ("en",), "accuracy", "intermediate", "CommonsenseQA, 5 choices",
         "Talmor et al. 2019", train_size=9_741),
    Task("ccg", "tagging", LocalSource(None), None,
         {"tokens": "tokens", "tags": "tags"}, ("en",), "accuracy", "intermediate",
         "CCGbank supertagging (LDC2005T13, not on the hub): a local-layout folder with "
         "train/validation/test.en.jsonl of {id, tokens, tags} and meta.json listing the "
         "supertags in label order; scored by token accuracy", "Hockenmaier & Steedman 2007",
         train_size=39_604),
)

for _task in INTERMEDIATE_TASKS:
    register_task(_task)
