"""Part attributes: motion the skeleton shows by its geometry, read out of the body-part sentences.

The VAEs and the part maps (:mod:`fsvae_core.parts`) learn the match between
motion and words from the seen classes alone, so a word no seen class showed
("the hand comes up to the ear") means nothing to them. Some of what part
sentences say can be measured on a skeleton without learning anything: how
high a hand rises, whether the two hands meet, how far the torso bends, whether
the hips lower. Each attribute a here is such a measure m_a(window) with a
phrase that says it ("the right hand rises above the head") on the body parts
whose sentences would say it. A class's value for it is how much more its
part sentence resembles the phrase than the part's sentence for standing still:

    t_{k,a} = mean_{p in parts(a)} e_{k,p} . (u_a - n_p)          (unit sentence embeddings)

and a window's attribute score for class k correlates the two, each
standardised (windows over training windows, classes over trained classes):

    attr_k = 1/A sum_a clip(z(m_a(window)), -3, 3) z(t_{k,a})
    score_k = cos(z_s, prototype_k) + lambda part_k + lambda_attr attr_k

with lambda_attr chosen on validation classes beside lambda (0: off). Only the
standardisation is fitted; the match itself is fixed, so it holds for actions
no training class resembles. A class without body-part sentences gets each
window's mean attribute score, as in the part rule.

Windows are in the canonical body frame (:func:`calibration.normalize.normalize_body`):
x runs to the subject's right, y up, the subject faces -z.

Axis letters: N windows, M persons, T frames, V joints, A attributes, B body
parts, D sentence dimension, K classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from calibration.layouts import NTU25
from fsvae_core.descriptions import PART_NAMES


@dataclass(frozen=True)
class Attribute:
    """A measurable motion: its name, the body parts whose sentences say it, and the phrase that does."""

    name: str
    parts: tuple[str, ...]
    phrase: str


def _arm_and_leg(side: str) -> tuple[Attribute, ...]:
    arm, leg = (f"{side}_arm",), (f"{side}_leg",)
    return (
        Attribute(f"{side}_hand_above_head", arm, f"the {side} hand rises above the head"),
        Attribute(f"{side}_hand_to_face", arm, f"the {side} hand comes up to the face"),
        Attribute(f"{side}_hand_forward", arm, f"the {side} arm stretches out forward"),
        Attribute(f"{side}_arm_moves", arm, f"the {side} arm swings and moves a lot"),
        Attribute(f"{side}_hand_down", arm, f"the {side} hand reaches down toward the floor"),
        Attribute(f"{side}_hand_out", arm, f"the {side} arm stretches out to the side"),
        Attribute(f"{side}_kick", leg, f"the {side} leg kicks forward"),
    )


def _near_the_head(side: str) -> tuple[Attribute, ...]:
    arm = (f"{side}_arm",)
    return (
        Attribute(f"{side}_hand_to_mouth", arm, f"the {side} hand comes up to the mouth"),
        Attribute(f"{side}_hand_to_ear", arm, f"the {side} hand is held near the ear"),
        Attribute(f"{side}_forearm_swings", arm, f"the {side} forearm swings side to side above the shoulder"),
    )


# The first 21 in the order the earlier version listed them (its bundles name a prefix of this list).
ATTRIBUTES: tuple[Attribute, ...] = _arm_and_leg("right") + _arm_and_leg("left") + (
    Attribute("hands_meet", ("right_arm", "left_arm"), "the two hands meet in front of the chest"),
    Attribute("torso_bends", ("torso",), "the torso bends forward at the hips"),
    Attribute("hips_lower", ("left_leg", "right_leg"), "the knees bend and the hips lower"),
    Attribute("hips_rise", ("left_leg", "right_leg"), "the legs straighten and the body rises up"),
    Attribute("walks", ("left_leg", "right_leg"), "the legs take steps and walk"),
    Attribute("jumps", ("left_leg", "right_leg"), "both feet leave the ground in a jump"),
    Attribute("head_down", ("head",), "the head tilts down"),
) + _near_the_head("right") + _near_the_head("left")

_NAMES = tuple(a.name for a in ATTRIBUTES)

# What each part's sentence says when that part does nothing (the wording of our own descriptions): the
# contrast that keeps "the right arm stays still at the side" from matching "stretches out to the side".
STILL_SENTENCES = {
    "head": "the head faces forward and stays level",
    "torso": "the torso stays upright and still",
    "left_arm": "the left arm stays still at the side",
    "right_arm": "the right arm stays still at the side",
    "left_leg": "the left leg stands still, weight on both feet",
    "right_leg": "the right leg stands still, weight on both feet",
}
# Standardised measures are clipped to this many deviations: one odd window must not outvote the rest.
CLIP = 3.0


# Joints the measures read, gathered once; the sided ones right first, as the attributes are listed.
_JOINTS = [NTU25[name] for name in ("HEAD", "SPINE_SHOULDER", "SPINE_BASE", "WRIST_RIGHT", "WRIST_LEFT",
                                     "SHOULDER_RIGHT", "SHOULDER_LEFT", "ANKLE_RIGHT", "ANKLE_LEFT",
                                     "HIP_RIGHT", "HIP_LEFT", "ELBOW_RIGHT", "ELBOW_LEFT")]
_OUTWARD = (1.0, -1.0)  # the subject's right is +x, so "out to the side" is +x for the right hand, -x for the left
# Where the wrist is when the hand is at the mouth or at the ear, from the head joint (the middle of the head):
# (outward, up, forward) in lengths of the head above the shoulders, set from body proportions, not fitted.
_MOUTH = (0.0, -0.7, 0.5)
_EAR = (0.45, -0.6, 0.0)


def measure(windows: torch.Tensor, count: int = len(ATTRIBUTES)) -> torch.Tensor:
    """The first ``count`` attribute measures (N, count) of windows (N, M, T, V, 3), person 0, in
    :data:`ATTRIBUTES` order: a bundle fitted with only the first 21 computes nothing more.

    Branch-free (it is traced for ONNX export too), both sides at once; larger means more of the attribute.
    """
    joints = windows[:, 0, :, _JOINTS].float()  # (N, T, 13, 3)
    head, neck, base = joints[:, :, 0], joints[:, :, 1], joints[:, :, 2]  # (N, T, 3)
    wrist, shoulder, ankle, hip = joints[:, :, 3:5], joints[:, :, 5:7], joints[:, :, 7:9], joints[:, :, 9:11]  # (N, T, 2, 3)
    elbow = joints[:, :, 11:13]  # (N, T, 2, 3)
    feet_y = ankle[..., 1].amin(dim=2)  # (N, T) the lower foot
    reach = wrist - neck[:, :, None]  # (N, T, 2, 3)
    outward = torch.tensor(_OUTWARD, dtype=joints.dtype, device=joints.device)
    sided = torch.stack([
        (wrist[..., 1] - head[:, :, None, 1]).amax(1),  # hand above head
        -(wrist - head[:, :, None]).norm(dim=-1).amin(1),  # hand to face
        (shoulder[..., 2] - wrist[..., 2]).amax(1),  # hand forward
        (reach[:, 1:] - reach[:, :-1]).norm(dim=-1).sum(1),  # arm moves (slices: the ONNX exporter lacks diff)
        (feet_y[:, :, None] - wrist[..., 1]).amax(1),  # hand down
        (outward * (wrist[..., 0] - shoulder[..., 0])).amax(1),  # hand out
        (hip[..., 2] - ankle[..., 2]).amax(1),  # kick
    ], dim=1)  # (N, 7, 2)
    spine, face = neck - base, head - neck  # (N, T, 3)
    height = base[..., 1] - base[:, :1, 1]  # (N, T) hips against the first frame
    body = torch.stack([
        -(wrist[:, :, 0] - wrist[:, :, 1]).norm(dim=-1).amin(1),  # hands meet
        (-spine[..., 2] / (spine.norm(dim=-1) + 1e-6)).amax(1),  # torso bends
        (-height).amax(1),  # hips lower
        height.amax(1),  # hips rise
        (base - base[:, :1])[..., [0, 2]].norm(dim=-1).amax(1),  # walks: along the floor
        feet_y.amax(1) - feet_y.amin(1),  # jumps: the lower foot rises only when both leave the floor
        (-face[..., 2] / (face.norm(dim=-1) + 1e-6)).amax(1),  # head down
    ], dim=1)  # (N, 7)
    first = torch.cat([sided.transpose(1, 2).flatten(1), body], dim=1)  # (N, 21)
    if count <= first.shape[1]:
        return first[:, :count]
    head_length = (head - neck).norm(dim=-1).mean(1).clamp_min(1e-3)[:, None, None]  # (N, 1, 1)
    from_head = wrist - head[:, :, None]  # (N, T, 2, 3)
    # The wrist from the head in (outward, up, forward) head lengths (the subject faces -z).
    near_head = torch.stack([outward * from_head[..., 0], from_head[..., 1], -from_head[..., 2]], dim=-1) / head_length[..., None]
    forearm_x = (wrist[..., 0] - elbow[..., 0]) / head_length  # (N, T, 2)
    raised = ((wrist[..., 1] - shoulder[..., 1]) / head_length).clamp(0, 1)  # (N, T, 2) 1 once a head above
    near = torch.stack([
        -(near_head - torch.tensor(_MOUTH, dtype=joints.dtype, device=joints.device)).norm(dim=-1).amin(1),  # hand to mouth
        -(near_head - torch.tensor(_EAR, dtype=joints.dtype, device=joints.device)).norm(dim=-1).amin(1),  # hand to ear
        ((forearm_x[:, 1:] - forearm_x[:, :-1]).abs() * raised[:, 1:]).sum(1),  # forearm swings while raised
    ], dim=1)  # (N, 3, 2)
    return torch.cat([first, near.transpose(1, 2).flatten(1)], dim=1)[:, :count]


def measure_windows(windows: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """:func:`measure` of numpy windows (N, M, T, V, 3) -> (N, A) float32."""
    out = [measure(torch.from_numpy(np.ascontiguousarray(windows[i : i + batch_size], dtype=np.float32))).numpy()
           for i in range(0, len(windows), batch_size)]  # fmt: skip
    return np.concatenate(out) if out else np.zeros((0, len(ATTRIBUTES)), np.float32)


def attribute_directions(encoder) -> np.ndarray:
    """(B, D, A) float32: column a holds (u_a - n_p) / |parts(a)| in the rows of each part p it names."""
    unit = lambda v: v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)  # noqa: E731
    phrases = unit(np.asarray(encoder.encode([a.phrase for a in ATTRIBUTES]), dtype=np.float64))  # (A, D)
    still = unit(np.asarray(encoder.encode([STILL_SENTENCES[p] for p in PART_NAMES]), dtype=np.float64))  # (B, D)
    directions = np.zeros((len(PART_NAMES), phrases.shape[1], len(ATTRIBUTES)))
    for a, attribute in enumerate(ATTRIBUTES):
        for part in attribute.parts:
            p = PART_NAMES.index(part)
            directions[p, :, a] = (phrases[a] - still[p]) / len(attribute.parts)
    return directions.astype(np.float32)


def class_attributes(part_text: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """t_{k,a} of the module docstring (K, A) from unit part-sentence embeddings (K, B, D) and directions (B, D, A)."""
    return part_text.flatten(1) @ directions.flatten(0, 1)


def attribute_scores(measures: torch.Tensor, window_mean: torch.Tensor, window_scale: torch.Tensor,
                     part_text: torch.Tensor, has_parts: torch.Tensor, directions: torch.Tensor,
                     text_mean: torch.Tensor, text_scale: torch.Tensor) -> torch.Tensor:
    """attr_k of the module docstring (N, K), without branches.

    Args:
        measures: (N, A) from :func:`measure`; window_mean, window_scale, text_mean, text_scale (A,) and
            directions (B, D, A): an :class:`AttributeMatcher`.
        part_text: (K, B, D) unit part-sentence embeddings; has_parts: (K,) bool, False for a class
            without sentences, which gets each window's mean over the classes that have them.
    """
    z = ((measures - window_mean) / window_scale).clamp(-CLIP, CLIP) / text_scale  # (N, A)
    # z . (t_k - text_mean) with t_k = e_k . directions, multiplied window side first: N A BD + N BD K
    # operations instead of K BD A for every call (the classes come in at each call).
    through = (z @ directions.flatten(0, 1).T) @ part_text.flatten(1).T  # (N, K)
    scores = (through - (z @ text_mean)[:, None]) / measures.shape[1]  # (N, K)
    has = has_parts.to(scores.dtype)
    neutral = (scores * has).sum(dim=1, keepdim=True) / has.sum().clamp_min(1)
    return scores * has + neutral * (1 - has)


@dataclass(frozen=True)
class AttributeMatcher:
    """The fitted constants of the attribute scores: directions (B, D, A) and four (A,) standardisers,
    for the attributes ``names`` (A of :data:`ATTRIBUTES`, in that order; all of them when fitted here).

    A matcher fitted by an earlier version knows fewer attributes than this one
    measures; it goes on scoring with its own, the measures of the rest unused.
    """

    directions: np.ndarray
    window_mean: np.ndarray
    window_scale: np.ndarray
    text_mean: np.ndarray
    text_scale: np.ndarray
    names: tuple[str, ...] = _NAMES

    FIELDS = ("directions", "window_mean", "window_scale", "text_mean", "text_scale")

    @property
    def columns(self) -> np.ndarray:
        """(A,) int64: where each of ``names`` is among :func:`measure`'s columns."""
        return np.array([_NAMES.index(name) for name in self.names], dtype=np.int64)

    @classmethod
    def fit(cls, directions: np.ndarray, measures: np.ndarray, trained_part_text: np.ndarray) -> AttributeMatcher:
        """Standardisers from training windows' measures (N, A) and the trained classes' part sentences (K, B, D)."""
        if measures.ndim != 2 or measures.shape[1] != directions.shape[2] or len(measures) < 2:
            raise ValueError(f"AttributeMatcher.fit needs measures (N >= 2, A={directions.shape[2]}), got {measures.shape}")
        text = class_attributes(torch.as_tensor(trained_part_text, dtype=torch.float32),
                                torch.as_tensor(directions)).numpy()  # (K, A)
        return cls(directions.astype(np.float32), measures.mean(0).astype(np.float32),
                   (measures.std(0) + 1e-6).astype(np.float32), text.mean(0).astype(np.float32),
                   (text.std(0) + 1e-6).astype(np.float32))

    def scores(self, measures: np.ndarray, part_text: np.ndarray, has_parts: np.ndarray) -> np.ndarray:
        """Attribute scores (N, K) of windows' measures (N, len(ATTRIBUTES)) against classes' part sentences (K, B, D)."""
        t = {name: torch.as_tensor(np.asarray(a, dtype=np.float32)) for name, a in self.to_tensors().items()}
        measures = np.asarray(measures, dtype=np.float32)[:, self.columns]
        return attribute_scores(torch.as_tensor(measures), t["window_mean"],
                                t["window_scale"], torch.as_tensor(np.asarray(part_text, dtype=np.float32)),
                                torch.as_tensor(np.asarray(has_parts, dtype=bool)), t["directions"],
                                t["text_mean"], t["text_scale"]).numpy()

    def to_tensors(self) -> dict[str, np.ndarray]:
        """The arrays to store, by name (:attr:`FIELDS`)."""
        return {name: getattr(self, name) for name in self.FIELDS}

    @classmethod
    def from_tensors(cls, tensors: dict, names: Sequence[str] | None = None) -> AttributeMatcher:
        """Rebuild from :meth:`to_tensors` output (numpy arrays or CPU tensors) for the attributes ``names``
        (default: all of :data:`ATTRIBUTES`); names and shapes are checked."""
        names = _NAMES if names is None else tuple(names)
        unknown = [name for name in names if name not in _NAMES]
        if unknown or len(set(names)) != len(names):
            raise ValueError(f"attributes {list(names)!r}: {'unknown ' + repr(unknown) if unknown else 'repeated'} "
                             f"(this version measures {list(_NAMES)})")
        arrays = {name: np.asarray(tensors[name], dtype=np.float32) for name in cls.FIELDS}
        directions, a = arrays["directions"], len(names)
        if directions.ndim != 3 or directions.shape[0] != len(PART_NAMES) or directions.shape[2] != a or any(
                arrays[name].shape != (a,) for name in cls.FIELDS[1:]):
            raise ValueError(f"attribute tensors do not fit {a} attributes over {len(PART_NAMES)} parts: "
                             + ", ".join(f"{name} {arrays[name].shape}" for name in cls.FIELDS))
        return cls(**arrays, names=names)
