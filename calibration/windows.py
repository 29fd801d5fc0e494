"""Model windows: the fixed-size slice of canonical skeletons the backbone sees.

A window is ``frames`` samples at the model's own ``fps`` ending at a chosen
instant, so it always spans the same *time* whatever the source's frame rate.
Training cuts windows from recorded clips and the live system cuts one from
its ring buffer with the same functions, :func:`window_end` (where the window
ends) and :func:`model_window` (the window itself), so both see the same
thing. Frames spanning less than a window are centred in it and held at their
first and last pose (a person standing still), never padded with zeros, which
would look like a collapsed skeleton.

Axis letters: M persons, T frames, V joints (25, NTU order), C = 3.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from calibration.normalize import NormalizationConfig, fill_missing, normalize_body, resample_onto


@dataclass(frozen=True)
class WindowSpec:
    """Length and rate of a model window, and how bodies in it are normalised.

    ``normalization.fps`` is not used here: windows are always resampled at
    ``fps``; the centre / rotate / scale flags apply to each window.
    """

    frames: int = 48
    fps: float = 20.0
    max_persons: int = 2
    normalization: NormalizationConfig = field(default_factory=NormalizationConfig)

    def __post_init__(self) -> None:
        if self.frames < 2:
            raise ValueError(f"WindowSpec.frames must be at least 2, got {self.frames}")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"WindowSpec.fps must be a positive rate, got {self.fps}")
        if self.max_persons < 1:
            raise ValueError(f"WindowSpec.max_persons must be at least 1, got {self.max_persons}")

    @property
    def duration_s(self) -> float:
        """Time from the first to the last sample of a window."""
        return (self.frames - 1) / self.fps


def _as_persons(joints: ArrayLike, max_persons: int) -> np.ndarray:
    x = np.asarray(joints, dtype=np.float32)
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[-2:] != (25, 3):
        raise ValueError(f"model windows need canonical joints (T, 25, 3) or (T, M, 25, 3), got {x.shape}")
    if x.shape[1] >= max_persons:
        return x[:, :max_persons]
    padding = np.zeros((x.shape[0], max_persons - x.shape[1], 25, 3), dtype=np.float32)
    return np.concatenate([x, padding], axis=1)


def centred_end(first_s: float, last_s: float, spec: WindowSpec) -> float:
    """End of the window of ``spec`` whose middle is the middle of ``[first_s, last_s]``."""
    return 0.5 * (float(first_s) + float(last_s)) + 0.5 * spec.duration_s


def window_end(timestamps_s: ArrayLike, spec: WindowSpec) -> float:
    """Where the window of ``spec`` ends, given the frames at hand: the one placement rule.

    Frames spanning at least one window (newest minus oldest >= ``spec.duration_s``):
    the window ends at the newest frame. Frames spanning less: the window is
    centred on them (:func:`centred_end`), and :func:`model_window` holds the
    first and last pose on either side. Training (:func:`clip_windows`, a short
    clip) and the live ring buffer (``realtime.capture.WindowBuilder``, a person
    seen for less than a window) both place windows with this function, so a
    short action seen live gives the very window it was trained on.

    Args:
        timestamps_s: (T,) seconds of the frames, T >= 1, any order.
    """
    t = np.asarray(timestamps_s, dtype=np.float64)
    if t.size == 0:
        raise ValueError("window_end: no frames")
    first, last = float(np.min(t)), float(np.max(t))
    if last - first >= spec.duration_s:
        return last
    return centred_end(first, last, spec)


def model_window(joints: ArrayLike, timestamps_s: ArrayLike, spec: WindowSpec, end_s: float | None = None) -> np.ndarray:
    """The window of ``spec`` ending at ``end_s`` (default: where :func:`window_end` places it).

    Args:
        joints: canonical (T, 25, 3) or (T, M, 25, 3); persons beyond
            ``spec.max_persons`` are dropped, missing ones are zeros.
            NaN marks an untracked joint.
        timestamps_s: (T,) seconds, one per frame.

    Returns:
        (M, T', 25, 3) float32 with M = ``spec.max_persons``, T' = ``spec.frames``;
        an absent person (all zero or all NaN in the input) stays all zero.
    """
    x = _as_persons(joints, spec.max_persons)  # (T, M, V, C)
    t = np.asarray(timestamps_s, dtype=np.float64)
    absent = np.all((x == 0) | ~np.isfinite(x), axis=(0, 2, 3))  # (M,)
    if absent[0]:
        raise ValueError("model_window: the first person has no tracked joint in this window")
    x[:, absent] = np.nan  # filled like any missing joint, then zeroed again below
    x = fill_missing(x)
    end = window_end(t, spec) if end_s is None else float(end_s)
    grid = end - np.arange(spec.frames)[::-1] / spec.fps
    window = resample_onto(x, t, grid)  # (T', M, V, C)
    norm = spec.normalization
    if norm.centre or norm.rotate or norm.scale:
        window = normalize_body(window, centre=norm.centre, rotate=norm.rotate, scale=norm.scale,
                                spine_length=norm.spine_length, scale_by=norm.scale_by, upright=norm.upright)
    window[:, absent] = 0.0
    return np.ascontiguousarray(window.transpose(1, 0, 2, 3))


def clip_windows(joints: ArrayLike, fps_in: float, spec: WindowSpec, crops: int = 1) -> np.ndarray:
    """Windows cut from one recorded clip, for training and offline evaluation.

    A clip shorter than a window gives ``crops`` copies of one window centred
    on it (placed by :func:`window_end`, as a live window of the same frames
    is); a longer clip gives ``crops`` windows whose ends are evenly
    spaced over the clip (one crop: the centre).

    Args:
        joints: canonical (T, 25, 3) or (T, M, 25, 3) recorded at ``fps_in``.

    Returns:
        (crops, M, T', 25, 3) float32.
    """
    x = np.asarray(joints, dtype=np.float32)
    t = np.arange(len(x)) / fps_in
    span = t[-1] if len(t) else 0.0
    if span < spec.duration_s:
        ends = [window_end(t, spec)] * crops  # the rule live windows follow too: centred, edges held
    elif crops == 1:
        ends = [centred_end(0.0, span, spec)]  # the middle crop of a long clip
    else:
        ends = np.linspace(spec.duration_s, span, crops)
    return np.stack([model_window(x, t, spec, end) for end in ends])
