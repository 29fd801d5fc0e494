"""The decision rule: calibrated stacking, one threshold for trained classes and one for text-only ones,
and a body standing still answered unknown."""

import numpy as np
import pytest

from calibration.layouts import NTU25
from fsvae_core.decision import DecisionRule, fit_decision_rule, fit_still_threshold, open_set_rates, window_motion


def test_each_origin_has_its_own_threshold_and_trained_scores_pay_gamma():
    rule = DecisionRule(gamma=0.1, unknown_trained=0.6, unknown_text=0.3)
    trained = np.array([True, False])
    scores = np.array([
        [0.75, 0.20],  # trained class: 0.65 after gamma, above 0.6
        [0.65, 0.10],  # trained class: 0.55 after gamma, below 0.6 -> unknown
        [0.30, 0.35],  # text class best (0.35 vs 0.20), above 0.3
        [0.30, 0.25],  # text class best (0.25 vs 0.20), below 0.3 -> unknown
    ])
    assert rule.decide(scores, trained).tolist() == [0, -1, 1, -1]
    assert rule.thresholds(trained).tolist() == [0.6, 0.3]


def synthetic_held_out(seed=0, per_class=40):
    """Scores of held-out windows: 4 trained classes score ~0.85 on their own class, 6 text classes ~0.4,
    everything else ~0.15; class ids 10..19."""
    rng = np.random.default_rng(seed)
    classes = np.arange(10, 20)
    trained = np.arange(10) < 4
    rows, target = [], []
    for k, c in enumerate(classes):
        own = 0.85 if trained[k] else 0.4
        block = rng.normal(0.15, 0.05, (per_class, len(classes)))
        block[:, k] = rng.normal(own, 0.05, per_class)
        rows.append(block)
        target += [c] * per_class
    return np.concatenate(rows), np.array(target), classes, trained


def test_fitted_thresholds_decide_text_classes_and_reject_absent_ones():
    scores, target, classes, trained = synthetic_held_out()
    rule, rates = fit_decision_rule(scores, target, classes, trained, gamma=0.0)
    assert 0.2 < rule.unknown_text < 0.4 < rule.unknown_trained < 0.85
    assert rates.trained_right > 0.9 and rates.text_right > 0.9 and rates.absent_unknown > 0.9
    # A threshold fitted on trained classes alone would have left the text classes undecided.
    one_threshold = DecisionRule(0.0, rule.unknown_trained, rule.unknown_trained)
    text_windows = ~np.isin(target, classes[trained])
    assert (one_threshold.decide(scores[text_windows], trained) == -1).mean() > 0.9


def test_open_set_rates_say_what_happens_to_classes_left_out():
    scores, target, classes, trained = synthetic_held_out(seed=1)
    rule = DecisionRule(0.0, 0.6, 0.3)
    absent = classes[~trained][:3]
    rates = open_set_rates(rule, scores, target, classes, trained, absent)
    assert rates.absent_unknown > 0.9 and rates.text_right > 0.9 and rates.trained_right > 0.9
    everything_decided = DecisionRule(0.0, -1.0, -1.0)
    assert open_set_rates(everything_decided, scores, target, classes, trained, absent).absent_unknown == 0.0


def test_rates_without_windows_of_a_group_are_not_counted():
    scores, target, classes, trained = synthetic_held_out(seed=2)
    text_only = ~np.isin(target, classes[trained])
    rates = open_set_rates(DecisionRule(0.0, 0.6, 0.3), scores[text_only], target[text_only], classes, trained,
                           classes[~trained][:3])
    assert np.isnan(rates.trained_right) and rates.mean == pytest.approx((rates.text_right + rates.absent_unknown) / 2)


def test_fitting_needs_two_text_classes_to_halve():
    scores, target, classes, trained = synthetic_held_out()
    with pytest.raises(ValueError, match="two text-only classes"):
        fit_decision_rule(scores, target, classes, np.arange(10) < 9, gamma=0.0)


def test_the_lead_rule_decides_a_text_class_by_its_standardised_lead_over_the_runner_up():
    rule = DecisionRule(gamma=0.0, unknown_trained=0.6, unknown_text=1.0, text_by="lead")
    trained = np.array([True, False, False])
    scores = np.array([
        [0.10, 0.05, 0.20],  # text class 2 scores low but leads by 0.10, 1.6 standard deviations: decided
        [0.10, 0.75, 0.70],  # text class 1 scores high but leads by 0.05, 0.17 deviations: unknown
        [0.70, 0.65, 0.10],  # a trained best still needs its own threshold
    ])
    assert rule.decide(scores, trained).tolist() == [2, -1, 0]
    assert rule.decide(np.array([[0.2]]), np.array([False])).tolist() == [0]  # one class: nothing to lead
    assert rule.decide(np.array([[0.2, 0.2]]), np.array([False, False])).tolist() == [-1]  # a tie leads by 0
    with pytest.raises(ValueError, match="text_by"):
        DecisionRule(0.0, 0.6, 0.1, "ratio")


def test_a_lead_fitted_on_held_out_windows_survives_scores_that_drop_and_crowd():
    scores, target, classes, trained = synthetic_held_out()
    by_lead, rates = fit_decision_rule(scores, target, classes, trained, gamma=0.0, text_by="lead")
    by_score, _ = fit_decision_rule(scores, target, classes, trained, gamma=0.0)
    assert by_lead.text_by == "lead" and rates.text_right > 0.9 and rates.absent_unknown > 0.85
    # A new sensor: the text classes' windows score half as far apart and 0.2 lower, their ranking kept.
    text_windows = ~np.isin(target, classes[trained])
    shifted, text_classes = 0.5 * scores[text_windows][:, ~trained] - 0.2, classes[~trained]
    untrained = np.zeros(len(text_classes), bool)
    decided = by_lead.decide(shifted, untrained)
    assert ((decided >= 0) & (text_classes[decided] == target[text_windows])).mean() > 0.9
    assert (by_score.decide(shifted, untrained) == -1).mean() > 0.9


def test_the_raw_lead_is_not_shrunk_by_the_penalty_on_listed_trained_classes():
    # Text classes 2 and 3 against trained classes 0 and 1 that gamma pushes far below them.
    scores = np.array([[0.80, 0.70, 0.50, 0.40]])  # before the penalty
    trained = np.array([True, True, False, False])
    by_lead, by_raw = (DecisionRule(gamma=0.9, unknown_trained=0.6, unknown_text=0.6, text_by=t) for t in ("lead", "lead_raw"))
    text_only = scores[:, ~trained]  # a user who removed the trained actions
    none = np.zeros(2, dtype=bool)
    # "lead": the penalty widens the calibrated spread (0.30 instead of 0.16), a lead of 0.10 is 0.33 of it.
    assert by_lead.decide(scores, trained).tolist() == [-1] and by_lead.decide(text_only, none).tolist() == [0]
    # "lead_raw": the spread of the scores before the penalty, 0.16: a lead of 0.63.
    assert by_raw.decide(scores, trained).tolist() == [2] and by_raw.decide(text_only, none).tolist() == [0]
    assert DecisionRule(0.9, 0.6, 0.7, "lead_raw").decide(scores, trained).tolist() == [-1]


def test_the_raw_lead_takes_back_the_share_of_the_penalty_each_class_paid():
    # A trained class, a shown action (paying half of gamma) that leads by 0.3 after the penalty, two text classes.
    raw = np.array([[0.9, 1.0, 0.2, 0.1]])  # before the penalty: spread 0.40, a raw lead of 0.74
    penalty = np.array([1.0, 0.5, 0.0, 0.0])
    rule = DecisionRule(gamma=0.4, unknown_trained=0.0, unknown_text=0.76, text_by="lead_raw")
    calibrated = raw - rule.gamma * penalty
    assert rule.decide_calibrated(calibrated, penalty == 1, penalty=penalty).tolist() == [-1]
    # Had only the trained class's penalty been taken back, the spread would be 0.35 and the lead 0.85.
    assert rule.decide_calibrated(calibrated, penalty == 1).tolist() == [1]
    # By score: the shown action's 0.8 after the penalty is held to the text threshold as the 1.0 it scored.
    by_score = DecisionRule(gamma=0.4, unknown_trained=0.0, unknown_text=0.9, text_by="score")
    assert by_score.decide_calibrated(calibrated, penalty == 1, penalty=penalty).tolist() == [1]
    assert by_score.decide_calibrated(calibrated, penalty == 1).tolist() == [-1]


def test_a_raw_lead_rule_is_fitted_like_the_lead_one_and_equals_it_without_a_penalty():
    scores, target, classes, trained = synthetic_held_out(seed=3)
    rule, rates = fit_decision_rule(scores, target, classes, trained, gamma=0.3, text_by="lead_raw")
    assert rule.text_by == "lead_raw" and rates.text_right > 0.85 and rates.absent_unknown > 0.8
    assert open_set_rates(rule, scores, target, classes, trained, classes[~trained][:3]).text_right > 0.85
    raw, lead = (fit_decision_rule(scores, target, classes, trained, gamma=0.0, text_by=t)[0] for t in ("lead_raw", "lead"))
    assert raw.unknown_text == lead.unknown_text


def held_pose(seed: int, frames: int = 32, jitter: float = 0.02) -> np.ndarray:
    """One canonical window (M=2, T, V, 3) of a body holding a pose, its tracker jittering by ``jitter``; slot 2 empty."""
    rng = np.random.default_rng(seed)
    window = np.zeros((2, frames, 25, 3))
    window[0] = rng.normal(size=(1, 25, 3)) + rng.normal(scale=jitter, size=(frames, 25, 3))
    return window


def test_a_held_pose_with_tracker_jitter_moves_far_less_than_a_swinging_arm():
    still = np.stack([held_pose(seed) for seed in range(5)])
    swinging = still.copy()
    angle = np.linspace(0, 2 * np.pi, still.shape[2])
    swinging[:, 0, :, NTU25["WRIST_RIGHT"], 0] += 0.3 * np.cos(angle)  # a forearm's length back and forth
    assert window_motion(still).max() < 0.05
    assert window_motion(swinging).min() > 0.2
    assert window_motion(np.zeros((1, 2, 32, 25, 3))).tolist() == [0.0]  # nobody: no motion


def test_a_still_body_is_unknown_whatever_it_scores_and_without_its_motion_nothing_is_taken_for_still():
    rule = DecisionRule(gamma=0.0, unknown_trained=0.6, unknown_text=0.3, still_below=0.1)
    scores = np.array([[0.9, 0.1], [0.9, 0.1]])  # a clear best, twice
    trained = np.array([True, False])
    assert rule.decide(scores, trained, motion=np.array([0.05, 0.5])).tolist() == [-1, 0]
    assert rule.is_still(np.array([0.05, 0.5])).tolist() == [True, False]
    assert rule.decide(scores, trained).tolist() == [0, 0]
    assert not DecisionRule(0.0, 0.6, 0.3).is_still(0.0)  # a rule without the check takes nobody for still
    with pytest.raises(ValueError, match="still_below"):
        DecisionRule(0.0, 0.6, 0.3, still_below=-1.0)


def test_the_still_threshold_is_half_the_motion_nearly_every_training_window_exceeds():
    motion = np.linspace(0.2, 1.2, 1001)  # the 1% quantile is 0.21
    assert fit_still_threshold(motion) == pytest.approx(0.105)
    with pytest.raises(ValueError, match="at least one"):
        fit_still_threshold(np.array([]))
