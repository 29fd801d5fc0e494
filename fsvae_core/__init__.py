"""FS-VAE: frequency-semantic enhanced VAEs for zero-shot skeleton action recognition."""

__version__ = "0.1.0"
