"""Fine-tuning examples/s and dev accuracy: xalign ``train`` vs a default Hugging Face ``Trainer``.

Task debian-section (3000 English Debian package descriptions -> 8 sections; dev = 500),
from the folder ``xalign fetch`` builds in ``~/.cache/xalign/debian-tasks/``; model
e5-small (``probe.e5_small``, 12 layers, 384 dims, 250k-token vocabulary). Both sides
start from the same weights (encoder + the same seeded head) and run the same number of
optimizer steps with the ``Trainer``'s default hyper-parameters (batch 8, AdamW lr 5e-5,
linear decay, no warm-up, no weight decay, clipping 1.0, fp32). The ``Trainer`` keeps
every default (only output, logging and saving are switched off); the xalign variants
differ only in speed settings: bf16 autocast, frozen word embeddings, length-grouped
batches.

examples/s is the steady state: time from the end of step ``WARMUP_STEPS`` to the end of
the last step (HF: a ``TrainerCallback``; xalign: an ``eval_fn`` called after every step),
so model loading, the first slow steps and the final save are not counted; ``wall_s`` is
the whole call. Each rate is given per wall second (``ex_per_s``, what a quiet machine
shows) and per CPU second of this process (``ex_per_cpu_s``), which other jobs' load
hardly moves when the run has one thread (``--threads 1``; with more threads, OpenMP
spin-waiting under contention inflates CPU time). The fastest variant is picked by the
CPU rate. Phase 1 times every variant on a short run, interleaved and repeated (the
order reversed on each repeat); phase 2 trains the ``Trainer`` and the fastest xalign
variant for ``--steps`` steps and scores both on the dev set.

Usage: python bench/bench_train.py [--quick] [--steps 375] [--speed-steps 30]
       [--repeats 2] [--threads 2] [--variants fp32 bf16 ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from finetune.data import load_examples
from finetune.evaluate import predict
from finetune.features import Collator, featurize
from finetune.heads import build_model
from finetune.tasks import get_task
from finetune.trainer import TrainConfig, train

TASK_DIR = Path.home() / ".cache" / "xalign" / "debian-tasks" / "debian-section"
WARMUP_STEPS = 3
SEED = 0
HF_DEFAULTS = {"batch_size": 8, "learning_rate": 5e-5, "warmup_ratio": 0.0,
               "weight_decay": 0.0, "max_grad_norm": 1.0}
VARIANTS = {  # xalign speed settings on top of HF_DEFAULTS
    "fp32": {"length_grouped": False},
    "grouped": {"length_grouped": True},
    "bf16": {"mixed_precision": "bf16", "length_grouped": False},
    "frozen-emb": {"freeze_embeddings": True, "length_grouped": False},
    "bf16+frozen": {"mixed_precision": "bf16", "freeze_embeddings": True,
                    "length_grouped": False},
    "bf16+frozen+grouped": {"mixed_precision": "bf16", "freeze_embeddings": True,
                            "length_grouped": True},
}


@dataclass
class Data:
    model_dir: Path
    tokenizer: object
    task: object
    train: list[dict]  # features
    dev: list[dict]


def load_data(dev_limit: int | None) -> Data:
    from transformers import AutoTokenizer

    import xalign.tasks  # noqa: F401  (registers the Debian tasks)
    from probe.e5_small import prepare_e5_small

    if not (TASK_DIR / "train.jsonl").is_file():
        raise FileNotFoundError(f"{TASK_DIR}: no debian-section task; run `xalign fetch` first")
    model_dir = prepare_e5_small()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    task = get_task("debian-section").with_path(TASK_DIR)
    train_ex = load_examples(task, "train")
    dev_ex = load_examples(task, "validation", limit=dev_limit, seed=SEED)
    return Data(model_dir, tokenizer, task, featurize(task, train_ex, tokenizer),
                featurize(task, dev_ex, tokenizer))


def fresh_model(data: Data):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)  # the same head for every run
        return build_model(data.model_dir, data.task)


def stamp() -> tuple[float, float]:
    """(wall clock, CPU time of this process): CPU time barely moves with other jobs' load."""
    return time.perf_counter(), time.process_time()


def steady_rate(stamps: list[tuple[float, float]], batch_size: int) -> dict:
    """Examples per wall second and per CPU second after step WARMUP_STEPS."""
    n = (len(stamps) - WARMUP_STEPS) * batch_size
    (wall0, cpu0), (wall1, cpu1) = stamps[WARMUP_STEPS - 1], stamps[-1]
    return {"ex_per_s": n / (wall1 - wall0), "ex_per_cpu_s": n / (cpu1 - cpu0)}


def run_xalign(data: Data, options: dict, steps: int):
    model = fresh_model(data)
    config = TrainConfig(max_steps=steps, eval_every=1, seed=SEED, **HF_DEFAULTS, **options)
    stamps: list[tuple[float, float]] = []

    def tick(_model) -> dict:
        stamps.append(stamp())
        return {}

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train(model, data.train, Collator(data.tokenizer, "single"), config, out, eval_fn=tick)
        wall = time.perf_counter() - start
    return model, steady_rate(stamps, config.batch_size), wall


def run_hf(data: Data, steps: int):
    from transformers import Trainer, TrainerCallback, TrainingArguments

    stamps: list[tuple[float, float]] = []

    class Stamps(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            stamps.append(stamp())

    model = fresh_model(data)
    rows = [{k: f[k] for k in ("input_ids", "attention_mask", "labels")} for f in data.train]
    with tempfile.TemporaryDirectory() as out:
        args = TrainingArguments(output_dir=out, max_steps=steps, report_to="none",
                                 save_strategy="no", logging_strategy="no", disable_tqdm=True)
        trainer = Trainer(model=model, args=args, train_dataset=rows,
                          processing_class=data.tokenizer, callbacks=[Stamps()])
        start = time.perf_counter()
        trainer.train()
        wall = time.perf_counter() - start
    return model, steady_rate(stamps, args.per_device_train_batch_size), wall


def dev_accuracy(model, data: Data) -> float:
    logits = predict(model, data.dev, Collator(data.tokenizer, "single"))
    return float(np.mean(logits.argmax(-1) == np.array([f["labels"] for f in data.dev])))


def run(data: Data, name: str, steps: int):
    if name == "hf-trainer":
        return run_hf(data, steps)
    return run_xalign(data, VARIANTS[name], steps)


def _rounded(row: dict) -> dict:
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}


def speed_phase(data: Data, names: list[str], steps: int, repeats: int) -> dict[str, dict]:
    """Median examples per wall / CPU second per variant over interleaved short runs."""
    rates: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else names[::-1]:
            _, rate, wall = run(data, name, steps)
            rates[name].append(rate)
            print(json.dumps(_rounded({"phase": "speed", "run": name, "repeat": r,
                                       "steps": steps, **rate, "wall_s": wall})), flush=True)
    return {n: {k: float(np.median([r[k] for r in v])) for k in v[0]} for n, v in rates.items()}


def accuracy_phase(data: Data, best: str, steps: int) -> dict[str, dict]:
    """Train the Trainer and ``best`` for ``steps`` steps; rates and dev accuracy."""
    out = {}
    for name in ("hf-trainer", best):
        model, rate, wall = run(data, name, steps)
        out[name] = {**rate, "dev_accuracy": dev_accuracy(model, data)}
        print(json.dumps(_rounded({"phase": "accuracy", "run": name, "steps": steps,
                                   **out[name], "wall_s": wall})), flush=True)
    return out


def ratios(rates: dict[str, dict]) -> dict[str, dict]:
    """Each xalign variant's examples/s (wall and CPU) divided by the Trainer's."""
    hf = rates["hf-trainer"]
    return {n: {k: round(r[k] / hf[k], 2) for k in ("ex_per_s", "ex_per_cpu_s")}
            for n, r in rates.items() if n != "hf-trainer"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="~1 min: only HF vs bf16+frozen+grouped, 10 steps, 100 dev")
    parser.add_argument("--steps", type=int, default=375, help="accuracy runs (375 = 1 epoch)")
    parser.add_argument("--speed-steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    if args.quick:
        args.variants, args.steps, args.repeats = ["bf16+frozen+grouped"], 10, 1
    data = load_data(dev_limit=100 if args.quick else None)
    if args.quick:
        rates = {}
    else:
        rates = speed_phase(data, ["hf-trainer", *args.variants], args.speed_steps,
                            args.repeats)
    # CPU time is the robust yardstick on a shared machine (see the module docstring)
    best = max(args.variants, key=lambda n: rates[n]["ex_per_cpu_s"] if rates else 0.0)
    final = accuracy_phase(data, best, args.steps)
    hf, ours = final["hf-trainer"], final[best]
    summary = {
        "threads": args.threads, "steps": args.steps, "dev_n": len(data.dev),
        "speed_phase_ratio_vs_hf": ratios(rates) if rates else None,
        "fastest_xalign": best, "accuracy_phase_ratio_vs_hf": ratios(final)[best],
        "hf_dev_accuracy": hf["dev_accuracy"], "xalign_dev_accuracy": ours["dev_accuracy"],
        "accuracy_gap_points": 100 * (ours["dev_accuracy"] - hf["dev_accuracy"]),
    }
    print(json.dumps(_rounded(summary)), flush=True)


if __name__ == "__main__":
    main()
