"""Per-layer extraction speed and precision, against peers measured in the same run.

- ``encode_layers`` (all L + 1 layers, mean-pooled, one pass per batch) against
  sentence-transformers ``encode`` (last layer only, mean-pooled) built on the same model
  folder (``models.Transformer`` + ``models.Pooling(mean)``), on the same sentences, batch
  size, prefix and threads: fp32 vs fp32 and bf16 vs bf16.
- The matmul-bound limit: real tokens x (FLOP per token of the encoder's linear layers,
  42.5 MFLOP for e5-small) / the fp32 or bf16 matmul rate measured in the same run.
- Precision: the min cosine of each bf16 output to fp32, and Tatoeba-style top-1
  retrieval accuracy at every layer on real Debian pairs, bf16 vs fp32.
- The attention implementation (sdpa vs eager) and the token-budget default.

Every timed candidate runs once per round, rounds interleaved, so that load on a shared
machine hits all of them alike. Ratios use each candidate's best round (on a shared
2-core machine one busy neighbour stalls both threads of a run several-fold, so the
fastest round is the least disturbed); medians are printed beside them, with the CPU,
its flags and the load average. Sentences: the first 12 words of Debian package
description paragraphs (``xalign fetch debian`` caches them).

Usage: python bench/bench_encode.py [--quick] [--model e5-small] [--n 2000] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch

from probe.device import cpu_signature
from probe.embed import encode_layers
from probe.models import load_encoder

FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")


def twelve_word_sentences(n: int) -> list[str]:
    """n distinct 12-word sentences: the first 12 words of Debian description paragraphs."""
    from xalign.corpora.debian import load_english

    out, seen = [], set()
    for row in load_english():
        for paragraph in row["paragraphs"]:
            words = paragraph.split()
            text = " ".join(words[:12])
            if len(words) >= 12 and text not in seen:
                seen.add(text)
                out.append(text)
        if len(out) >= n:
            return out[:n]
    raise SystemExit(f"only {len(out)} 12-word sentences in the Debian cache; asked for {n}")


def parallel_pairs(lang: str, n: int) -> tuple[list[str], list[str]]:
    """n Debian short descriptions in ``lang`` and their English originals."""
    from xalign.corpora.spec import load_corpus

    corpus = load_corpus(f"debian:{lang}-en", limit=n, seed=0)
    return corpus.src_texts, corpus.tgt_texts


def flop_per_token(config) -> float:
    """FLOP of the linear layers per token: Q, K, V, O (4 h^2) and the FFN (2 h f)."""
    h, f = config.hidden_size, config.intermediate_size
    return 2.0 * config.num_hidden_layers * (4 * h * h + 2 * h * f)


def matmul_rate(config, dtype: torch.dtype, tokens: int = 4096, reps: int = 5) -> float:
    """FLOP/s of a (tokens, h) x (h, f) matmul (the encoder's FFN shape), best of ``reps``."""
    a = torch.randn(tokens, config.hidden_size).to(dtype)
    b = torch.randn(config.hidden_size, config.intermediate_size).to(dtype)
    a @ b
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2.0 * tokens * config.hidden_size * config.intermediate_size / best


def st_encoder(path, max_length: int, dtype: torch.dtype):
    """sentence-transformers on the same folder: Transformer + mean Pooling, ``dtype`` weights."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise SystemExit("the peer needs sentence-transformers: pip install -e '.[bench]'") from exc

    try:  # sentence-transformers >= 6 moved the modules
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:
        from sentence_transformers.models import Pooling, Transformer

    word = Transformer(str(path), max_seq_length=max_length, model_kwargs={"dtype": dtype})
    dim = getattr(word, "get_embedding_dimension", None) or word.get_word_embedding_dimension
    return SentenceTransformer(modules=[word, Pooling(dim(), pooling_mode="mean")],
                               device="cpu")


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def top1(src: np.ndarray, tgt: np.ndarray) -> float:
    """Tatoeba-style xx -> en accuracy: each source's nearest target (cosine) is its pair."""
    src = src / np.linalg.norm(src, axis=1, keepdims=True)
    tgt = tgt / np.linalg.norm(tgt, axis=1, keepdims=True)
    return float(np.mean((src @ tgt.T.copy()).argmax(axis=1) == np.arange(len(src))))


def run_rounds(candidates: dict, rounds: int) -> tuple[dict, dict]:
    """Per candidate: seconds of every interleaved round, and the outputs."""
    times = {name: [] for name in candidates}
    outputs = {name: [] for name in candidates}
    for fn in candidates.values():  # warm-up: kernels, page faults, calibration
        fn()
    for _ in range(rounds):
        for name, fn in candidates.items():
            start = time.perf_counter()
            result = fn()
            times[name].append(time.perf_counter() - start)
            if name.startswith("matmul"):
                outputs[name].append(result)  # rates: all rounds
            else:
                outputs[name] = [result]  # embeddings: only the latest (they are large)
    return times, outputs


def speed(args, enc, texts: list[str]) -> dict:
    """Time every candidate in interleaved rounds; ratios, limits and cosines."""
    model, tok = enc.model, enc.tokenizer
    prefixed = [enc.prefix + t for t in texts]
    tokens = int(sum(len(ids) for ids in tok(prefixed, truncation=True,
                                              max_length=args.max_length)["input_ids"]))
    times, outputs = run_rounds(candidates(args, enc, texts), args.rounds)
    best = {name: min(t) for name, t in times.items() if not name.startswith("matmul")}
    rate = {dt: max(outputs[f"matmul_{dt}"]) for dt in ("fp32", "bf16")}  # best, as above
    limit = {dt: tokens * flop_per_token(model.config) / rate[dt] for dt in rate}
    out = {name: values[-1] for name, values in outputs.items()}
    report = {
        "sentences": len(texts), "tokens": tokens, "batch_size": args.batch_size,
        "attn_implementation": model.config._attn_implementation,
        "sent_per_s_best": {k: round(len(texts) / v, 1) for k, v in best.items()},
        "sent_per_s_median": {k: round(len(texts) / float(np.median(times[k])), 1)
                              for k in best},
        "matmul_gflops": {dt: round(v / 1e9, 1) for dt, v in rate.items()},
        "matmul_bound_s": {dt: round(v, 2) for dt, v in limit.items()},
        "ours_all_layers_vs_st_last_layer": {
            dt: round(best[f"st_{dt}"] / best[f"ours_{dt}"], 2) for dt in ("fp32", "bf16")},
        "ours_fraction_of_matmul_bound": {
            dt: round(limit[dt] / best[f"ours_{dt}"], 2) for dt in ("fp32", "bf16")},
        "min_cosine_to_ours_fp32_last_layer": min_cosines(out, model.config.num_hidden_layers),
    }
    if "ours_fp32_eager" in best:
        report["sdpa_speedup_vs_eager_fp32"] = round(best["ours_fp32_eager"] /
                                                     best["ours_fp32"], 2)
    return report


def candidates(args, enc, texts: list[str]) -> dict:
    """name -> a function to time: ours and the peer in fp32 and bf16, matmul rates."""
    model, tok, prefix = enc.model, enc.tokenizer, enc.prefix
    prefixed = [prefix + t for t in texts]
    st = {"fp32": st_encoder(enc.path, args.max_length, torch.float32),
          "bf16": st_encoder(enc.path, args.max_length, torch.bfloat16)}

    def ours(dtype, **kw):
        return lambda: encode_layers(model, tok, texts, prefix=prefix, dtype=dtype,
                                     max_length=args.max_length, **kw)

    def peer(dtype, autocast=False):
        def encode():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                return st[dtype].encode(prefixed, batch_size=args.batch_size,
                                        convert_to_numpy=True)
        return encode

    found = {
        "ours_fp32": ours("fp32", batch_size=args.batch_size),
        "st_fp32": peer("fp32"),
        "ours_bf16": ours("bf16", batch_size=args.batch_size),
        "st_bf16": peer("bf16"),  # bf16 weights, as sentence-transformers documents
        "ours_bf16_defaults": ours("bf16"),  # default token budget and sentence cap
        "matmul_fp32": lambda: matmul_rate(model.config, torch.float32),
        "matmul_bf16": lambda: matmul_rate(model.config, torch.bfloat16),
    }
    if not args.quick:
        found["ours_fp32_defaults"] = ours("fp32")
        found["st_bf16_autocast"] = peer("fp32", autocast=True)
        found["ours_fp32_eager"] = _eager(model, ours("fp32", batch_size=args.batch_size))
    return found


def min_cosines(out: dict, last: int) -> dict:
    ref = out["ours_fp32"][last]
    found = {name: round(float(cosines(out[name], ref).min()), 5)
             for name in ("st_fp32", "st_bf16", "st_bf16_autocast") if name in out}
    found["ours_bf16"] = round(float(cosines(out["ours_bf16"][last], ref).min()), 5)
    found["ours_bf16_all_layers"] = round(float(min(
        cosines(b, a).min() for a, b in zip(out["ours_fp32"], out["ours_bf16"], strict=True))),
        5)
    return found


def _eager(model, fn):
    """Run ``fn`` with eager attention, restoring the model's implementation after."""
    def run():
        before = model.config._attn_implementation
        model.set_attn_implementation("eager")
        try:
            return fn()
        finally:
            model.set_attn_implementation(before)

    return run


def precision(args, enc) -> dict:
    """Top-1 xx -> en retrieval per layer in fp32 and bf16; the largest gap in points."""
    result = {}
    for lang in args.langs:
        src, tgt = parallel_pairs(lang, args.pairs)
        acc = {}
        for dtype in ("fp32", "bf16"):
            s, t = (encode_layers(enc.model, enc.tokenizer, x, prefix=enc.prefix, dtype=dtype,
                                  max_length=args.max_length) for x in (src, tgt))
            acc[dtype] = [top1(s[i], t[i]) for i in range(s.shape[0])]
        gaps = 100 * np.abs(np.subtract(acc["bf16"], acc["fp32"]))
        result[f"{lang}-en"] = {
            "pairs": len(src), "fp32_last": round(acc["fp32"][-1], 4),
            "bf16_last": round(acc["bf16"][-1], 4),
            "max_gap_points": round(float(gaps.max()), 2),
            "at_layer": int(gaps.argmax())}
    return result


def machine(threads: int) -> dict:
    sig = json.loads(cpu_signature())
    flags = set(sig.get("flags", "").split())
    return {"cpu": sig.get("model name", platform.processor()),
            "family/model": f"{sig.get('cpu family')}/{sig.get('model')}",
            "flags": [f for f in FLAGS if f in flags], "cores": os.cpu_count(),
            "threads": threads, "torch": torch.__version__,
            "loadavg_1m_start": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="about a minute: 300 sentences, "
                        "3 rounds, 200 pairs of one language")
    parser.add_argument("--model", default="e5-small")
    parser.add_argument("--n", type=int, default=2000, help="sentences timed")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pairs", type=int, default=1000, help="pairs per language (precision)")
    parser.add_argument("--langs", nargs="+", default=["de", "fr"])
    args = parser.parse_args()
    if args.quick:
        args.n, args.rounds, args.pairs, args.langs = 300, 3, 200, ["de"]
    torch.set_num_threads(args.threads)
    report = {"machine": machine(args.threads), "model": args.model}
    enc = load_encoder(args.model, device="cpu")
    report["speed"] = speed(args, enc, twelve_word_sentences(args.n))
    report["precision_retrieval_top1"] = precision(args, enc)
    report["machine"]["loadavg_1m_end"] = round(os.getloadavg()[0], 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
