"""The transductive refinement: a batch's own clusters correct scores that disagree with them."""

import numpy as np
import pytest

from fsvae_core.transductive import refine_with_batch


def two_clusters(n: int = 10, seed: int = 0) -> np.ndarray:
    """Features (2n, 8): the first n around one direction, the next n around another."""
    rng = np.random.default_rng(seed)
    centres = np.eye(8)[:2] * 5.0
    return np.concatenate([centres[0] + 0.3 * rng.normal(size=(n, 8)), centres[1] + 0.3 * rng.normal(size=(n, 8))])


def test_weight_zero_leaves_the_scores_as_they_are():
    scores = np.random.default_rng(1).normal(size=(6, 3))
    assert np.array_equal(refine_with_batch(scores, np.ones((6, 4)), 0.0), scores)


def test_a_recording_scored_against_its_cluster_joins_the_cluster():
    features = two_clusters()
    scores = np.zeros((20, 3))
    scores[:10, 0], scores[10:, 1] = 0.6, 0.6
    scores[3] = [0.50, 0.55, 0.0]  # a member of the first cluster that the model calls class 1, narrowly
    assert scores.argmax(1)[3] == 1
    refined = refine_with_batch(scores, features, 1.0)
    assert list(refined.argmax(1)) == [0] * 10 + [1] * 10


def test_a_class_no_recording_picks_gets_no_term():
    features = two_clusters()
    scores = np.zeros((20, 3))
    scores[:10, 0], scores[10:, 1] = 0.6, 0.6
    scores[:, 2] = 0.55
    refined = refine_with_batch(scores, features, 1.0)
    assert np.array_equal(refined[:, 2], scores[:, 2])
    assert list(refined.argmax(1)) == [0] * 10 + [1] * 10


def test_a_large_batch_of_one_action_keeps_it():
    # Nothing assumes every class is in the batch: one action's centroid is a mean of noise, near 0.
    features = two_clusters(n=200)[:200]
    scores = np.tile([0.6, 0.5, 0.4], (200, 1)) + 0.01 * np.random.default_rng(2).normal(size=(200, 3))
    refined = refine_with_batch(scores, features, 2.0)
    assert np.abs(refined - scores).max() < 0.1
    assert (refined.argmax(1) == 0).all()


def test_scores_and_features_of_different_batches_are_refused():
    with pytest.raises(ValueError, match=r"\(4, 3\) and \(5, 8\)"):
        refine_with_batch(np.zeros((4, 3)), np.zeros((5, 8)), 1.0)
