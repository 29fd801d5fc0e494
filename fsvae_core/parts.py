"""Part-aware alignment: each body part's motion matched with that part's sentence.

The global FS-VAE alignment matches a whole window with a whole class text. A
class is also described per body part (``descriptions.PART_NAMES``: "the right
arm rises to the mouth", "the legs stand still"), and such sentences recombine
across actions: "the knees bend" is said of sitting, squatting and picking
up. Here, for each part p, a ridge regression maps the backbone's activations
pooled over that part's joints (``SkeletonGCN.features_and_parts``, C_last
wide, standardised) to the sentence embedding of that part in the window's
class description. A window's part score for class k is the mean over parts
of the cosine between its mapped part features and class k's part sentences:

    part_k = 1/B sum_p cos(W_p (f_p - mu_p) / sigma_p, e_{k,p})
    score_k = cos(z_s, prototype_k) + lambda part_k

with lambda chosen on validation classes (0: plain FS-VAE). A class that has
no body-part sentences gets, in each window, the mean part score of the
classes that have them: the part term then neither lifts nor sinks it.

Axis letters: N windows, B body parts, C backbone channels, D sentence
dimension, K classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from fsvae_core.descriptions import PART_NAMES, ActionDescription

# Ridge penalty on standardised part features; 10-1000 change zero-shot accuracy by a point or two.
PART_PENALTY = 100.0


def unit_rows(x: np.ndarray) -> np.ndarray:
    """x / |x| along the last axis; a zero vector stays zero."""
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def part_text_embeddings(descriptions: list[ActionDescription], encoder) -> tuple[np.ndarray, np.ndarray]:
    """Unit sentence embeddings of every class's body-part sentences.

    Returns:
        (K, B, D) float32, zero rows for a class without body-part sentences,
        and (K,) bool saying which classes have them.
    """
    has = np.array([d.parts is not None for d in descriptions], dtype=bool)
    dim = encoder.dim
    table = np.zeros((len(descriptions), len(PART_NAMES), dim), dtype=np.float32)
    with_parts = [d for d in descriptions if d.parts is not None]
    if with_parts:
        sentences = [text for d in with_parts for text in d.part_texts()]
        vectors = unit_rows(np.asarray(encoder.encode(sentences), dtype=np.float32))  # (K' B, D)
        table[has] = vectors.reshape(len(with_parts), len(PART_NAMES), dim)
    return table, has


def part_scores(parts: torch.Tensor, mean: torch.Tensor, scale: torch.Tensor, weights: torch.Tensor,
                part_text: torch.Tensor, has_parts: torch.Tensor) -> torch.Tensor:
    """part_k of the module docstring, (N, K), without branches (it is traced for ONNX export too).

    Args:
        parts: (N, B, C) windows' part features; mean, scale (B, C) and weights (B, C, D): a :class:`PartAligner`.
        part_text: (K, B, D) unit part-sentence embeddings; has_parts: (K,) bool, False for a class
            without sentences, which gets each window's mean over the classes that have them (0 if none has).
    """
    # Matrix products rather than einsums: in onnxruntime's profile of one window at batch 1 the two Einsum
    # kernels took 0.64 of 6.6 ms.
    standardised = ((parts - mean) / scale).transpose(0, 1)  # (B, N, C)
    mapped = F.normalize(torch.matmul(standardised, weights), dim=-1).transpose(0, 1)  # (N, B, D)
    scores = mapped.flatten(1) @ part_text.flatten(1).T / parts.shape[1]  # (N, K)
    has = has_parts.to(scores.dtype)  # (K,)
    neutral = (scores * has).sum(dim=1, keepdim=True) / has.sum().clamp_min(1)  # (N, 1)
    return scores * has + neutral * (1 - has)


@dataclass(frozen=True)
class PartAligner:
    """One ridge map per body part: standardised part features (C) -> part sentence embedding (D).

    ``mean`` and ``scale`` are (B, C), ``weights`` (B, C, D), all float32.
    """

    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray

    @classmethod
    def fit(cls, parts: np.ndarray, targets: np.ndarray, penalty: float = PART_PENALTY) -> PartAligner:
        """Fit on part features (N, B, C) of training windows and their classes' part sentences (N, B, D)."""
        if parts.ndim != 3 or targets.shape[:2] != parts.shape[:2]:
            raise ValueError(f"PartAligner.fit needs parts (N, B, C) and targets (N, B, D), got {parts.shape} and {targets.shape}")
        mean = parts.mean(axis=0)  # (B, C)
        scale = parts.std(axis=0) + 1e-6  # (B, C)
        weights = []
        for p in range(parts.shape[1]):
            a = ((parts[:, p] - mean[p]) / scale[p]).astype(np.float64)  # (N, C)
            gram = a.T @ a + penalty * np.eye(a.shape[1])
            weights.append(np.linalg.solve(gram, a.T @ targets[:, p].astype(np.float64)))  # (C, D)
        return cls(mean.astype(np.float32), scale.astype(np.float32), np.stack(weights).astype(np.float32))

    def scores(self, parts: np.ndarray, part_text: np.ndarray, has_parts: np.ndarray) -> np.ndarray:
        """Part scores (N, K) of windows' part features (N, B, C) against classes' part sentences (K, B, D).

        Classes without sentences (``has_parts`` False) get each window's mean over the others.
        """
        tensors = (torch.as_tensor(np.asarray(a, dtype=np.float32)) for a in (self.mean, self.scale, self.weights))
        return part_scores(torch.as_tensor(np.asarray(parts, dtype=np.float32)), *tensors,
                           torch.as_tensor(np.asarray(part_text, dtype=np.float32)),
                           torch.as_tensor(np.asarray(has_parts, dtype=bool))).numpy()

    def to_tensors(self) -> dict[str, np.ndarray]:
        """The arrays to store, by name (``mean``, ``scale``, ``weights``)."""
        return {"mean": self.mean, "scale": self.scale, "weights": self.weights}

    @classmethod
    def from_tensors(cls, tensors: dict) -> PartAligner:
        """Rebuild from :meth:`to_tensors` output (numpy arrays or CPU tensors); shapes are checked."""
        mean, scale, weights = (np.asarray(tensors[name], dtype=np.float32) for name in ("mean", "scale", "weights"))
        if mean.ndim != 2 or scale.shape != mean.shape or weights.ndim != 3 or weights.shape[:2] != mean.shape:
            raise ValueError(f"part aligner tensors do not fit together: mean {mean.shape}, scale {scale.shape}, "
                             f"weights {weights.shape}")
        return cls(mean, scale, weights)
