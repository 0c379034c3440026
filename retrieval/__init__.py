"""Retrieval metrics over embeddings: exact/approximate k-NN, Tatoeba accuracy, BUCC F1.

Import from the modules (nothing is re-exported here, so that the function ``knn`` does
not shadow the module ``retrieval.knn``):

- ``retrieval.knn``: ``l2_normalize``, ``knn`` (exact; backend by measured capability),
  ``knn_both`` (exact, both directions: margin mining), ``choose_backend``, ``ann_knn``,
  ``recall_at_k`` (the last two live in ``retrieval.ann``)
- ``retrieval.knn_int8`` / ``retrieval.knn_mutual`` / ``retrieval.knn_scan`` /
  ``retrieval.knn_quant`` / ``retrieval.knn_torch``: the int8 and torch (GPU) backends
- ``retrieval.tatoeba``: ``tatoeba_accuracy``, ``tatoeba_hits``, ``flips``
- ``retrieval.margin``: ``mine_pairs_from_embeddings``, ``register_margin``,
  ``get_margin``, ``margin_names``
- ``retrieval.bucc``: ``fit_threshold``, ``bucc_f1``, ``evaluate_mining``,
  ``dedup_sentences``, ``candidates_to_ids``, ``mine_pairs``
"""
