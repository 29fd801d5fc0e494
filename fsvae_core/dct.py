"""The orthonormal DCT-II and its exact inverse along any axis, computed with one FFT.

``X_k = s_k * sum_n x_n cos(pi * (2n + 1) * k / (2N))`` with ``s_0 = sqrt(1/N)``
and ``s_k = sqrt(2/N)``, the convention of ``scipy.fft.dct(norm="ortho")``.
The transform is orthonormal, so the inverse (the DCT-III) is its transpose.

Both directions reorder the signal so that a single length-N FFT does the work
(Makhoul, 1980): O(N log N) instead of the O(N^2) of a matrix product, which
matters for the 1152-d text vectors that pass through the frequency module at
every training step.
"""

from __future__ import annotations

import math

import torch


def dct_matrix(n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """The (n, n) matrix ``D`` with ``dct(x) = x @ D.T``: the definition, for reference and tests."""
    if n < 1:
        raise ValueError(f"DCT length must be at least 1, got {n}")
    k = torch.arange(n, dtype=torch.float64).unsqueeze(1)
    j = torch.arange(n, dtype=torch.float64).unsqueeze(0)
    matrix = torch.cos(math.pi * (2 * j + 1) * k / (2 * n)) * math.sqrt(2.0 / n)
    matrix[0] /= math.sqrt(2.0)
    return matrix.to(dtype)


def _twiddle(n: int, like: torch.Tensor) -> torch.Tensor:
    """exp(-i pi k / (2n)) times the orthonormal scale s_k, for k = 0..n-1."""
    k = torch.arange(n, device=like.device, dtype=torch.float64)
    scale = torch.full((n,), math.sqrt(2.0 / n), dtype=torch.float64, device=like.device)
    scale[0] = math.sqrt(1.0 / n)
    return (torch.polar(scale, -math.pi * k / (2 * n))).to(torch.complex64 if like.dtype != torch.float64 else torch.complex128)


def dct(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Orthonormal DCT-II of ``x`` along ``dim`` (any shape; same shape and dtype out)."""
    signal = torch.movedim(x, dim, -1)
    compute = signal if signal.dtype in (torch.float32, torch.float64) else signal.float()
    n = compute.shape[-1]
    # Even samples in order, then odd samples reversed: the DCT becomes the real
    # part of a phase-shifted FFT.
    reordered = torch.cat([compute[..., ::2], compute[..., 1::2].flip(-1)], dim=-1)
    coefficients = torch.real(torch.fft.fft(reordered, dim=-1) * _twiddle(n, compute))
    return torch.movedim(coefficients.to(x.dtype), -1, dim)


def idct(coefficients: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Exact inverse of :func:`dct` along ``dim`` (the orthonormal DCT-III)."""
    spectrum = torch.movedim(coefficients, dim, -1)
    compute = spectrum if spectrum.dtype in (torch.float32, torch.float64) else spectrum.float()
    n = compute.shape[-1]
    # Undo X_k = Re(W_k V_k) using X_{n-k} = -Im(W_k V_k): W_k V_k = X_k - i X_{n-k}.
    mirrored = torch.cat([torch.zeros_like(compute[..., :1]), compute[..., 1:].flip(-1)], dim=-1)
    twiddle = _twiddle(n, compute)
    weighted = torch.complex(compute, -mirrored) / twiddle
    reordered = torch.real(torch.fft.ifft(weighted, dim=-1))
    half = (n + 1) // 2
    signal = torch.empty_like(compute)
    signal[..., ::2] = reordered[..., :half]
    signal[..., 1::2] = reordered[..., half:].flip(-1)
    return torch.movedim(signal.to(coefficients.dtype), -1, dim)
