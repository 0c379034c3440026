"""The probing units: alignment of a checkpoint, CKA against phase 0, CKA between conditions.

Each is keyed by the content fingerprints of the weights it reads (never their paths) and
by the probing data and settings, and calls :mod:`xalign.probing`, the code the standalone
commands run too.
"""

from __future__ import annotations

from pathlib import Path

from xalign.config import to_dict
from xalign.plan import Unit
from xalign.probing import cka_grid, corpora_rows, embedder, grid_rows, similarity_values


def probe(ctx, unit: Unit) -> dict:
    """Tatoeba accuracy, en-xx similarity and BUCC F1 of one checkpoint at every layer."""
    encoder = _encoder(ctx, unit, unit.deps[0] if unit.deps else None)
    config = ctx.config
    inputs = {"kind": unit.kind, "fingerprint": encoder.fingerprint, "prefix": encoder.prefix,
              "corpora": ctx.corpora.stamp(), "probe": _probe_settings(ctx, encoder),
              "retrieval": to_dict(config.retrieval)}

    def work(folder: Path) -> dict:
        embed = embedder(encoder, config.probe, progress=True)
        hits: dict = {}
        rows = corpora_rows(embed, ctx.corpora.aligned, ctx.corpora.mining,
                            probe=config.probe, retrieval=config.retrieval, hits=hits)
        return {"rows": rows, "hits": hits}

    return ctx.units.run(unit.name, inputs, work, shared=False)


def phase_cka(ctx, unit: Unit) -> dict:
    """Layer x layer CKA between the pretrained model and this checkpoint (English)."""
    base, encoder = _encoder(ctx, unit, None), _encoder(ctx, unit, unit.deps[-1])
    texts = ctx.corpora.english_sentences(ctx.config.data.grid_sentences)
    inputs = _pair_inputs(ctx, unit, base, encoder, texts)

    def work(folder: Path) -> dict:
        probe = ctx.config.probe
        a, b = embedder(base, probe)(texts), embedder(encoder, probe)(texts)
        values = similarity_values(a, b, probe, "_vs_phase0")
        return {"measures": {m: v.tolist() for m, v in values.items()},
                "rows": grid_rows(cka_grid(a, b, probe.cka_kind), "en")}

    return ctx.units.run(unit.name, inputs, work, shared=False)


def condition_cka(ctx, unit: Unit) -> list[dict]:
    """Same-layer CKA between two conditions' checkpoints of one seed and phase (English)."""
    enc_a, enc_b = (_encoder(ctx, unit, dep) for dep in unit.deps)
    texts = ctx.corpora.english_sentences(ctx.config.data.grid_sentences)
    inputs = _pair_inputs(ctx, unit, enc_a, enc_b, texts)

    def work(folder: Path) -> list[dict]:
        probe = ctx.config.probe
        values = similarity_values(embedder(enc_a, probe)(texts), embedder(enc_b, probe)(texts),
                                   probe, "")
        return [{"language": "en", "layer": layer, "metric": metric, "value": float(v)}
                for metric, per_layer in values.items() for layer, v in enumerate(per_layer)]

    return ctx.units.run(unit.name, inputs, work, shared=False)


def _encoder(ctx, unit: Unit, producer: str | None):
    """The encoder a unit reads: the pretrained model or a producer unit's checkpoint."""
    if producer is None:
        return ctx.encoder(unit.model)
    return ctx.encoder(ctx.checkpoint(producer, unit.model), unit.model)


def _pair_inputs(ctx, unit: Unit, enc_a, enc_b, texts) -> dict:
    from probe.cache import texts_digest

    return {"kind": unit.kind, "a": enc_a.fingerprint, "b": enc_b.fingerprint,
            "texts": texts_digest(texts), "probe": _probe_settings(ctx, enc_a)}


def _probe_settings(ctx, encoder) -> dict:
    """The probe settings with the dtype resolved for this machine: a record made in bf16
    is not reused where ``auto`` now means fp32 (the embedding cache keys the same way)."""
    import torch

    from probe.device import resolve_dtype

    probe, config = ctx.config.probe, encoder.config
    dtype = resolve_dtype(probe.dtype, torch.device(encoder.device), config.hidden_size,
                          getattr(config, "intermediate_size", 4 * config.hidden_size))
    # batch sizes, threads and the device do not change the numbers (the cache keys the
    # same way): a new batch size must not rerun the units
    settings = {k: v for k, v in to_dict(probe).items()
                if k not in ("batch_size", "batch_tokens", "threads", "device")}
    return {**settings, "dtype": dtype}
