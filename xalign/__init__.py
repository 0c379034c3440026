"""xalign: layer-wise cross-lingual alignment probing across fine-tuning phases."""

__version__ = "0.1.0"
