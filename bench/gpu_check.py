"""A short GPU check: extraction, search, CKA and training on a real-shaped model.

On one GPU in a few minutes: builds a randomly initialised XLM-R of the real shape (large
by default: 24 layers, 1024 wide, 250,002-token vocabulary; the weights do not matter for
speed or for agreement between devices) and a Unigram tokenizer trained here, then

1. extraction: ``encode_layers`` of every layer on the GPU in bf16 and fp32, sentences/s
   and peak memory, against the CPU path in fp32 on a subset (min cosine per layer);
2. search: exact top-4 ``knn`` (torch backend on the GPU) against the CPU path (FAISS) on
   the same embeddings: identical ids except among tied scores;
3. CKA: the 25 x 25 grid of two checkpoints on the GPU's embeddings (numpy float64: the
   same code on every machine), seconds;
4. training: 50 steps of the xalign trainer (bf16 autocast) with a fresh classification
   head, steps/s and peak memory; the first step's loss is compared with the CPU's.

Prints every figure and exits 1 on any mismatch with the CPU path. ``--small`` runs a
2-layer model on any device (a smoke test of the script itself on a CPU-only machine).

Usage: python bench/gpu_check.py [--small] [--device cuda] [--sentences 4096]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

SHAPES = {"large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
                        intermediate_size=4096),
          "small": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=128)}
WORDS = ("library tool parser daemon game driver font editor server client archive shell "
         "network music image document Bibliothek outil paquet сервер 图书馆 ライブラリ").split()


def build(folder: Path, shape: str):
    """A random XLM-R of ``shape`` and a tokenizer trained here, saved like a checkpoint."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers
    from tokenizers.processors import TemplateProcessing
    from transformers import XLMRobertaConfig, XLMRobertaModel, XLMRobertaTokenizer

    rng = np.random.default_rng(0)
    corpus = [" ".join(rng.choice(WORDS, 12)) for _ in range(2000)]
    tok = Tokenizer(models.Unigram())
    tok.normalizer, tok.pre_tokenizer = normalizers.NFKC(), pre_tokenizers.Metaspace()
    tok.train_from_iterator(corpus, trainers.UnigramTrainer(
        vocab_size=200, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>"))
    tok.add_special_tokens(["<mask>"])
    tok.post_processor = TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                            special_tokens=[("<s>", 0), ("</s>", 2)])
    tokenizer = XLMRobertaTokenizer(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                    sep_token="</s>", cls_token="<s>", unk_token="<unk>",
                                    pad_token="<pad>", mask_token="<mask>")
    vocab = 250_002 if shape == "large" else len(tokenizer)
    torch.manual_seed(0)
    config = XLMRobertaConfig(vocab_size=vocab, max_position_embeddings=514, pad_token_id=1,
                              bos_token_id=0, eos_token_id=2, **SHAPES[shape])
    XLMRobertaModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return corpus


def peak_gb(device: str) -> float:
    return torch.cuda.max_memory_allocated() / 2**30 if device.startswith("cuda") else 0.0


def check_extraction(folder, texts, device, n_cpu, failures) -> dict:
    from probe.embed import encode_layers
    from probe.models import load_encoder

    gpu = load_encoder(str(folder), device=device, prefix="")
    stacks = {}
    for dtype in ("bf16", "fp32"):
        if device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        stacks[dtype] = encode_layers(gpu.model, gpu.tokenizer, texts, dtype=dtype,
                                      max_length=128)
        seconds = time.perf_counter() - start
        print(f"extraction {dtype} on {device}: {len(texts) / seconds:,.0f} sentences/s, "
              f"{stacks[dtype].shape[0]} layers, peak {peak_gb(device):.2f} GiB")
    cpu = load_encoder(str(folder), device="cpu", prefix="")
    ref = encode_layers(cpu.model, cpu.tokenizer, texts[:n_cpu], dtype="fp32", max_length=128)
    for dtype, worst_allowed in (("fp32", 0.9999), ("bf16", 0.99)):
        got = stacks[dtype][:, :n_cpu]
        cos = np.sum(got * ref, -1) / (np.linalg.norm(got, axis=-1) *
                                        np.linalg.norm(ref, axis=-1) + 1e-12)
        worst = float(cos.min())
        print(f"extraction {dtype} vs CPU fp32: min cosine {worst:.5f} over {n_cpu} sentences")
        if worst < worst_allowed:
            failures.append(f"extraction {dtype}: min cosine {worst:.5f} < {worst_allowed}")
    return stacks


def check_search(stack: np.ndarray, device: str, failures) -> None:
    from retrieval.knn import knn, l2_normalize

    x = l2_normalize(stack[-1].astype(np.float32))
    half = len(x) // 2
    start = time.perf_counter()
    s_gpu, i_gpu = knn(x[:half], x[half:], 4, backend="torch", device=device)
    seconds = time.perf_counter() - start
    s_cpu, i_cpu = knn(x[:half], x[half:], 4, backend="faiss")
    differ = (i_gpu != i_cpu).any(axis=1)
    # a differing id is fine only where the scores tie (within float32 rounding)
    tied = np.abs(s_gpu - s_cpu).max(axis=1) < 1e-5
    bad = int((differ & ~tied).sum())
    print(f"search top-4 {half} x {len(x) - half} on {device}: {seconds:.2f} s; ids differ "
          f"from FAISS (CPU) for {int(differ.sum())} queries, {bad} not explained by ties")
    if bad:
        failures.append(f"search: {bad} queries with other neighbours than the CPU path")


def check_cka(stack: np.ndarray) -> None:
    from probe.cka import cka_matrix

    start = time.perf_counter()
    grid = cka_matrix(stack, stack[::-1], kind="linear")
    print(f"CKA grid {grid.shape[0]} x {grid.shape[1]} at n = {stack.shape[1]}: "
          f"{time.perf_counter() - start:.2f} s")


def check_training(folder, corpus, device, failures, steps: int = 50) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from finetune.features import Collator
    from finetune.trainer import TrainConfig, train

    tokenizer = AutoTokenizer.from_pretrained(folder)
    enc = tokenizer(corpus[:512], truncation=True, max_length=64)
    features = [{"input_ids": ids, "attention_mask": mask, "labels": i % 3,
                 "example_index": i} for i, (ids, mask) in
                enumerate(zip(enc["input_ids"], enc["attention_mask"], strict=True))]
    losses = {}
    for name, where, n_steps in (("check", device, steps), ("reference", "cpu", 1)):
        torch.manual_seed(0)
        model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3)
        config = TrainConfig(max_steps=n_steps, batch_size=32, learning_rate=1e-5,
                             mixed_precision="bf16" if name == "check" else "no",
                             warmup_ratio=0.0)
        if where.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        result = _train_on(where, model, features, Collator(tokenizer, "single"), config,
                           train)
        seconds = time.perf_counter() - start
        losses[name] = result.history[0]["loss"]
        if name == "check":
            print(f"training {n_steps} steps on {device} (bf16): {n_steps / seconds:.2f} "
                  f"steps/s, peak {peak_gb(device):.2f} GiB")
    gap = abs(losses["check"] - losses["reference"])
    print(f"first-step loss: {device} bf16 {losses['check']:.4f}, CPU fp32 "
          f"{losses['reference']:.4f}")
    if gap > 0.05 * max(1.0, abs(losses["reference"])):
        failures.append(f"training: first-step loss differs by {gap:.4f} from the CPU path")


def _train_on(device, model, features, collator, config, train):
    """The trainer picks CUDA when it sees one; hide it for the CPU reference."""
    import finetune.distributed as dist

    real = dist.setup
    if device == "cpu":
        dist.setup = lambda: dist.DistContext(device=torch.device("cpu"))
    try:
        with tempfile.TemporaryDirectory() as out:
            return train(model, features, collator, config, out)
    finally:
        dist.setup = real


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="2-layer model, any device")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sentences", type=int, default=4096)
    parser.add_argument("--cpu-sentences", type=int, default=256)
    args = parser.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    shape = "small" if args.small else "large"
    if not args.small and not args.device.startswith("cuda"):
        print("no CUDA GPU: run with --small for a smoke test on the CPU", file=sys.stderr)
        return 2
    print(f"device {args.device}: {torch.cuda.get_device_name() if args.device != 'cpu' else 'CPU'}"
          f"; torch {torch.__version__}; model XLM-R {shape} shape (random weights)")
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = build(Path(tmp), shape)
        texts = corpus[: args.sentences]
        stacks = check_extraction(tmp, texts, args.device, args.cpu_sentences, failures)
        check_search(stacks["fp32"], args.device, failures)
        check_cka(stacks["fp32"][:, :2000])
        check_training(tmp, corpus, args.device, failures)
    for failure in failures:
        print(f"MISMATCH {failure}")
    print("gpu_check: " + ("FAILED" if failures else "all checks agree with the CPU path"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
