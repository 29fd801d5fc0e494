"""Scores of a batch of recordings refined by the batch itself (transductive zero-shot).

A zero-shot model decides each recording on its own: its features against the
class prototypes. The backbone's features of unseen classes cluster far better
than they match text (``benchmarks/transfer_diagnostics.py``: a nearest-centroid
bound of 91.5% on UTD-MHAD against about 50% zero-shot), so when many
recordings are recognised together, their own structure can correct the
prototypes: each class's recordings (by the current best guess) have a centroid,
and a recording also scores by how far it lies along it:

    f_n = unit(x_n - mean_n x_n)          c_k = mean_{n: argmax s_n = k} f_n
    s'_{n,k} = s_{n,k} + w f_n . c_k

with ``w`` chosen on validation classes (0: off). A class no recording picks
gets no term. Nothing assumes the batch holds every class, or as many
recordings of each: the centroids are not normalised, so a class that takes
the whole batch has for centroid a mean of directions around the batch mean,
of length about 1/sqrt(N), and the term fades where the batch shows no
structure to follow.
This is a different protocol from the zero-shot one (the unlabelled test
recordings are used together); its results are reported beside, never instead.

Axis letters: N recordings, K classes, C feature channels.
"""

from __future__ import annotations

import numpy as np

from fsvae_core.parts import unit_rows


def refine_with_batch(scores: np.ndarray, features: np.ndarray, weight: float) -> np.ndarray:
    """Scores (N, K) plus ``weight`` times each recording's projection on its best-guess class centroids.

    Args:
        scores: (N, K) the model's scores of N recordings of one batch.
        features: (N, C) their backbone features (any scale: they are centred over the batch).
        weight: the centroid term's weight; 0 returns ``scores`` unchanged.

    Returns:
        (N, K) float64.
    """
    scores = np.asarray(scores, dtype=np.float64)
    features = np.asarray(features, dtype=np.float64)
    if scores.ndim != 2 or features.ndim != 2 or len(scores) != len(features):
        raise ValueError(f"refine_with_batch: scores (N, K) and features (N, C) of the same N, got "
                         f"{scores.shape} and {features.shape}")
    if weight == 0 or len(scores) == 0:
        return scores
    centred = unit_rows(features - features.mean(0))
    guess = scores.argmax(1)
    centroids = np.zeros((scores.shape[1], features.shape[1]))
    for k in np.unique(guess):
        centroids[k] = centred[guess == k].mean(0)
    return scores + weight * centred @ centroids.T

