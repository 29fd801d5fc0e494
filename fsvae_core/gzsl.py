"""Generalised zero-shot evaluation: seen, unseen and their harmonic mean, and two ways to decide.

In GZSL a test sample may come from any class, and models trained on seen
classes favour them. Two remedies, each fitted on *validation* classes carved
from the seen set (pseudo-unseen), never on test data:

- calibrated stacking: one score per class for all classes, minus a constant
  ``gamma`` on seen classes (:class:`CalibratedStacking`);
- a learned gate: logistic regression on the sorted top probabilities of a
  seen-class expert and an unseen-class expert says which expert to trust
  (:class:`LogisticGate`, as in the public code).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


def harmonic_mean(seen: float, unseen: float) -> float:
    """H = 2SU / (S + U), 0 when both are 0."""
    return 0.0 if seen + unseen == 0 else 2 * seen * unseen / (seen + unseen)


def accuracy(predicted: np.ndarray, target: np.ndarray) -> float:
    """Top-1 accuracy over samples; 0 for an empty set."""
    return float(np.mean(predicted == target)) if len(target) else 0.0


def per_class_accuracy(predicted: np.ndarray, target: np.ndarray, classes) -> dict[int, float]:
    """Top-1 accuracy of each class in ``classes`` over its own samples (absent classes omitted)."""
    return {int(c): accuracy(predicted[target == c], target[target == c]) for c in classes if np.any(target == c)}


@dataclass(frozen=True)
class GZSLResult:
    seen: float
    unseen: float
    harmonic: float

    def as_dict(self) -> dict[str, float]:
        return {"seen": self.seen, "unseen": self.unseen, "harmonic": self.harmonic}


def gzsl_result(predicted: np.ndarray, target: np.ndarray, seen_classes) -> GZSLResult:
    """Seen accuracy over samples of seen classes, unseen accuracy over the rest, and H."""
    from_seen = np.isin(target, np.asarray(seen_classes))
    s = accuracy(predicted[from_seen], target[from_seen])
    u = accuracy(predicted[~from_seen], target[~from_seen])
    return GZSLResult(s, u, harmonic_mean(s, u))


@dataclass(frozen=True)
class CalibratedStacking:
    """Predict ``argmax_k (score_k - gamma * [k is seen])`` over all classes."""

    gamma: float

    def predict(self, scores: np.ndarray, classes: np.ndarray, seen_mask: np.ndarray) -> np.ndarray:
        """``scores`` (N, K) for ``classes`` (K,) with ``seen_mask`` (K,); returns class ids (N,)."""
        return classes[np.argmax(scores - self.gamma * seen_mask[None, :], axis=1)]

    @classmethod
    def fit(cls, scores: np.ndarray, target: np.ndarray, classes: np.ndarray, seen_mask: np.ndarray) -> "CalibratedStacking":
        """Choose gamma maximising H on validation scores (N, K) and targets (N,)."""
        spread = float(np.ptp(scores)) or 1.0
        candidates = np.linspace(-spread, spread, 401)
        seen_classes = classes[seen_mask]
        best = max(
            candidates,
            key=lambda g: (gzsl_result(cls(g).predict(scores, classes, seen_mask), target, seen_classes).harmonic, -abs(g)),
        )
        return cls(float(best))


def sorted_top_probabilities(probabilities: np.ndarray, k: int) -> np.ndarray:
    """The k largest probabilities of each row, descending: (N, K) -> (N, k)."""
    return -np.sort(-probabilities, axis=1)[:, :k]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class LogisticGate:
    """Says "unseen" when ``sigmoid(w . features + b) > threshold``.

    Features are the sorted top-``k`` probabilities of the seen expert (at
    ``seen_temperature``) followed by those of the unseen expert.
    """

    weights: tuple[float, ...]
    bias: float
    threshold: float
    k: int
    seen_temperature: float

    def features(self, seen_logits: np.ndarray, unseen_probabilities: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [
                sorted_top_probabilities(softmax(seen_logits, self.seen_temperature), self.k),
                sorted_top_probabilities(unseen_probabilities, self.k),
            ],
            axis=1,
        )

    def unseen_probability(self, seen_logits: np.ndarray, unseen_probabilities: np.ndarray) -> np.ndarray:
        x = self.features(seen_logits, unseen_probabilities)
        return 1 / (1 + np.exp(-(x @ np.asarray(self.weights) + self.bias)))

    def predict(
        self, seen_logits: np.ndarray, unseen_probabilities: np.ndarray, seen_classes: np.ndarray, unseen_classes: np.ndarray
    ) -> np.ndarray:
        """Class ids (N,) from the expert the gate picks for each sample."""
        to_unseen = self.unseen_probability(seen_logits, unseen_probabilities) > self.threshold
        return np.where(to_unseen, unseen_classes[unseen_probabilities.argmax(1)], seen_classes[seen_logits.argmax(1)])

    @classmethod
    def fit(
        cls,
        seen_logits: np.ndarray,
        unseen_probabilities: np.ndarray,
        target: np.ndarray,
        seen_classes: np.ndarray,
        unseen_classes: np.ndarray,
        temperatures=(1, 2, 3, 4, 5, 6, 7, 8, 9),
    ) -> "LogisticGate":
        """Fit on validation outputs: logistic regression for each seen-expert temperature,
        then the threshold and temperature that maximise H of the gated predictions."""
        k = min(seen_logits.shape[1], unseen_probabilities.shape[1])
        is_unseen = np.isin(target, unseen_classes).astype(np.float64)
        best: tuple[float, LogisticGate] | None = None
        for temperature in temperatures:
            probe = cls((0.0,) * (2 * k), 0.0, 0.5, k, float(temperature))
            w, b = _logistic_regression(probe.features(seen_logits, unseen_probabilities), is_unseen)
            for threshold in np.linspace(0.05, 0.95, 91):
                gate = cls(tuple(float(v) for v in w), float(b), float(threshold), k, float(temperature))
                predicted = gate.predict(seen_logits, unseen_probabilities, seen_classes, unseen_classes)
                h = gzsl_result(predicted, target, seen_classes).harmonic
                if best is None or h > best[0] + 1e-12:
                    best = (h, gate)
        assert best is not None
        return best[1]


def _logistic_regression(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 200) -> tuple[np.ndarray, float]:
    """Binary logistic regression by L-BFGS with a small L2 penalty; returns (weights, bias)."""
    xt = torch.as_tensor(x, dtype=torch.float64)
    yt = torch.as_tensor(y, dtype=torch.float64)
    w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) + l2 * w.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return w.detach().numpy(), float(b.detach())
