"""The two VAEs of FS-VAE: one for skeleton features, one for class text, linked by their decoders.

Axis letters: N batch, C feature channels, Z latent size.

    skeleton VAE:  f_s (N, Cs) -> [frequency] -> mu_s, logvar_s (N, Z) -> z_s -> f_s'  (N, Cs)
    text VAE:      f_t (N, Ct) -> [frequency] -> mu_t, logvar_t (N, Z) -> z_t -> f_t'  (N, Ct)
    cross:         g_t^s = text decoder(z_s) (N, Ct),  g_s^t = skeleton decoder(z_t) (N, Cs)

The cross-projections are the other modality's decoder applied to a latent,
so aligning them (losses.calibrated_alignment) pulls both latent spaces onto one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from fsvae_core.frequency import FrequencyConfig, FrequencyEnhancer


@dataclass(frozen=True)
class VAEConfig:
    """Sizes of both VAEs and where the frequency module sits.

    ``encoder_hidden = 0`` maps the (enhanced) input straight to mu and
    log-variance with one Linear each, as the public code does.
    """

    skeleton_dim: int = 256
    text_dim: int = 1152
    latent_dim: int = 100
    encoder_hidden: int = 0
    decoder_hidden: int = 0
    skeleton_frequency: FrequencyConfig = field(default_factory=FrequencyConfig)
    text_frequency: FrequencyConfig = field(default_factory=FrequencyConfig)

    def __post_init__(self) -> None:
        for name in ("skeleton_dim", "text_dim", "latent_dim"):
            if getattr(self, name) < 1:
                raise ValueError(f"VAEConfig.{name} must be positive, got {getattr(self, name)}")
        if self.text_frequency.placement == "temporal":
            raise ValueError("VAEConfig.text_frequency: text has no time axis; use 'feature' or 'none'")


@dataclass
class VAEOutput:
    """Everything one training step needs from the model (shapes in the module docstring)."""

    mu_s: torch.Tensor
    logvar_s: torch.Tensor
    z_s: torch.Tensor
    mu_t: torch.Tensor
    logvar_t: torch.Tensor
    z_t: torch.Tensor
    recon_s: torch.Tensor
    recon_t: torch.Tensor
    text_from_skeleton: torch.Tensor
    skeleton_from_text: torch.Tensor


def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """z = mu + sigma * eps with independent noise per sample *and per dimension*.

    (The public code drew one scalar per sample and broadcast it over the latent.)
    """
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)


class Encoder(nn.Module):
    """Input (N, C) -> optional frequency enhancement -> mu, logvar (N, Z)."""

    def __init__(self, in_dim: int, latent_dim: int, hidden: int, frequency: FrequencyConfig):
        super().__init__()
        self.frequency = FrequencyEnhancer(in_dim, frequency) if frequency.placement == "feature" else None
        self.body = nn.Sequential(nn.Linear(in_dim, hidden), nn.ReLU()) if hidden else nn.Identity()
        width = hidden or in_dim
        self.to_mu = nn.Linear(width, latent_dim)
        self.to_logvar = nn.Linear(width, latent_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.frequency is not None:
            x = self.frequency(x, dim=-1)
        h = self.body(x)
        return self.to_mu(h), self.to_logvar(h)


class Decoder(nn.Module):
    """Latent (N, Z) -> reconstruction (N, C), linear output so any sign can be reached."""

    def __init__(self, latent_dim: int, out_dim: int, hidden: int):
        super().__init__()
        if hidden:
            self.net = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, out_dim))
        else:
            self.net = nn.Linear(latent_dim, out_dim)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class FSVAE(nn.Module):
    """Skeleton VAE + text VAE; ``forward`` returns a :class:`VAEOutput`."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        z = config.latent_dim
        self.skeleton_encoder = Encoder(config.skeleton_dim, z, config.encoder_hidden, config.skeleton_frequency)
        self.skeleton_decoder = Decoder(z, config.skeleton_dim, config.decoder_hidden)
        self.text_encoder = Encoder(config.text_dim, z, config.encoder_hidden, config.text_frequency)
        self.text_decoder = Decoder(z, config.text_dim, config.decoder_hidden)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight, gain=0.5)
                nn.init.zeros_(module.bias)

    def forward(self, skeleton: torch.Tensor, text: torch.Tensor) -> VAEOutput:
        mu_s, logvar_s = self.skeleton_encoder(skeleton)  # (N, Z) each
        mu_t, logvar_t = self.text_encoder(text)  # (N, Z) each
        z_s, z_t = reparameterize(mu_s, logvar_s), reparameterize(mu_t, logvar_t)
        return VAEOutput(
            mu_s=mu_s, logvar_s=logvar_s, z_s=z_s,
            mu_t=mu_t, logvar_t=logvar_t, z_t=z_t,
            recon_s=self.skeleton_decoder(z_s),  # (N, Cs)
            recon_t=self.text_decoder(z_t),  # (N, Ct)
            text_from_skeleton=self.text_decoder(z_s),  # g_t^s: (N, Ct)
            skeleton_from_text=self.skeleton_decoder(z_t),  # g_s^t: (N, Cs)
        )

    @torch.no_grad()
    def embed_skeleton(self, skeleton: torch.Tensor) -> torch.Tensor:
        """Latent mean of skeleton features (N, Cs) -> (N, Z): what the classifiers see."""
        return self.skeleton_encoder(skeleton)[0]

    @torch.no_grad()
    def embed_text(self, text: torch.Tensor) -> torch.Tensor:
        """Latent mean of class text vectors (K, Ct) -> (K, Z): the class prototypes."""
        return self.text_encoder(text)[0]
