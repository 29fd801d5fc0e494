"""GZSL metrics, calibrated stacking and the learned gate, on small hand-made cases."""

import numpy as np
import pytest

from fsvae_core.gzsl import CalibratedStacking, LogisticGate, gzsl_result, harmonic_mean, per_class_accuracy


def test_harmonic_mean():
    assert harmonic_mean(0.5, 0.5) == pytest.approx(0.5)
    assert harmonic_mean(0.8, 0.2) == pytest.approx(2 * 0.8 * 0.2 / 1.0)
    assert harmonic_mean(0.0, 0.0) == 0.0


def test_gzsl_result_splits_samples_by_their_true_class():
    target = np.array([0, 0, 1, 2, 2])
    predicted = np.array([0, 1, 1, 2, 0])  # seen {0, 1}: 2 of 3 right; unseen {2}: 1 of 2
    result = gzsl_result(predicted, target, seen_classes=[0, 1])
    assert (result.seen, result.unseen) == (pytest.approx(2 / 3), pytest.approx(0.5))
    assert result.harmonic == pytest.approx(harmonic_mean(2 / 3, 0.5))


def test_per_class_accuracy_skips_absent_classes():
    assert per_class_accuracy(np.array([1, 1, 0]), np.array([1, 0, 0]), [0, 1, 2]) == {0: 0.5, 1: 1.0}


def test_stacking_learns_to_discount_biased_seen_scores():
    rng = np.random.default_rng(0)
    classes, seen_mask = np.array([0, 1, 2, 3]), np.array([True, True, False, False])
    target = rng.integers(0, 4, 400)
    scores = rng.normal(0, 0.1, (400, 4))
    scores[np.arange(400), target] += 1.0
    scores[:, seen_mask] += 1.5  # every seen class scores higher than any unseen class
    assert gzsl_result(CalibratedStacking(0.0).predict(scores, classes, seen_mask), target, [0, 1]).unseen == 0.0
    stacking = CalibratedStacking.fit(scores, target, classes, seen_mask)
    result = gzsl_result(stacking.predict(scores, classes, seen_mask), target, [0, 1])
    assert stacking.gamma > 0.5 and result.harmonic > 0.9


def test_gate_routes_confident_unseen_outputs_to_the_unseen_expert():
    rng = np.random.default_rng(1)
    seen_classes, unseen_classes = np.array([0, 1, 2]), np.array([3, 4])
    n = 300
    target = np.concatenate([rng.integers(0, 3, n), rng.integers(3, 5, n)])
    from_unseen = target >= 3
    seen_logits = rng.normal(0, 0.3, (2 * n, 3))
    seen_logits[~from_unseen, target[~from_unseen]] += 4.0  # the seen expert is sure only on seen samples
    unseen_probs = np.full((2 * n, 2), 0.5)
    unseen_probs[from_unseen, target[from_unseen] - 3] = 0.95
    unseen_probs[from_unseen, 1 - (target[from_unseen] - 3)] = 0.05
    gate = LogisticGate.fit(seen_logits, unseen_probs, target, seen_classes, unseen_classes)
    result = gzsl_result(gate.predict(seen_logits, unseen_probs, seen_classes, unseen_classes), target, seen_classes)
    assert result.seen > 0.95 and result.unseen > 0.95
