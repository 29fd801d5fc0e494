"""Deciding: which action a window shows, or that it shows none of the actions at hand.

A window's scores are the cosines between its skeleton latent and every class
prototype, K of them. Classes the model trained on (``trained``) score higher
than classes it knows only from their text (zero-shot classes, and actions a
user adds by text), so one rule with three constants decides:

    calibrated_k = score_k - gamma * trained_k              (calibrated stacking)
    best         = argmax_k calibrated_k
    decided      = calibrated_best >= unknown_trained            if best is trained
                   text_value      >= unknown_text               otherwise

and the answer is ``unknown`` when not decided. An action a user showed by
recordings pays half of gamma (``Bundle.penalty_weights``) and is decided as
a text class, its share taken back wherever the rule looks at scores before
the penalty. A single threshold fitted on
trained classes (the first version of this product) is far above what a class
known by text ever scores, so text-added actions were almost never decided.

``text_value`` is either the best calibrated score itself (``text_by="score"``)
or its standardised lead over the runner-up::

    lead     = (calibrated_best - calibrated_second) / std_k calibrated_k   (text_by="lead")
    lead_raw = (calibrated_best - calibrated_second) / std_k score_k        (text_by="lead_raw")

"the clear best match", in units of how far apart the window's scores lie.
Every score drops together on recordings unlike the training data (a webcam,
a new sensor) and they crowd closer: a threshold on the score itself, fitted
on held-out windows of the training sensors, then leaves nearly everything
``unknown``, while the lead in those units moves less.

``lead_raw`` measures the spread before the penalty. Subtracting gamma from
the trained classes alone widens the calibrated spread by an amount that
depends on how many of the listed classes are trained, so with ``lead`` a
threshold fitted with the bundle's trained classes in the list means
something else once a user lists only actions added by text (on the camera
clips of ``benchmarks/camera_florence.py`` the same windows' leads were 0.68
times as large with the bundle's 52 trained actions listed as without them;
``lead_raw``: 1.01).

:func:`fit_decision_rule` fits the constants on held-out classes, never on test
data: the validation classes of the training protocol play actions added by
text. In repeated random halvings, one half is in the class list ("present")
and the other is not ("absent"); the thresholds maximise the mean of three
rates: held-out windows of trained classes decided right, windows of present
text classes decided right, and windows of absent classes answered ``unknown``.
That is "decide a text-added action when it is the clear best match, and let
``unknown`` mean none of these".

The commonest "none of these" in front of a camera is a person standing still,
and scores alone do not say it: every class prototype is some motion, and a
held pose lies nearest the start or end of one (sitting down, bowing), which
then wins by a clear lead. So the rule has a fourth constant: a window whose
body moves less than ``still_below`` (:func:`window_motion`) is ``unknown``
whatever its scores. :func:`fit_still_threshold` sets it at half the motion
that all but 1% of the training windows exceed; real actions sit far above a
still body with tracker jitter (scale in :func:`window_motion`).

Axis letters: N windows, M persons, T frames, V joints, K classes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.layouts import NTU25

# Candidate thresholds per origin: this many steps over the range of the best scores seen.
_GRID = 101
_HALVINGS = 20
TEXT_BY = ("score", "lead", "lead_raw")  # what the text-class threshold bounds
# The joints whose movement says whether a body acts: the ends of the limbs, the head and the hips.
_MOTION_JOINTS = [NTU25[name] for name in ("HEAD", "SPINE_BASE", "ELBOW_RIGHT", "ELBOW_LEFT", "WRIST_RIGHT",
                                           "WRIST_LEFT", "KNEE_RIGHT", "KNEE_LEFT", "ANKLE_RIGHT", "ANKLE_LEFT")]
_MOTION_SMOOTHING = 3  # frames averaged before measuring, so that tracker jitter does not count as motion
STILL_QUANTILE = 0.01  # of training windows' motion; the still threshold is half of it


@dataclass(frozen=True)
class DecisionRule:
    """The three constants of the rule in the module docstring, and what the text-class threshold bounds."""

    gamma: float
    unknown_trained: float
    unknown_text: float
    text_by: str = "score"  # one of TEXT_BY: what unknown_text is compared with
    still_below: float = 0.0  # a window moving less (window_motion) is unknown; 0: no such check

    def __post_init__(self) -> None:
        if self.text_by not in TEXT_BY:
            raise ValueError(f"DecisionRule.text_by must be one of {TEXT_BY}, got {self.text_by!r}")
        if not (np.isfinite(self.still_below) and self.still_below >= 0):
            raise ValueError(f"DecisionRule.still_below must be a finite number >= 0, got {self.still_below!r}")

    def calibrated(self, scores: np.ndarray, trained: np.ndarray) -> np.ndarray:
        """Scores (N, K) or (K,) minus ``gamma`` on the ``trained`` (K,) classes."""
        return np.asarray(scores, dtype=np.float64) - self.gamma * np.asarray(trained, dtype=np.float64)

    def thresholds(self, trained: np.ndarray) -> np.ndarray:
        """The threshold (K,) a decision on each class must reach."""
        return np.where(np.asarray(trained, dtype=bool), self.unknown_trained, self.unknown_text)

    def is_still(self, motion: np.ndarray | float) -> np.ndarray:
        """Whether each window's :func:`window_motion` (N,) says its body stands still (always False with 0)."""
        return np.asarray(motion, dtype=np.float64) < self.still_below

    def decide(self, scores: np.ndarray, trained: np.ndarray, motion: np.ndarray | None = None) -> np.ndarray:
        """The decided class index (N,) of each row of scores (N, K), -1 for unknown.

        ``motion`` (N,) is each window's :func:`window_motion`; without it nothing is taken for still.
        """
        calibrated = self.calibrated(np.atleast_2d(scores), trained)  # (N, K)
        return self.decide_calibrated(calibrated, trained, motion)

    def decide_calibrated(self, calibrated: np.ndarray, trained: np.ndarray,
                          motion: np.ndarray | None = None, penalty: np.ndarray | None = None) -> np.ndarray:
        """:meth:`decide` on scores (N, K) that already paid the penalty: ``gamma`` times ``penalty`` (K,), the
        share each class paid (default: ``trained``, as :meth:`calibrated` takes it)."""
        trained = np.asarray(trained, dtype=bool)
        penalty = trained if penalty is None else np.asarray(penalty, dtype=np.float64)
        best = calibrated.argmax(axis=1)  # (N,)
        best_score, text_value = _best_and_text_value(calibrated, penalty, self.gamma, self.text_by)
        value = np.where(trained[best], best_score, text_value)
        reached = value >= self.thresholds(trained)[best]
        if motion is not None:
            reached &= ~self.is_still(np.reshape(motion, -1))
        return np.where(reached, best, -1)


def window_motion(windows: np.ndarray) -> np.ndarray:
    """How much the body in each window moves: (N, M, T, V, 3) canonical windows -> (N,).

    Per person, each of a few joints (head, hips, elbows, wrists, knees, ankles)
    is averaged over 3 frames and its spread over the window measured (the norm
    of its per-axis standard deviation); the window's motion is that of the
    most moving joint of the most moving person, in the normalised body's units
    (roughly limb lengths). A person slot filled with zeros counts 0. 99% of
    the shipped bundle's training windows exceed 0.24, while a held pose with
    2 cm of tracker jitter per frame reaches about 0.1 at most.
    """
    x = np.asarray(windows, dtype=np.float64)[..., _MOTION_JOINTS, :]  # (N, M, T, J, 3)
    k = _MOTION_SMOOTHING
    if x.shape[2] >= k:
        x = sum(x[:, :, i : x.shape[2] - k + 1 + i] for i in range(k)) / k  # moving average over time
    spread = np.linalg.norm(x.std(axis=2), axis=-1)  # (N, M, J)
    return spread.max(axis=(1, 2))


def fit_still_threshold(motion: np.ndarray) -> float:
    """``still_below`` from the :func:`window_motion` (N,) of training windows of real actions (module docstring)."""
    motion = np.asarray(motion, dtype=np.float64)
    if motion.size == 0:
        raise ValueError("fit_still_threshold needs the motion of at least one training window")
    return 0.5 * float(np.quantile(motion, STILL_QUANTILE))


def best_and_lead(calibrated: np.ndarray, spread: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The best score (N,) of each row of (N, K) and its standardised lead over the second best (N,).

    The lead is divided by ``spread`` (N,), by default the row's standard deviation; +inf with one class,
    0 where the spread is 0.
    """
    calibrated = np.atleast_2d(np.asarray(calibrated, dtype=np.float64))
    if calibrated.shape[1] == 1:
        return calibrated[:, 0], np.full(len(calibrated), np.inf)
    top2 = -np.partition(-calibrated, 1, axis=1)[:, :2]  # (N, 2)
    spread = calibrated.std(axis=1) if spread is None else np.asarray(spread, dtype=np.float64)
    lead = np.divide(top2[:, 0] - top2[:, 1], spread, out=np.zeros(len(spread)), where=spread > 0)
    return top2[:, 0], lead


def _best_and_text_value(calibrated: np.ndarray, penalty: np.ndarray, gamma: float,
                         text_by: str) -> tuple[np.ndarray, np.ndarray]:
    """The best calibrated score (N,) of each row of (N, K), whose classes paid ``gamma`` times ``penalty`` (K,),
    and what ``unknown_text`` is compared with (N,)."""
    if text_by == "score":
        best = calibrated.max(axis=1)
        # Text classes pay nothing; a shown action is held to their threshold with its own share taken back.
        return best, best + gamma * penalty[calibrated.argmax(axis=1)]
    spread = None if text_by == "lead" else (calibrated + gamma * penalty[None, :]).std(axis=1)  # before the penalty
    return best_and_lead(calibrated, spread)


@dataclass(frozen=True)
class OpenSetRates:
    """How a rule fares on held-out classes (each rate in [0, 1])."""

    trained_right: float  # held-out windows of trained classes decided as their class
    text_right: float  # windows of present text-only classes decided as their class
    absent_unknown: float  # windows of classes missing from the list answered unknown

    @property
    def mean(self) -> float:
        """The mean of the rates that could be measured (a group without windows is NaN)."""
        return float(np.nanmean([self.trained_right, self.text_right, self.absent_unknown]))

    def as_dict(self) -> dict[str, float]:
        return {"trained_right": self.trained_right, "text_right": self.text_right,
                "absent_unknown": self.absent_unknown, "mean": self.mean}


@dataclass(frozen=True)
class _Draw:
    """One halving, reduced to what a threshold pair needs: per window its best class's origin and score."""

    best_score: np.ndarray  # (N,)
    text_value: np.ndarray  # (N,) what unknown_text is compared with: best_score or its lead
    best_trained: np.ndarray  # (N,) bool
    best_right: np.ndarray  # (N,) bool: the best class is the window's own
    group: np.ndarray  # (N,) 0 trained-class window, 1 present text class, 2 absent class


def _halving(scores, target, classes, trained, gamma, absent_classes, text_by) -> _Draw:
    listed = ~np.isin(classes, absent_classes)  # (K,)
    listed_classes, listed_trained = classes[listed], trained[listed]
    calibrated = scores[:, listed] - gamma * listed_trained[None, :]  # (N, K')
    best = calibrated.argmax(axis=1)
    best_score, text_value = _best_and_text_value(calibrated, listed_trained, gamma, text_by)
    window_trained = np.isin(target, classes[trained])
    group = np.where(window_trained, 0, np.where(np.isin(target, absent_classes), 2, 1))
    return _Draw(best_score, text_value, listed_trained[best], listed_classes[best] == target, group)


def _rates(draws: list[_Draw], unknown_trained: np.ndarray, unknown_text: np.ndarray) -> np.ndarray:
    """Mean rates (3, A, B) over draws for every pair of the threshold grids (A,) x (B,); NaN for a group without windows."""
    total = np.zeros((3, len(unknown_trained), len(unknown_text)))
    counted = np.zeros(3)
    for d in draws:
        decided = np.where(d.best_trained[:, None, None], d.best_score[:, None, None] >= unknown_trained[None, :, None],
                           d.text_value[:, None, None] >= unknown_text[None, None, :])  # (N, A, B)
        for g in range(3):
            members = d.group == g
            if not members.any():
                continue
            counted[g] += 1
            if g == 2:
                total[g] += (~decided[members]).mean(axis=0)
            else:
                total[g] += (decided[members] & d.best_right[members, None, None]).mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counted[:, None, None] > 0, total / counted[:, None, None], np.nan)


def _grid(best: np.ndarray) -> np.ndarray:
    """Evenly spaced candidate thresholds over the range of ``best`` scores, plus one above it all."""
    best = best[np.isfinite(best)]
    if best.size == 0:
        return np.array([np.inf])
    low, high = float(best.min()), float(best.max())
    return np.append(np.linspace(low, high, _GRID), high + 1e-6)


def fit_decision_rule(scores: np.ndarray, target: np.ndarray, classes: np.ndarray, trained: np.ndarray,
                      gamma: float, seed: int = 0, text_by: str = "score") -> tuple[DecisionRule, OpenSetRates]:
    """Fit both unknown thresholds on held-out windows (see the module docstring).

    Args:
        scores: (N, K) cosine scores of held-out windows against every class in ``classes``.
        target: (N,) the class id of each window.
        classes: (K,) class ids; ``trained`` (K,) marks the classes the model trained on.
            The others (at least two) play actions added by text.
        gamma: the calibrated-stacking constant, fitted beforehand.
        text_by: what the text threshold applies to, one of :data:`TEXT_BY` (see the module docstring).

    Returns:
        The rule and its rates on the same windows, averaged over the halvings.
    """
    scores, target = np.asarray(scores, dtype=np.float64), np.asarray(target)
    classes, trained = np.asarray(classes), np.asarray(trained, dtype=bool)
    text_classes = classes[~trained]
    if len(text_classes) < 2:
        raise ValueError(f"fit_decision_rule needs at least two text-only classes to halve, got {len(text_classes)}")
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(_HALVINGS):
        absent = rng.permutation(text_classes)[: len(text_classes) // 2]
        draws.append(_halving(scores, target, classes, trained, gamma, absent, text_by))
    from_trained = np.concatenate([d.best_trained for d in draws])
    unknown_trained = _grid(np.concatenate([d.best_score for d in draws])[from_trained])
    unknown_text = _grid(np.concatenate([d.text_value for d in draws])[~from_trained])
    rates = _rates(draws, unknown_trained, unknown_text)  # (3, A, B)
    objective = np.nanmean(rates, axis=0)  # (A, B)
    # Many pairs tie where the classes separate cleanly: take the middle of the best ones, the widest margins.
    best_a, best_b = np.nonzero(objective >= objective.max() - 1e-9)
    a, b = int(np.median(np.unique(best_a)).round()), int(np.median(np.unique(best_b)).round())
    if objective[a, b] < objective.max() - 1e-9:  # the middle fell outside a non-rectangular optimum
        a, b = best_a[len(best_a) // 2], best_b[len(best_b) // 2]
    rule = DecisionRule(float(gamma), float(unknown_trained[a]), float(unknown_text[b]), text_by)
    return rule, OpenSetRates(*(float(r) for r in rates[:, a, b]))


def open_set_rates(rule: DecisionRule, scores: np.ndarray, target: np.ndarray, classes: np.ndarray,
                   trained: np.ndarray, absent_classes: np.ndarray) -> OpenSetRates:
    """The rates of ``rule`` when the classes in ``absent_classes`` are left out of the list."""
    classes, trained = np.asarray(classes), np.asarray(trained, dtype=bool)
    draw = _halving(np.asarray(scores, dtype=np.float64), np.asarray(target), classes, trained, rule.gamma,
                    np.asarray(absent_classes), rule.text_by)
    rates = _rates([draw], np.array([rule.unknown_trained]), np.array([rule.unknown_text]))
    return OpenSetRates(*(float(r) for r in rates[:, 0, 0]))
