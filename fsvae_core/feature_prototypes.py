"""Class prototypes in the backbone's feature space, regressed from the class text.

FS-VAE compares a window with a class in a latent space both VAEs learn. This
term compares them where the backbone put the motion: a ridge regression maps
a class's text vector (the class text the VAEs train on) to the centroid of its
training windows' standardised backbone features, and a window scores, against
class k, by the cosine between its own standardised features and the map's
output for k's text:

    f~ = (f - mu) / sigma                       c_k = mean of f~ over class k's windows
    W  = argmin sum_k |W^T (t_k - t_mean) + c_mean - c_k|^2 + lambda |W|^2   (trained classes)
    feature_k = cos(f~, W^T (t_k - t_mean) + c_mean)

With a few dozen trained classes the map has a few dozen examples, so it is
fitted in its dual form (K x K). A ridge map shrinks what it outputs toward the
mean of its targets; mapping text into the space where windows are compared,
rather than windows into the space of the text, keeps that shrinkage on the
prototypes instead of the windows, which spares the few prototypes that would
otherwise be every window's nearest ("hubness"; Shigeto et al., "Ridge regression,
hubness, and zero-shot learning", ECML-PKDD 2015).

Axis letters: N windows, K classes, C backbone feature channels, T text dimension.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fsvae_core.parts import unit_rows

# Ridge penalty on unit-norm class text rows; 3-30 move zero-shot accuracy by a few points either way.
FEATURE_PENALTY = 10.0


@dataclass(frozen=True)
class FeatureRegressor:
    """A ridge map from class text (T) to class centroids in standardised feature space (C).

    ``feature_mean``, ``feature_scale`` (C,) standardise features; ``text_mean`` (T,),
    ``weights`` (T, C) and ``centroid_mean`` (C,) map text to a prototype. All float32.
    """

    feature_mean: np.ndarray
    feature_scale: np.ndarray
    text_mean: np.ndarray
    weights: np.ndarray
    centroid_mean: np.ndarray

    @classmethod
    def fit(cls, features: np.ndarray, labels: np.ndarray, class_text: np.ndarray,
            penalty: float = FEATURE_PENALTY) -> FeatureRegressor:
        """Fit on training windows' features (N, C), their class ids (N,) and the class text table (n_classes, T)
        (rows indexed by class id); every class present in ``labels`` is one example."""
        if features.ndim != 2 or labels.shape != (len(features),) or class_text.ndim != 2:
            raise ValueError(f"FeatureRegressor.fit needs features (N, C), labels (N,) and class text (n, T), "
                             f"got {features.shape}, {labels.shape} and {class_text.shape}")
        if penalty <= 0:
            raise ValueError(f"FeatureRegressor.fit needs a penalty > 0, got {penalty}")
        classes = np.unique(labels)
        if len(classes) < 2:
            raise ValueError(f"FeatureRegressor.fit needs windows of at least 2 classes, got {len(classes)}")
        mean, scale = features.mean(0), features.std(0) + 1e-6
        standardised = (features - mean) / scale
        centroids = np.stack([standardised[labels == k].mean(0) for k in classes]).astype(np.float64)  # (K, C)
        text = class_text[classes].astype(np.float64)  # (K, T)
        text_mean, centroid_mean = text.mean(0), centroids.mean(0)
        a = text - text_mean
        dual = np.linalg.solve(a @ a.T + penalty * np.eye(len(classes)), centroids - centroid_mean)  # (K, C)
        return cls(mean.astype(np.float32), scale.astype(np.float32), text_mean.astype(np.float32),
                   (a.T @ dual).astype(np.float32), centroid_mean.astype(np.float32))

    def prototypes(self, class_text: np.ndarray) -> np.ndarray:
        """Prototypes (K, C) of classes given by their text rows (K, T)."""
        return (np.asarray(class_text, dtype=np.float32) - self.text_mean) @ self.weights + self.centroid_mean

    def scores(self, features: np.ndarray, class_text: np.ndarray) -> np.ndarray:
        """feature_k of the module docstring, (N, K), for features (N, C) against class text rows (K, T)."""
        standardised = (np.asarray(features, dtype=np.float32) - self.feature_mean) / self.feature_scale
        return unit_rows(standardised) @ unit_rows(self.prototypes(class_text)).T
