"""The DCT is scipy's orthonormal DCT-II, and idct inverts it exactly."""

import numpy as np
import pytest
import scipy.fft
import torch

from fsvae_core.dct import dct, dct_matrix, idct


@pytest.mark.parametrize("n", [1, 2, 3, 7, 30, 256, 1152])
def test_dct_matches_scipy_orthonormal_dct_ii(n):
    x = torch.randn(4, n, dtype=torch.float64)
    expected = scipy.fft.dct(x.numpy(), type=2, norm="ortho", axis=-1)
    np.testing.assert_allclose(dct(x).numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("n", [1, 5, 64, 256])
def test_idct_matches_scipy_and_inverts_dct(n):
    x = torch.randn(3, n, dtype=torch.float64)
    np.testing.assert_allclose(idct(x).numpy(), scipy.fft.idct(x.numpy(), type=2, norm="ortho", axis=-1), atol=1e-12)
    np.testing.assert_allclose(idct(dct(x)).numpy(), x.numpy(), atol=1e-12)


def test_dct_matrix_is_orthonormal():
    d = dct_matrix(50)
    np.testing.assert_allclose((d @ d.T).numpy(), np.eye(50), atol=1e-12)


def test_dct_preserves_energy():
    x = torch.randn(8, 100, dtype=torch.float64)
    np.testing.assert_allclose(dct(x).pow(2).sum(1).numpy(), x.pow(2).sum(1).numpy(), rtol=1e-12)


def test_dct_runs_along_any_axis():
    x = torch.randn(2, 3, 16, 5, dtype=torch.float64)  # (N, C, T, V): transform over T
    expected = scipy.fft.dct(x.numpy(), type=2, norm="ortho", axis=2)
    np.testing.assert_allclose(dct(x, dim=2).numpy(), expected, atol=1e-12)
    np.testing.assert_allclose(idct(dct(x, dim=2), dim=2).numpy(), x.numpy(), atol=1e-12)


def test_float32_input_stays_float32():
    x = torch.randn(2, 40)
    assert dct(x).dtype == torch.float32
    assert torch.allclose(idct(dct(x)), x, atol=1e-5)
