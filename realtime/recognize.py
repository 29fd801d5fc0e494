"""``fsvae recognize``: recorded clips through the live recognizer's own code path, offline.

::

    FILE (video / NTU .skeleton / dataset file)
        -> PoseSample source (realtime.capture: VideoSource + MediaPipe, SkeletonReplaySource,
           SequenceReplaySource), every frame, none dropped
        -> WindowBuilder (the bundle's WindowSpec, a window every stride; NoPerson after the grace)
           + WindowBuilder.flush() at the end of the file
        -> Recognizer.prepare -> Recognizer.scores_and_motion (batched)
        -> Recognizer.decide per window, in time order, smoothing included (NoPerson resets it)
        -> ClipResult

The windows, scores and decisions are the ones ``fsvae-live --fast`` would
make from the same file; the clip's label is the decision at its last window,
what the live recognizer shows when the clip ends. A clip shorter than the
live first-window delay still gets one window at its end (``flush``): the
window centred on it, its edge poses held, exactly the window training cuts
from it (``calibration.windows.clip_windows``).

The parts are testable without sockets and without a command line:
:func:`open_clip` (a file to a sample source), :func:`recognize_samples`
(samples to a :class:`ClipResult`), :func:`live_windows` (samples to the window
stream alone), :func:`file_windows` (a file to its windows, for a model's
window spec: what ``fsvae actions add --example`` shows), :func:`recognize_file`
and :func:`recognize_main` (what ``fsvae recognize`` runs).

Axis letters: N windows, M persons, T frames, V joints, K classes.
"""

from __future__ import annotations

import json
import math
import sys
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from calibration.windows import WindowSpec
from realtime.capture import (
    PoseSample,
    SequenceReplaySource,
    SkeletonReplaySource,
    SourceError,
    VideoSource,
    WindowBuilder,
)
from realtime.messages import NoPerson, RankedLabel, SkeletonWindow

DEFAULT_STRIDE_S = 0.25  # as fsvae-live's --stride
SCORE_BATCH = 64  # windows per forward pass
PROGRAM = "fsvae recognize"
WINDOW_SOURCE_ID = "clip"  # the windows' source id (a topic part: no dots, so not the file name)


class ClipError(Exception):
    """A clip that cannot be recognised; ``str()`` is one line that names the file and says why."""


@dataclass(frozen=True)
class WindowDecision:
    """The smoothed decision after one window: ``time_s`` is the clip time of the window's newest frame;
    ``still``: the body stood still in it (label ``unknown``, score 0)."""

    time_s: float
    label: str
    score: float
    unknown: bool
    still: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"time_s": round(self.time_s, 4), "label": self.label, "score": round(self.score, 6),
                "unknown": self.unknown, "still": self.still}  # fmt: skip


@dataclass(frozen=True)
class ClipResult:
    """What the live recognizer would have said about one recorded clip.

    Attributes:
        file: the path as given.
        frames: samples the source gave (video frames, skeleton frames).
        frames_with_person: of those, the ones with a usable person.
        windows: windows scored (the end-of-file window included).
        label: the decision at the clip's last window: a class name or ``unknown``.
        score: its smoothed score; ``unknown`` whether it fell below the bundle's threshold.
        seen: whether the label's class was seen in training (None for ``unknown``).
        topk: the best candidates of that decision, best first (none when the body stood still).
        status: ``ok``; ``no_person`` when nobody was in view for longer than
            the grace period at the end, ``still`` when the body stood still in the
            last window (what fsvae-live then shows instead of a label).
        decisions: the decision after every window, in time order.
    """

    file: str
    frames: int
    frames_with_person: int
    windows: int
    label: str
    score: float
    unknown: bool
    seen: bool | None
    topk: tuple[RankedLabel, ...]
    status: str
    decisions: tuple[WindowDecision, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON, every field."""
        return {
            "file": self.file, "frames": self.frames, "frames_with_person": self.frames_with_person,
            "windows": self.windows, "label": self.label, "score": round(self.score, 6), "unknown": self.unknown,
            "seen": self.seen, "status": self.status,
            "topk": [{"name": r.label, "score": round(r.score, 6), "seen": r.seen} for r in self.topk],
            "decisions": [d.to_dict() for d in self.decisions],
        }  # fmt: skip

    def line(self) -> str:
        """``FILE: LABEL (score 0.63; windows 5) top: a 0.63, b 0.51, c 0.40`` (no ``top:`` when standing still)."""
        notes = [f"score {self.score:.2f}", f"windows {self.windows}"]
        if self.status == "no_person":
            notes.append("nobody in view at the end")
        elif self.status == "still":
            notes.append("standing still at the end")
        line = f"{self.file}: {self.label} ({'; '.join(notes)})"
        return f"{line} top: " + ", ".join(f"{r.label} {r.score:.2f}" for r in self.topk) if self.topk else line


# ---------------------------------------------------------------------------------------------
# Files -> sample sources


@dataclass(frozen=True)
class _Recording:
    """A dataset file format read whole: joints (T, M, V, 3) in ``layout`` at ``fps``."""

    matches: Callable[[Path], bool]
    read: Callable[[Path], np.ndarray]
    layout: str
    fps: float


def _recordings() -> tuple[_Recording, ...]:
    from fsvae_core import skeleton_data as sd

    return (  # UTD-MHAD, NW-UCLA, HDM05, SBU Kinect Interaction
        _Recording(lambda p: p.suffix.lower() == ".mat", sd.read_utd_mhad_mat,
                   "utd_mhad", sd.KINECT_V1_FPS),
        _Recording(lambda p: p.suffix.lower() == ".json", lambda p: sd.read_nw_ucla_json(p)[0],
                   "kinect_v1", sd.NW_UCLA_FPS),
        _Recording(lambda p: p.suffix.lower() == ".amc", sd.read_hdm05_clip,
                   "hdm05_mocap31", sd.HDM05_FPS),
        _Recording(lambda p: p.name.lower() == "skeleton_pos.txt", sd.read_sbu_skeleton,
                   "sbu15", sd.SBU_FPS),
    )  # fmt: skip


def open_clip(path: str | Path, pose_model: str | Path | None = None, mirrored: bool = False) -> Any:
    """A sample source over every frame of one recorded file (close it after use).

    * ``.skeleton``: an NTU RGB+D recording, :class:`SkeletonReplaySource` (30 fps, ``ntu25``);
    * ``.mat``: a UTD-MHAD ``*_skeleton.mat`` (30 fps, ``utd_mhad``);
    * ``.json``: an NW-UCLA sequence (15 fps, ``kinect_v1``);
    * ``.amc``: an HDM05 mocap clip, its subject's ``HDM_<subject>.asf`` beside it
      (read at 30 fps, ``hdm05_mocap31``);
    * ``skeleton_pos.txt``: an SBU Kinect Interaction clip, two persons (15 fps, ``sbu15``);
    * anything else: a video OpenCV can decode, through a fresh MediaPipe pose
      estimator (``pose_model``: a Tasks ``.task`` file, default the bundled
      model), :class:`VideoSource` with ``realtime=False``; the estimator is
      the source's ``estimator`` and must be closed with it (:func:`close_clip`);
      a ``mirrored`` video is flipped back before estimation.

    Raises:
        SourceError: a missing file, one that cannot be decoded, a pose model that cannot load.
        fsvae_core.skeleton_data.DatasetError: a dataset file with bad contents.
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"{path}: a folder, not a recording (name the files in it)" if path.is_dir()
                          else f"{path}: no such file")
    if path.suffix.lower() == ".skeleton":
        return SkeletonReplaySource(path, realtime=False)
    for recording in _recordings():
        if recording.matches(path):
            return SequenceReplaySource(recording.read(path), recording.layout, recording.fps, realtime=False)
    from realtime.pose import PoseEstimator

    # Open the file first, so an unreadable one fails before MediaPipe loads.
    source = VideoSource(path, None, realtime=False, mirrored=mirrored)
    try:
        source.estimator = PoseEstimator.create(pose_model)
    except (ValueError, ImportError) as error:
        source.close()
        raise SourceError(f"cannot start the pose estimator: {error}") from error
    return source


def close_clip(source: Any) -> None:
    """Close a source from :func:`open_clip` and its pose estimator, if any."""
    source.close()
    estimator = getattr(source, "estimator", None)
    if estimator is not None:
        estimator.close()


# ---------------------------------------------------------------------------------------------
# Samples -> decisions


@dataclass(frozen=True)
class LiveWindows:
    """The window stream the live capture makes from one clip.

    Attributes:
        events: in time order, ``(time_s, joints)``: the clip time of the newest
            frame when the message was due, and a window's joints (T, M, V, 3) in
            the canonical ``ntu25`` layout, or None for a no-person notice.
        frames: samples read; ``frames_with_person`` of them showed a usable person.
        first_window_s: the builder's first-window delay.
    """

    events: tuple[tuple[float, np.ndarray | None], ...]
    frames: int
    frames_with_person: int
    first_window_s: float

    @property
    def windows(self) -> list[np.ndarray]:
        """The windows alone, (T, M, V, 3) each."""
        return [joints for _, joints in self.events if joints is not None]


def live_windows(samples: Iterable[PoseSample], spec: WindowSpec, stride_s: float = DEFAULT_STRIDE_S) -> LiveWindows:
    """Push every sample through a :class:`WindowBuilder`, as the capture process does, and flush it at the end.

    The end-of-clip window (:meth:`WindowBuilder.flush`) comes when the last
    window sent did not take the clip's newest frame with a person; for a clip
    shorter than a window it is the window ``clip_windows`` cuts from it.
    """
    builder = WindowBuilder(spec, stride_s, WINDOW_SOURCE_ID)
    events: list[tuple[float, np.ndarray | None]] = []
    frames, last_s, last_ms = 0, 0.0, 0.0
    for sample in samples:
        frames += 1
        last_s, last_ms = float(sample.timestamp_s), sample.capture_ms
        message = builder.push(sample)
        if isinstance(message, SkeletonWindow):
            events.append((last_s, message.joints))
        elif isinstance(message, NoPerson):
            events.append((last_s, None))
    final = builder.flush(capture_ms=last_ms)
    if final is not None:
        events.append((last_s, final.joints))
    return LiveWindows(tuple(events), frames, builder.person_frames, builder.first_window_s)


def recognize_samples(samples: Iterable[PoseSample], recognizer: Any, source_id: str,
                      stride_s: float = DEFAULT_STRIDE_S) -> ClipResult:
    """Windows, scores and decisions of one clip's samples, exactly as the live loop makes them.

    ``source_id`` (the file) names the clip in the result and in errors, and
    keys the recognizer's smoothing, whose history for it is cleared before and
    after, so clips do not leak into each other.

    Raises:
        ClipError: no sample, no person in any sample, or a person never in view long enough for a window.
        realtime.inference.WindowRejected: a window the model cannot take (a bundle whose spec disagrees with it).
    """
    stream = live_windows(samples, recognizer.bundle.skeleton, stride_s)
    prepared = [recognizer.prepare(joints) for joints in _person_windows(stream, source_id)]
    batches = [recognizer.scores_and_motion(np.stack(prepared[i : i + SCORE_BATCH]))
               for i in range(0, len(prepared), SCORE_BATCH)]
    scores = np.concatenate([s for s, _ in batches])  # (N, K)
    motion = np.concatenate([m for _, m in batches])  # (N,)
    recognizer.reset(source_id)
    decisions: list[WindowDecision] = []
    decision, status, row = None, "ok", 0
    try:
        for time_s, joints in stream.events:
            if joints is None:  # as the live loop: nobody in view resets the smoothing and says so
                recognizer.reset(source_id)
                status = "no_person"
                continue
            decision = recognizer.decide(source_id, scores[row], timestamp_ms=time_s * 1000.0, motion=motion[row])
            row += 1
            status = "still" if decision.still else "ok"
            decisions.append(WindowDecision(time_s, decision.label, decision.score, decision.unknown, decision.still))
    finally:
        recognizer.reset(source_id)
    return ClipResult(
        file=source_id, frames=stream.frames, frames_with_person=stream.frames_with_person, windows=len(prepared),
        label=decision.label, score=decision.score, unknown=decision.unknown, seen=decision.seen,
        topk=decision.topk, status=status, decisions=tuple(decisions),
    )  # fmt: skip


def recognize_file(path: str | Path, recognizer: Any, stride_s: float = DEFAULT_STRIDE_S,
                   pose_model: str | Path | None = None, mirrored: bool = False) -> ClipResult:
    """:func:`recognize_samples` of every frame of one file (:func:`open_clip`).

    Raises:
        ClipError: the file cannot be read, or no person is found in it; one line naming the file.
    """
    return _with_clip(path, pose_model, mirrored,
                      lambda source: recognize_samples(source, recognizer, str(path), stride_s))


def file_windows(path: str | Path, spec: WindowSpec, stride_s: float = DEFAULT_STRIDE_S,
                 pose_model: str | Path | None = None, mirrored: bool = False) -> list[np.ndarray]:
    """Every window the live capture makes of one file for a model of ``spec``, (T, M, V, 3) each.

    Raises:
        ClipError: the file cannot be read, or no person is found in it; one line naming the file.
    """
    return _with_clip(path, pose_model, mirrored,
                      lambda source: _person_windows(live_windows(source, spec, stride_s), str(path)))


def model_windows(path: str | Path, recognizer: Any, stride_s: float = DEFAULT_STRIDE_S,
                  pose_model: str | Path | None = None, mirrored: bool = False) -> np.ndarray:
    """Every window of one file as the model takes it, (N, M, T, V, 3) float32 (``Recognizer.prepare``).

    Raises:
        ClipError: the file cannot be read, or no person is found in it; one line naming the file.
    """
    windows = file_windows(path, recognizer.bundle.skeleton, stride_s, pose_model, mirrored)
    return np.stack([recognizer.prepare(joints) for joints in windows])


def _with_clip(path: str | Path, pose_model: str | Path | None, mirrored: bool, read):
    """``read(source)`` of the file's pose source, closed after; a file that cannot be read is one ClipError."""
    from fsvae_core.skeleton_data import DatasetError

    try:
        source = open_clip(path, pose_model, mirrored)
        try:
            return read(source)
        finally:
            close_clip(source)
    except ClipError:
        raise
    except (SourceError, DatasetError, OSError, ValueError) as error:
        raise ClipError(_error_line(path, error)) from error


def _person_windows(stream: LiveWindows, source_id: str) -> list[np.ndarray]:
    """The stream's windows, each (T, M, V, 3); a ClipError if there are none."""
    if stream.frames == 0:
        raise ClipError(f"{source_id}: no frame could be read")
    if stream.frames_with_person == 0:
        raise ClipError(f"{source_id}: no person found in any of {stream.frames} frames")
    windows = stream.windows
    if not windows:
        raise ClipError(f"{source_id}: a person in only {stream.frames_with_person} of {stream.frames} frames, "
                        f"never in view for {stream.first_window_s:g} s, so no window")  # fmt: skip
    return windows


def _error_line(path: str | Path, error: BaseException) -> str:
    """One line naming the file once: dataset errors already do (``FILE, line N: ...``)."""
    from fsvae_core.skeleton_data import DatasetError

    for cause in (error, error.__cause__):
        if isinstance(cause, DatasetError):
            return str(cause)
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
    return text if str(path) in text else f"{path}: {text}"


# ---------------------------------------------------------------------------------------------
# The command


def default_bundle() -> Path:
    """The bundle fsvae-live uses when given none: the shipped one, copied once into the cache.

    Actions added to that copy (live, or with ``fsvae actions add``) are known here too.

    Raises:
        FileNotFoundError: this installation ships no bundle.
    """
    from realtime import live

    if not live.DEFAULT_BUNDLE.is_dir():
        raise FileNotFoundError(f"no bundle given and none shipped at {live.DEFAULT_BUNDLE}; pass --bundle DIR")
    return live.writable_default_bundle()


def recognize_main(
    files: Sequence[str],
    *,
    bundle: str | Path | None = None,
    as_json: bool = False,
    top_k: int = 5,
    stride_s: float = DEFAULT_STRIDE_S,
    device: str = "auto",
    pose_model: str | None = None,
    mirrored: bool = False,
    quiet: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """``fsvae recognize``: one line (or one JSON object) per recognised file on ``out``.

    A file that cannot be read or shows nobody gets one line on ``err`` and
    the others are still recognised. Returns 0 when every file was recognised,
    1 when any failed, 2 for a bad bundle or bad options (before any file).
    """
    from tqdm import tqdm

    from fsvae_core.bundle import BundleError, load_bundle
    from realtime.inference import Recognizer, RecognizerConfig

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    if not (math.isfinite(stride_s) and stride_s > 0):
        print(f"{PROGRAM}: --stride must be a positive number of seconds, got {stride_s}", file=err)
        return 2
    if top_k < 1:
        print(f"{PROGRAM}: --top-k must be at least 1, got {top_k}", file=err)
        return 2
    try:
        config = RecognizerConfig(top_k=top_k)
        path = default_bundle() if bundle is None else Path(bundle)
        recognizer = Recognizer.from_bundle(load_bundle(path), device=device, config=config)
    except (BundleError, ValueError, OSError) as error:
        print(f"{PROGRAM}: {error}", file=err)
        return 2
    failed = 0
    progress = tqdm(files, desc="recognize", unit="file", file=err, disable=quiet or not _isatty(err))
    with warnings.catch_warnings():
        # MediaPipe's protobuf use warns once per process; stderr is for the files that failed.
        warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
        for file in progress:
            try:
                result = recognize_file(file, recognizer, stride_s, pose_model, mirrored)
            except ClipError as error:
                failed += 1
                tqdm.write(f"{PROGRAM}: {error}", file=err)
                continue
            tqdm.write(json.dumps(result.to_dict()) if as_json else result.line(), file=out)
    progress.close()
    return 1 if failed else 0


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False
