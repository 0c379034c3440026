"""Retrieval metrics over embeddings: exact/approximate k-NN, Tatoeba accuracy, BUCC F1."""
