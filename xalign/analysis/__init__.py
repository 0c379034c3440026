"""Statistics over a run's tidy tables: condition contrasts and change vs accuracy.

Entry point for the pipeline: :func:`xalign.pipeline.analysis.analyse`. The estimators
are in :mod:`xalign.stats`; docs/statistics.md describes every table and choice.
"""
