"""One function per figure; every function reads result tables, never computes a metric."""
