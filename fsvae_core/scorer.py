"""A window's whole way to class scores, as one module: what the live recognizer computes.

    f_s, f_parts = backbone(window)                            (SkeletonGCN.features_and_parts)
    score_k      = cos(mu_s(f_s), prototype_k) - gamma w_k
                   + lambda part_k(f_parts) + lambda_attr attr_k(window)

``mu_s`` is the skeleton VAE's latent mean, ``prototype_k`` the text VAE's
latent mean of class k's text (or of its recordings' windows, for an action
shown by them), ``gamma`` the calibration penalty, paid in full by trained
classes (w_k = 1), in half by shown actions and not by text ones
(``Bundle.penalty_weights``), ``part_k`` the part-aware score (:mod:`fsvae_core.parts`) and
``attr_k`` the attribute score (:mod:`fsvae_core.attributes`), each weight 0
without its term. The classes come in as tensors at every call, so adding an action
changes no weights.

:class:`WindowScorer` runs this two ways: :meth:`WindowScorer.score` from
features the caller computed (the live recognizer uses the backbone's fast path,
which skips absent persons), and ``forward`` from windows without branches,
which traces to one ONNX graph (:mod:`fsvae_core.export`).

Axis letters: N windows, M persons, T frames, V joints, K classes, Z latent,
B body parts, D sentence dimension.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from fsvae_core.attributes import AttributeMatcher, attribute_scores, measure
from fsvae_core.backbone import SkeletonGCN
from fsvae_core.model import FSVAE
from fsvae_core.parts import PartAligner, part_scores

if TYPE_CHECKING:
    from fsvae_core.bundle import Bundle


@dataclass(frozen=True)
class ClassTensors:
    """The classes as the scorer takes them, rows in class order.

    ``prototypes`` (K, Z) unit rows; ``penalty`` (K,): what each class's scores
    pay, gamma times ``Bundle.penalty_weights``; with the part-aware rule ``part_text`` (K, B, D) unit
    part-sentence embeddings and ``has_parts`` (K,) bool.
    """

    prototypes: torch.Tensor
    penalty: torch.Tensor
    part_text: torch.Tensor | None = None
    has_parts: torch.Tensor | None = None

    @classmethod
    def of_bundle(cls, bundle: Bundle, device: torch.device | str = "cpu") -> ClassTensors:
        """A bundle's classes: its prototypes, the penalty each pays, its part sentences."""
        return cls(
            F.normalize(bundle.prototypes.float(), dim=1).to(device),
            torch.as_tensor(bundle.penalty_weights * bundle.decision_rule.gamma, dtype=torch.float32).to(device),
            None if bundle.part_text is None else bundle.part_text.float().to(device),
            None if bundle.part_text is None else torch.as_tensor(bundle.has_parts).to(device),
        )

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """The fields that are set, in order: the class inputs of :meth:`WindowScorer.forward`."""
        return tuple(t for t in (self.prototypes, self.penalty, self.part_text, self.has_parts) if t is not None)


class WindowScorer(nn.Module):
    """Backbone + skeleton VAE encoder + part maps + attributes: windows (N, M, T, V, 3) -> scores (N, K)."""

    def __init__(self, backbone: SkeletonGCN, vae: FSVAE, part_aligner: PartAligner | None = None,
                 part_weight: float = 0.0, attribute_matcher: AttributeMatcher | None = None,
                 attribute_weight: float = 0.0) -> None:
        super().__init__()
        if (part_aligner is None) != (part_weight == 0) or (attribute_matcher is None) != (attribute_weight == 0):
            raise ValueError("WindowScorer takes a part aligner with a part weight > 0 and an attribute matcher "
                             "with an attribute weight > 0, each together or not at all")
        self.backbone = backbone
        self.vae = vae
        self.part_weight = float(part_weight)
        self.attribute_weight = float(attribute_weight)
        if part_aligner is not None:
            self.register_buffer("part_mean", torch.as_tensor(part_aligner.mean))  # (B, C)
            self.register_buffer("part_scale", torch.as_tensor(part_aligner.scale))  # (B, C)
            self.register_buffer("part_maps", torch.as_tensor(part_aligner.weights))  # (B, C, D)
        if attribute_matcher is not None:
            for name, array in attribute_matcher.to_tensors().items():  # directions (B, D, A), four (A,)
                self.register_buffer(f"attributes_{name}", torch.as_tensor(array))
            self.register_buffer("attributes_columns", torch.as_tensor(attribute_matcher.columns))  # (A,)
            self.attributes_measured = int(attribute_matcher.columns.max()) + 1  # measure no more than it uses

    @classmethod
    def for_bundle(cls, bundle: Bundle, backbone: SkeletonGCN, vae: FSVAE) -> WindowScorer:
        """The scorer of ``bundle`` around its backbone and VAE (built by the caller, on its device)."""
        return cls(backbone, vae, bundle.part_aligner(), bundle.part_weight, bundle.attribute_matcher(),
                   bundle.attribute_weight)

    @property
    def has_parts(self) -> bool:
        return self.part_weight > 0

    @property
    def has_attributes(self) -> bool:
        return self.attribute_weight > 0

    def forward(self, windows: torch.Tensor, prototypes: torch.Tensor, penalty: torch.Tensor,
                part_text: torch.Tensor | None = None, has_parts: torch.Tensor | None = None) -> torch.Tensor:
        """Scores (N, K) of windows (N, M, T, V, 3), the classes given as :meth:`ClassTensors.tensors`."""
        features, parts = self.backbone.features_and_parts_dense(windows)
        return self.score(features, parts, ClassTensors(prototypes, penalty, part_text, has_parts), windows)

    def score(self, features: torch.Tensor, parts: torch.Tensor, classes: ClassTensors,
              windows: torch.Tensor | None = None) -> torch.Tensor:
        """Scores (N, K) from backbone features (N, Cs), part features (N, B, C) and, for the attribute
        scores, the windows themselves (N, M, T, V, 3)."""
        latents = F.normalize(self.vae.embed_skeleton(features).float(), dim=1)  # (N, Z)
        scores = latents @ classes.prototypes.T - classes.penalty  # (N, K)
        if self.has_parts:
            part = part_scores(parts.float(), self.part_mean, self.part_scale, self.part_maps,
                               classes.part_text, classes.has_parts)
            scores = scores + self.part_weight * part
        if self.has_attributes:
            if windows is None:
                raise ValueError("WindowScorer.score: this bundle's attribute scores need the windows")
            measures = measure(windows, self.attributes_measured)[:, self.attributes_columns]  # (N, A)
            attribute = attribute_scores(measures, self.attributes_window_mean, self.attributes_window_scale,
                                         classes.part_text, classes.has_parts, self.attributes_directions,
                                         self.attributes_text_mean, self.attributes_text_scale)
            scores = scores + self.attribute_weight * attribute
        return scores
