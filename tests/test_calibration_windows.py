"""Model windows span a fixed time at the model's rate, for recorded clips and live buffers alike."""

import numpy as np
import pytest

from calibration import NTU25, NormalizationConfig, to_canonical
from calibration.windows import WindowSpec, clip_windows, model_window, window_end

RAW = NormalizationConfig(centre=False, rotate=False, scale=False)


def standing_person(frames: int) -> np.ndarray:
    """A plausible NTU25 body (T, 25, 3) whose right hand rises linearly over the clip."""
    body = np.zeros((25, 3), np.float32)
    body[:, 1] = np.linspace(0.0, 1.6, 25)  # spread joints vertically
    body[NTU25.HIP_LEFT] = [-0.1, 0.0, 0.0]  # Kinect x grows to the subject's right when facing the camera
    body[NTU25.HIP_RIGHT] = [0.1, 0.0, 0.0]
    body[NTU25.SPINE_BASE] = [0.0, 0.0, 0.0]
    body[NTU25.SPINE_SHOULDER] = [0.0, 0.5, 0.0]
    clip = np.repeat(body[None], frames, axis=0)
    clip[:, NTU25.HAND_RIGHT, 1] = np.linspace(0.0, 1.0, frames)
    return clip


def test_window_has_the_spec_shape_and_rate():
    spec = WindowSpec(frames=10, fps=10.0, normalization=RAW)
    clip = standing_person(31)  # 1 s at 30 fps
    window = model_window(clip, np.arange(31) / 30, spec)
    assert window.shape == (2, 10, 25, 3)
    # 10 samples at 10 fps ending at the newest frame: hand heights at t = 0.1 .. 1.0 s.
    np.testing.assert_allclose(window[0, :, NTU25.HAND_RIGHT, 1], np.linspace(0.1, 1.0, 10), atol=1e-5)


def test_a_short_clip_is_held_at_its_edge_poses_not_zero_padded():
    spec = WindowSpec(frames=20, fps=10.0, normalization=RAW)
    windows = clip_windows(standing_person(7), 30.0, spec)
    hand = windows[0, 0, :, NTU25.HAND_RIGHT, 1]
    assert hand[0] == pytest.approx(0.0) and hand[-1] == pytest.approx(1.0)
    assert np.count_nonzero(windows[0, 0].reshape(20, -1).any(axis=1)) == 20  # no empty frame


def test_window_end_ends_at_the_newest_frame_or_centres_frames_spanning_less_than_a_window():
    spec = WindowSpec(frames=11, fps=10.0)  # 1 s
    assert window_end(np.arange(31) / 30 + 5.0, spec) == pytest.approx(6.0)  # exactly a window: newest frame
    assert window_end(np.arange(61) / 30, spec) == pytest.approx(2.0)
    assert window_end(np.array([4.0, 4.2, 4.4]), spec) == pytest.approx(4.2 + 0.5)  # middle of frames = middle
    assert window_end(np.array([3.0]), spec) == pytest.approx(3.5)
    with pytest.raises(ValueError, match="no frames"):
        window_end(np.array([]), spec)


def test_model_window_places_itself_by_the_rule_and_clip_windows_agrees():
    spec = WindowSpec(frames=20, fps=10.0, normalization=RAW)
    clip = standing_person(12)
    t = np.arange(12) / 30
    np.testing.assert_array_equal(model_window(clip, t, spec), clip_windows(clip, 30.0, spec)[0])
    # Later timestamps, same frames: the same window up to rounding.
    np.testing.assert_allclose(model_window(clip, t + 987.6, spec), clip_windows(clip, 30.0, spec)[0], atol=1e-5)


def test_an_absent_second_person_stays_zero_after_normalisation():
    window = model_window(standing_person(30), np.arange(30) / 30, WindowSpec(frames=8))
    assert np.all(window[1] == 0) and np.any(window[0] != 0)


def test_normalisation_puts_the_first_spine_base_at_the_origin():
    clip = standing_person(30) + np.array([1.0, 0.2, 3.0], np.float32)
    window = model_window(clip, np.arange(30) / 30, WindowSpec(frames=8))
    np.testing.assert_allclose(window[0, 0, NTU25.SPINE_BASE], 0.0, atol=1e-6)


def test_untracked_joints_are_filled_not_propagated():
    clip = standing_person(30)
    clip[5:9, NTU25.WRIST_LEFT] = np.nan
    assert np.isfinite(model_window(clip, np.arange(30) / 30, WindowSpec(frames=16))).all()


def test_long_clips_give_evenly_spaced_crops():
    spec = WindowSpec(frames=10, fps=10.0, normalization=RAW)
    crops = clip_windows(standing_person(91), 30.0, spec, crops=3)  # 3 s clip, 0.9 s windows
    last_hand = crops[:, 0, -1, NTU25.HAND_RIGHT, 1]
    np.testing.assert_allclose(last_hand, [0.3, 0.65, 1.0], atol=0.02)


def test_no_first_person_is_an_error():
    with pytest.raises(ValueError, match="first person"):
        model_window(np.zeros((5, 25, 3)), np.arange(5) / 30, WindowSpec(frames=4))


def test_real_clips_become_finite_windows(shared_data):
    from fsvae_core.skeleton_data import load_dataset

    dataset = load_dataset("utd-mhad", data_dir=shared_data)
    spec = WindowSpec()
    for sequence in dataset.sequences[:20]:
        windows = clip_windows(to_canonical(sequence, dataset.layout), dataset.fps, spec, crops=2)
        assert windows.shape == (2, 2, spec.frames, 25, 3) and np.isfinite(windows).all()
        spine = np.linalg.norm(windows[:, 0, :, NTU25.SPINE_SHOULDER] - windows[:, 0, :, NTU25.SPINE_BASE], axis=-1)
        assert spine.mean() == pytest.approx(1.0, rel=0.05)
