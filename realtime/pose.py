"""MediaPipe Pose, offline: camera images in, 3-D world landmarks (layout ``mediapipe33``) out.

Two back ends behind one class, :class:`PoseEstimator`:

* the legacy ``mediapipe.solutions.pose`` graph (default), whose full landmark
  model ships inside the mediapipe 0.10.14 wheel, so nothing is downloaded;
  it tracks one person;
* the MediaPipe Tasks ``PoseLandmarker`` in VIDEO mode, when a ``.task`` model
  file is given (``PoseEstimator.create(model_path=...)``); it can track
  ``num_poses`` persons.

Both give world landmarks: metres, origin between the person's hips, axes as
the image (x right, y down, z away from the camera). Because the hips stay at
the origin in every frame, a person who sits down, squats, walks or jumps
shows no motion of the body as a whole in them, only of the limbs around the
hips, while Kinect and motion-capture recordings keep it. So each result also
carries ``camera``: the same landmarks moved to where the image shows the
person (:func:`place_in_camera`), which is what the capture process sends on
and what ``calibration.to_canonical(..., "mediapipe33")`` takes (the same axes). Images are never
mirrored before estimation: a mirrored image turns the subject's left arm into
a right arm, which the model then reads as a different action. Flip only what
is shown on screen.

Axis letters: M persons, V joints (33 landmarks).
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

NUM_LANDMARKS = 33
# A typical webcam sees 55-78 degrees across; the Kinect v1 colour camera 62.
FIELD_OF_VIEW_DEG = 60.0
# Shoulders, elbows, wrists, hips, knees, ankles: the landmarks that fix a body's place and size.
_LIMB_LANDMARKS = np.array([11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28])
_VISIBLE = 0.5

# The legacy graph downloads the lite (0) and heavy (2) landmark models on first use; only the
# full model (1) ships in the wheel, so the others are refused up front rather than fetched.
_LEGACY_MODELS = {
    0: "modules/pose_landmark/pose_landmark_lite.tflite",
    1: "modules/pose_landmark/pose_landmark_full.tflite",
    2: "modules/pose_landmark/pose_landmark_heavy.tflite",
}


# What MediaPipe's native code prints straight to file descriptor 2 when a graph starts its models: TensorFlow
# Lite's delegate, absl's note on logging before it is set up, a warning about feedback tensors. It says nothing
# wrong, and `fsvae recognize` would print it again for every video it reads.
_START_UP_NOTICES = re.compile(r"Created TensorFlow Lite XNNPACK delegate|All log messages before absl::InitializeLog"
                               r"|Feedback manager requires a model with a single signature")


@contextmanager
def start_up_notices_held() -> Iterator[None]:
    """Hold back what is written to file descriptor 2 inside the block; afterwards pass every line on but
    MediaPipe's start-up notices (``_START_UP_NOTICES``), so that nothing else written meanwhile is lost."""
    try:
        sys.stderr.flush()
        held = tempfile.TemporaryFile()
    except (OSError, ValueError):  # nowhere to hold it, or stderr closed: hold nothing
        yield
        return
    with held:
        try:
            saved = os.dup(2)
        except OSError:  # no descriptor 2 to hold
            yield
            return
        os.dup2(held.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            held.seek(0)
            kept = [line for line in held.read().decode("utf-8", "replace").splitlines(keepends=True)
                    if not _START_UP_NOTICES.search(line)]
            if kept:
                sys.stderr.write("".join(kept))
                sys.stderr.flush()


@dataclass(frozen=True)
class PoseResult:
    """The persons found in one image.

    Attributes:
        world: (M, 33, 3) float32 world landmarks in metres (x right, y down,
            z away, origin between that person's hips), M >= 1.
        visibility: (M, 33) float32 in [0, 1], MediaPipe's visibility score.
        image: (M, 33, 2) float32 landmark positions in the image, normalised
            to [0, 1] by its width and height (for drawing overlays).
        camera: (M, 33, 3) float32, ``world`` moved to where the image shows
            each person (:func:`place_in_camera`), camera at the origin; NaN for
            a person whose place could not be found. None until
            :meth:`PoseEstimator.estimate` has placed it.
    """

    world: np.ndarray
    visibility: np.ndarray
    image: np.ndarray
    camera: np.ndarray | None = None

    @property
    def num_persons(self) -> int:
        """M, the number of persons found (>= 1)."""
        return int(self.world.shape[0])


class PoseEstimator:
    """MediaPipe Pose on BGR images; build with :meth:`create`. NOT thread-safe.

    Frames must be fed in time order (both back ends track across frames).
    Use as a context manager or call :meth:`close`.
    """

    def __init__(self, backend: _Backend, field_of_view_deg: float = FIELD_OF_VIEW_DEG) -> None:
        self._backend: _Backend | None = backend
        self.field_of_view_deg = field_of_view_deg
        self.frames = 0
        self.found = 0

    @classmethod
    def create(
        cls,
        model_path: str | Path | None = None,
        *,
        num_poses: int = 1,
        model_complexity: int = 1,
        min_detection_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        smooth: bool = True,
        field_of_view_deg: float = FIELD_OF_VIEW_DEG,
    ) -> PoseEstimator:
        """An estimator with the bundled legacy model, or the Tasks API when ``model_path`` is a ``.task`` file.

        Args:
            model_path: None for the legacy model inside the mediapipe wheel;
                otherwise a MediaPipe Tasks pose landmarker ``.task`` file.
            num_poses: persons to track (Tasks API only; the legacy graph finds one).
            model_complexity: legacy model 0 lite, 1 full, 2 heavy; only the ones
                inside the installed wheel are accepted (1 in mediapipe 0.10.14).
            min_detection_confidence, min_tracking_confidence: in [0, 1].
            smooth: temporal landmark smoothing (legacy graph only).
            field_of_view_deg: the camera's horizontal field of view, which
                :func:`place_in_camera` needs for a person's distance.

        Raises:
            ValueError: contradictory or out-of-range options, a missing model file.
            ImportError: mediapipe is not installed.
        """
        if not isinstance(num_poses, int) or num_poses < 1:
            raise ValueError(f"num_poses must be a positive integer, got {num_poses!r}")
        for name, value in (("min_detection_confidence", min_detection_confidence),
                            ("min_tracking_confidence", min_tracking_confidence)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if not 1.0 <= float(field_of_view_deg) <= 179.0:
            raise ValueError(f"field_of_view_deg must be in [1, 179], got {field_of_view_deg}")
        if model_path is None:
            if num_poses != 1:
                raise ValueError(
                    f"num_poses={num_poses} needs the Tasks API: give model_path a pose landmarker .task file "
                    "(the bundled legacy model tracks one person)"
                )
            with start_up_notices_held():
                backend: _Backend = _LegacyBackend(model_complexity, min_detection_confidence,
                                                   min_tracking_confidence, smooth)
                # The graph starts its models on threads of its own, which print their notices a moment later;
                # one blank image waits for them, so they come while held, and it holds no one to track.
                backend.process(np.zeros((64, 64, 3), np.uint8), None)
        else:
            path = Path(model_path).expanduser()
            if path.suffix != ".task":
                raise ValueError(f"model_path must be a MediaPipe Tasks .task file, got {path}")
            if not path.is_file():
                raise ValueError(f"pose model file {path} does not exist")
            with start_up_notices_held():
                backend = _TasksBackend(path, num_poses, min_detection_confidence, min_tracking_confidence)
        return cls(backend, float(field_of_view_deg))

    @property
    def name(self) -> str:
        """Which back end runs: ``legacy`` or ``tasks``."""
        return self._live().name

    def estimate(self, frame_bgr: np.ndarray, timestamp_ms: int | None = None) -> PoseResult | None:
        """World landmarks of the persons in one BGR image; None when nobody is found.

        Args:
            frame_bgr: (H, W, 3) uint8 BGR image as OpenCV delivers it; it is
                converted to RGB and never mirrored.
            timestamp_ms: the frame's capture time in integer milliseconds, for
                the Tasks API's VIDEO mode (must increase strictly; a value not
                above the previous one is bumped by 1 ms). Default: a monotonic clock.
        """
        backend = self._live()
        image = np.asarray(frame_bgr)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError(f"frame_bgr must be an (H, W, 3) uint8 BGR image, got {image.dtype} {image.shape}")
        rgb = np.ascontiguousarray(image[:, :, ::-1])  # BGR -> RGB only: no mirroring
        result = backend.process(rgb, timestamp_ms)
        self.frames += 1
        self.found += result is not None
        if result is None:
            return None
        height, width = image.shape[:2]
        camera = place_in_camera(result.world, result.image, result.visibility, width, height, self.field_of_view_deg)
        return replace(result, camera=camera)

    def _live(self) -> _Backend:
        if self._backend is None:
            raise RuntimeError("PoseEstimator is closed")
        return self._backend

    def close(self) -> None:
        """Free the MediaPipe graph; safe to call twice."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None

    def __enter__(self) -> PoseEstimator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def place_in_camera(world: np.ndarray, image: np.ndarray, visibility: np.ndarray, width: int, height: int,
                    field_of_view_deg: float = FIELD_OF_VIEW_DEG) -> np.ndarray:
    """World landmarks moved to where the image shows each person: camera-space metres.

    A weak-perspective camera (the body's depth is small against its distance)
    maps a landmark at world position (x, y) of a person standing at T to the
    pixel ``(u, v) - (cx, cy) = s (x + Tx, y + Ty)`` with ``s = f / Tz``. The
    scale s and the offsets follow by least squares over the visible limb
    landmarks (shoulders to ankles), and f from the horizontal field of view.
    Sideways and vertical motion come out in the body's own metres whatever
    the field of view; distance scales with f.

    Args:
        world: (M, 33, 3) metres, hips at the origin, image axes.
        image: (M, 33, 2) positions normalised to [0, 1] by width and height.
        visibility: (M, 33) in [0, 1].

    Returns:
        (M, 33, 3) float32 ``world + T`` per person; NaN for a person whose
        landmarks do not fix a scale (fewer than 3 visible limb landmarks, or
        a degenerate fit).
    """
    focal = 0.5 * width / np.tan(np.radians(field_of_view_deg) / 2)
    out = np.full(world.shape, np.nan, dtype=np.float32)
    for m in range(world.shape[0]):
        seen = _LIMB_LANDMARKS[visibility[m, _LIMB_LANDMARKS] > _VISIBLE]
        if len(seen) < 3:
            continue
        xy = world[m, seen, :2].astype(np.float64)  # (J, 2)
        uv = (image[m, seen] * (width, height) - (width / 2, height / 2)).astype(np.float64)  # (J, 2) pixels from centre
        xy_mean, uv_mean = xy.mean(0), uv.mean(0)
        spread = ((xy - xy_mean) ** 2).sum()
        scale = ((xy - xy_mean) * (uv - uv_mean)).sum() / spread if spread > 0 else np.nan  # pixels per metre
        if not (np.isfinite(scale) and scale > 0):
            continue
        offset = uv_mean / scale - xy_mean  # (Tx, Ty) metres
        out[m] = world[m] + np.array([offset[0], offset[1], focal / scale])
    return out


def _landmarks(world_lists, image_lists) -> PoseResult | None:
    """Pack per-person landmark lists into arrays; None when the lists are empty."""
    if not world_lists:
        return None
    world = np.array([[(p.x, p.y, p.z) for p in person] for person in world_lists], dtype=np.float32)
    visibility = np.array([[p.visibility for p in person] for person in world_lists], dtype=np.float32)
    image = np.array([[(p.x, p.y) for p in person] for person in image_lists], dtype=np.float32)
    if image.shape[:2] != world.shape[:2]:
        image = np.zeros(world.shape[:2] + (2,), dtype=np.float32)
    # Tasks landmarks may leave visibility unset (None -> nan).
    visibility = np.nan_to_num(visibility, nan=0.0)
    return PoseResult(world=world, visibility=visibility, image=image)


class _Backend:
    name = ""

    def process(self, rgb: np.ndarray, timestamp_ms: int | None) -> PoseResult | None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class _LegacyBackend(_Backend):
    name = "legacy"

    def __init__(self, complexity: int, detection: float, tracking: float, smooth: bool) -> None:
        import mediapipe

        if complexity not in _LEGACY_MODELS:
            raise ValueError(f"model_complexity must be 0, 1 or 2, got {complexity!r}")
        bundled = Path(mediapipe.__file__).parent / _LEGACY_MODELS[complexity]
        if not bundled.is_file():
            raise ValueError(
                f"model_complexity={complexity} needs {bundled.name}, which this mediapipe wheel does not ship "
                "and which would have to be downloaded; use model_complexity=1 or a .task file"
            )
        from mediapipe.python.solutions import pose as mp_pose

        self._pose = mp_pose.Pose(
            static_image_mode=False, model_complexity=complexity, smooth_landmarks=smooth,
            enable_segmentation=False, min_detection_confidence=detection, min_tracking_confidence=tracking,
        )  # fmt: skip

    def process(self, rgb: np.ndarray, timestamp_ms: int | None) -> PoseResult | None:
        rgb.flags.writeable = False  # lets MediaPipe use the buffer without copying
        out = self._pose.process(rgb)
        if out.pose_world_landmarks is None:
            return None
        image = [out.pose_landmarks.landmark] if out.pose_landmarks is not None else []
        return _landmarks([out.pose_world_landmarks.landmark], image)

    def close(self) -> None:
        self._pose.close()


class _TasksBackend(_Backend):
    name = "tasks"

    def __init__(self, path: Path, num_poses: int, detection: float, tracking: float) -> None:
        import mediapipe as mp
        from mediapipe.tasks.python import BaseOptions, vision

        self._mp = mp
        options = vision.PoseLandmarkerOptions(
            base_options=BaseOptions(model_asset_path=str(path)),
            running_mode=vision.RunningMode.VIDEO,
            num_poses=num_poses,
            min_pose_detection_confidence=detection,
            min_tracking_confidence=tracking,
            output_segmentation_masks=False,
        )
        self._landmarker = vision.PoseLandmarker.create_from_options(options)
        self._last_ms = -1

    def process(self, rgb: np.ndarray, timestamp_ms: int | None) -> PoseResult | None:
        stamp = int(time.monotonic() * 1000) if timestamp_ms is None else int(timestamp_ms)
        # VIDEO mode rejects a timestamp that does not increase strictly.
        stamp = max(stamp, self._last_ms + 1)
        self._last_ms = stamp
        image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=rgb)
        out = self._landmarker.detect_for_video(image, stamp)
        return _landmarks(out.pose_world_landmarks, out.pose_landmarks)

    def close(self) -> None:
        self._landmarker.close()
