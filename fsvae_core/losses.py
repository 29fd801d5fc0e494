"""The FS-VAE objective: L = L_VAE^s + L_VAE^t + alpha * L_align (FS-VAE contribution 3).

L_VAE = reconstruction + beta * KL. The calibrated cross-alignment loss, for
the text side (and symmetrically for the skeleton side), with temperature
lambda and a negative i^- of a *different class* than i:

    L_align^t = lambda / B * sum_i sigmoid((d(i, i) - d(i, i^-)) / lambda),
    d(i, j)   = || f_t(i) - g_t^s(z_s(j)) ||^2

It is small when sample i's own projection lies closer to its text than the
negative's projection does; the sigmoid caps what one ambiguous pair can cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from fsvae_core.model import VAEOutput


@dataclass(frozen=True)
class LossWeights:
    """Weights and forms of every term.

    ``reconstruction="sum"`` sums squared errors over feature channels (a
    Gaussian log-likelihood per sample); the public code's ``"mean"`` divides by
    the width, which leaves the 1152-d unit-norm text vectors almost nothing to
    reconstruct. ``normalized_alignment`` measures the alignment distances
    between unit vectors: on raw distances the ranking term is cheapest to
    satisfy by inflating every projection, which wrecks reconstruction.
    ``cross_reconstruction`` and ``distribution_alignment`` are CADA-VAE's
    terms, off in FS-VAE and on for that baseline. Defaults and their
    measurements: README, "Design decisions".
    """

    beta: float = 0.025
    alpha: float = 2.0
    temperature: float = 0.5
    cross_reconstruction: float = 0.0
    distribution_alignment: float = 0.0
    reconstruction: Literal["sum", "mean"] = "sum"
    normalized_alignment: bool = True

    def __post_init__(self) -> None:
        if self.temperature <= 0:
            raise ValueError(f"LossWeights.temperature (lambda) must be positive, got {self.temperature}")
        for name in ("beta", "alpha", "cross_reconstruction", "distribution_alignment"):
            if getattr(self, name) < 0:
                raise ValueError(f"LossWeights.{name} must be >= 0, got {getattr(self, name)}")
        if self.reconstruction not in ("sum", "mean"):
            raise ValueError(f"LossWeights.reconstruction must be 'sum' or 'mean', got {self.reconstruction!r}")


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, sigma^2) || N(0, I)) summed over the latent, averaged over the batch (N, Z) -> ()."""
    return 0.5 * torch.sum(mu.pow(2) + logvar.exp() - 1 - logvar, dim=1).mean()


def different_class_negatives(labels: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """For each sample, a random other sample of a different class.

    Returns ``(index, valid)``, both (B,): ``labels[index[i]] != labels[i]``
    wherever ``valid[i]``; a sample with no different-class partner in the
    batch is marked invalid rather than paired with itself.
    """
    different = labels.unsqueeze(0) != labels.unsqueeze(1)  # (B, B)
    scores = torch.rand(different.shape, generator=generator, device="cpu").to(labels.device)
    scores = scores.masked_fill(~different, -1.0)
    return scores.argmax(dim=1), different.any(dim=1)


def calibrated_alignment(
    target: torch.Tensor, projected: torch.Tensor, negative: torch.Tensor, valid: torch.Tensor, temperature: float,
    normalized: bool = False,
) -> torch.Tensor:
    """lambda * mean_i sigmoid((||t_i - p_i||^2 - ||t_i - p_{neg(i)}||^2) / lambda) over valid i.

    ``target`` and ``projected`` are (B, C); ``negative`` indexes the negative's
    projection per sample (B,); ``valid`` (B,) masks samples without one.
    """
    if not bool(valid.any()):
        return target.new_zeros(())
    if normalized:
        target, projected = F.normalize(target, dim=1), F.normalize(projected, dim=1)
    positive_distance = (target - projected).pow(2).sum(dim=1)  # (B,)
    negative_distance = (target - projected[negative]).pow(2).sum(dim=1)  # (B,)
    terms = torch.sigmoid((positive_distance - negative_distance) / temperature)
    return temperature * terms[valid].mean()


def wasserstein_distance(mu_a: torch.Tensor, logvar_a: torch.Tensor, mu_b: torch.Tensor, logvar_b: torch.Tensor) -> torch.Tensor:
    """2-Wasserstein distance between diagonal Gaussians, averaged over the batch (CADA-VAE's term)."""
    sigma_a, sigma_b = torch.exp(0.5 * logvar_a), torch.exp(0.5 * logvar_b)
    squared = (mu_a - mu_b).pow(2).sum(dim=1) + (sigma_a - sigma_b).pow(2).sum(dim=1)
    return torch.sqrt(squared + 1e-12).mean()


def fsvae_loss(
    out: VAEOutput,
    skeleton: torch.Tensor,
    text: torch.Tensor,
    labels: torch.Tensor,
    weights: LossWeights,
    beta: float,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """All terms of the objective for one batch, and their weighted sum under ``"total"``.

    ``beta`` is the current (warmed-up) KL weight; ``weights.beta`` is its target.
    """
    def recon(a, b):
        return F.mse_loss(a, b) if weights.reconstruction == "mean" else (a - b).pow(2).sum(1).mean()

    terms = {
        "recon_s": recon(out.recon_s, skeleton),
        "recon_t": recon(out.recon_t, text),
        "kl_s": kl_divergence(out.mu_s, out.logvar_s),
        "kl_t": kl_divergence(out.mu_t, out.logvar_t),
    }
    total = terms["recon_s"] + terms["recon_t"] + beta * (terms["kl_s"] + terms["kl_t"])
    if weights.alpha > 0:
        negative, valid = different_class_negatives(labels, generator)
        terms["align_t"] = calibrated_alignment(text, out.text_from_skeleton, negative, valid, weights.temperature, weights.normalized_alignment)
        terms["align_s"] = calibrated_alignment(skeleton, out.skeleton_from_text, negative, valid, weights.temperature, weights.normalized_alignment)
        total = total + weights.alpha * (terms["align_t"] + terms["align_s"])
    if weights.cross_reconstruction > 0:
        terms["cross_recon"] = recon(out.text_from_skeleton, text) + recon(out.skeleton_from_text, skeleton)
        total = total + weights.cross_reconstruction * terms["cross_recon"]
    if weights.distribution_alignment > 0:
        terms["dist_align"] = wasserstein_distance(out.mu_s, out.logvar_s, out.mu_t, out.logvar_t)
        total = total + weights.distribution_alignment * terms["dist_align"]
    terms["total"] = total
    return terms
