"""The objective: KL, negatives of a different class, and the calibrated alignment by hand."""

import math

import pytest
import torch

from fsvae_core.losses import (
    LossWeights,
    calibrated_alignment,
    different_class_negatives,
    fsvae_loss,
    kl_divergence,
)
from fsvae_core.frequency import FrequencyConfig
from fsvae_core.model import FSVAE, VAEConfig


def tiny_model(skeleton_dim: int, text_dim: int, latent_dim: int) -> FSVAE:
    bands = FrequencyConfig(n_bands=2, phi=1)
    return FSVAE(VAEConfig(skeleton_dim, text_dim, latent_dim, skeleton_frequency=bands, text_frequency=bands))


def test_kl_is_zero_for_the_prior_and_matches_the_closed_form():
    assert kl_divergence(torch.zeros(3, 4), torch.zeros(3, 4)).item() == pytest.approx(0.0)
    mu, logvar = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, math.log(4.0)]])
    # 0.5 * sum(mu^2 + var - 1 - log var) = 0.5 * (1 + 0 + 4 - 1 - log 4)
    assert kl_divergence(mu, logvar).item() == pytest.approx(0.5 * (1 + 3 - math.log(4)))


def test_calibrated_alignment_on_a_tiny_batch_by_hand():
    target = torch.tensor([[0.0], [1.0]])
    projected = torch.tensor([[0.0], [3.0]])
    negative = torch.tensor([1, 0])
    temperature = 2.0
    # sample 0: d+ = 0, d- = (0 - 3)^2 = 9;  sample 1: d+ = (1 - 3)^2 = 4, d- = (1 - 0)^2 = 1
    # L = lambda / B * sum 1 / (1 + exp((d- - d+) / lambda))
    expected = temperature / 2 * (1 / (1 + math.exp((9 - 0) / 2)) + 1 / (1 + math.exp((1 - 4) / 2)))
    loss = calibrated_alignment(target, projected, negative, torch.tensor([True, True]), temperature)
    assert loss.item() == pytest.approx(expected)


def test_alignment_ignores_samples_without_a_negative():
    target, projected = torch.tensor([[0.0], [1.0]]), torch.tensor([[0.0], [3.0]])
    only_first = calibrated_alignment(target, projected, torch.tensor([1, 0]), torch.tensor([True, False]), 2.0)
    assert only_first.item() == pytest.approx(2.0 / (1 + math.exp(4.5)))
    none = calibrated_alignment(target, projected, torch.tensor([1, 0]), torch.tensor([False, False]), 2.0)
    assert none.item() == 0.0


def test_negatives_always_come_from_a_different_class():
    labels = torch.tensor([0, 0, 1, 1, 2, 0, 2, 1])
    for seed in range(20):
        index, valid = different_class_negatives(labels, torch.Generator().manual_seed(seed))
        assert valid.all()
        assert torch.all(labels[index] != labels)


def test_a_batch_of_one_class_has_no_valid_negative():
    _, valid = different_class_negatives(torch.tensor([3, 3, 3]))
    assert not valid.any()


def test_alignment_pulls_projections_toward_their_own_text():
    torch.manual_seed(0)
    model = tiny_model(16, 12, 4)
    skeleton, text, labels = torch.randn(8, 16), torch.randn(8, 12), torch.arange(8) % 4
    weights = LossWeights(alpha=1.0, temperature=10.0)
    terms = fsvae_loss(model(skeleton, text), skeleton, text, labels, weights, beta=0.0)
    assert {"align_t", "align_s", "total"} <= set(terms)
    terms["total"].backward()
    assert model.text_decoder.net.weight.grad.abs().sum() > 0


def test_weights_switch_terms_on_and_off():
    model = tiny_model(8, 6, 3)
    s, t, y = torch.randn(4, 8), torch.randn(4, 6), torch.tensor([0, 1, 0, 1])
    out = model(s, t)
    plain = fsvae_loss(out, s, t, y, LossWeights(alpha=0.0), beta=0.0)
    assert "align_t" not in plain and "cross_recon" not in plain
    cada = fsvae_loss(out, s, t, y, LossWeights(alpha=0.0, cross_reconstruction=1.0, distribution_alignment=1.0), beta=0.0)
    assert {"cross_recon", "dist_align"} <= set(cada)


def test_negative_temperature_is_refused():
    with pytest.raises(ValueError, match="temperature"):
        LossWeights(temperature=0.0)
