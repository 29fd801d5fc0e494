"""The capture process: pose sources in, skeleton windows out.

::

    source (camera / video / .skeleton or other recorded replay / Azure Kinect / external tracker)
        -> PoseSample (joints in the source's layout)
        -> WindowBuilder (to_canonical, ring buffer, model_window every stride)
        -> SkeletonWindow | NoPerson on a LatestWinsPublisher (``skeleton.*.<source_id>``)

Run ``python -m realtime.capture --camera 0`` (or ``--video PATH``, ``--skeleton
PATH``, ``--kinect``, ``--poses ENDPOINT``). The parts are testable without
sockets: sources are iterators of :class:`PoseSample`, :class:`WindowBuilder`
is a pure function of the samples pushed into it.

Axis letters: M persons, T frames, V joints, C = 3 coordinates.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calibration import to_canonical
from calibration.layouts import MEDIAPIPE33_BONES, NTU25, NTU25_BONES
from calibration.normalize import NormalizationConfig
from calibration.windows import WindowSpec, model_window, window_end
from realtime.messages import (
    MAX_CLOCK_SKEW_MS, NoPerson, PoseFrame, SkeletonWindow, capture_time_plausible, now_ms, pose_topic,
    source_id_problem,
)
from realtime.options import (
    DEFAULT_STRIDE_S, add_parent_argument, add_source_arguments, exit_with_parent, positive_seconds,
)
from realtime.transport import (
    CurveKeys,
    LatestWinsPublisher,
    LatestWinsSubscriber,
    default_endpoint,
    read_curve_key_files,
)

NTU_FPS = 30.0  # NTU RGB+D / Kinect v2 skeletons are recorded at 30 fps


class SourceError(RuntimeError):
    """A pose source that cannot start (no camera, missing driver); the text is one line for the user."""


@dataclass
class PoseSample:
    """The persons one source saw at one instant.

    Attributes:
        timestamp_s: capture time in monotonic seconds of the capture (for a
            ``--fast`` file: frame index / fps); increases from sample to sample.
        joints: (M, V, 3) float32 in ``layout``'s own axes and units, M >= 1,
            NaN for a joint the tracker could not place; None when nobody is seen.
        layout: the joint layout name, e.g. ``"mediapipe33"``.
        frame: the BGR image the poses came from (for --show / --record), or None.
        capture_ms: wall-clock milliseconds since the epoch of the capture (a
            file played in real time: when the frame was due; ``--fast``: when
            it was read, since its video time runs ahead of the wall clock).
        pose_ms: time spent estimating the pose of this frame, or None.
        image_xy: (M, V, 2) normalised image positions for overlays, or None.
    """

    timestamp_s: float
    joints: np.ndarray | None
    layout: str
    frame: np.ndarray | None = None
    capture_ms: float = field(default_factory=now_ms)
    pose_ms: float | None = None
    image_xy: np.ndarray | None = None


# ---------------------------------------------------------------------------------------------
# Sources


class _Source:
    """Base of the sources: an iterator of PoseSample with ``close()`` and ``dropped_frames``."""

    dropped_frames = 0

    def __iter__(self) -> Iterator[PoseSample]:
        return self

    def __next__(self) -> PoseSample:
        raise NotImplementedError

    def close(self) -> None:
        """Release the device or file; safe to call twice."""

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _estimate(estimator: Any, frame: np.ndarray, timestamp_s: float) -> tuple[Any, float]:
    started = time.perf_counter()
    result = estimator.estimate(frame, timestamp_ms=int(round(timestamp_s * 1000)))
    return result, (time.perf_counter() - started) * 1000.0


def _unmirrored(frame: np.ndarray, mirrored: bool) -> np.ndarray:
    """The frame as the camera saw it: a mirror image (``mirrored``) is flipped back left to right.

    Pose estimation must see the real image: in a mirror image the subject's right
    arm is drawn where a left arm would be, and the estimator names it so.
    """
    return np.ascontiguousarray(frame[:, ::-1]) if mirrored else frame


def _sample_from_pose(timestamp_s: float, result: Any, frame: np.ndarray, pose_ms: float,
                      capture_ms: float | None = None) -> PoseSample:
    return PoseSample(
        timestamp_s=timestamp_s,
        joints=None if result is None else result.camera,
        layout="mediapipe33",
        frame=frame,
        capture_ms=now_ms() if capture_ms is None else capture_ms,
        pose_ms=pose_ms,
        image_xy=None if result is None else result.image,
    )


class VideoSource(_Source):
    """A video file through a pose estimator, played like a camera or as fast as possible.

    With ``realtime`` the file plays at its own frame rate against the wall
    clock: when estimation falls behind, the frames whose time has passed are
    skipped (counted in ``dropped_frames``), as a live camera would lose them.
    Without it (``--fast``) every frame is processed, none dropped, and
    timestamps are frame index / fps. A ``mirrored`` file (recorded from a
    mirroring camera, as Kinect colour streams and many webcams are) is flipped
    back before pose estimation.
    """

    def __init__(self, path: str | Path, estimator: Any, realtime: bool = True, mirrored: bool = False) -> None:
        import cv2

        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"video {self.path} does not exist")
        self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            raise SourceError(f"cannot open video {self.path} (not a video OpenCV can decode?)")
        fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        self.fps = fps if math.isfinite(fps) and 0 < fps <= 240 else 30.0
        self.estimator = estimator
        self.realtime = realtime
        self.mirrored = mirrored
        self.dropped_frames = 0
        self._index = 0  # index of the next frame the file will give
        self._start_s: float | None = None
        self._start_ms = 0.0

    def __next__(self) -> PoseSample:
        if self._capture is None:
            raise StopIteration
        if self._start_s is None:
            self._start_s = time.monotonic()
            self._start_ms = now_ms()
        if self.realtime:
            # Frame i "arrives" at start + i / fps: skip the ones already past, wait for the next.
            due = int((time.monotonic() - self._start_s) * self.fps)
            while self._index < due:
                if not self._capture.grab():
                    raise StopIteration
                self._index += 1
                self.dropped_frames += 1
            wait = self._start_s + self._index / self.fps - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        ok, frame = self._capture.read()
        if not ok:
            raise StopIteration
        offset_s = self._index / self.fps
        self._index += 1
        timestamp_s = self._start_s + offset_s if self.realtime else offset_s
        # Played: the frame's due time. --fast: the moment it was read, so latencies stay real ones.
        capture_ms = self._start_ms + offset_s * 1000.0 if self.realtime else now_ms()
        frame = _unmirrored(frame, self.mirrored)
        result, pose_ms = _estimate(self.estimator, frame, offset_s)
        return _sample_from_pose(timestamp_s, result, frame, pose_ms, capture_ms)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class CameraSource(_Source):
    """An OpenCV camera through a pose estimator; frames the estimator could not keep up with are lost.

    A ``mirrored`` camera's frames are flipped back before pose estimation.
    """

    def __init__(self, index: int, estimator: Any, mirrored: bool = False) -> None:
        import cv2

        self.index = index
        # OpenCV logs several lines per backend it tries; the user gets our one line instead.
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            self._capture = cv2.VideoCapture(index)
            opened = self._capture.isOpened()
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not opened:
            self._capture.release()
            raise SourceError(f"no camera {index} on this machine (try --video PATH or --skeleton PATH)")
        # A one-frame driver queue: we want the newest image, not a backlog.
        self._capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self.estimator = estimator
        self.mirrored = mirrored
        self.dropped_frames = 0

    def __next__(self) -> PoseSample:
        if self._capture is None:
            raise StopIteration
        ok, frame = self._capture.read()
        if not ok:
            raise StopIteration
        timestamp_s, capture_ms = time.monotonic(), now_ms()
        frame = _unmirrored(frame, self.mirrored)
        result, pose_ms = _estimate(self.estimator, frame, timestamp_s)
        return _sample_from_pose(timestamp_s, result, frame, pose_ms, capture_ms)

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class SequenceReplaySource(_Source):
    """A recorded skeleton sequence (T, M, V, 3) in any layout, replayed frame by frame at ``fps``.

    A body slot that is all zero or all NaN in a frame is absent there; a frame
    with no body gives a no-person sample. With ``realtime`` the replay is paced
    by the wall clock; otherwise timestamps are frame index / ``fps`` and every
    frame comes at once.
    """

    def __init__(self, joints: np.ndarray, layout: str, fps: float, realtime: bool = True) -> None:
        joints = np.asarray(joints, dtype=np.float32)
        if joints.ndim != 4 or joints.shape[-1] != 3:
            raise SourceError(f"a replayed sequence must be (T, M, V, 3), got shape {joints.shape}")
        if not (math.isfinite(fps) and fps > 0):
            raise SourceError(f"a replayed sequence needs a positive frame rate, got {fps}")
        self._joints = joints
        self.layout = layout
        self.fps = float(fps)
        self.realtime = realtime
        self._index = 0
        self._start_s: float | None = None
        self._start_ms = 0.0

    def __len__(self) -> int:
        return len(self._joints)

    def __next__(self) -> PoseSample:
        if self._index >= len(self._joints):
            raise StopIteration
        if self._start_s is None:
            self._start_s, self._start_ms = time.monotonic(), now_ms()
        offset_s = self._index / self.fps
        if self.realtime:
            wait = self._start_s + offset_s - time.monotonic()
            if wait > 0:
                time.sleep(wait)
        bodies = self._joints[self._index]  # (M, V, 3)
        self._index += 1
        present = np.any(np.isfinite(bodies) & (bodies != 0), axis=(1, 2))  # (M,)
        return PoseSample(
            timestamp_s=self._start_s + offset_s if self.realtime else offset_s,
            joints=bodies[present] if present.any() else None,
            layout=self.layout,
            capture_ms=self._start_ms + offset_s * 1000.0 if self.realtime else now_ms(),
        )


class SkeletonReplaySource(SequenceReplaySource):
    """An NTU RGB+D / Kinect v2 ``.skeleton`` recording replayed at 30 fps (layout ``ntu25``, up to 2 bodies).

    A frame with no body gives a no-person sample. With ``realtime`` the replay
    is paced by the wall clock; otherwise timestamps are frame index / 30.
    """

    def __init__(self, path: str | Path, realtime: bool = True, fps: float = NTU_FPS) -> None:
        from fsvae_core.skeleton_data import read_ntu_skeleton

        self.path = Path(path)
        if not self.path.is_file():
            raise SourceError(f"skeleton file {self.path} does not exist")
        try:
            joints = read_ntu_skeleton(self.path)  # (T, 2, V, 3), absent bodies all zero
        except ValueError as error:
            raise SourceError(f"cannot read {self.path}: {error}") from error
        super().__init__(joints, "ntu25", fps, realtime)


class KinectSource(_Source):
    """Azure Kinect body tracking through ``pyk4a`` (layout ``azure_kinect32``, millimetres)."""

    def __init__(self) -> None:
        try:
            import pyk4a  # noqa: F401
        except ImportError as error:
            raise SourceError("pyk4a is not installed; install it (and the Azure Kinect SDK) to use --kinect") from error
        try:
            from pyk4a import PyK4A

            self._device = PyK4A()
            self._device.start()
        except Exception as error:  # noqa: BLE001 - the driver raises many kinds; one line for the user
            raise SourceError(f"cannot start the Azure Kinect: {type(error).__name__}: {error}") from error
        self.dropped_frames = 0

    def __next__(self) -> PoseSample:
        if self._device is None:
            raise StopIteration
        capture = self._device.get_capture()
        timestamp_s, capture_ms = time.monotonic(), now_ms()
        # pyk4a exposes body tracking as capture.body_skeleton (M, 32, ...) in builds with the
        # body-tracking SDK; x, y, z in mm are the first three fields of each joint.
        skeleton = getattr(capture, "body_skeleton", None)
        joints = None
        if skeleton is not None and len(skeleton):
            joints = np.asarray(skeleton, dtype=np.float32)[..., :3]
        return PoseSample(timestamp_s, joints, "azure_kinect32", frame=getattr(capture, "color", None),
                          capture_ms=capture_ms)

    def close(self) -> None:
        if getattr(self, "_device", None) is not None:
            self._device.stop()
            self._device = None


class PoseSubscriberSource(_Source):
    """Poses from any external tracker: :class:`PoseFrame` messages received on ``endpoint``.

    A joint with confidence 0 becomes NaN (filled later like any untracked
    joint). Blocks until a frame arrives; ``timeout_s`` (None: forever) ends
    the iteration when nothing comes for that long, and so does ``stop_event``
    (checked every 200 ms, so SIGTERM stops an idle capture).
    """

    def __init__(self, endpoint: str, source_id: str | None = None, timeout_s: float | None = None,
                 bind: bool = False, stop_event: threading.Event | None = None) -> None:
        self._subscriber = LatestWinsSubscriber(endpoint, topics=(pose_topic(source_id),), bind=bind)
        self._closed = False
        self.timeout_s = timeout_s
        self.stop_event = stop_event
        self._offset_s: float | None = None  # tracker wall clock -> our monotonic clock
        self._last_s = -math.inf

    @property
    def dropped_frames(self) -> int:
        """Pose frames lost on the way or skipped because newer ones had arrived."""
        return self._subscriber.lost + self._subscriber.stale

    @property
    def malformed_messages(self) -> int:
        """Messages on the pose socket that broke the wire format (dropped, never fatal)."""
        return self._subscriber.malformed

    def __next__(self) -> PoseSample:
        if self._closed:
            raise StopIteration
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        while True:
            wait_ms = 200.0 if deadline is None else max(0.0, min(200.0, (deadline - time.monotonic()) * 1000))
            message = self._subscriber.receive_latest(timeout_ms=wait_ms)
            if isinstance(message, PoseFrame):
                return self._sample(message)
            if deadline is not None and time.monotonic() >= deadline:
                raise StopIteration
            if self.stop_event is not None and self.stop_event.is_set():
                raise StopIteration

    def _sample(self, message: PoseFrame) -> PoseSample:
        tracker_s, now_s = message.capture_timestamp_ms / 1000.0, time.monotonic()
        if self._offset_s is None or abs(self._offset_s + tracker_s - now_s) > MAX_CLOCK_SKEW_MS / 1000.0:
            # The first frame, or the tracker's clock jumped (a restart, or a forged time): anchor it anew,
            # so one frame can never push every later one off the time line.
            self._offset_s = now_s - tracker_s
        # Timestamps follow the tracker's clock, kept strictly increasing for the window builder.
        timestamp_s = max(self._offset_s + tracker_s, self._last_s + 1e-6)
        self._last_s = timestamp_s
        joints = None
        if message.num_persons:
            joints = np.array(message.joints, dtype=np.float32)  # (M, V, 3), writable copy
            if message.confidence is not None:
                joints[message.confidence <= 0.0] = np.nan
        # Latency is measured from the tracker's capture time where its clock agrees with ours, else from arrival.
        capture_ms = message.capture_timestamp_ms if capture_time_plausible(message.capture_timestamp_ms) else now_ms()
        return PoseSample(timestamp_s, joints, message.layout, capture_ms=capture_ms)

    def close(self) -> None:
        if not self._closed:  # the counters stay readable after closing
            self._subscriber.close()
            self._closed = True


# ---------------------------------------------------------------------------------------------
# Windows


class WindowBuilder:
    """Turns a stream of :class:`PoseSample` into :class:`SkeletonWindow` / :class:`NoPerson` messages.

    Keeps a ring buffer of canonical skeletons (NTU25, Kinect camera space)
    spanning a little more than one window. Once a person has been seen for
    ``first_window_s`` (default 0.5 s; the buffer's newest minus oldest frame,
    at most one window), and then every ``stride_s`` of capture time, it emits
    a window made by :func:`calibration.windows.model_window` and placed by
    :func:`calibration.windows.window_end`: a buffer spanning a window or more
    gives the window ending at the newest frame; a shorter one (a person seen
    for less than a window) gives the window centred on it, its first and last
    pose held on either side, exactly the window training cuts from a clip of
    those frames (``clip_windows``). So a short action gets its first decision
    about ``first_window_s`` after the person appears, from the same window it
    was trained on. At the end of a stream, :meth:`flush` gives one last window
    over everything buffered.

    When nobody has been seen for more than ``grace_s`` the buffer is cleared
    and a :class:`NoPerson` is emitted once per stride; a short dropout within
    the grace period emits nothing and keeps the buffer. Timestamps that do not
    increase mean a restarted source: the buffer is cleared.

    Persons: of the M persons a source reports, the first ``spec.max_persons``
    in the source's order are kept (the NTU reader orders bodies by activity,
    MediaPipe by detection). There is no identity tracking across frames:
    slot i is the source's i-th person.

    Windows and NoPerson notices share one ``seq`` counter (one stream).
    Pure: no sockets, no clocks other than the samples' own.
    """

    def __init__(self, spec: WindowSpec, stride_s: float, source_id: str, *, grace_s: float = 0.5,
                 first_window_s: float = 0.5) -> None:
        if not (math.isfinite(stride_s) and stride_s > 0):
            raise ValueError(f"stride_s must be a positive number of seconds, got {stride_s}")
        if not (math.isfinite(grace_s) and grace_s >= 0):
            raise ValueError(f"grace_s must be >= 0 seconds, got {grace_s}")
        if not (math.isfinite(first_window_s) and first_window_s >= 0):
            raise ValueError(f"first_window_s must be >= 0 seconds, got {first_window_s}")
        self.spec = spec
        self.stride_s = float(stride_s)
        self.source_id = source_id
        self.grace_s = float(grace_s)
        self.first_window_s = float(first_window_s)
        # One source frame older than the window's start lets the first grid point interpolate.
        self._keep_s = spec.duration_s + 2.0 * max(stride_s, 1.0 / spec.fps)
        self._times: deque[float] = deque()
        self._joints: deque[np.ndarray] = deque()  # each (M=max_persons, V, 3), NaN for an empty slot
        self._seq = 0
        self._last_emit_s: float | None = None
        self._last_window_newest_s: float | None = None  # newest frame in the last window sent
        self._last_seen_s: float | None = None
        self._first_s: float | None = None
        self._last_s: float | None = None
        self.windows = 0
        self.no_person = 0
        self.person_frames = 0  # samples in which a usable person was seen

    @property
    def buffered_frames(self) -> int:
        """Frames now in the ring buffer."""
        return len(self._times)

    def reset(self) -> None:
        """Forget everything buffered (e.g. when the source restarts)."""
        self._times.clear()
        self._joints.clear()
        self._last_emit_s = None
        self._last_window_newest_s = None
        self._last_seen_s = None
        self._first_s = None
        self._last_s = None

    def push(self, sample: PoseSample) -> SkeletonWindow | NoPerson | None:
        """Add one sample; the message due now, or None.

        Raises:
            ValueError: joints whose shape does not fit ``sample.layout``.
        """
        t = float(sample.timestamp_s)
        if self._last_s is not None and t <= self._last_s:
            self.reset()  # time went backwards: a restarted source, not a continuation
        self._last_s = t
        if self._first_s is None:
            self._first_s = t
        persons = self._canonical(sample)
        if persons is not None:
            self.person_frames += 1
            self._last_seen_s = t
            self._times.append(t)
            self._joints.append(persons)
            while self._times and self._times[0] < t - self._keep_s:
                self._times.popleft()
                self._joints.popleft()
            return self._maybe_window(t, sample.capture_ms)
        absent_since = self._first_s if self._last_seen_s is None else self._last_seen_s
        if t - absent_since <= self.grace_s:
            return None
        self._times.clear()
        self._joints.clear()
        if self._last_emit_s is not None and t - self._last_emit_s < self.stride_s - 1e-9:
            return None
        self._last_emit_s = t
        self.no_person += 1
        return NoPerson(seq=self._next_seq(), source_id=self.source_id, capture_timestamp_ms=sample.capture_ms)

    def _canonical(self, sample: PoseSample) -> np.ndarray | None:
        """(max_persons, 25, 3) canonical joints, NaN in empty slots; None when nobody usable is seen."""
        if sample.joints is None:
            return None
        joints = np.asarray(sample.joints, dtype=np.float32)
        if joints.ndim == 2:
            joints = joints[None]
        if joints.shape[0] == 0:
            return None
        canonical = to_canonical(joints[: self.spec.max_persons], sample.layout)  # (M', 25, 3)
        usable = np.isfinite(canonical).all(axis=-1).any(axis=-1)  # (M',) some joint placed
        canonical = canonical[usable]
        if len(canonical) == 0:
            return None
        out = np.full((self.spec.max_persons, 25, 3), np.nan, dtype=np.float32)
        out[: len(canonical)] = canonical
        return out

    def flush(self, capture_ms: float | None = None) -> SkeletonWindow | None:
        """The window due at the end of the stream: over everything buffered, placed by the same rule.

        None when nothing is buffered (nobody seen, or gone for longer than the
        grace period) or when the last window already took the newest buffered
        frame. A stream shorter than ``first_window_s`` thus still gets exactly
        one window: the one centred on all its frames. The stride is not waited
        for; the stream goes on afterwards as if this window had been sent then.
        """
        if not self._times or self._times[-1] == self._last_window_newest_s:
            return None
        return self._window(self._last_s, now_ms() if capture_ms is None else capture_ms)

    def _maybe_window(self, t: float, capture_ms: float) -> SkeletonWindow | None:
        if self._last_emit_s is not None and t - self._last_emit_s < self.stride_s - 1e-9:
            return None
        span = self._times[-1] - self._times[0]
        if span < min(self.first_window_s, self.spec.duration_s) - 1e-9:
            return None
        return self._window(t, capture_ms)

    def _window(self, t: float, capture_ms: float) -> SkeletonWindow:
        times = np.fromiter(self._times, dtype=np.float64, count=len(self._times))
        joints = np.stack(self._joints)  # (T, M, V, 3)
        window = model_window(joints, times, self.spec, window_end(times, self.spec))  # (M, T', V, 3)
        self._last_emit_s = t
        self._last_window_newest_s = self._times[-1]
        self.windows += 1
        return SkeletonWindow(
            seq=self._next_seq(), source_id=self.source_id, capture_timestamp_ms=capture_ms,
            fps=self.spec.fps, layout="ntu25", joints=window.transpose(1, 0, 2, 3),
        )  # fmt: skip

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq += 1
        return seq


# ---------------------------------------------------------------------------------------------
# The loop


@dataclass
class CaptureStats:
    """What one :func:`run_capture` did. ``pose_ms_p50`` / ``pose_ms_p99`` are None without an estimator."""

    frames: int = 0
    windows: int = 0
    no_person: int = 0
    dropped_frames: int = 0
    malformed_messages: int = 0  # on the pose socket (--poses), dropped
    published: int = 0
    publish_dropped: int = 0
    pose_ms_p50: float | None = None
    pose_ms_p99: float | None = None
    elapsed_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return dict(self.__dict__)


def run_capture(source: Any, builder: WindowBuilder, publisher: Any, duration_s: float | None = None,
                stop_event: threading.Event | None = None, max_frames: int | None = None,
                on_sample: Any = None) -> CaptureStats:
    """Pull samples from ``source``, build windows, publish them; stops at the source's end,
    after ``duration_s`` seconds of wall time, ``max_frames`` samples, or when ``stop_event`` is set.

    At the source's end (a file played out) one last window is sent when the
    last one did not take the newest frame (:meth:`WindowBuilder.flush`), so a
    clip shorter than the first-window delay still gets its window.
    ``publisher`` needs ``publish(message) -> bool`` (a LatestWinsPublisher);
    ``on_sample(sample, message)`` is called per sample (overlays, recording).
    The source is not closed here.
    """
    stats = CaptureStats()
    pose_ms: list[float] = []
    started = time.monotonic()

    def publish(message: SkeletonWindow | NoPerson) -> None:
        if isinstance(message, SkeletonWindow):
            stats.windows += 1
        else:
            stats.no_person += 1
        if publisher.publish(message):
            stats.published += 1
        else:
            stats.publish_dropped += 1

    for sample in source:
        stats.frames += 1
        if sample.pose_ms is not None:
            pose_ms.append(sample.pose_ms)
        message = builder.push(sample)
        if message is not None:
            publish(message)
        if on_sample is not None:
            on_sample(sample, message)
        if stop_event is not None and stop_event.is_set():
            break
        if duration_s is not None and time.monotonic() - started >= duration_s:
            break
        if max_frames is not None and stats.frames >= max_frames:
            break
    else:  # the source ended by itself
        final = builder.flush()
        if final is not None:
            publish(final)
    stats.elapsed_s = time.monotonic() - started
    stats.dropped_frames = int(getattr(source, "dropped_frames", 0))
    stats.malformed_messages = int(getattr(source, "malformed_messages", 0))
    if pose_ms:
        stats.pose_ms_p50 = float(np.percentile(pose_ms, 50))
        stats.pose_ms_p99 = float(np.percentile(pose_ms, 99))
    return stats


# ---------------------------------------------------------------------------------------------
# Overlay (--show / --record)


class _Overlay:
    """Draws the skeleton and the newest label on each frame; shows and/or records it.

    Sources with images get the 2-D landmarks drawn on the image. Sources
    without images (skeleton replays, external trackers, Kinect body tracking)
    get the canonical skeleton drawn on a blank canvas
    (:func:`draw_canonical_skeleton`), so ``--record`` works for every source.
    """

    def __init__(self, show: bool, record: str | None, labels_endpoint: str | None, source_id: str,
                 fps: float, curve: CurveKeys | None = None) -> None:
        import cv2

        self._cv2 = cv2
        self.show = show
        self.fps = fps
        self.record = record
        self._writer = None
        self._labels = None
        self._label_text = "no label yet"
        self._origin: np.ndarray | None = None  # the canvas is centred on the first body drawn
        if labels_endpoint:
            from realtime.messages import label_topic

            self._labels = LatestWinsSubscriber(labels_endpoint, topics=(label_topic(source_id),), curve=curve)

    def __call__(self, sample: PoseSample, message: Any) -> None:
        cv2 = self._cv2
        if sample.frame is not None:
            image = sample.frame.copy()
            height, width = image.shape[:2]
            if sample.image_xy is not None:
                for person in sample.image_xy:
                    points = [(int(x * width), int(y * height)) for x, y in person]
                    for a, b in MEDIAPIPE33_BONES:
                        cv2.line(image, points[a], points[b], (0, 255, 0), 2)
        else:
            canonical = None
            if sample.joints is not None:
                joints = np.asarray(sample.joints, dtype=np.float32)
                canonical = to_canonical(joints[None] if joints.ndim == 2 else joints, sample.layout)  # (M, 25, 3)
                if self._origin is None and np.isfinite(canonical[0, NTU25.SPINE_BASE]).all():
                    self._origin = canonical[0, NTU25.SPINE_BASE].copy()
            image = draw_canonical_skeleton(canonical, self._origin)
        if self._labels is not None:
            event = self._labels.receive_latest(timeout_ms=0)
            if event is not None:
                shown = event.label if event.status == "ok" else event.status
                self._label_text = f"{shown} {event.score:.2f} ({event.latency_ms:.0f} ms)"
        if self.record:
            if self._writer is None:
                height, width = image.shape[:2]
                fourcc = cv2.VideoWriter_fourcc(*"MJPG")
                self._writer = cv2.VideoWriter(self.record, fourcc, self.fps, (width, height))
                if not self._writer.isOpened():
                    raise SourceError(f"cannot write video {self.record}")
            self._writer.write(self._text(image))
        if self.show:
            # Mirrored for display only, like a mirror; the estimate used the unflipped image.
            cv2.imshow("capture", self._text(cv2.flip(image, 1)))
            cv2.waitKey(1)

    def _text(self, image: np.ndarray) -> np.ndarray:
        image = image.copy()
        self._cv2.putText(image, self._label_text, (10, 30), self._cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 255), 2)
        return image

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._labels is not None:
            self._labels.close()
            self._labels = None
        if self.show:
            self._cv2.destroyAllWindows()


CANVAS_SIZE = (480, 640)  # height, width of the blank canvas for sources without images
CANVAS_METRES = 2.4  # the canvas height spans this many metres


def draw_canonical_skeleton(persons: np.ndarray | None, origin: np.ndarray | None = None,
                            size: tuple[int, int] = CANVAS_SIZE) -> np.ndarray:
    """Canonical NTU25 bodies (M, 25, 3) seen from the front, projected orthographically on a black canvas.

    Kinect camera axes (x to the sensor's left, y up) map to the image as the
    camera would show them: x to the left, y up. ``origin`` (a point in metres,
    e.g. the first frame's spine base) is drawn a little below the centre, so a
    person walking or sitting down moves on the canvas; None centres each
    frame's first body. NaN joints and their bones are skipped.

    Returns:
        (H, W, 3) uint8 BGR image.
    """
    import cv2

    height, width = size
    image = np.zeros((height, width, 3), dtype=np.uint8)
    if persons is None or len(persons) == 0:
        return image
    persons = np.asarray(persons, dtype=np.float32)
    if origin is None or not np.isfinite(origin).all():
        origin = np.nanmean(persons[0], axis=0) if np.isfinite(persons[0]).any() else np.zeros(3, np.float32)
    scale = height / CANVAS_METRES  # pixels per metre
    colours = ((0, 255, 0), (255, 200, 0), (0, 200, 255))
    for index, person in enumerate(persons):
        u = width / 2.0 - (person[:, 0] - origin[0]) * scale  # (25,)
        v = height * 0.6 - (person[:, 1] - origin[1]) * scale  # (25,)
        finite = np.isfinite(u) & np.isfinite(v)
        colour = colours[index % len(colours)]
        for child, parent in NTU25_BONES:
            if finite[child] and finite[parent]:
                cv2.line(image, (int(u[child]), int(v[child])), (int(u[parent]), int(v[parent])), colour, 2)
        for joint in np.flatnonzero(finite):
            cv2.circle(image, (int(u[joint]), int(v[joint])), 3, colour, -1)
    return image


def _check_display() -> None:
    import os

    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise SourceError("--show needs a display, and there is none here (no $DISPLAY); use --record FILE instead")


# ---------------------------------------------------------------------------------------------
# Entry point


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m realtime.capture",
                                     description="Turn a pose source into skeleton windows published over ZeroMQ.")
    add_source_arguments(parser, required=True)
    parser.add_argument("--bundle", metavar="DIR", help="model bundle whose manifest gives the window spec")
    parser.add_argument("--windows", metavar="ENDPOINT", default=default_endpoint("windows"),
                        help="where to bind the window publisher (default %(default)s)")
    parser.add_argument("--stride", type=positive_seconds, default=DEFAULT_STRIDE_S, metavar="S",
                        help="seconds between windows (default %(default)s)")
    parser.add_argument("--source-id", default="cam0", metavar="ID", help="ends every topic (default cam0)")
    parser.add_argument("--fast", action="store_true", help="files: every frame as fast as possible")
    parser.add_argument("--duration", type=positive_seconds, metavar="S", help="stop after S seconds")
    parser.add_argument("--pose-model", metavar="PATH", help="a MediaPipe Tasks pose landmarker .task file")
    parser.add_argument("--show", action="store_true", help="show the frames with the skeleton and label")
    parser.add_argument("--record", metavar="FILE", help="write the overlay video to FILE (.avi, MJPG)")
    parser.add_argument("--labels", metavar="ENDPOINT", help="labels to draw (default: none; e.g. "
                        f"{default_endpoint('labels')})")
    parser.add_argument("--curve-keys", metavar="DIR",
                        help="client CURVE keys (see `fsvae keys`) for --labels, and with --connect for --windows")
    parser.add_argument("--connect", action="store_true",
                        help="connect --windows to an inference process on another machine that binds it "
                             "(inference --windows-bind) instead of binding it here; --curve-keys then holds "
                             "that machine's server.key and client.key_secret")
    parser.add_argument("--settle", type=float, metavar="S",
                        help="wait after binding so subscribers can connect (default 0.5 s for --fast; none for "
                             "sources played in real time, whose first window comes 0.5 s after the first pose anyway)")
    parser.add_argument("--allow-remote", action="store_true",
                        help="let --windows bind to an address other than loopback (the windows are not encrypted)")
    parser.add_argument("--standby", action="store_true",
                        help="load the pose model, then wait for a line 'go' on stdin before opening the source "
                             "(fsvae-live keeps such a spare to replace a dead capture process at once); "
                             "end at end of input")  # fmt: skip
    parser.add_argument("--open-early", action="store_true",
                        help="with --standby: open the source before waiting, so that a missing camera or an "
                             "unreadable file is reported at once (fsvae-live's first capture does this and "
                             "starts a file once inference is ready)")  # fmt: skip
    add_parent_argument(parser)
    return parser


def _window_spec(bundle: str | None) -> WindowSpec:
    """The window spec in a bundle's manifest, read without loading the bundle (so without torch).

    The same fields as ``fsvae_core.bundle.window_from_dict``; the inference
    process checks the rest of the bundle.
    """
    if bundle is None:
        return WindowSpec()
    path = Path(bundle) / "manifest.json"
    try:
        skeleton = json.loads(path.read_text(encoding="utf-8"))["skeleton"]
        if skeleton["layout"] != "ntu25" or skeleton["n_joints"] != 25:
            raise ValueError(f"layout must be 'ntu25' with 25 joints, got {skeleton['layout']!r}")
        return WindowSpec(frames=int(skeleton["window_frames"]), fps=float(skeleton["fps"]),
                          max_persons=int(skeleton["max_persons"]),
                          normalization=NormalizationConfig.from_dict(skeleton["normalization"]))  # fmt: skip
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise SourceError(f"cannot read the window spec from {path}: {error}") from error


def _client_keys(folder: str | None, remote: bool) -> CurveKeys | None:
    """The client keys of this capture: on the recognizer's own machine (``local``), or on another (``client``)."""
    try:
        return None if folder is None else read_curve_key_files(folder, "client" if remote else "local")
    except ValueError as error:
        raise SourceError(str(error)) from error


def _needs_estimator(args: argparse.Namespace) -> bool:
    """Whether the source is images that MediaPipe turns into poses (a camera or a video)."""
    return not (args.skeleton or args.kinect or args.poses)


def _create_estimator(args: argparse.Namespace) -> Any:
    from realtime.pose import PoseEstimator

    try:
        return PoseEstimator.create(args.pose_model)
    except ValueError as error:
        raise SourceError(str(error)) from error


def _open_source(args: argparse.Namespace, stop: threading.Event, estimator: Any = None) -> _Source:
    """The source the options name; ``estimator``: a pose estimator already loaded (camera and video)."""
    if args.skeleton:
        return SkeletonReplaySource(args.skeleton, realtime=not args.fast)
    if args.kinect:
        return KinectSource()
    if args.poses:
        return PoseSubscriberSource(args.poses, stop_event=stop)
    # Open the camera or file first, so a missing device fails before MediaPipe loads.
    if args.video:
        source: VideoSource | CameraSource = VideoSource(args.video, None, realtime=not args.fast,
                                                         mirrored=args.mirrored)
    else:
        source = CameraSource(args.camera, None, mirrored=args.mirrored)
    try:
        source.estimator = estimator if estimator is not None else _create_estimator(args)
    except SourceError:
        source.close()
        raise
    return source


def _stand_by(args: argparse.Namespace, stop: threading.Event) -> tuple[bool, Any, Any]:
    """``--standby``: load what can be loaded (MediaPipe; with ``--open-early`` the source too), then wait for 'go'.

    Returns (go, source or None, estimator or None). SIGTERM keeps its default
    meanwhile, so a waiting process ends at once when told to.
    """
    source = _open_source(args, stop) if args.open_early else None
    estimator = None
    if source is None and _needs_estimator(args):
        estimator = _create_estimator(args)
    print("capture: standby, ready", file=sys.stderr, flush=True)
    go = sys.stdin.readline().strip() == "go"
    if not go:
        if source is not None:
            source.close()
            estimator = getattr(source, "estimator", None)
        if estimator is not None:
            estimator.close()
    return go, source, estimator


def main(argv: list[str] | None = None) -> int:
    """``python -m realtime.capture``; returns the exit status (2 for a source that cannot start)."""
    args = _parser().parse_args(argv)
    if args.parent_pid is not None:
        exit_with_parent(args.parent_pid)
    stop = threading.Event()
    source = overlay = estimator = None
    try:
        if problem := source_id_problem(args.source_id):
            raise SourceError(f"--source-id: {problem}")
        if args.show:
            _check_display()
        spec = _window_spec(args.bundle)
        curve = _client_keys(args.curve_keys, remote=args.connect)
        if args.standby:
            go, source, estimator = _stand_by(args, stop)
            if not go:
                return 0  # end of input: whoever started us has gone, or does not need us
    except SourceError as error:
        print(f"capture: {error}", file=sys.stderr)
        return 2

    def _stop(signum: int, frame: Any) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if source is None:
            source = _open_source(args, stop, estimator)
        builder = WindowBuilder(spec, args.stride, args.source_id)
        if args.show or args.record:
            overlay = _Overlay(args.show, args.record, args.labels, args.source_id,
                               float(getattr(source, "fps", 30.0)), curve)
        try:
            publisher = (LatestWinsPublisher(args.windows, bind=False, curve=curve) if args.connect
                         else LatestWinsPublisher(args.windows, allow_remote=args.allow_remote))
        except Exception as error:  # noqa: BLE001 - a bad or taken endpoint: one line, not a crash loop
            if isinstance(error, ValueError) or "zmq" in type(error).__module__:
                raise SourceError(f"cannot publish windows on {args.windows}: {error}") from error
            raise
        with publisher:
            # PUB drops everything sent before a subscriber has connected (slow joiner). A source played in
            # real time sends nothing for its first 0.5 s (the first window needs that much), so no wait.
            settle = args.settle if args.settle is not None else (0.5 if args.fast else 0.0)
            if args.duration is not None:  # also when the source has nothing to give (an idle tracker)
                timer = threading.Timer(max(0.0, args.duration), stop.set)
                timer.daemon = True
                timer.start()
            stop.wait(max(0.0, settle))
            stats = run_capture(source, builder, publisher, duration_s=args.duration, stop_event=stop,
                                on_sample=overlay)
            stop.wait(0.2)  # publisher closes with linger 0: give the last messages time to leave
        print(json.dumps({"capture": stats.to_dict()}), file=sys.stderr)
        return 0
    except SourceError as error:
        print(f"capture: {error}", file=sys.stderr)
        return 2
    finally:
        if overlay is not None:
            overlay.close()
        if source is not None:
            source.close()
            estimator = getattr(source, "estimator", None) or estimator
        if estimator is not None:
            estimator.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
