"""Frequency enhancement (FS-VAE contribution 1): boost low DCT bands, damp high ones.

The signal is taken to the DCT domain along one axis, its coefficients are cut
into ``n_bands`` equal bands, band ``i`` is multiplied by a gain ``g(i)`` and the
result goes back through the inverse DCT:

    low  band (its last coefficient index <= phi):  g(i) = 1 + k * w_i * (1 - i / b)
    high band (otherwise):                          g(i) = 1 - k * w_i * (1 - (i - b) / b)

``w_i`` (one per band, initialised to 1) and the global factor ``k`` (0.3) are
learned; ``b`` defaults to ``n_bands``. With 256 coefficients, 30 bands and
``phi = 30`` the gains at initialisation are 1.30, 1.29, 1.28 for bands 0-2
and 0.43 ... 0.69 for bands 3-29.

Two places to apply it (``FrequencyConfig.placement``):
- ``"feature"``: over the feature axis of the backbone's feature vector, first
  thing in each VAE encoder (the public code's choice);
- ``"temporal"``: over the time axis of the skeleton sequence (the paper's
  text), applied by the backbone to its input window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from fsvae_core.dct import dct, idct

Placement = Literal["feature", "temporal", "none"]


@dataclass(frozen=True)
class FrequencyConfig:
    """Settings of one :class:`FrequencyEnhancer`.

    ``phi`` is a coefficient index (a band is low when it ends at or before it);
    ``b`` is in band units and defaults to ``n_bands``; ``min_gain`` keeps every
    gain positive so that a large learned ``w_i`` can never flip or erase a band.
    """

    placement: Placement = "feature"
    n_bands: int = 30
    phi: int = 30
    k: float = 0.3
    b: float | None = None
    min_gain: float = 0.05

    def __post_init__(self) -> None:
        if self.placement not in ("feature", "temporal", "none"):
            raise ValueError(f"FrequencyConfig.placement must be 'feature', 'temporal' or 'none', got {self.placement!r}")
        if self.n_bands < 1:
            raise ValueError(f"FrequencyConfig.n_bands must be >= 1, got {self.n_bands}")
        if self.phi < 0:
            raise ValueError(f"FrequencyConfig.phi must be >= 0, got {self.phi}")
        if self.b is not None and self.b <= 0:
            raise ValueError(f"FrequencyConfig.b must be positive, got {self.b}")
        if not 0 < self.min_gain <= 1:
            raise ValueError(f"FrequencyConfig.min_gain must lie in (0, 1], got {self.min_gain}")

    @property
    def enabled(self) -> bool:
        return self.placement != "none"


class FrequencyEnhancer(nn.Module):
    """Learned per-band DCT gains along one axis of fixed length ``length``.

    ``forward(x, dim)`` accepts any shape whose ``dim`` axis has ``length``
    entries, e.g. a feature batch (N, C) with ``dim=-1`` or a skeleton window
    (N, C, T, V) with ``dim=2``, and returns the same shape.
    """

    def __init__(self, length: int, config: FrequencyConfig = FrequencyConfig()):
        super().__init__()
        if length < config.n_bands:
            raise ValueError(f"cannot cut {length} DCT coefficients into {config.n_bands} bands")
        self.length = length
        self.config = config
        self.w = nn.Parameter(torch.ones(config.n_bands))
        self.k = nn.Parameter(torch.tensor(float(config.k)))

        band_of_coefficient = torch.arange(length) * config.n_bands // length  # (length,)
        last_index_of_band = torch.tensor(
            [int((band_of_coefficient == i).nonzero().max()) for i in range(config.n_bands)]
        )
        self.register_buffer("band_of_coefficient", band_of_coefficient, persistent=False)
        self.register_buffer("is_low_band", last_index_of_band <= config.phi, persistent=False)

    def band_gains(self) -> torch.Tensor:
        """The gain ``g(i)`` of every band, shape (n_bands,), built out of place."""
        n_bands = self.config.n_bands
        b = float(self.config.b or n_bands)
        i = torch.arange(n_bands, dtype=self.w.dtype, device=self.w.device)
        strength = self.k * self.w
        low = 1 + strength * (1 - i / b)
        high = 1 - strength * (1 - (i - b) / b)
        return torch.where(self.is_low_band, low, high).clamp_min(self.config.min_gain)

    def coefficient_gains(self) -> torch.Tensor:
        """The gain applied to each DCT coefficient, shape (length,)."""
        return self.band_gains()[self.band_of_coefficient]

    def forward(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        if x.shape[dim] != self.length:
            raise ValueError(f"FrequencyEnhancer expects {self.length} entries on axis {dim}, got shape {tuple(x.shape)}")
        signal = torch.movedim(x, dim, -1)  # (..., L)
        coefficients = dct(signal) * self.coefficient_gains().to(signal.dtype)  # (..., L)
        return torch.movedim(idct(coefficients), -1, dim)

    @torch.no_grad()
    def filter_matrix(self) -> torch.Tensor:
        """The enhancer with its current gains as one (length, length) matrix A: ``forward(x) == x @ A``.

        The DCT, the gains and the inverse DCT are all linear, so rows of A are
        the filtered unit vectors. Used where an FFT cannot go (ONNX export).
        """
        return self(torch.eye(self.length, dtype=self.w.dtype, device=self.w.device))

    def extra_repr(self) -> str:
        return f"length={self.length}, n_bands={self.config.n_bands}, phi={self.config.phi}"
