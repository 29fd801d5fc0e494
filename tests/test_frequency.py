"""The frequency module: the paper's gains at initialisation, learning, placements, safety."""

import pytest
import torch

from fsvae_core.dct import dct, idct
from fsvae_core.frequency import FrequencyConfig, FrequencyEnhancer


def test_gains_at_initialisation_follow_the_paper_formula_by_hand():
    # 256 coefficients, 30 bands, phi = 30: bands 0-2 end at indices 8, 17, 25 (low);
    # band 3 ends at 34 (high). k = 0.3, w = 1, b = 30:
    #   low  band i: 1 + 0.3 * (1 - i / 30)             -> 1.30, 1.29, 1.28
    #   high band i: 1 - 0.3 * (1 - (i - 30) / 30)      -> band 3: 0.43, band 29: 0.69
    gains = FrequencyEnhancer(256).band_gains().detach()
    assert gains[:3].tolist() == pytest.approx([1.30, 1.29, 1.28])
    assert gains[3].item() == pytest.approx(0.43)
    assert gains[29].item() == pytest.approx(0.69)
    assert gains[3:].tolist() == pytest.approx([0.43 + 0.01 * j for j in range(27)])


def test_phi_decides_which_bands_are_low():
    enhancer = FrequencyEnhancer(256, FrequencyConfig(phi=35))  # the paper appendix's value
    assert enhancer.is_low_band.tolist()[:5] == [True, True, True, True, False]


def test_every_coefficient_belongs_to_exactly_one_band():
    enhancer = FrequencyEnhancer(256)
    counts = torch.bincount(enhancer.band_of_coefficient, minlength=30)
    assert counts.sum() == 256 and counts.min() >= 8 and counts.max() <= 9


def test_forward_equals_scaling_dct_coefficients_by_their_gains():
    enhancer = FrequencyEnhancer(64, FrequencyConfig(n_bands=8, phi=16))
    x = torch.randn(5, 64)
    expected = idct(dct(x) * enhancer.coefficient_gains())
    assert torch.allclose(enhancer(x), expected, atol=1e-5)


def test_the_filter_matrix_is_the_enhancer_as_one_linear_map():
    enhancer = FrequencyEnhancer(32, FrequencyConfig(n_bands=4, phi=8))
    with torch.no_grad():
        enhancer.w.copy_(torch.tensor([0.5, 1.5, 0.8, 1.2]))
    x = torch.randn(6, 32)
    matrix = enhancer.filter_matrix()
    assert matrix.shape == (32, 32) and not matrix.requires_grad
    assert torch.allclose(x @ matrix, enhancer(x), atol=1e-5)


def test_unit_gains_give_back_the_input():
    enhancer = FrequencyEnhancer(32, FrequencyConfig(n_bands=4, phi=8))
    with torch.no_grad():
        enhancer.k.zero_()
    x = torch.randn(3, 32)
    assert torch.allclose(enhancer(x), x, atol=1e-5)


def test_gradients_reach_every_band_weight_and_k():
    enhancer = FrequencyEnhancer(256)
    enhancer(torch.randn(4, 256)).pow(2).sum().backward()
    assert enhancer.w.grad is not None and torch.all(enhancer.w.grad != 0)
    assert enhancer.k.grad is not None and enhancer.k.grad != 0


def test_gains_stay_positive_however_large_the_weights_grow():
    config = FrequencyConfig(min_gain=0.05)
    enhancer = FrequencyEnhancer(256, config)
    with torch.no_grad():
        enhancer.w.fill_(50.0)
    assert enhancer.band_gains().min().item() == pytest.approx(0.05)


def test_temporal_placement_works_over_the_time_axis_of_a_window():
    enhancer = FrequencyEnhancer(40, FrequencyConfig(placement="temporal", n_bands=10, phi=8))
    window = torch.randn(2, 3, 40, 25)  # (N, C, T, V)
    out = enhancer(window, dim=2)
    assert out.shape == window.shape
    per_joint = enhancer(window[:, 0, :, 7], dim=-1)  # one joint's x coordinate over time
    assert torch.allclose(out[:, 0, :, 7], per_joint, atol=1e-5)


def test_wrong_length_is_a_clear_error():
    with pytest.raises(ValueError, match="expects 256 entries"):
        FrequencyEnhancer(256)(torch.randn(2, 100))


@pytest.mark.parametrize(
    "kwargs, message",
    [({"placement": "spatial"}, "placement"), ({"n_bands": 0}, "n_bands"), ({"min_gain": 0}, "min_gain"), ({"b": -1.0}, "b must")],
)
def test_contradictory_settings_fail_when_built(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FrequencyConfig(**kwargs)
