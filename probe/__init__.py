"""Model loading, per-layer sentence embeddings (cached), CKA and representation change."""
