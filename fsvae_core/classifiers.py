"""Zero-shot classifiers on the shared latent space, and the seen-class classifier for GZSL.

Axis letters: N samples, K classes, Z latent size, C feature channels.

- :class:`PrototypeClassifier`: cosine similarity between a skeleton latent and
  each class's text latent (its prototype). Classes are rows of a matrix, so
  the live system adds or removes one without retraining anything.
- :func:`fit_latent_softmax`: the CADA-VAE rule, a softmax layer trained on
  latents *sampled* from the text VAE for the target classes, applied to the
  skeleton latent mean.
- :func:`fit_linear_softmax`: a plain softmax classifier on features, used as
  the seen-class expert of the GZSL gate.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from fsvae_core.model import FSVAE, reparameterize


class PrototypeClassifier:
    """Cosine nearest-prototype rule: scores (N, K) = cos(z (N, Z), prototypes (K, Z))."""

    def __init__(self, prototypes: torch.Tensor):
        self.prototypes = F.normalize(prototypes.float(), dim=1)  # (K, Z)

    @classmethod
    def from_text(cls, model: FSVAE, class_text: torch.Tensor) -> "PrototypeClassifier":
        """Prototypes are the text-VAE latent means of the class vectors (K, Ct)."""
        model.eval()
        return cls(model.embed_text(class_text))

    def scores(self, latents: torch.Tensor) -> torch.Tensor:
        return F.normalize(latents.float(), dim=1) @ self.prototypes.T  # (N, K)

    def predict(self, latents: torch.Tensor) -> torch.Tensor:
        return self.scores(latents).argmax(dim=1)


def _fit_softmax(x: torch.Tensor, y: torch.Tensor, n_classes: int, epochs: int, lr: float, weight_decay: float, seed: int) -> nn.Linear:
    generator = torch.Generator().manual_seed(seed)
    layer = nn.Linear(x.shape[1], n_classes).to(x.device)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=generator).to(x.device) * 0.01)
        layer.bias.zero_()
    optimizer = torch.optim.Adam(layer.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):  # full batch: a few thousand rows at most
        optimizer.zero_grad()
        loss = F.cross_entropy(layer(x), y)
        loss.backward()
        optimizer.step()
    layer.eval()
    return layer


def fit_latent_softmax(
    model: FSVAE,
    class_text: torch.Tensor,
    samples_per_class: int = 500,
    epochs: int = 300,
    lr: float = 1e-3,
    seed: int = 0,
) -> nn.Linear:
    """CADA-VAE classifier: softmax over K classes trained on z ~ q(z | f_t(k)).

    ``class_text`` (K, Ct); returns a Linear (Z -> K) to apply to skeleton latent means.
    """
    model.eval()
    torch.manual_seed(seed)
    with torch.no_grad():
        text = class_text.repeat(samples_per_class, 1)  # (S * K, Ct)
        labels = torch.arange(len(class_text), device=class_text.device).repeat(samples_per_class)
        mu, logvar = model.text_encoder(text)
        latents = reparameterize(mu, logvar)
    return _fit_softmax(latents, labels, len(class_text), epochs, lr, 0.0, seed)


def fit_linear_softmax(
    x: torch.Tensor, y: torch.Tensor, n_classes: int, epochs: int = 500, lr: float = 1e-2, weight_decay: float = 1e-4, seed: int = 0
) -> nn.Linear:
    """A linear softmax classifier (C -> K) on features (N, C) with labels 0..K-1 (N,)."""
    mean, std = x.mean(dim=0), x.std(dim=0).clamp_min(1e-6)
    layer = _fit_softmax((x - mean) / std, y, n_classes, epochs, lr, weight_decay, seed)
    # Fold the standardisation into the layer so callers pass raw features.
    with torch.no_grad():
        layer.weight.div_(std)
        layer.bias.sub_(layer.weight @ mean)
    return layer
