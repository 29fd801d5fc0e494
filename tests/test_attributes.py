import numpy as np
import pytest
import torch

from calibration.layouts import NTU25
from fsvae_core.attributes import (ATTRIBUTES, AttributeMatcher, attribute_directions, attribute_scores,
                                   class_attributes, measure)
from fsvae_core.descriptions import PART_NAMES, ActionDescription
from fsvae_core.parts import part_text_embeddings
from fsvae_core.text import SentenceEncoder

FRAMES = 16
INDEX = {a.name: i for i, a in enumerate(ATTRIBUTES)}

# A person standing in the body frame: x to their right, y up, facing -z; spine base at the origin.
STANDING = {
    "SPINE_BASE": (0, 0, 0), "SPINE_MID": (0, 0.25, 0), "NECK": (0, 0.55, 0), "HEAD": (0, 0.7, 0),
    "SPINE_SHOULDER": (0, 0.5, 0),
    "SHOULDER_LEFT": (-0.2, 0.5, 0), "ELBOW_LEFT": (-0.22, 0.25, 0), "WRIST_LEFT": (-0.22, 0.02, 0),
    "HAND_LEFT": (-0.22, -0.05, 0), "HAND_TIP_LEFT": (-0.22, -0.1, 0), "THUMB_LEFT": (-0.2, -0.05, 0),
    "SHOULDER_RIGHT": (0.2, 0.5, 0), "ELBOW_RIGHT": (0.22, 0.25, 0), "WRIST_RIGHT": (0.22, 0.02, 0),
    "HAND_RIGHT": (0.22, -0.05, 0), "HAND_TIP_RIGHT": (0.22, -0.1, 0), "THUMB_RIGHT": (0.2, -0.05, 0),
    "HIP_LEFT": (-0.1, 0, 0), "KNEE_LEFT": (-0.1, -0.45, 0), "ANKLE_LEFT": (-0.1, -0.9, 0),
    "FOOT_LEFT": (-0.1, -0.95, -0.1),
    "HIP_RIGHT": (0.1, 0, 0), "KNEE_RIGHT": (0.1, -0.45, 0), "ANKLE_RIGHT": (0.1, -0.9, 0),
    "FOOT_RIGHT": (0.1, -0.95, -0.1),
}


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return SentenceEncoder(cache_root=tmp_path_factory.mktemp("text-cache"))


def standing(frames: int = FRAMES) -> np.ndarray:
    """(T, V, 3) a person standing still."""
    pose = np.zeros((len(NTU25), 3), np.float32)
    for name, xyz in STANDING.items():
        pose[NTU25[name]] = xyz
    return np.repeat(pose[None], frames, axis=0)


def as_windows(*people: np.ndarray) -> torch.Tensor:
    """(N, M=2, T, V, 3) with the second person absent (zeros)."""
    x = np.stack([np.stack([p, np.zeros_like(p)]) for p in people])
    return torch.from_numpy(x.astype(np.float32))


def raising(joint: str, to: tuple[float, float, float]) -> np.ndarray:
    """A standing person whose ``joint`` moves to ``to`` over the second half of the window."""
    x = standing()
    x[FRAMES // 2:, NTU25[joint]] = to
    return x


def test_a_hand_raised_above_the_head_measures_above_one_at_rest_on_its_own_side_only():
    m = measure(as_windows(standing(), raising("WRIST_RIGHT", (0.25, 0.95, 0))))
    up, still = m[1], m[0]
    assert up[INDEX["right_hand_above_head"]] > still[INDEX["right_hand_above_head"]] + 0.5
    assert up[INDEX["left_hand_above_head"]] == still[INDEX["left_hand_above_head"]]
    assert up[INDEX["right_arm_moves"]] > still[INDEX["right_arm_moves"]] == 0


def test_a_hand_at_the_face_and_two_hands_meeting_are_told_apart():
    to_face = raising("WRIST_RIGHT", (0.05, 0.65, -0.1))
    meet = standing()
    meet[:, NTU25.WRIST_RIGHT] = (0.02, 0.3, -0.25)
    meet[:, NTU25.WRIST_LEFT] = (-0.02, 0.3, -0.25)
    m = measure(as_windows(standing(), to_face, meet))
    assert m[1, INDEX["right_hand_to_face"]] > m[0, INDEX["right_hand_to_face"]] + 0.4
    assert m[2, INDEX["hands_meet"]] > max(m[0, INDEX["hands_meet"]], m[1, INDEX["hands_meet"]]) + 0.3
    assert m[2, INDEX["right_hand_forward"]] > m[0, INDEX["right_hand_forward"]] + 0.2


def test_sitting_lowers_the_hips_standing_up_raises_them_and_bowing_bends_the_torso():
    sit = standing()
    sit[FRAMES // 2:] -= (0, 0.4, 0)  # the whole body drops as the hips reach the seat
    stand_up = sit[::-1].copy()
    bow = standing()
    bow[FRAMES // 2:, [NTU25.SPINE_SHOULDER, NTU25.NECK]] = (0, 0.35, -0.35)
    bow[FRAMES // 2:, NTU25.HEAD] = (0, 0.45, -0.55)
    m = measure(as_windows(standing(), sit, stand_up, bow))
    assert m[1, INDEX["hips_lower"]] == pytest.approx(0.4) and m[1, INDEX["hips_rise"]] == 0
    assert m[2, INDEX["hips_rise"]] == pytest.approx(0.4) and m[2, INDEX["hips_lower"]] == 0
    assert m[3, INDEX["torso_bends"]] > m[0, INDEX["torso_bends"]] + 0.5
    assert m[3, INDEX["head_down"]] > m[0, INDEX["head_down"]] + 0.5


def test_a_hand_at_the_mouth_and_a_hand_at_the_ear_are_told_apart():
    # Head 0.2 above the shoulders: the mouth point is 0.14 below the head and 0.1 in front, the ear 0.09 out.
    mouth = raising("WRIST_RIGHT", (0.0, 0.56, -0.1))
    ear = raising("WRIST_RIGHT", (0.09, 0.58, 0.0))
    m = measure(as_windows(standing(), mouth, ear))
    assert m[1, INDEX["right_hand_to_mouth"]] > max(m[0, INDEX["right_hand_to_mouth"]], m[2, INDEX["right_hand_to_mouth"]])
    assert m[2, INDEX["right_hand_to_ear"]] > max(m[0, INDEX["right_hand_to_ear"]], m[1, INDEX["right_hand_to_ear"]])
    assert m[1, INDEX["left_hand_to_mouth"]] == m[0, INDEX["left_hand_to_mouth"]]


def test_a_forearm_swings_only_while_the_hand_is_above_the_shoulder():
    def swinging(height: float) -> np.ndarray:
        x = standing()
        x[:, NTU25.ELBOW_RIGHT] = (0.3, height - 0.2, 0)
        x[:, NTU25.WRIST_RIGHT] = [(0.3 + 0.1 * (-1) ** t, height, 0) for t in range(FRAMES)]
        return x

    m = measure(as_windows(standing(), swinging(0.8), swinging(0.3)))
    raised, low = m[1, INDEX["right_forearm_swings"]], m[2, INDEX["right_forearm_swings"]]
    assert raised > 5 and low == 0 == m[0, INDEX["right_forearm_swings"]]
    assert m[1, INDEX["left_forearm_swings"]] == 0


def test_directions_cover_exactly_the_parts_each_attribute_names(encoder):
    directions = attribute_directions(encoder)  # (B, D, A)
    assert directions.shape == (len(PART_NAMES), encoder.dim, len(ATTRIBUTES))
    for a, attribute in enumerate(ATTRIBUTES):
        named = [PART_NAMES.index(p) for p in attribute.parts]
        touched = np.flatnonzero(np.abs(directions[:, :, a]).sum(axis=1))
        assert sorted(touched.tolist()) == sorted(named), attribute.name


def _described(name: str, right_arm: str) -> ActionDescription:
    parts = {p: f"the {p.replace('_', ' ')} stays still" for p in PART_NAMES} | {"right_arm": right_arm}
    return ActionDescription(name, name, name, parts)


def test_a_class_said_to_raise_its_hand_has_more_of_that_attribute_than_one_keeping_it_at_rest(encoder):
    classes = [_described("wave", "the right arm rises above the head and waves"),
               _described("stand", "the right arm stays still at the side")]
    table, _ = part_text_embeddings(classes, encoder)
    t = class_attributes(torch.from_numpy(table), torch.from_numpy(attribute_directions(encoder))).numpy()  # (K, A)
    assert t[0, INDEX["right_hand_above_head"]] > t[1, INDEX["right_hand_above_head"]] + 0.2
    assert t[0, INDEX["left_hand_above_head"]] == pytest.approx(t[1, INDEX["left_hand_above_head"]])


def test_windows_score_highest_for_the_class_whose_sentences_say_what_they_show(encoder):
    # Worded hand for hand: the sentence encoder weighs "hand" against "arm" as much as "head" against "mouth".
    classes = [_described("wave", "the right hand rises high above the head and waves"),
               _described("stand", "the right arm stays still at the side"),
               _described("drink", "the right hand comes up to the mouth")]
    table, has = part_text_embeddings(classes, encoder)
    windows = as_windows(standing(), raising("WRIST_RIGHT", (0.25, 0.95, 0)), raising("WRIST_RIGHT", (0.05, 0.65, -0.1)))
    reference = as_windows(*[standing()] * 4, raising("WRIST_RIGHT", (0.3, 0.4, -0.3)),
                           raising("WRIST_RIGHT", (0.25, 0.95, 0)), raising("WRIST_RIGHT", (0.05, 0.65, -0.1)))
    matcher = AttributeMatcher.fit(attribute_directions(encoder), measure(reference).numpy(), table)
    scores = matcher.scores(measure(windows).numpy(), table, has)  # (3 windows, 3 classes)
    assert scores.argmax(axis=1).tolist() == [1, 0, 2]


def test_a_class_without_part_sentences_gets_each_windows_mean_score():
    rng = np.random.default_rng(0)
    directions = torch.from_numpy(rng.normal(size=(len(PART_NAMES), 8, len(ATTRIBUTES))).astype(np.float32))
    part_text = torch.from_numpy(rng.normal(size=(3, len(PART_NAMES), 8)).astype(np.float32))
    measures = torch.from_numpy(rng.normal(size=(5, len(ATTRIBUTES))).astype(np.float32))
    ones, zeros = torch.ones(len(ATTRIBUTES)), torch.zeros(len(ATTRIBUTES))
    has = torch.tensor([True, True, False])
    scores = attribute_scores(measures, zeros, ones, part_text, has, directions, zeros, ones)
    torch.testing.assert_close(scores[:, 2], scores[:, :2].mean(dim=1))


def test_the_matcher_round_trips_through_its_tensors_and_refuses_other_shapes(encoder):
    rng = np.random.default_rng(1)
    table = rng.normal(size=(4, len(PART_NAMES), encoder.dim)).astype(np.float32)
    matcher = AttributeMatcher.fit(attribute_directions(encoder), rng.normal(size=(10, len(ATTRIBUTES))), table)
    again = AttributeMatcher.from_tensors(matcher.to_tensors())
    for name in AttributeMatcher.FIELDS:
        np.testing.assert_array_equal(getattr(again, name), getattr(matcher, name))
    with pytest.raises(ValueError, match="window_mean"):
        AttributeMatcher.from_tensors(matcher.to_tensors() | {"window_mean": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="measures"):
        AttributeMatcher.fit(matcher.directions, np.zeros((10, 3)), table)


# The attributes of the earlier version, in its order: bundles fitted with them (the one shipped until
# 2026-11-29 among them) list these and are scored with exactly these.
EARLIER_21 = [
    "right_hand_above_head", "right_hand_to_face", "right_hand_forward", "right_arm_moves", "right_hand_down",
    "right_hand_out", "right_kick", "left_hand_above_head", "left_hand_to_face", "left_hand_forward",
    "left_arm_moves", "left_hand_down", "left_hand_out", "left_kick", "hands_meet", "torso_bends", "hips_lower",
    "hips_rise", "walks", "jumps", "head_down",
]


def test_the_earlier_21_attributes_come_first_and_are_measured_alone_for_a_bundle_that_uses_no_more():
    windows = as_windows(standing(), raising("WRIST_RIGHT", (0.0, 0.56, -0.1)))
    assert [a.name for a in ATTRIBUTES][:21] == EARLIER_21
    torch.testing.assert_close(measure(windows, 21), measure(windows)[:, :21])


def test_the_measures_are_made_on_the_windows_device():
    # The meta device stands in for CUDA on a machine without one: a constant made on the CPU
    # beside windows on another device is an error there, as it was on CUDA (every live window).
    windows = as_windows(standing(), raising("WRIST_RIGHT", (0.0, 0.56, -0.1))).to("meta")
    measured = measure(windows)
    assert measured.device.type == "meta" and measured.shape == (2, len(ATTRIBUTES))


def test_a_matcher_of_fewer_attributes_scores_with_its_own_columns(encoder):
    # A bundle fitted before some attributes existed keeps its own: the others' measures are not used.
    rng = np.random.default_rng(2)
    table = rng.normal(size=(4, len(PART_NAMES), encoder.dim)).astype(np.float32)
    full = AttributeMatcher.fit(attribute_directions(encoder), rng.normal(size=(10, len(ATTRIBUTES))), table)
    kept = [a.name for a in ATTRIBUTES][::2]
    columns = [INDEX[name] for name in kept]
    tensors = {name: array[..., columns] for name, array in full.to_tensors().items()}
    older = AttributeMatcher.from_tensors(tensors, kept)
    assert older.columns.tolist() == columns
    measures = rng.normal(size=(3, len(ATTRIBUTES))).astype(np.float32)
    t = {name: torch.from_numpy(array) for name, array in tensors.items()}
    expected = attribute_scores(torch.from_numpy(measures[:, columns]), t["window_mean"], t["window_scale"],
                                torch.from_numpy(table), torch.ones(4, dtype=torch.bool), t["directions"],
                                t["text_mean"], t["text_scale"]).numpy()
    np.testing.assert_allclose(older.scores(measures, table, np.ones(4, bool)), expected, rtol=1e-6)
    with pytest.raises(ValueError, match="unknown"):
        AttributeMatcher.from_tensors(tensors, kept[:-1] + ["hand_on_hip"])
