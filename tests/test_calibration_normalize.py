"""Body-frame normalisation: gap filling, a fixed body frame, uniform time grids, configs."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from calibration import (
    NTU25,
    NormalizationConfig,
    apply_normalization,
    fill_missing,
    normalize_body,
    resample,
    resample_times,
    to_canonical,
)
from calibration.normalize import LIMB_BONES, NTU_SPINE_PER_LIMB_LENGTH


def turn_about_y(degrees: float) -> np.ndarray:
    """(3, 3) rotation about the vertical axis."""
    c, s = np.cos(np.deg2rad(degrees)), np.sin(np.deg2rad(degrees))
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def standing_body(offset=(0.0, 0.0, 3.0), turn_deg: float = 0.0, size: float = 1.0) -> np.ndarray:
    """(25, 3) a symmetric NTU25 body facing the camera, turned about y and scaled."""
    joints = np.zeros((25, 3))
    spine = {"SPINE_BASE": 0.0, "SPINE_MID": 0.25, "SPINE_SHOULDER": 0.5, "NECK": 0.6, "HEAD": 0.75}
    for name, y in spine.items():
        joints[NTU25[name]] = (0.0, y, 0.0)
    left_side = {
        "SHOULDER": (-0.18, 0.48), "ELBOW": (-0.2, 0.2), "WRIST": (-0.22, -0.05),
        "HAND": (-0.22, -0.12), "HAND_TIP": (-0.22, -0.18), "THUMB": (-0.2, -0.14),
        "HIP": (-0.08, -0.02), "KNEE": (-0.09, -0.45), "ANKLE": (-0.09, -0.85),
        "FOOT": (-0.09, -0.9),
    }  # fmt: skip
    for stem, (x, y) in left_side.items():
        joints[NTU25[f"{stem}_LEFT"]] = (x, y, 0.0)
        joints[NTU25[f"{stem}_RIGHT"]] = (-x, y, 0.0)
    return (joints * size) @ turn_about_y(turn_deg).T + np.asarray(offset)


def walking(num_frames: int = 6, **kwargs) -> np.ndarray:
    """(T, 25, 3) the standing body sliding 0.1 m along x per frame."""
    body = standing_body(**kwargs)
    return np.stack([body + (0.1 * t, 0.0, 0.0) for t in range(num_frames)])


# ---------------------------------------------------------------------------
# fill_missing


def test_fill_missing_interpolates_a_gap_linearly_over_time():
    seq = walking(5)
    holes = seq.copy()
    holes[1:4, NTU25.HAND_LEFT] = np.nan
    filled = fill_missing(holes)
    np.testing.assert_allclose(filled, seq, atol=1e-6)  # the walk is linear in time


def test_fill_missing_holds_the_nearest_frame_before_the_first_and_after_the_last_sighting():
    seq = walking(5)
    holes = seq.copy()
    holes[:2, NTU25.HEAD] = np.nan
    holes[4:, NTU25.HEAD, 1] = np.nan  # one coordinate missing is the joint missing
    filled = fill_missing(holes)
    np.testing.assert_allclose(filled[0, NTU25.HEAD], seq[2, NTU25.HEAD], atol=1e-6)
    np.testing.assert_allclose(filled[1, NTU25.HEAD], seq[2, NTU25.HEAD], atol=1e-6)
    np.testing.assert_allclose(filled[4, NTU25.HEAD], seq[3, NTU25.HEAD], atol=1e-6)


def test_fill_missing_puts_a_never_seen_joint_at_the_body_centre():
    seq = walking(3)
    holes = seq.copy()
    holes[:, NTU25.THUMB_RIGHT] = np.nan
    filled = fill_missing(holes)
    others = np.delete(seq, NTU25.THUMB_RIGHT, axis=1)
    np.testing.assert_allclose(filled[:, NTU25.THUMB_RIGHT], others.mean(axis=1), atol=1e-6)


def test_fill_missing_leaves_no_nan_in_scattered_holes_and_keeps_the_input():
    rng = np.random.default_rng(0)
    seq = rng.normal(size=(20, 2, 25, 3))
    seq[rng.random(seq.shape[:3]) < 0.3] = np.nan
    before = seq.copy()
    filled = fill_missing(seq)
    assert filled.shape == seq.shape and filled.dtype == np.float32
    assert np.isfinite(filled).all()
    np.testing.assert_array_equal(seq, before)


def test_fill_missing_makes_an_absent_second_person_zeros():
    seq = np.stack([walking(4), np.full((4, 25, 3), np.nan)], axis=1)  # (T, M, V, 3)
    filled = fill_missing(seq)
    np.testing.assert_allclose(filled[:, 0], walking(4), atol=1e-6)
    assert np.all(filled[:, 1] == 0)


def test_fill_missing_treats_zero_joints_as_missing_only_when_asked():
    seq = walking(3)
    seq[1, NTU25.KNEE_LEFT] = 0.0
    assert np.all(fill_missing(seq)[1, NTU25.KNEE_LEFT] == 0)
    repaired = fill_missing(seq, zeros_are_missing=True)
    expected = walking(3)[1, NTU25.KNEE_LEFT]
    np.testing.assert_allclose(repaired[1, NTU25.KNEE_LEFT], expected, atol=1e-6)


def test_fill_missing_refuses_an_all_nan_sequence():
    with pytest.raises(ValueError, match="every joint of every frame is missing"):
        fill_missing(np.full((5, 25, 3), np.nan))


@pytest.mark.parametrize("shape", [(25, 3), (5, 25, 2), (0, 25, 3)])
def test_fill_missing_names_a_bad_shape(shape):
    with pytest.raises(ValueError, match="fill_missing"):
        fill_missing(np.zeros(shape))


# ---------------------------------------------------------------------------
# normalize_body


def test_normalize_body_puts_the_first_spine_base_at_the_origin_and_the_hips_along_x():
    seq = walking(4, offset=(0.4, -0.2, 2.5), turn_deg=35.0)
    out = normalize_body(seq)
    np.testing.assert_allclose(out[0, NTU25.SPINE_BASE], 0.0, atol=1e-6)
    hips = out[0, NTU25.HIP_RIGHT] - out[0, NTU25.HIP_LEFT]
    assert hips[0] > 0  # left hip -> right hip points along +x: facing the camera
    np.testing.assert_allclose(hips[1:], 0.0, atol=1e-6)


def test_normalize_body_makes_the_mean_spine_length_the_target():
    seq = walking(4, size=1.7)
    for target in (1.0, 0.5):
        out = normalize_body(seq, spine_length=target)
        spine = np.linalg.norm(out[:, NTU25.SPINE_SHOULDER] - out[:, NTU25.SPINE_BASE], axis=-1)
        assert spine.mean() == pytest.approx(target, rel=1e-5)


def limb_length(seq: np.ndarray) -> float:
    """Mean summed length of the eight limb bones of a (T, 25, 3) body."""
    return float(np.mean(sum(np.linalg.norm(seq[:, a] - seq[:, b], axis=-1) for a, b in LIMB_BONES)))


def test_scaling_by_limbs_ignores_where_the_torso_joints_sit():
    seq = walking(4, size=1.7)
    short_torso = seq.copy()
    short_torso[:, NTU25.SPINE_SHOULDER, 1] -= 0.2 * 1.7  # the same body, its spine joint placed lower
    by_limbs = [limb_length(normalize_body(x, scale_by="limbs")) for x in (seq, short_torso)]
    by_spine = [limb_length(normalize_body(x)) for x in (seq, short_torso)]
    assert by_limbs[0] == pytest.approx(by_limbs[1], rel=1e-5)
    assert by_spine[1] > 1.5 * by_spine[0]
    # The size a limb-scaled body ends with: that of an NTU body of those limbs with a spine of 1.
    assert by_limbs[0] == pytest.approx(1.0 / NTU_SPINE_PER_LIMB_LENGTH, rel=1e-5)


def test_normalize_body_names_an_unknown_scale_measure():
    with pytest.raises(ValueError, match="scale_by"):
        normalize_body(walking(2), scale_by="height")
    with pytest.raises(ValueError, match="scale_by"):
        NormalizationConfig(scale_by="height")


def test_normalize_body_removes_where_the_body_stands_which_way_it_faces_and_its_size():
    seq = walking(4)
    # The same motion by a larger person, elsewhere in the room, facing another way.
    elsewhere = 1.3 * seq @ turn_about_y(-60.0).T + (-1.0, 0.3, 4.0)
    np.testing.assert_allclose(normalize_body(elsewhere), normalize_body(seq), atol=1e-5)
    # The walk itself survives: the body still moves between frames.
    out = normalize_body(seq)
    assert np.linalg.norm(out[3, NTU25.SPINE_BASE] - out[0, NTU25.SPINE_BASE]) > 0.5


def test_normalize_body_keeps_leaning_because_it_turns_only_about_the_vertical():
    body = walking(2)
    lean = np.deg2rad(20.0)  # bow forward, toward the camera (-z)
    tilt = np.array([[1, 0, 0], [0, np.cos(lean), np.sin(lean)], [0, -np.sin(lean), np.cos(lean)]])
    bowed = (body - body[0, NTU25.SPINE_BASE]) @ tilt.T
    out = normalize_body(bowed)
    spine = out[0, NTU25.SPINE_SHOULDER] - out[0, NTU25.SPINE_BASE]
    assert np.degrees(np.arctan2(-spine[2], spine[1])) == pytest.approx(20.0, abs=1e-3)


def tilted(body: np.ndarray, forward_deg: float, sideways_deg: float = 0.0) -> np.ndarray:
    """The body (T, 25, 3) seen by a camera pitched (and rolled) about its spine base."""
    a, b = np.deg2rad(forward_deg), np.deg2rad(sideways_deg)
    pitch = np.array([[1, 0, 0], [0, np.cos(a), np.sin(a)], [0, -np.sin(a), np.cos(a)]])
    roll = np.array([[np.cos(b), -np.sin(b), 0], [np.sin(b), np.cos(b), 0], [0, 0, 1]])
    base = body[0, NTU25.SPINE_BASE]
    return (body - base) @ (roll @ pitch).T + base


def test_upright_stands_the_first_spine_up_and_keeps_later_bowing():
    body = walking(3, turn_deg=30.0)
    bow = np.deg2rad(25.0)  # the last frame bows forward by 25 degrees about the hips
    rows = np.array([[1, 0, 0], [0, np.cos(bow), np.sin(bow)], [0, -np.sin(bow), np.cos(bow)]])
    base = body[2, NTU25.SPINE_BASE]
    body[2] = (body[2] - base) @ (turn_about_y(30.0) @ rows @ turn_about_y(-30.0)).T + base
    seen = tilted(body, forward_deg=15.0, sideways_deg=-8.0)
    out = normalize_body(seen, upright=True)
    first, last = (out[t, NTU25.SPINE_SHOULDER] - out[t, NTU25.SPINE_BASE] for t in (0, 2))
    np.testing.assert_allclose(first / np.linalg.norm(first), [0, 1, 0], atol=1e-6)
    assert np.degrees(np.arccos(last[1] / np.linalg.norm(last))) == pytest.approx(25.0, abs=0.5)
    assert out[0, NTU25.SHOULDER_LEFT, 0] < out[0, NTU25.SHOULDER_RIGHT, 0]  # a rotation: left stays left
    np.testing.assert_allclose(out, normalize_body(body, upright=True), atol=1e-5)  # the camera's tilt is gone
    without = normalize_body(seen)
    lean = without[0, NTU25.SPINE_SHOULDER] - without[0, NTU25.SPINE_BASE]
    assert abs(lean[2]) > 0.1  # off by default: the tilt stays


def test_normalize_body_moves_every_person_with_person_zero():
    first, second = walking(3), walking(3, offset=(1.0, 0.0, 3.5))
    out = normalize_body(np.stack([first, second], axis=1))  # (T, M, V, 3)
    np.testing.assert_allclose(out[:, 0], normalize_body(first), atol=1e-6)
    gap_before = np.linalg.norm(second - first, axis=-1)
    gap_after = np.linalg.norm(out[:, 1] - out[:, 0], axis=-1)
    np.testing.assert_allclose(gap_after, 2.0 * gap_before, atol=1e-5)  # a 0.5 m spine became 1


def test_normalize_body_uses_the_first_frame_that_has_the_joints_and_keeps_nan():
    seq = walking(4, turn_deg=20.0)
    seq[0, NTU25.SPINE_BASE] = np.nan
    seq[:2, NTU25.HIP_LEFT] = np.nan
    out = normalize_body(seq)
    assert np.isnan(out[0, NTU25.SPINE_BASE]).all() and np.isnan(out[:2, NTU25.HIP_LEFT]).all()
    np.testing.assert_allclose(out[1, NTU25.SPINE_BASE], 0.0, atol=1e-6)
    hips = out[2, NTU25.HIP_RIGHT] - out[2, NTU25.HIP_LEFT]
    assert hips[2] == pytest.approx(0.0, abs=1e-6)


def test_normalize_body_with_every_step_off_changes_nothing():
    seq = walking(3, turn_deg=10.0)
    out = normalize_body(seq, centre=False, rotate=False, scale=False)
    np.testing.assert_allclose(out, seq, atol=1e-6)


def test_normalize_body_names_the_missing_layout_or_joint():
    with pytest.raises(ValueError, match="NTU25"):
        normalize_body(np.zeros((3, 33, 3)))
    seq = walking(3)
    seq[:, NTU25.SPINE_BASE] = np.nan
    with pytest.raises(ValueError, match="spine base"):
        normalize_body(seq)
    with pytest.raises(ValueError, match="spine_length"):
        normalize_body(walking(3), spine_length=0.0)


# ---------------------------------------------------------------------------
# resample


def test_resample_reproduces_a_linear_signal_exactly_from_uneven_timestamps():
    times = np.array([0.0, 0.031, 0.07, 0.1, 0.152, 0.2])

    def signal(t):
        return 0.5 + 2.0 * t

    joints = np.broadcast_to(signal(times)[:, None, None], (6, 25, 3))
    out = resample(joints, times, fps=30.0)
    grid = resample_times(times, fps=30.0)
    np.testing.assert_allclose(grid, np.arange(7) / 30.0)
    expected = np.broadcast_to(signal(grid)[:, None, None], (7, 25, 3))
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_resample_sorts_frames_by_time_first():
    times = np.array([0.0, 0.1, 0.2, 0.3])
    joints = np.arange(4.0)[:, None, None] * np.ones((4, 25, 3))
    order = [2, 0, 3, 1]
    np.testing.assert_array_equal(
        resample(joints[order], times[order], fps=20.0), resample(joints, times, fps=20.0)
    )


def test_resample_keeps_the_last_frame_given_for_a_repeated_timestamp():
    times = np.array([0.0, 0.1, 0.1, 0.2])
    joints = np.array([0.0, 9.0, 1.0, 2.0])[:, None, None] * np.ones((4, 25, 3))
    out = resample(joints, times, fps=10.0)
    np.testing.assert_allclose(out[:, 0, 0], [0.0, 1.0, 2.0])


def test_resample_to_a_fixed_length_anchored_at_the_end_keeps_the_newest_frame_and_pads_by_edge():
    times = np.array([1.0, 1.1, 1.2])
    joints = np.array([10.0, 11.0, 12.0])[:, None, None] * np.ones((3, 25, 3))
    out = resample(joints, times, fps=10.0, n_frames=5, anchor="end")
    grid = resample_times(times, 10.0, 5, anchor="end")
    np.testing.assert_allclose(grid, [0.8, 0.9, 1.0, 1.1, 1.2])
    np.testing.assert_allclose(out[:, 0, 0], [10.0, 10.0, 10.0, 11.0, 12.0], atol=1e-5)


def test_resample_of_a_single_frame_repeats_it():
    out = resample(np.ones((1, 25, 3)), [5.0], fps=30.0, n_frames=4)
    assert out.shape == (4, 25, 3) and np.all(out == 1)


def test_resample_does_not_spread_nan_onto_grid_points_that_hit_a_clean_frame():
    times = np.array([0.0, 0.1, 0.2])
    joints = np.zeros((3, 25, 3))
    joints[2, NTU25.HEAD] = np.nan
    out = resample(joints, times, fps=20.0)  # grid 0, 0.05, 0.1, 0.15, 0.2
    assert np.isfinite(out[:3]).all()
    assert np.isnan(out[3:, NTU25.HEAD]).all()


@pytest.mark.parametrize(
    "times, fps, n_frames, message",
    [
        ([0.0, 0.1], 30.0, None, "one timestamp per frame"),
        ([0.0, np.nan, 0.2], 30.0, None, "NaN"),
        ([0.0, 0.1, 0.2], 0.0, None, "fps"),
        ([0.0, 0.1, 0.2], 30.0, 0, "n_frames"),
    ],
)
def test_resample_names_what_is_wrong(times, fps, n_frames, message):
    with pytest.raises(ValueError, match=message):
        resample(np.zeros((3, 25, 3)), times, fps, n_frames)


# ---------------------------------------------------------------------------
# NormalizationConfig and apply_normalization


def test_normalization_config_round_trips_through_json():
    config = NormalizationConfig(fps=30.0, rotate=False, spine_length=0.5)
    text = json.dumps(dataclasses.asdict(config))
    assert NormalizationConfig.from_dict(json.loads(text)) == config


def test_normalization_config_rejects_unknown_keys_and_bad_values_when_built():
    with pytest.raises(ValueError, match="centre"):
        NormalizationConfig.from_dict({"center": True})
    with pytest.raises(ValueError, match="fps"):
        NormalizationConfig(fps=-1.0)
    with pytest.raises(ValueError, match="spine_length"):
        NormalizationConfig(spine_length=0.0)
    with pytest.raises(ValueError, match="rotate"):
        NormalizationConfig(rotate="yes")  # type: ignore[arg-type]
    with pytest.raises(dataclasses.FrozenInstanceError):
        NormalizationConfig().fps = 10.0  # type: ignore[misc]


def test_apply_normalization_fills_resamples_and_normalises_in_that_order():
    seq = walking(7, turn_deg=30.0)
    seq[3, NTU25.ELBOW_LEFT] = np.nan
    times = np.arange(7) / 15.0
    out = apply_normalization(seq, NormalizationConfig(fps=30.0), times)
    assert out.shape == (13, 25, 3) and np.isfinite(out).all()
    np.testing.assert_allclose(out[0, NTU25.SPINE_BASE], 0.0, atol=1e-6)


def test_apply_normalization_needs_timestamps_to_resample():
    with pytest.raises(ValueError, match="timestamps_s"):
        apply_normalization(walking(3), NormalizationConfig(fps=30.0))


# ---------------------------------------------------------------------------
# Real recordings


def test_a_real_utd_mhad_recording_normalises_to_the_body_frame(shared_data: Path):
    from scipy.io import loadmat

    raw = loadmat(shared_data / "utd_mhad" / "a27_s1_t1_skeleton.mat")["d_skel"].transpose(2, 0, 1)
    seq = to_canonical(raw, "utd_mhad")
    seq[5:9, NTU25.WRIST_RIGHT] = np.nan  # a tracking dropout
    out = apply_normalization(seq, NormalizationConfig())
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out[0, NTU25.SPINE_BASE], 0.0, atol=1e-6)
    hips = out[0, NTU25.HIP_RIGHT] - out[0, NTU25.HIP_LEFT]
    assert hips[0] > 0 and abs(hips[2]) < 1e-6
    spine = np.linalg.norm(out[:, NTU25.SPINE_SHOULDER] - out[:, NTU25.SPINE_BASE], axis=-1)
    assert spine.mean() == pytest.approx(1.0, rel=1e-5)
    assert out[0, NTU25.HEAD, 1] > 1.0  # still upright: head above the spine shoulder


def test_scaling_by_limbs_gives_kinect_v1_and_kinect_v2_bodies_one_size(shared_data: Path):
    from fsvae_core.skeleton_data import load_utd_mhad, read_ntu_skeleton

    utd = load_utd_mhad(shared_data / "utd_mhad")
    v1 = [to_canonical(seq, utd.layout)[:, 0] for seq in utd.sequences[:40]]
    v2 = [to_canonical(read_ntu_skeleton(path), "ntu25")[:, 0] for path in sorted((shared_data / "ntu_samples").glob("*.skeleton"))]

    def size_ratio(scale_by: str) -> float:  # mean normalised limb length, Kinect v1 over v2
        sizes = [np.mean([limb_length(normalize_body(x, scale_by=scale_by)) for x in group]) for group in (v1, v2)]
        return sizes[0] / sizes[1]

    assert size_ratio("limbs") == pytest.approx(1.0, abs=0.1)
    assert size_ratio("spine") > 1.25  # a Kinect v1 spine is short: its limbs come out too long
