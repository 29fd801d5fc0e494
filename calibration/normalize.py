"""Body-frame normalisation shared by training and live use.

Every function is pure numpy, takes a copy and returns float32. Sequences are
(T, V, 3) for one person or (T, M, V, 3) for several; with several persons
the body frame is computed from person 0 and applied to all of them, so their
relative positions survive. ``normalize_body`` expects the canonical NTU25
layout (``mapping.to_canonical`` output); ``fill_missing`` and ``resample``
work on any layout.

Order used by :func:`apply_normalization`: fill missing joints, resample onto
a uniform time grid, then centre, rotate and scale the body.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike

from calibration.layouts import NTU25

# Below this the hip line has no horizontal extent to define a facing direction.
_MIN_HIP_WIDTH_M = 1e-6
_MIN_SPINE_LENGTH = 1e-6

# The eight limb bones (upper arms, forearms, thighs, shins): every pose source
# measures them directly, so they agree across sources where torsos do not.
LIMB_BONES: tuple[tuple[NTU25, NTU25], ...] = tuple(
    (NTU25[f"{a}_{side}"], NTU25[f"{b}_{side}"])
    for side in ("LEFT", "RIGHT")
    for a, b in (("SHOULDER", "ELBOW"), ("ELBOW", "WRIST"), ("HIP", "KNEE"), ("KNEE", "ANKLE"))
)
# Median spine length (spine base -> spine shoulder) of an NTU / Kinect v2 body
# in units of its summed limb bones, on the raw NTU samples; MediaPipe bodies
# through calibration.to_canonical measure 0.215, Kinect v1 bodies (UTD-MHAD,
# NW-UCLA) only 0.151.
NTU_SPINE_PER_LIMB_LENGTH = 0.213
SCALE_BY = ("spine", "limbs")


def _as_persons(joints: ArrayLike, what: str) -> tuple[np.ndarray, bool]:
    """(T, V, 3) or (T, M, V, 3) -> float64 copy (T, M, V, 3) and whether M was given."""
    x = np.array(joints, dtype=np.float64)
    if x.ndim not in (3, 4) or x.shape[-1] != 3:
        raise ValueError(f"{what} expects joints of shape (T, V, 3) or (T, M, V, 3), got {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{what} got an empty sequence (T = 0)")
    multi = x.ndim == 4
    return (x if multi else x[:, None]), multi


def _restore(seq: np.ndarray, multi: bool) -> np.ndarray:
    return (seq if multi else seq[:, 0]).astype(np.float32)


def fill_missing(joints: ArrayLike, *, zeros_are_missing: bool = False) -> np.ndarray:
    """Replace missing joints so that no NaN is left.

    A joint is missing in a frame when any of its coordinates is NaN or
    infinite (or, with ``zeros_are_missing``, when it is exactly (0, 0, 0),
    which is how Kinect recordings mark untracked joints; off by default
    because a normalised skeleton has its spine base at the origin).

    Each joint track is filled on its own: gaps between valid frames by linear
    interpolation over time, leading and trailing gaps with the nearest valid
    frame. A joint missing in every frame takes the body centre, the mean of
    that person's other joints in the same frame. A person with no valid joint
    at all becomes zeros, NTU's convention for an absent second body.

    Args:
        joints: (T, V, 3) or (T, M, V, 3).

    Returns:
        float32 array of the same shape, with no NaN.

    Raises:
        ValueError: bad shape, or no valid joint anywhere in the sequence.
    """
    seq, multi = _as_persons(joints, "fill_missing")
    missing = ~np.isfinite(seq).all(axis=-1)  # (T, M, V)
    if zeros_are_missing:
        missing |= (seq == 0.0).all(axis=-1)
    if missing.all():
        raise ValueError(
            f"fill_missing: every joint of every frame is missing in a sequence of shape "
            f"{seq.shape if multi else seq[:, 0].shape}; there is nothing to fill from"
        )
    num_frames, num_persons, num_joints, _ = seq.shape
    frame_index = np.arange(num_frames)
    for m in range(num_persons):
        for v in range(num_joints):
            gap = missing[:, m, v]
            if not gap.any() or gap.all():
                continue
            seen = ~gap
            for c in range(3):
                # np.interp holds the end values outside the seen range: "nearest".
                seq[gap, m, v, c] = np.interp(
                    frame_index[gap], frame_index[seen], seq[seen, m, v, c]
                )
        never_seen = missing[:, m, :].all(axis=0)  # (V,)
        if never_seen.all():
            seq[:, m] = 0.0
        elif never_seen.any():
            centre = seq[:, m, ~never_seen].mean(axis=1)  # (T, 3)
            seq[:, m, never_seen] = centre[:, None, :]
    return _restore(seq, multi)


def _first_valid_frame(valid: np.ndarray, what: str) -> int:
    frames = np.flatnonzero(valid)
    if frames.size == 0:
        raise ValueError(f"normalize_body: person 0 has no frame with a finite {what}")
    return int(frames[0])


def _rotation_about_y(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _turn_onto_y(v: np.ndarray) -> np.ndarray:
    """The rotation about x, then about z, that turns vector ``v`` onto +y (identity for a zero vector)."""
    x, y, z = v
    pitch = np.arctan2(z, y)  # about x: takes the depth part out
    c, s = np.cos(pitch), np.sin(pitch)
    about_x = np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])
    roll = np.arctan2(x, np.hypot(y, z))  # about z: then the sideways part
    c, s = np.cos(roll), np.sin(roll)
    about_z = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return about_z @ about_x


def normalize_body(
    joints: ArrayLike,
    *,
    centre: bool = True,
    rotate: bool = True,
    scale: bool = True,
    spine_length: float = 1.0,
    scale_by: str = "spine",
    upright: bool = False,
) -> np.ndarray:
    """Put an NTU25 body in a fixed frame: origin, facing and size.

    All three steps use person 0 and act on every person alike:

    - centre: the spine base of the first frame where it is finite becomes the
      origin (the same shift for every frame, so walking stays visible);
    - rotate: a turn about the vertical (y) axis through that point makes the
      hip line (left hip -> right hip) of the first frame with both hips finite
      point along +x. In Kinect axes that is a subject facing the camera (-z).
      Only the vertical axis is turned, so leaning and bowing are kept;
    - upright (with rotate): before that turn, one about the depth axis and one
      about the sideways axis, so that the spine (spine base -> spine shoulder)
      of the first frame with both finite points straight up. That takes out the
      camera's pitch and roll, which differ between setups (a Kinect on a
      shelf looks down, a webcam on a desk up; MediaPipe's estimated depth
      leans bodies a further 10-20 degrees towards the camera), at the price
      of the first frame's own lean: later bowing and leaning still show;
    - scale: the mean spine length (spine base -> spine shoulder) over the
      frames where both are finite becomes ``spine_length``. With
      ``scale_by="limbs"`` the body's size is read from its eight limb bones
      instead (their mean summed length times :data:`NTU_SPINE_PER_LIMB_LENGTH`,
      the spine an NTU body of those limbs has), so that sources whose torso
      joints sit elsewhere (Kinect v1's spine is 30% shorter in limb units than
      Kinect v2's and MediaPipe's) come out the same size as the others.

    Steps switched off leave that property as it was; rotation and scaling
    still pivot about the reference spine base when centring is off.

    Args:
        joints: (T, 25, 3) or (T, M, 25, 3) in NTU25 order, Kinect camera axes.
        spine_length: target mean spine length, > 0.
        scale_by: ``"spine"`` or ``"limbs"``, what the body's size is read from.

    Returns:
        float32 copy of the same shape. NaN joints stay NaN.

    Raises:
        ValueError: bad shape, or person 0 lacks the joints a step needs.
    """
    seq, multi = _as_persons(joints, "normalize_body")
    if seq.shape[2] != len(NTU25):
        raise ValueError(
            f"normalize_body expects the NTU25 layout ({len(NTU25)} joints), got {seq.shape[2]} "
            "joints; map the source with calibration.to_canonical first"
        )
    if not (np.isfinite(spine_length) and spine_length > 0):
        raise ValueError(
            f"normalize_body: spine_length must be a positive number, got {spine_length}"
        )
    if scale_by not in SCALE_BY:
        raise ValueError(f"normalize_body: scale_by must be one of {SCALE_BY}, got {scale_by!r}")
    person = seq[:, 0]  # (T, 25, 3)
    if not (centre or rotate or scale):
        return _restore(seq, multi)

    base = person[:, NTU25.SPINE_BASE]  # (T, 3)
    origin = base[_first_valid_frame(np.isfinite(base).all(axis=-1), "spine base")]
    transform = np.eye(3)
    if rotate:
        hips = person[:, NTU25.HIP_RIGHT] - person[:, NTU25.HIP_LEFT]  # (T, 3)
        if upright:  # stand the spine up first, so that the facing is then read about the true vertical
            spines = person[:, NTU25.SPINE_SHOULDER] - base  # (T, 3)
            transform = _turn_onto_y(spines[_first_valid_frame(np.isfinite(spines).all(axis=-1), "spine")])
        hip_line = transform @ hips[_first_valid_frame(np.isfinite(hips).all(axis=-1), "pair of hips")]
        if np.hypot(hip_line[0], hip_line[2]) > _MIN_HIP_WIDTH_M:
            transform = _rotation_about_y(np.arctan2(hip_line[2], hip_line[0])) @ transform
    if scale:
        if scale_by == "spine":
            spine = np.linalg.norm(person[:, NTU25.SPINE_SHOULDER] - base, axis=-1)  # (T,)
            what = "a finite spine base and a finite spine shoulder"
        else:
            limbs = sum(np.linalg.norm(person[:, a] - person[:, b], axis=-1) for a, b in LIMB_BONES)  # (T,)
            spine = NTU_SPINE_PER_LIMB_LENGTH * limbs
            what = "all eight limb bones finite"
        spine = spine[np.isfinite(spine)]
        if spine.size == 0:
            raise ValueError(f"normalize_body: person 0 has no frame with {what}")
        mean_spine = float(spine.mean())
        if mean_spine < _MIN_SPINE_LENGTH:
            raise ValueError(
                f"normalize_body: mean spine length {mean_spine:g} is too small to scale by"
            )
        transform = transform * (spine_length / mean_spine)
    out = (seq - origin) @ transform.T  # (T, M, V, 3)
    if not centre:
        out += origin
    return _restore(out, multi)


def resample_times(
    timestamps_s: ArrayLike,
    fps: float,
    n_frames: int | None = None,
    *,
    anchor: Literal["start", "end"] = "start",
) -> np.ndarray:
    """The uniform time grid :func:`resample` interpolates onto.

    With ``anchor="start"`` the grid is ``t_first + i / fps``; with ``"end"``
    it is ``t_last - (n_frames - 1 - i) / fps`` (the newest frame is kept,
    what a live window wants). Without ``n_frames`` the grid covers
    [t_first, t_last]: ``floor((t_last - t_first) * fps) + 1`` points.

    Args:
        timestamps_s: (T,) seconds, in any order, duplicates allowed.

    Returns:
        (n_frames,) float64 seconds, increasing.
    """
    t = _check_timestamps(timestamps_s)
    if not (np.isfinite(fps) and fps > 0):
        raise ValueError(f"resample: fps must be a positive number, got {fps}")
    if anchor not in ("start", "end"):
        raise ValueError(f"resample: anchor must be 'start' or 'end', got {anchor!r}")
    t_first, t_last = float(t.min()), float(t.max())
    if n_frames is None:
        # The small slack keeps a last sample that lands on the grid despite rounding.
        n_frames = int(np.floor((t_last - t_first) * fps + 1e-6)) + 1
    elif isinstance(n_frames, bool) or not isinstance(n_frames, (int, np.integer)) or n_frames < 1:
        raise ValueError(f"resample: n_frames must be a positive integer or None, got {n_frames!r}")
    steps = np.arange(n_frames) / fps
    return t_first + steps if anchor == "start" else t_last - steps[::-1]


def _check_timestamps(timestamps_s: ArrayLike) -> np.ndarray:
    t = np.asarray(timestamps_s, dtype=np.float64)
    if t.ndim != 1 or t.size == 0:
        raise ValueError(
            f"resample: timestamps_s must be a non-empty 1-D array (T,), got shape {t.shape}"
        )
    if not np.isfinite(t).all():
        raise ValueError("resample: timestamps_s contains NaN or infinite values")
    return t


def resample(
    joints: ArrayLike,
    timestamps_s: ArrayLike,
    fps: float,
    n_frames: int | None = None,
    *,
    anchor: Literal["start", "end"] = "start",
) -> np.ndarray:
    """Linearly interpolate frames taken at ``timestamps_s`` onto a uniform grid.

    Frames are first put in time order (a stable sort). Frames sharing a
    timestamp are duplicates of one instant: the one given last wins, as in a
    latest-wins stream. Grid points before the first or after the last
    timestamp repeat the nearest frame (edge padding, never zeros). The grid
    is :func:`resample_times` (same arguments).

    A NaN joint in a frame makes that joint NaN at grid points strictly
    between the frame's neighbours; call :func:`fill_missing` first.

    Args:
        joints: (T, ...) e.g. (T, V, 3) or (T, M, V, 3).
        timestamps_s: (T,) seconds.
        fps: grid rate in frames per second, > 0.
        n_frames: grid length; None covers the recorded span.
        anchor: "start" begins the grid at the first timestamp, "end" ends it
            at the last.

    Returns:
        (n_frames, ...) float32.

    Raises:
        ValueError: timestamps not 1-D, not finite, or not one per frame;
            fps or n_frames not positive; unknown anchor.
    """
    grid = resample_times(timestamps_s, fps, n_frames, anchor=anchor)
    return resample_onto(joints, timestamps_s, grid)


def resample_onto(joints: ArrayLike, timestamps_s: ArrayLike, grid_s: ArrayLike) -> np.ndarray:
    """Linearly interpolate frames taken at ``timestamps_s`` onto the times ``grid_s``.

    The engine of :func:`resample`, for callers that choose their own grid
    (e.g. a window centred on a short clip). Same rules: stable time order,
    the last of duplicate timestamps wins, edge frames repeat outside the
    recorded span.

    Args:
        joints: (T, ...) frames.
        timestamps_s: (T,) seconds.
        grid_s: (n,) seconds, any finite values.

    Returns:
        (n, ...) float32.
    """
    x = np.asarray(joints, dtype=np.float64)
    t = _check_timestamps(timestamps_s)
    if x.ndim == 0 or x.shape[0] != t.size:
        raise ValueError(
            f"resample: need one timestamp per frame, got {t.size} timestamps "
            f"for joints of shape {x.shape}"
        )
    grid = np.asarray(grid_s, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    t, x = t[order], x[order]
    last_of_each_instant = np.append(t[1:] != t[:-1], True)
    t, x = t[last_of_each_instant], x[last_of_each_instant]
    flat = x.reshape(t.size, -1)  # (T, V*3...)
    if t.size == 1:
        out = np.repeat(flat, grid.size, axis=0)
    else:
        left = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, t.size - 2)  # (n,)
        weight = np.clip((grid - t[left]) / (t[left + 1] - t[left]), 0.0, 1.0)[:, None]
        a, b = flat[left], flat[left + 1]
        # Exact hits take the sample itself, so a NaN neighbour cannot leak into them.
        out = np.where(weight == 0.0, a, np.where(weight == 1.0, b, a + weight * (b - a)))
    return out.reshape((grid.size,) + x.shape[1:]).astype(np.float32)


@dataclass(frozen=True)
class NormalizationConfig:
    """Which normalisation steps apply, recorded with a model bundle.

    ``dataclasses.asdict(config)`` is plain JSON; :meth:`from_dict` reads it
    back. Steps run in field order: fill, resample (when ``fps`` is set),
    centre, rotate, scale.

    Attributes:
        fill_missing: fill NaN joints (:func:`fill_missing`).
        fps: resample onto a uniform grid at this rate; None keeps the frames.
        centre: put person 0's first spine base at the origin.
        rotate: turn about the vertical so the hips lie along +x.
        scale: make the mean spine length ``spine_length``.
        spine_length: target mean spine length (spine base -> spine shoulder).
        upright: with ``rotate``, also stand the first frame's spine straight up
            (see :func:`normalize_body`), taking out the camera's pitch and roll.
        scale_by: ``"spine"`` measures the spine itself; ``"limbs"`` reads
            the size from the limb bones (see :func:`normalize_body`), for
            models that meet other pose sources than the one they learnt from.
    """

    fill_missing: bool = True
    fps: float | None = None
    centre: bool = True
    rotate: bool = True
    scale: bool = True
    spine_length: float = 1.0
    scale_by: str = "spine"
    upright: bool = False

    def __post_init__(self) -> None:
        for name in ("fill_missing", "centre", "rotate", "scale", "upright"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"NormalizationConfig.{name} must be True or False, "
                    f"got {getattr(self, name)!r}"
                )
        if self.fps is not None and not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(
                f"NormalizationConfig.fps must be None or a positive rate, got {self.fps!r}"
            )
        if not (np.isfinite(self.spine_length) and self.spine_length > 0):
            raise ValueError(
                "NormalizationConfig.spine_length must be a positive number, "
                f"got {self.spine_length!r}"
            )
        if self.scale_by not in SCALE_BY:
            raise ValueError(f"NormalizationConfig.scale_by must be one of {SCALE_BY}, got {self.scale_by!r}")

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form, same as ``dataclasses.asdict``."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NormalizationConfig:
        """Rebuild from :meth:`to_dict` output; unknown keys are a ValueError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"NormalizationConfig: unknown keys {unknown}; known keys: {sorted(known)}"
            )
        return cls(**data)


def apply_normalization(
    joints: ArrayLike,
    config: NormalizationConfig,
    timestamps_s: ArrayLike | None = None,
) -> np.ndarray:
    """Run the steps ``config`` switches on, in its documented order.

    Args:
        joints: (T, 25, 3) or (T, M, 25, 3) NTU25 (layout-free when only
            filling and resampling).
        config: the steps to apply.
        timestamps_s: (T,) seconds; required when ``config.fps`` is set,
            otherwise ignored.

    Returns:
        float32, (T', ...) where T' is the resampled length when resampling.
    """
    out = np.asarray(joints, dtype=np.float32)
    if config.fill_missing:
        out = fill_missing(out)
    if config.fps is not None:
        if timestamps_s is None:
            raise ValueError(
                f"apply_normalization: config.fps = {config.fps} needs timestamps_s to resample"
            )
        out = resample(out, timestamps_s, config.fps)
    if config.centre or config.rotate or config.scale:
        out = normalize_body(
            out,
            centre=config.centre,
            rotate=config.rotate,
            scale=config.scale,
            spine_length=config.spine_length,
            scale_by=config.scale_by,
            upright=config.upright,
        )
    return out
