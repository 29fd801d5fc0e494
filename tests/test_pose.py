"""PoseEstimator: MediaPipe Pose offline, world landmarks in metres, no mirroring."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from calibration import NTU25, MediaPipe33, to_canonical

cv2 = pytest.importorskip("cv2")
pytest.importorskip("mediapipe")

from realtime.pose import PoseEstimator, PoseResult, place_in_camera, start_up_notices_held  # noqa: E402

VIDEO = "videos/S001C001P001R001A001_rgb.avi"
FRAMES = 40


@pytest.fixture(scope="module")
def estimates(request) -> list[PoseResult | None]:
    """Legacy-model estimates of the first FRAMES frames of the NTU clip (MediaPipe ~25 ms a frame)."""
    folder = request.getfixturevalue("shared_data")
    path = Path(folder) / VIDEO
    if not path.is_file():
        pytest.skip(f"{path} not found (see ../shared/data/README.md)")
    capture = cv2.VideoCapture(str(path))
    results = []
    with PoseEstimator.create() as estimator:
        for _ in range(FRAMES):
            ok, frame = capture.read()
            assert ok
            results.append(estimator.estimate(frame))
    capture.release()
    return results


def test_finds_the_person_in_most_frames(estimates):
    found = [r for r in estimates if r is not None]
    assert len(found) >= 0.9 * FRAMES
    for result in found:
        assert result.world.shape == (1, 33, 3) and result.world.dtype == np.float32
        assert result.visibility.shape == (1, 33)
        assert result.image.shape == (1, 33, 2)


def test_world_landmarks_are_hip_centred_metres(estimates):
    world = np.stack([r.world[0] for r in estimates if r is not None])  # (T, 33, 3)
    hip_centre = 0.5 * (world[:, MediaPipe33.LEFT_HIP] + world[:, MediaPipe33.RIGHT_HIP])
    assert np.abs(hip_centre).max() < 0.1
    shoulders = np.linalg.norm(world[:, MediaPipe33.LEFT_SHOULDER] - world[:, MediaPipe33.RIGHT_SHOULDER], axis=-1)
    assert 0.2 < np.median(shoulders) < 0.6


def test_left_stays_left_after_mapping_to_ntu(estimates):
    # The subject faces the camera; in Kinect axes (x to the sensor's left = the subject's right)
    # the left shoulder has the smaller x, as in NTU's own recordings. A mirrored image would flip it.
    world = np.stack([r.world[0] for r in estimates if r is not None])
    ntu = to_canonical(world, "mediapipe33")  # (T, 25, 3)
    left_smaller = ntu[:, NTU25.SHOULDER_LEFT, 0] < ntu[:, NTU25.SHOULDER_RIGHT, 0]
    assert left_smaller.mean() > 0.9


def test_a_mirrored_image_swaps_the_sides(shared_data):
    # Why frames are never flipped before estimation: MediaPipe assumes a person facing the camera,
    # so in a mirrored image it calls the subject's right shoulder "left". In this clip the subject's
    # left shoulder is turned towards the camera (smaller z); the mirror hands that to landmark 12.
    capture = cv2.VideoCapture(str(Path(shared_data) / VIDEO))
    ok, frame = capture.read()
    capture.release()
    assert ok
    with PoseEstimator.create() as straight, PoseEstimator.create() as mirrored:
        a, b = straight.estimate(frame), mirrored.estimate(cv2.flip(frame, 1))
    assert a is not None and b is not None
    left, right = MediaPipe33.LEFT_SHOULDER, MediaPipe33.RIGHT_SHOULDER
    assert a.world[0, left, 2] < a.world[0, right, 2] - 0.05
    assert b.world[0, left, 2] > b.world[0, right, 2] + 0.05


def projected(world: np.ndarray, at: np.ndarray, width: int, height: int, fov_deg: float) -> np.ndarray:
    """Pinhole projection (33, 2), normalised to [0, 1], of a body ``world`` (33, 3) standing at ``at``."""
    focal = 0.5 * width / np.tan(np.radians(fov_deg) / 2)
    points = world + at
    return (focal * points[:, :2] / points[:, 2:] + (width / 2, height / 2)) / (width, height)


def test_placing_in_the_camera_recovers_where_the_person_stands():
    rng = np.random.default_rng(0)
    world = rng.normal(0.0, 0.3, (33, 3)) * (1.0, 2.5, 0.3)  # a tall, shallow body around its hips
    for at in ([0.4, -0.2, 3.0], [-0.8, 0.3, 2.2]):
        image = projected(world, np.array(at), 640, 480, 60.0)
        placed = place_in_camera(world[None], image[None].astype(np.float32), np.ones((1, 33)), 640, 480, 60.0)
        # Weak perspective: exact sideways, within a few percent in depth for a 0.3 m deep body.
        np.testing.assert_allclose(placed[0] - world, np.broadcast_to(at, (33, 3)), rtol=0.05, atol=0.03)


def test_a_person_without_enough_visible_limbs_is_not_placed():
    world = np.random.default_rng(1).normal(size=(1, 33, 3))
    hidden = np.zeros((1, 33))
    placed = place_in_camera(world, np.full((1, 33, 2), 0.5, np.float32), hidden, 640, 480)
    assert np.isnan(placed).all()


def test_estimates_carry_the_camera_placed_landmarks(estimates):
    found = [r for r in estimates if r is not None]
    hips = np.stack([r.camera[0, [MediaPipe33.LEFT_HIP, MediaPipe33.RIGHT_HIP]].mean(0) for r in found])  # (T, 3)
    # The default 60-degree field of view puts the NTU subject 6.5 m away; the Kinect v2 colour camera
    # that filmed it sees 84 degrees, which makes that 4.2 m, where NTU's subjects stand.
    assert 3.0 < np.median(hips[:, 2]) * np.tan(np.radians(60 / 2)) / np.tan(np.radians(84 / 2)) < 5.0
    shift = found[0].camera[0] - found[0].world[0]  # (33, 3): one translation for the whole body
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], (33, 3)), atol=1e-4)


def test_blank_image_has_no_person():
    with PoseEstimator.create() as estimator:
        assert estimator.estimate(np.zeros((240, 320, 3), dtype=np.uint8)) is None
        assert estimator.frames == 1 and estimator.found == 0


def test_the_graphs_start_up_notices_are_not_shown(capfd):
    with PoseEstimator.create() as estimator:
        estimator.estimate(np.zeros((240, 320, 3), dtype=np.uint8))
        estimator.estimate(np.zeros((240, 320, 3), dtype=np.uint8))
    err = capfd.readouterr().err
    assert "XNNPACK" not in err and "Feedback manager" not in err and "absl::InitializeLog" not in err


def test_whatever_else_is_written_while_the_notices_are_held_is_passed_on(capfd):
    with start_up_notices_held():
        os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\n")
        os.write(2, b"E0000 something really went wrong\n")
    assert capfd.readouterr().err == "E0000 something really went wrong\n"


def test_nothing_is_downloaded(monkeypatch):
    from mediapipe.python.solutions import download_utils

    def refuse(*args, **kwargs):
        raise AssertionError(f"mediapipe tried to download {args}")

    monkeypatch.setattr(download_utils, "download_oss_model", refuse)
    with PoseEstimator.create() as estimator:
        assert estimator.name == "legacy"


def test_options_are_checked_when_built(tmp_path):
    with pytest.raises(ValueError, match="num_poses"):
        PoseEstimator.create(num_poses=2)
    with pytest.raises(ValueError, match=r"\.task"):
        PoseEstimator.create(model_path=tmp_path / "model.tflite")
    with pytest.raises(ValueError, match="does not exist"):
        PoseEstimator.create(model_path=tmp_path / "missing.task")
    with pytest.raises(ValueError, match="min_detection_confidence"):
        PoseEstimator.create(min_detection_confidence=1.5)


def test_wrong_image_and_closed_estimator_are_errors():
    estimator = PoseEstimator.create()
    with pytest.raises(ValueError, match="uint8"):
        estimator.estimate(np.zeros((10, 10), dtype=np.uint8))
    estimator.close()
    estimator.close()
    with pytest.raises(RuntimeError, match="closed"):
        estimator.estimate(np.zeros((10, 10, 3), dtype=np.uint8))


def test_tasks_api_with_a_task_file(shared_data):
    candidates = sorted(Path(shared_data).rglob("*.task"))
    if not candidates:
        pytest.skip("no MediaPipe Tasks pose landmarker .task file available offline; Tasks back end untested")
    capture = cv2.VideoCapture(str(Path(shared_data) / VIDEO))
    with PoseEstimator.create(candidates[0], num_poses=2) as estimator:
        assert estimator.name == "tasks"
        found = 0
        for i in range(10):
            ok, frame = capture.read()
            result = estimator.estimate(frame, timestamp_ms=i * 33)
            found += result is not None
    capture.release()
    assert found >= 8
