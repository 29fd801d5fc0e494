"""Skeleton action datasets: one in-memory form and the loaders that fill it.

Every loader returns a :class:`SkeletonDataset` whose sequences keep the
*source* joint layout and units (Kinect camera-space metres for the bundled
datasets); mapping between layouts belongs to ``calibration``, so the layout
is only recorded here by name (the mocap world of HDM05 included: its turn
into camera axes is ``calibration.mapping``'s).

Axis letters, used throughout the project: N sequences (batch), M persons,
T frames, V joints, C channels (x, y, z).

Formats read here:

* NTU RGB+D raw ``SsssCcccPpppRrrrAaaa.skeleton`` text files (Kinect v2, 25 joints);
* the CTR-GCN preprocessed NTU ``.npz`` (``x_train``/``y_train``/``x_test``/``y_test``);
* UTD-MHAD ``aA_sS_tT_skeleton.mat`` (Kinect v1, UTD's own 20-joint order);
* NW-UCLA ``aAA_sSS_eEE_vVV.json`` (Kinect v1 SDK 20-joint order);
* HDM05 Acclaim ``.asf`` skeletons and ``.amc`` motions (optical motion
  capture; joint positions by forward kinematics, metres, mocap world axes);
* SBU Kinect Interaction ``sPPsQQ/AA/NNN/skeleton_pos.txt`` (two persons,
  OpenNI/NiTE 15 joints, turned back from SBU's normalisation into metres);
* a generic ``.npz`` any user can write (see :func:`load_generic_npz`).

Arrays are always read with ``allow_pickle=False``: a dataset file must never
be able to run code.  Parsed folders are cached as one flat ``.npz`` under
``paths.cache_dir() / "datasets"`` because parsing thousands of small files
dominates start-up time.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import logging
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calibration.layouts import HDM05_ASF_BONES, HDM05_MOCAP31_BONES
from calibration.layouts import LAYOUTS as CALIBRATION_LAYOUTS
from fsvae_core import paths
from fsvae_core.action_text import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, name_key, reserved_name_problem, text_problem

__all__ = [
    "HDM05_CLASS_NAMES",
    "HDM05_FPS",
    "HDM05_MOTION_CLASSES",
    "HDM05_SUBJECTS",
    "LAYOUTS",
    "LAYOUT_JOINT_COUNTS",
    "NTU_FPS",
    "NW_UCLA_CLASS_NAMES",
    "NW_UCLA_FPS",
    "SBU_ACTOR_PAIRS",
    "SBU_CLASS_NAMES",
    "SBU_FOLDS",
    "SBU_FPS",
    "UTD_MHAD_CLASS_NAMES",
    "AmcMotion",
    "AsfBone",
    "AsfSkeleton",
    "DatasetError",
    "SkeletonDataset",
    "euler_matrices",
    "forward_kinematics",
    "load_dataset",
    "load_generic_npz",
    "load_hdm05",
    "load_ntu_folder",
    "load_ntu_npz",
    "load_nw_ucla",
    "load_sbu",
    "load_utd_mhad",
    "ntu_class_names",
    "read_amc",
    "read_asf",
    "read_hdm05_clip",
    "read_ntu_skeleton",
    "read_nw_ucla_json",
    "read_sbu_skeleton",
    "read_utd_mhad_mat",
    "save_generic_npz",
]

log = logging.getLogger(__name__)

PathLike = str | os.PathLike

# Joint count of every layout a dataset may declare, from the one place layouts live.
LAYOUT_JOINT_COUNTS: dict[str, int] = {name: layout.num_joints for name, layout in CALIBRATION_LAYOUTS.items()}
LAYOUTS: tuple[str, ...] = tuple(LAYOUT_JOINT_COUNTS)

NTU_FPS = 30.0
KINECT_V1_FPS = 30.0
# NW-UCLA's recordings hold about 15 poses a second, not a Kinect's 30: its
# people walking around take a step every 7-9 frames (median of the
# recordings' step periods), which at 30 fps would be 4 steps a second,
# faster than people run; at 15 it is 0.5-0.6 s a step and about 0.9 m/s, a walk.
NW_UCLA_FPS = 15.0
NTU_NUM_CLASSES = 120
NTU_JOINTS = 25
# x y z depthX depthY colorX colorY orientW orientX orientY orientZ trackingState
_NTU_JOINT_FIELDS = 12
_NTU_BODY_INFO_FIELDS = 10

UTD_MHAD_CLASS_NAMES: tuple[str, ...] = (
    "right arm swipe to the left",
    "right arm swipe to the right",
    "right hand wave",
    "two hand front clap",
    "right arm throw",
    "cross arms in the chest",
    "basketball shooting",
    "draw x",
    "draw circle (clockwise)",
    "draw circle (counter clockwise)",
    "draw triangle",
    "bowling (right hand)",
    "front boxing",
    "baseball swing from right",
    "tennis forehand swing",
    "arm curl (two arms)",
    "tennis serve",
    "two hand push",
    "knock on door",
    "hand catch",
    "pick up and throw",
    "jogging",
    "walking",
    "sit to stand",
    "stand to sit",
    "forward lunge (left foot forward)",
    "squat",
)

NW_UCLA_CLASS_NAMES: tuple[str, ...] = (
    "pick up with one hand",
    "pick up with two hands",
    "drop trash",
    "walk around",
    "sit down",
    "stand up",
    "donning",
    "doffing",
    "throw",
    "carry",
)
# NW-UCLA file action ids skip a07 and a10; JSON labels 1..10 number the rest.
_NW_UCLA_ACTION_TO_LABEL = {a: i + 1 for i, a in enumerate((1, 2, 3, 4, 5, 6, 8, 9, 11, 12))}

# HDM05 is captured at 120 fps and loaded at 30, the Kinect datasets' rate.
HDM05_FPS = 30.0
# The motion classes of the HDM05 subset read here, as its file names spell
# them; label i is HDM05_MOTION_CLASSES[i] and is called HDM05_CLASS_NAMES[i].
HDM05_MOTION_CLASSES: tuple[str, ...] = (
    "depositFloorR",
    "elbowToKnee1RepsLelbowStart",
    "grabHighR",
    "hopBothLegs1hops",
    "jogLeftCircle4StepsRstart",
    "kickLFront1Reps",
    "lieDownFloor",
    "rotateArmsBothBackward1Reps",
    "sneak2StepsLStart",
    "squat1Reps",
    "throwBasketball",
)
# Readable names, none equal (ignoring case) to a UTD-MHAD, NW-UCLA or NTU-120
# name, so the datasets can be trained together: UTD-MHAD has "squat", hence
# "deep squat" (the hips sink from 0.9 m to about knee height, 0.34 m, median
# of the 52 clips); the elbow-to-knee clips touch the left elbow to the right
# knee only, once.
HDM05_CLASS_NAMES: tuple[str, ...] = (
    "deposit on the floor (right hand)",
    "left elbow to right knee",
    "grab high (right hand)",
    "hop on both legs",
    "jog in a left circle",
    "kick forward (left foot)",
    "lie down on the floor",
    "rotate both arms backwards",
    "sneak",
    "deep squat",
    "throw a basketball",
)
# HDM05's five actors; subject id = position + 1 (bd = 1, bk = 2, dg = 3, mm = 4, tr = 5).
HDM05_SUBJECTS: tuple[str, ...] = ("bd", "bk", "dg", "mm", "tr")

SBU_FPS = 15.0
SBU_CLASS_NAMES: tuple[str, ...] = (
    "approach",
    "depart",
    "kick",
    "push",
    "shake hands",
    "hug",
    "exchange an object",
    "punch",
)
# SBU's 21 actor-pair folders; subject id = position + 1.
SBU_ACTOR_PAIRS: tuple[str, ...] = (
    "s01s02", "s01s03", "s01s07", "s02s01", "s02s03", "s02s06", "s02s07",
    "s03s02", "s03s04", "s03s05", "s03s06", "s04s02", "s04s03", "s04s06",
    "s05s02", "s05s03", "s06s02", "s06s03", "s06s04", "s07s01", "s07s03",
)  # fmt: skip
# The customary 5-fold cross-validation over actor pairs (the fold lists of
# published SBU evaluation code): fold k holds these subject ids.
SBU_FOLDS: tuple[tuple[int, ...], ...] = (
    (1, 9, 15, 19),
    (5, 7, 10, 16),
    (2, 3, 20, 21),
    (4, 6, 8, 11),
    (12, 13, 14, 17, 18),
)

# Bump whenever the cache file layout or any parser's output changes, so old
# caches are rebuilt rather than trusted.  2: ``folds``; keys name files by
# their path inside the folder (SBU's files all share one name).
CACHE_FORMAT_VERSION = 2
_MAX_NAMED_SKIPS = 10


# --------------------------------------------------------------------------- errors


class DatasetError(ValueError):
    """A dataset file that cannot be used: names the file, the place and the problem.

    ``where`` is a 1-based line number (text formats) or a field / key name
    (structured formats).  The parts are kept as attributes so callers can
    report them their own way.
    """

    def __init__(self, path: PathLike, where: int | str, problem: str) -> None:
        self.path = str(path)
        self.line = where if isinstance(where, int) else None
        self.field = where if isinstance(where, str) else None
        self.problem = problem
        place = f"line {where}" if isinstance(where, int) else f"field '{where}'"
        super().__init__(f"{self.path}, {place}: {problem}")


# --------------------------------------------------------------------------- dataset


@dataclass(frozen=True, eq=False, repr=False, kw_only=True)
class SkeletonDataset:
    """Skeleton sequences with their labels, in the source layout and units.

    ``sequences[i]`` is float32 (T_i, M, V, C=3); T varies per sequence, V is
    fixed by ``layout``.  ``labels`` is int64 (N,) with values in
    ``0..len(class_names)-1``.  ``subjects`` / ``views`` are int64 (N,) or
    None where the source does not record them.  ``folds`` is int64 (N,): the
    evaluation fold the source itself assigns each sequence (its protocol
    tests on one fold and trains on the others), or None where the protocol
    goes by subject or view instead.  ``sources[i]`` names the file
    (and, for archives, the entry) sequence i came from.  ``descriptions_ld``
    / ``descriptions_gd`` hold one local / global text description per class
    when the source supplies them.

    Keyword-only; ``eq`` is identity because element-wise array equality has
    no single truth value.
    """

    sequences: list[np.ndarray]
    labels: np.ndarray
    class_names: list[str]
    layout: str
    fps: float
    sources: list[str]
    subjects: np.ndarray | None = None
    views: np.ndarray | None = None
    folds: np.ndarray | None = None
    descriptions_ld: list[str] | None = None
    descriptions_gd: list[str] | None = None

    def __post_init__(self) -> None:
        # Normalise containers once so every consumer sees the same types;
        # object.__setattr__ is the documented way to do that in a frozen class.
        set_ = object.__setattr__
        set_(self, "sequences", list(self.sequences))
        set_(self, "class_names", [str(c) for c in self.class_names])
        set_(self, "sources", [str(s) for s in self.sources])
        set_(self, "labels", _as_int_vector(self.labels, "labels"))
        if self.subjects is not None:
            set_(self, "subjects", _as_int_vector(self.subjects, "subjects"))
        if self.views is not None:
            set_(self, "views", _as_int_vector(self.views, "views"))
        if self.folds is not None:
            set_(self, "folds", _as_int_vector(self.folds, "folds"))
        for name in ("descriptions_ld", "descriptions_gd"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, [str(d) for d in value])
        self._check()

    def _check(self) -> None:
        if self.layout not in LAYOUT_JOINT_COUNTS:
            raise ValueError(f"layout: unknown layout {self.layout!r}; expected one of {', '.join(LAYOUTS)}")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps: must be a positive number, got {self.fps!r}")
        n = len(self.sequences)
        for name in ("labels", "sources", "subjects", "views", "folds"):
            value = getattr(self, name)
            if value is not None and len(value) != n:
                raise ValueError(f"{name}: has {len(value)} entries but there are {n} sequences")
        num_classes = len(self.class_names)
        if num_classes == 0:
            raise ValueError("class_names: is empty")
        for name in ("descriptions_ld", "descriptions_gd"):
            value = getattr(self, name)
            if value is not None and len(value) != num_classes:
                raise ValueError(f"{name}: has {len(value)} entries but there are {num_classes} classes")
        if n and (self.labels.min() < 0 or self.labels.max() >= num_classes):
            bad = int(np.flatnonzero((self.labels < 0) | (self.labels >= num_classes))[0])
            raise ValueError(
                f"labels: labels[{bad}] = {self.labels[bad]} is outside 0..{num_classes - 1} "
                f"({num_classes} class names)"
            )
        num_joints = LAYOUT_JOINT_COUNTS[self.layout]
        for i, seq in enumerate(self.sequences):
            if not isinstance(seq, np.ndarray) or seq.dtype != np.float32:
                raise ValueError(f"sequences: sequences[{i}] must be a float32 numpy array")
            if seq.ndim != 4 or seq.shape[0] < 1 or seq.shape[2:] != (num_joints, 3):
                raise ValueError(
                    f"sequences: sequences[{i}] has shape {seq.shape}; expected (T>=1, M, {num_joints}, 3) "
                    f"for layout {self.layout!r}"
                )

    def __len__(self) -> int:
        return len(self.sequences)

    def __repr__(self) -> str:
        return (
            f"SkeletonDataset(n={len(self)}, classes={self.num_classes}, layout={self.layout!r}, "
            f"fps={self.fps:g})"
        )

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def frame_counts(self) -> np.ndarray:
        """int64 (N,): T of every sequence."""
        return np.array([seq.shape[0] for seq in self.sequences], dtype=np.int64)

    def subset(self, indices: Sequence[int] | np.ndarray) -> SkeletonDataset:
        """The sequences at ``indices`` (ints or an (N,) bool mask); classes are kept whole.

        Labels keep their meaning: a subset never renumbers classes, so a
        zero-shot split can be taken with ``subset(np.isin(ds.labels, seen))``.
        """
        index = np.asarray(indices)
        if index.dtype == bool:
            if index.shape != (len(self),):
                raise ValueError(f"indices: bool mask has shape {index.shape}, expected ({len(self)},)")
            index = np.flatnonzero(index)
        index = index.astype(np.int64, copy=False).reshape(-1)
        picked = [int(i) for i in index]
        return dataclasses.replace(
            self,
            sequences=[self.sequences[i] for i in picked],
            labels=self.labels[index],
            sources=[self.sources[i] for i in picked],
            subjects=None if self.subjects is None else self.subjects[index],
            views=None if self.views is None else self.views[index],
            folds=None if self.folds is None else self.folds[index],
        )


def _as_int_vector(value: object, name: str) -> np.ndarray:
    array = np.asarray(value)
    if array.size == 0:
        return np.zeros(0, dtype=np.int64)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise ValueError(f"{name}: must be a 1-D integer array, got dtype {array.dtype} shape {array.shape}")
    return array.astype(np.int64, copy=False)


# --------------------------------------------------------------------------- NTU RGB+D raw


class _LineReader:
    """Walks a text file line by line, turning every surprise into a DatasetError with its line."""

    def __init__(self, path: Path, lines: list[str]) -> None:
        self.path = path
        self.lines = lines
        self.pos = 0  # index of the next unread line; its 1-based number is pos + 1

    def error(self, problem: str, line: int | None = None) -> DatasetError:
        return DatasetError(self.path, self.pos if line is None else line, problem)

    def next_fields(self, count: int, what: str) -> list[str]:
        if self.pos >= len(self.lines):
            raise DatasetError(
                self.path, len(self.lines) + 1, f"file ends early (truncated?): expected {what}"
            )
        fields = self.lines[self.pos].split()
        self.pos += 1
        if len(fields) != count:
            raise self.error(f"expected {what} ({count} field{'s' * (count != 1)}), found {len(fields)}")
        return fields

    def next_int(self, what: str) -> int:
        (field,) = self.next_fields(1, what)
        try:
            return int(field)
        except ValueError:
            raise self.error(f"expected {what} (an integer), found {field!r}") from None

    def next_joint_block(self, num_joints: int, what: str) -> np.ndarray:
        """float64 (V, 12): ``num_joints`` joint lines parsed at once, errors located per line."""
        first = self.pos
        tokens: list[str] = []
        for j in range(num_joints):
            tokens.extend(self.next_fields(_NTU_JOINT_FIELDS, f"joint {j + 1} of {what}"))
        try:
            values = np.array(tokens, dtype=np.float64)
        except ValueError:
            # Parsing the block in one call is much faster; only on failure do
            # we pay to find the offending line.
            for j in range(num_joints):
                for field in self.lines[first + j].split():
                    try:
                        float(field)
                    except ValueError:
                        raise self.error(
                            f"joint {j + 1} of {what}: {field!r} is not a number", line=first + j + 1
                        ) from None
            raise  # unreachable in practice: some token failed above
        values = values.reshape(num_joints, _NTU_JOINT_FIELDS)
        bad = ~np.isfinite(values[:, :3]).all(axis=1)
        if bad.any():
            j = int(np.flatnonzero(bad)[0])
            raise self.error(f"joint {j + 1} of {what}: position is NaN or infinite", line=first + j + 1)
        return values


def read_ntu_skeleton(path: PathLike, max_persons: int = 2) -> np.ndarray:
    """Read one NTU RGB+D raw ``.skeleton`` file.

    Returns float32 (T, M=max_persons, V=25, C=3) camera-space metres, joints in
    Kinect v2 ``JointType`` order.  Of all tracked body ids the ``max_persons``
    most active are kept, most active first, where activity is the variance of
    each joint's position over the frames in which that body appears, summed
    over joints and axes (the usual NTU choice: the performers move, spurious
    detections of furniture or passers-by mostly do not).  A person absent in a
    frame, and a slot with no body at all, is zeros.

    Raises DatasetError (with the line number) for a truncated or malformed
    file, and for a file in which no body is tracked in any frame.
    """
    if max_persons < 1:
        raise ValueError(f"max_persons: must be at least 1, got {max_persons}")
    path = Path(path)
    # ascii with replacement: stray bytes then fail number parsing on the
    # right line instead of failing the whole decode without a line number.
    lines = path.read_bytes().decode("ascii", errors="replace").splitlines()
    reader = _LineReader(path, lines)
    num_frames = reader.next_int("the frame count")
    if num_frames < 1:
        raise reader.error(f"frame count is {num_frames}; a sequence needs at least one frame")

    body_frames: dict[str, list[int]] = {}
    body_joints: dict[str, list[np.ndarray]] = {}
    for t in range(num_frames):
        where = f"frame {t + 1} of {num_frames}"
        num_bodies = reader.next_int(f"the body count of {where}")
        if num_bodies < 0:
            raise reader.error(f"body count of {where} is negative ({num_bodies})")
        for b in range(num_bodies):
            body = f"body {b + 1} in {where}"
            body_id = reader.next_fields(_NTU_BODY_INFO_FIELDS, f"the info line of {body}")[0]
            num_joints = reader.next_int(f"the joint count of {body}")
            if num_joints != NTU_JOINTS:
                raise reader.error(f"{body} has {num_joints} joints; NTU skeletons have {NTU_JOINTS}")
            joints = reader.next_joint_block(NTU_JOINTS, body)
            body_frames.setdefault(body_id, []).append(t)
            body_joints.setdefault(body_id, []).append(joints[:, :3])
    for extra in range(reader.pos, len(lines)):
        if lines[extra].strip():
            raise DatasetError(path, extra + 1, f"unexpected content after the last of {num_frames} frames")
    if not body_frames:
        raise DatasetError(path, "bodies", f"no body is tracked in any of the {num_frames} frames")

    tracks = {bid: np.stack(js) for bid, js in body_joints.items()}  # each (T_b, V, C)
    activity = {bid: float(track.var(axis=0).sum()) for bid, track in tracks.items()}
    # sorted() is stable, so equally active bodies keep their order of appearance.
    ranked = sorted(tracks, key=lambda bid: -activity[bid])[:max_persons]
    out = np.zeros((num_frames, max_persons, NTU_JOINTS, 3), dtype=np.float32)  # (T, M, V, C)
    for m, bid in enumerate(ranked):
        out[body_frames[bid], m] = tracks[bid]
    return out


_NTU_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})\.skeleton")


def ntu_class_names() -> list[str]:
    """The 120 NTU RGB+D class names, index i = action A(i+1).

    Read from ``fsvae_core/descriptions/ntu120.json`` when it exists, otherwise
    ``"A001"``..``"A120"`` so that loading never depends on that file.
    """
    path = Path(__file__).resolve().parent / "descriptions" / "ntu120.json"
    if not path.is_file():
        return [f"A{i:03d}" for i in range(1, NTU_NUM_CLASSES + 1)]
    try:
        classes = json.loads(path.read_text(encoding="utf-8"))["classes"]
        names = [str(c["name"]) for c in sorted(classes, key=lambda c: int(c["index"]))]
    except (ValueError, KeyError, TypeError) as err:
        raise DatasetError(path, "classes", f"cannot read the NTU class names: {err}") from err
    if len(names) != NTU_NUM_CLASSES:
        raise DatasetError(path, "classes", f"has {len(names)} classes, expected {NTU_NUM_CLASSES}")
    return names


# --------------------------------------------------------------------------- UTD-MHAD / NW-UCLA


def read_utd_mhad_mat(path: PathLike) -> np.ndarray:
    """Read one UTD-MHAD ``*_skeleton.mat``: float32 (T, M=1, V=20, C=3), UTD joint order."""
    import scipy.io  # deferred: scipy is slow to import and only this format needs it

    path = Path(path)
    try:
        mat = scipy.io.loadmat(str(path), variable_names=["d_skel"])
    except FileNotFoundError:
        raise
    except Exception as err:  # scipy raises a zoo of types for damaged files
        raise DatasetError(path, "file", f"not a readable MATLAB file ({type(err).__name__}: {err})") from err
    if "d_skel" not in mat:
        raise DatasetError(path, "d_skel", "variable missing")
    skel = np.asarray(mat["d_skel"])
    if skel.dtype.kind not in "fiu" or skel.ndim != 3 or skel.shape[:2] != (20, 3) or skel.shape[2] < 1:
        raise DatasetError(
            path, "d_skel", f"expected numbers shaped (20 joints, 3, T>=1), got {skel.dtype} {skel.shape}"
        )
    joints = np.ascontiguousarray(skel.transpose(2, 0, 1), dtype=np.float32)[:, None]  # (T, 1, V, C)
    if not np.isfinite(joints).all():
        raise DatasetError(path, "d_skel", "contains NaN or infinite values")
    return joints


def read_nw_ucla_json(path: PathLike) -> tuple[np.ndarray, int]:
    """Read one NW-UCLA ``.json``: (float32 (T, M=1, V=20, C=3), 0-based label).

    Joints are in Kinect v1 SDK order.  Sequences of a single frame are valid.
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetError(path, err.lineno, f"not valid JSON: {err.msg} (column {err.colno})") from err
    except UnicodeDecodeError as err:
        raise DatasetError(path, "file", f"not UTF-8 text: {err}") from err
    if not isinstance(doc, dict):
        raise DatasetError(path, "file", "expected a JSON object with 'skeletons' and 'label'")
    for key in ("skeletons", "label"):
        if key not in doc:
            raise DatasetError(path, key, "missing")
    try:
        skel = np.asarray(doc["skeletons"], dtype=np.float32)
    except (ValueError, TypeError):
        raise DatasetError(path, "skeletons", "not a T x 20 x 3 array of numbers") from None
    if skel.ndim != 3 or skel.shape[1:] != (20, 3) or skel.shape[0] < 1:
        raise DatasetError(path, "skeletons", f"expected shape (T>=1, 20, 3), got {skel.shape}")
    if not np.isfinite(skel).all():
        raise DatasetError(path, "skeletons", "contains NaN or infinite values")
    label = doc["label"]
    if isinstance(label, bool) or not isinstance(label, int) or not 1 <= label <= len(NW_UCLA_CLASS_NAMES):
        raise DatasetError(path, "label", f"expected an integer 1..{len(NW_UCLA_CLASS_NAMES)}, got {label!r}")
    return skel[:, None], label - 1


# --------------------------------------------------------------------------- HDM05 (ASF/AMC motion capture)

# ASF lengths are inches times the ``:units length`` value (the convention of
# the HDM05 and CMU files: ``length 0.45`` makes one unit 1/0.45 in = 5.64 cm).
# Checked on the data: in their ASF rest poses the five HDM05 subjects measure
# 1.58-1.74 m from the toe tips to the top of the head.
_METRES_PER_INCH = 0.0254
_ROTATION_DOFS = ("rx", "ry", "rz")
_ROOT_CHANNELS = ("tx", "ty", "tz", "rx", "ry", "rz")


@dataclass(frozen=True)
class AsfBone:
    """One ASF bone.  Vectors are in the ASF world frame of the rest pose.

    ``direction`` is the (3,) unit vector from the bone's start (its parent's
    end) to its end, ``length_m`` its length in metres; ``axis_angles`` (3,),
    in the ASF's angle unit, turned in ``axis_order`` (e.g. ``"XYZ"``), give
    its local frame; ``dof`` names the AMC values of the bone in the order
    the AMC lists them.
    """

    name: str
    parent: str
    direction: np.ndarray
    length_m: float
    axis_angles: np.ndarray
    axis_order: str
    dof: tuple[str, ...]


@dataclass(frozen=True)
class AsfSkeleton:
    """An Acclaim ASF skeleton: its bones, parents before children, and its root.

    ``root_order`` names the AMC root values in file order (``tx ty tz rx ry
    rz`` in some order); ``root_orientation`` (3,) angles turned in
    ``root_axis`` order are the root's rest frame.  ``metres_per_unit`` converts ASF lengths and AMC
    translations; ``degrees`` tells whether angles are degrees (else radians).
    """

    path: str
    bones: tuple[AsfBone, ...]
    root_order: tuple[str, ...]
    root_axis: str
    root_orientation: np.ndarray
    metres_per_unit: float
    degrees: bool


@dataclass(frozen=True)
class AmcMotion:
    """The values of one AMC file, as written: ``channels[bone]`` is float64 (T, len(dof)).

    ``channels["root"]`` follows :attr:`AsfSkeleton.root_order`; angles are in
    degrees when ``degrees`` holds, radians otherwise; translations in ASF units.
    """

    channels: dict[str, np.ndarray]
    degrees: bool

    @property
    def num_frames(self) -> int:
        return len(self.channels["root"])


def _numbers(path: Path, line: int, fields: list[str], count: int, what: str) -> np.ndarray:
    if len(fields) < count:
        raise DatasetError(path, line, f"{what}: expected {count} numbers, found {len(fields)}")
    try:
        values = np.array([float(f) for f in fields[:count]])
    except ValueError:
        bad = next(f for f in fields[:count] if not _is_float(f))
        raise DatasetError(path, line, f"{what}: {bad!r} is not a number") from None
    if not np.isfinite(values).all():
        raise DatasetError(path, line, f"{what}: NaN or infinite value")
    return values


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _axis_order(path: Path, line: int, text: str) -> str:
    order = text.upper()
    if sorted(order) != ["X", "Y", "Z"]:
        raise DatasetError(path, line, f"rotation order {text!r} is not a permutation of XYZ")
    return order


def _asf_sections(path: Path, lines: list[str]) -> dict[str, list[tuple[int, list[str]]]]:
    """Section keyword (``:units``...) -> its (1-based line, fields) pairs, comments and blanks left out."""
    sections: dict[str, list[tuple[int, list[str]]]] = {}
    current: list[tuple[int, list[str]]] | None = None
    for number, line in enumerate(lines, start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        if fields[0].startswith(":"):
            name = fields[0].lower()
            if name in sections:
                raise DatasetError(path, number, f"section {name} appears twice")
            current = sections[name] = [(number, fields[1:])] if len(fields) > 1 else []
        elif current is not None:
            current.append((number, fields))
    for name in (":root", ":bonedata", ":hierarchy"):
        if name not in sections:
            raise DatasetError(path, name, "section missing")
    return sections


def _asf_units(path: Path, entries: list[tuple[int, list[str]]]) -> tuple[float, bool]:
    metres_per_unit, degrees = _METRES_PER_INCH, True
    for line, fields in entries:
        key = fields[0].lower()
        if key == "length":
            (scale,) = _numbers(path, line, fields[1:], 1, "length unit")
            if scale <= 0:
                raise DatasetError(path, line, f"length unit must be positive, got {scale:g}")
            metres_per_unit = _METRES_PER_INCH / scale
        elif key == "angle":
            if len(fields) != 2 or fields[1].lower() not in ("deg", "rad"):
                raise DatasetError(path, line, "angle unit must be 'deg' or 'rad'")
            degrees = fields[1].lower() == "deg"
    return metres_per_unit, degrees


def _asf_root(path: Path, entries: list[tuple[int, list[str]]]) -> tuple[tuple[str, ...], str, np.ndarray]:
    order: tuple[str, ...] | None = None
    axis, orientation = "XYZ", np.zeros(3)
    for line, fields in entries:
        key = fields[0].lower()
        if key == "order":
            order = tuple(f.lower() for f in fields[1:])
            if sorted(order) != sorted(_ROOT_CHANNELS):
                raise DatasetError(
                    path, line, f"root order {' '.join(fields[1:])!r}: expected TX TY TZ RX RY RZ in some order"
                )
        elif key == "axis":
            axis = _axis_order(path, line, fields[1] if len(fields) > 1 else "")
        elif key == "orientation":
            orientation = _numbers(path, line, fields[1:], 3, "root orientation")
    if order is None:
        raise DatasetError(path, ":root", "no 'order' line")
    return order, axis, orientation


def _asf_bone(path: Path, start: int, block: list[tuple[int, list[str]]]) -> AsfBone:
    """One ``begin ... end`` block -> its bone, parent not yet known (bones are known by name, not id)."""
    found: dict[str, object] = {}
    for line, fields in block:
        key = fields[0].lower()
        rest = fields[1:]
        if key == "name":
            if len(rest) != 1:
                raise DatasetError(path, line, "name: expected one word")
            found["name"] = rest[0]
        elif key == "direction":
            direction = _numbers(path, line, rest, 3, "direction")
            norm = float(np.linalg.norm(direction))
            if norm == 0:
                raise DatasetError(path, line, "direction is the zero vector")
            found["direction"] = direction / norm
        elif key == "length":
            length = float(_numbers(path, line, rest, 1, "length")[0])
            if length < 0:
                raise DatasetError(path, line, f"length is negative ({length:g})")
            found["length"] = length
        elif key == "axis":
            found["axis"] = _numbers(path, line, rest, 3, "axis")
            found["axis_order"] = _axis_order(path, line, rest[3] if len(rest) > 3 else "")
        elif key == "dof":
            dof = tuple(f.lower() for f in rest)
            unknown = [d for d in dof if d not in _ROTATION_DOFS]
            if unknown or len(set(dof)) != len(dof):
                raise DatasetError(
                    path, line, f"dof {' '.join(rest)!r}: only rx, ry, rz, each at most once, are supported"
                )
            found["dof"] = dof
        # id, limits and bodymass/cofmass lines are not needed for positions.
    for key in ("name", "direction", "length", "axis"):
        if key not in found:
            raise DatasetError(path, start, f"bone block has no '{key}' line")
    return AsfBone(
        name=str(found["name"]), parent="", direction=found["direction"], length_m=float(found["length"]),
        axis_angles=found["axis"], axis_order=str(found["axis_order"]), dof=found.get("dof", ()),
    )


def _asf_bonedata(path: Path, entries: list[tuple[int, list[str]]]) -> list[AsfBone]:
    bones: list[AsfBone] = []
    block: list[tuple[int, list[str]]] | None = None
    start = 0
    for line, fields in entries:
        key = fields[0].lower()
        if key == "begin":
            if block is not None:
                raise DatasetError(path, line, f"'begin' inside the bone block opened at line {start}")
            block, start = [], line
        elif key == "end":
            if block is None:
                raise DatasetError(path, line, "'end' without 'begin'")
            bone = _asf_bone(path, start, block)
            if any(b.name == bone.name for b in bones) or bone.name == "root":
                raise DatasetError(path, start, f"bone {bone.name!r} is defined twice")
            bones.append(bone)
            block = None
        elif block is None:
            raise DatasetError(path, line, f"{fields[0]!r} outside a begin ... end bone block")
        else:
            block.append((line, fields))
    if block is not None:
        raise DatasetError(path, start, "bone block is never closed with 'end'")
    return bones


def _asf_parents(path: Path, entries: list[tuple[int, list[str]]], names: set[str]) -> dict[str, str]:
    parents: dict[str, str] = {}
    for line, fields in entries:
        if fields[0].lower() in ("begin", "end"):
            continue
        parent, children = fields[0], fields[1:]
        for name in [parent, *children]:
            if name != "root" and name not in names:
                raise DatasetError(path, line, f"unknown bone {name!r} in the hierarchy")
        for child in children:
            if child in parents:
                raise DatasetError(path, line, f"bone {child!r} has two parents")
            parents[child] = parent
    missing = sorted(names - set(parents))
    if missing:
        raise DatasetError(path, ":hierarchy", f"bones without a parent: {', '.join(missing)}")
    return parents


def read_asf(path: PathLike) -> AsfSkeleton:
    """Read an Acclaim ``.asf`` skeleton (``:units``, ``:root``, ``:bonedata``, ``:hierarchy``).

    Bones come back parents first (a walk from the root, children in the
    order the hierarchy lists them), lengths in metres.  Raises DatasetError
    naming the line for malformed numbers, unknown rotation orders or degrees
    of freedom, unknown or unattached bones and a hierarchy that is not a
    tree hanging from the root.
    """
    path = Path(path)
    lines = path.read_bytes().decode("latin-1").splitlines()
    sections = _asf_sections(path, lines)
    metres_per_unit, degrees = _asf_units(path, sections.get(":units", []))
    root_order, root_axis, root_orientation = _asf_root(path, sections[":root"])
    bones = {b.name: b for b in _asf_bonedata(path, sections[":bonedata"])}
    parents = _asf_parents(path, sections[":hierarchy"], set(bones))
    children: dict[str, list[str]] = {}
    for child, parent in parents.items():  # dicts keep the hierarchy's order
        children.setdefault(parent, []).append(child)
    ordered: list[AsfBone] = []
    stack = list(reversed(children.get("root", [])))
    while stack:
        name = stack.pop()
        bone = bones[name]
        ordered.append(dataclasses.replace(bone, parent=parents[name], length_m=bone.length_m * metres_per_unit))
        stack.extend(reversed(children.get(name, [])))
    if len(ordered) != len(bones):
        cut_off = sorted(set(bones) - {b.name for b in ordered})
        raise DatasetError(path, ":hierarchy", f"bones not connected to the root: {', '.join(cut_off)}")
    return AsfSkeleton(
        path=str(path), bones=tuple(ordered), root_order=root_order, root_axis=root_axis,
        root_orientation=root_orientation, metres_per_unit=metres_per_unit, degrees=degrees,
    )


def _amc_expected(skeleton: AsfSkeleton) -> dict[str, int]:
    """Bone name -> number of values per AMC line (bones without dof have no line)."""
    return {"root": len(skeleton.root_order)} | {b.name: len(b.dof) for b in skeleton.bones if b.dof}


def read_amc(path: PathLike, skeleton: AsfSkeleton) -> AmcMotion:
    """Read an Acclaim ``.amc`` motion for ``skeleton``: per frame a frame number, then a line per bone.

    Every frame must list the root and each bone with degrees of freedom
    once, with as many values as the ASF gives it, and frame numbers must
    count up by one.  Raises DatasetError naming the line otherwise (unknown
    bone, wrong value count, malformed number, missing bone, skipped frame).
    """
    path = Path(path)
    # Latin-1: HDM05's header comments hold non-ASCII file paths; values are ASCII.
    lines = path.read_bytes().decode("latin-1").splitlines()
    degrees = skeleton.degrees
    first = None
    for index, line in enumerate(lines):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith(":"):  # :FULLY-SPECIFIED, :DEGREES, :RADIANS
            degrees = {":DEGREES": True, ":RADIANS": False}.get(text.upper(), degrees)
            continue
        first = index
        break
    if first is None:
        raise DatasetError(path, len(lines) + 1, "no frames")
    expected = _amc_expected(skeleton)
    channels = _amc_frames_regular(lines, first, expected)
    if channels is None:  # something is irregular: the careful reader says what, or reads it
        channels = _amc_frames_checked(path, lines, first, expected, skeleton.path)
    return AmcMotion(channels, degrees)


def _amc_frames_regular(lines: list[str], first: int, expected: dict[str, int]) -> dict[str, np.ndarray] | None:
    """Fast path: every frame is the same block of lines, so each bone is a strided column.

    Returns None at the first irregularity (order, count, number, blank line)
    and leaves the diagnosis to :func:`_amc_frames_checked`.
    """
    body = lines[first:]
    while body and not body[-1].strip():
        body.pop()
    period = 1 + len(expected)
    if len(body) % period:
        return None
    num_frames = len(body) // period
    names = [line.split(None, 1)[0] if line.strip() else "" for line in body[1:period]]
    if sorted(names) != sorted(expected):
        return None
    try:
        numbers = np.array(" ".join(body[0::period]).split(), dtype=np.int64)
        if numbers.shape != (num_frames,) or not (np.diff(numbers) == 1).all():
            return None
        channels = {}
        for offset, name in enumerate(names, start=1):
            width = 1 + expected[name]
            tokens = np.array(" ".join(body[offset::period]).split())
            if tokens.size != num_frames * width:
                return None
            table = tokens.reshape(num_frames, width)
            if not (table[:, 0] == name).all():
                return None
            values = table[:, 1:].astype(np.float64)
            if not np.isfinite(values).all():
                return None
            channels[name] = values
    except ValueError:
        return None
    return channels


def _amc_frames_checked(
    path: Path, lines: list[str], first: int, expected: dict[str, int], asf: str
) -> dict[str, np.ndarray]:
    """Line by line, so that every problem is reported at its line; also reads irregular files."""
    frames: list[dict[str, np.ndarray]] = []
    frame_lines: list[int] = []
    previous = None

    def check_complete() -> None:
        if frames:
            missing = [name for name in expected if name not in frames[-1]]
            if missing:
                lacking = ", ".join(missing)
                raise DatasetError(
                    path, frame_lines[-1], f"frame {previous} lacks {lacking} (the ASF {asf} needs them)"
                )

    for number, line in enumerate(lines[first:], start=first + 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) == 1 and fields[0].lstrip("-").isdigit():
            check_complete()
            frame = int(fields[0])
            if previous is not None and frame != previous + 1:
                raise DatasetError(
                    path, number, f"frame {frame} follows frame {previous}: frames must count up by one"
                )
            previous = frame
            frames.append({})
            frame_lines.append(number)
            continue
        if not frames:
            raise DatasetError(path, number, f"expected a frame number, found {line.strip()[:40]!r}")
        name, values = fields[0], fields[1:]
        if name not in expected:
            raise DatasetError(
                path, number, f"unknown bone {name!r}: the ASF {asf} has no moving bone of that name"
            )
        if name in frames[-1]:
            raise DatasetError(path, number, f"bone {name!r} appears twice in frame {previous}")
        if len(values) != expected[name]:
            raise DatasetError(
                path, number, f"bone {name!r} has {len(values)} values; the ASF {asf} gives it {expected[name]}"
            )
        parsed = _numbers(path, number, values, len(values), f"bone {name!r}")
        frames[-1][name] = parsed
    check_complete()
    return {name: np.array([frame[name] for frame in frames], dtype=np.float64).reshape(len(frames), width)
            for name, width in expected.items()}


def _rotation(axis: str, angle: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotations by ``angle`` (..., radians) about the x, y or z axis."""
    c, s = np.cos(angle), np.sin(angle)
    out = np.zeros(angle.shape + (3, 3))
    i = "xyz".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


def euler_matrices(angles: np.ndarray, order: str) -> np.ndarray:
    """(..., 3, 3) rotation of Euler ``angles`` (..., k) radians about the axes in ``order``.

    The first named axis turns first: ``order="XYZ"`` gives Rz @ Ry @ Rx, the
    Acclaim reading of both an ASF ``axis ... XYZ`` and an AMC ``dof rx ry rz``.
    """
    angles = np.asarray(angles, dtype=np.float64)
    out = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for index, axis in enumerate(order.lower()):
        out = _rotation(axis, angles[..., index]) @ out
    return out


def forward_kinematics(skeleton: AsfSkeleton, motion: AmcMotion, frames: slice = slice(None)) -> np.ndarray:
    """Joint positions of ``motion[frames]``: float64 (T, 1 + B, 3) metres, ASF world axes.

    Joint 0 is the root (the AMC translation), joint 1 + b the end of
    ``skeleton.bones[b]``.  Acclaim rules: with C the bone's ``axis``
    rotation and M its AMC rotation (in ``dof`` order), the bone's global
    frame is L = L_parent @ C @ M @ C^-1, and its end is the parent's end
    plus L @ (direction * length).  The root's frame is C_root @ M_root @
    C_root^-1, C_root from its ``orientation``.  Vectorised over frames.
    """
    root = motion.channels["root"][frames]  # (T, 6)
    angle = np.pi / 180.0 if motion.degrees else 1.0
    asf_angle = np.pi / 180.0 if skeleton.degrees else 1.0
    column = {name: i for i, name in enumerate(skeleton.root_order)}
    rotations = [name for name in skeleton.root_order if name in _ROTATION_DOFS]
    translation = root[:, [column["tx"], column["ty"], column["tz"]]] * skeleton.metres_per_unit  # (T, 3)
    root_c = euler_matrices(skeleton.root_orientation * asf_angle, skeleton.root_axis)  # (3, 3)
    root_m = euler_matrices(root[:, [column[r] for r in rotations]] * angle, "".join(r[1] for r in rotations))
    frame_of = {"root": root_c @ root_m @ root_c.T}  # name -> (T, 3, 3)
    end_of = {"root": translation}  # name -> (T, 3)
    for bone in skeleton.bones:
        c = euler_matrices(bone.axis_angles * asf_angle, bone.axis_order)  # (3, 3)
        if bone.dof:
            m = euler_matrices(motion.channels[bone.name][frames] * angle, "".join(d[1] for d in bone.dof))
            local = c @ m @ c.T  # (T, 3, 3)
        else:
            local = np.eye(3)
        frame = frame_of[bone.parent] @ local  # (T, 3, 3)
        frame_of[bone.name] = frame
        end_of[bone.name] = end_of[bone.parent] + frame @ (bone.direction * bone.length_m)  # (T, 3)
    return np.stack([end_of["root"]] + [end_of[b.name] for b in skeleton.bones], axis=1)


# --------------------------------------------------------------------------- SBU Kinect Interaction

_SBU_PERSONS = 2
_SBU_JOINTS = 15
_SBU_FIELDS = 1 + _SBU_PERSONS * _SBU_JOINTS * 3  # frame number, then x y z per joint
# SBU stores OpenNI real-world millimetres as x' = (1280 - x) / 2560,
# y' = (960 - y) / 1920, z' = z * 7.8125 / 10000 (its notes).  Undone, x and y
# are millimetres, not pixels, as measured on all 282 clips: read so, the
# summed limb length does not change with depth (log-log slope 0.10), where
# x', y' read as 640x480 pixels and back-projected through a Kinect v1 focal
# length would give limbs growing in proportion to depth (slope 0.90);
# forearms measure the same pointing along x or along y (0.279-0.286 m); and
# limbs come out adult (upper arm 0.28 m, thigh 0.43 m, forearm to NiTE's
# hand 0.28 m).  The axes need no flip: right hands meet in handshakes and
# every body's chest (up x right) faces its partner.
_SBU_OFFSET_MM = np.array([1280.0, 960.0, 0.0])
_SBU_SCALE_MM = np.array([-2560.0, -1920.0, 10000.0 / 7.8125])


def read_sbu_skeleton(path: PathLike) -> np.ndarray:
    """Read one SBU ``skeleton_pos.txt``: float32 (T, M=2, V=15, C=3) metres, Kinect v1 axes.

    Each line is a frame number then 2 persons x 15 joints x (x', y', z'),
    comma-separated, normalised as SBU stores them; they come back as
    real-world metres (x to the sensor's left, y up, z away from it), persons
    in file order, joints in :class:`calibration.layouts.SBU15` order.  Frame
    numbers must count up by one.  Raises DatasetError naming the line for a
    wrong value count, a malformed or non-finite number, or a skipped frame.
    """
    path = Path(path)
    lines = path.read_bytes().decode("ascii", errors="replace").splitlines()
    rows: list[np.ndarray] = []
    previous = None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) != _SBU_FIELDS:
            raise DatasetError(
                path, number, f"expected {_SBU_FIELDS} values (frame number, then 2 persons x 15 joints x 3), "
                f"found {len(fields)}"
            )
        try:
            frame = int(fields[0])
        except ValueError:
            raise DatasetError(path, number, f"frame number {fields[0].strip()!r} is not an integer") from None
        if previous is not None and frame != previous + 1:
            raise DatasetError(path, number, f"frame {frame} follows frame {previous}: frames must count up by one")
        previous = frame
        values = _numbers(path, number, fields[1:], _SBU_FIELDS - 1, f"frame {frame}")
        rows.append(values)
    if not rows:
        raise DatasetError(path, 1, "no frames")
    normalised = np.stack(rows).reshape(len(rows), _SBU_PERSONS, _SBU_JOINTS, 3)  # (T, M, V, C)
    millimetres = _SBU_OFFSET_MM + _SBU_SCALE_MM * normalised
    return (millimetres / 1000.0).astype(np.float32)


# --------------------------------------------------------------------------- folders


@dataclass(frozen=True)
class _Record:
    joints: np.ndarray  # (T, M, V, C)
    label: int
    subject: int | None
    view: int | None
    fold: int | None = None


@dataclass(frozen=True)
class _FolderFormat:
    """Everything that distinguishes one folder-of-files format from another."""

    kind: str  # cache-file prefix
    title: str  # for messages
    pattern: str  # glob of the files to read
    read: Callable[[Path], _Record | None]  # None: file deliberately left out
    class_names: tuple[str, ...]
    layout: str
    fps: float
    has_views: bool
    options: tuple[object, ...] = ()  # anything else the parsed result depends on (cache key)
    # Globs of other files the parse reads (skeleton definitions, split lists):
    # part of the cache key, so editing one rebuilds the cache.
    side_patterns: tuple[str, ...] = ()


def _ntu_format(num_classes: int, max_persons: int) -> _FolderFormat:
    if num_classes not in (60, 120):
        raise ValueError(f"num_classes: NTU has 60 or 120 classes, got {num_classes}")

    def read(path: Path) -> _Record | None:
        match = _NTU_NAME.fullmatch(path.name)
        if match is None:
            raise DatasetError(path, "file name", "expected SsssCcccPpppRrrrAaaa.skeleton")
        _setup, camera, performer, _replication, action = (int(g) for g in match.groups())
        if not 1 <= action <= NTU_NUM_CLASSES:
            raise DatasetError(path, "file name", f"action A{action:03d} is outside A001..A120")
        if action > num_classes:
            return None  # an NTU-120 extension class while loading NTU-60
        return _Record(read_ntu_skeleton(path, max_persons), action - 1, performer, camera)

    names = tuple(ntu_class_names()[:num_classes])
    return _FolderFormat(
        kind=f"ntu{num_classes}",
        title=f"NTU RGB+D {num_classes}",
        pattern="*.skeleton",
        read=read,
        class_names=names,
        layout="ntu25",
        fps=NTU_FPS,
        has_views=True,
        options=(max_persons,),
    )


_UTD_NAME = re.compile(r"a(\d+)_s(\d+)_t(\d+)_skeleton\.mat")


def _read_utd_record(path: Path) -> _Record:
    match = _UTD_NAME.fullmatch(path.name)
    if match is None:
        raise DatasetError(path, "file name", "expected aA_sS_tT_skeleton.mat")
    action, subject, _trial = (int(g) for g in match.groups())
    if not 1 <= action <= len(UTD_MHAD_CLASS_NAMES):
        raise DatasetError(path, "file name", f"action a{action} is outside a1..a{len(UTD_MHAD_CLASS_NAMES)}")
    return _Record(read_utd_mhad_mat(path), action - 1, subject, None)


_NW_UCLA_NAME = re.compile(r"a(\d+)_s(\d+)_e(\d+)_v(\d+)\.json")


def _read_nw_ucla_record(path: Path) -> _Record:
    match = _NW_UCLA_NAME.fullmatch(path.name)
    if match is None:
        raise DatasetError(path, "file name", "expected aAA_sSS_eEE_vVV.json")
    action, subject, _environment, view = (int(g) for g in match.groups())
    joints, label = read_nw_ucla_json(path)
    # The name and the content must agree, or one of them is wrong and the
    # sequence would silently train the wrong class.
    if _NW_UCLA_ACTION_TO_LABEL.get(action) != label + 1:
        raise DatasetError(
            path, "label", f"label {label + 1} does not match action a{action:02d} in the file name"
        )
    return _Record(joints, label, subject, view)


_UTD_FORMAT = _FolderFormat(
    kind="utd-mhad",
    title="UTD-MHAD",
    pattern="*_skeleton.mat",
    read=_read_utd_record,
    class_names=UTD_MHAD_CLASS_NAMES,
    layout="utd_mhad",
    fps=KINECT_V1_FPS,
    has_views=False,
)
_NW_UCLA_FORMAT = _FolderFormat(
    kind="nw-ucla",
    title="NW-UCLA",
    pattern="*.json",
    read=_read_nw_ucla_record,
    class_names=NW_UCLA_CLASS_NAMES,
    layout="kinect_v1",
    fps=NW_UCLA_FPS,
    has_views=True,
)


# HDM05 file names: HDM_<subject>_<motion class>_<take>_<capture fps>.amc
_HDM05_NAME = re.compile(r"HDM_([a-z]+)_([A-Za-z0-9]+)_(\d+)_(\d+)\.amc")
_HDM05_SPLIT_FOLDS = {"train": 0, "test": 1}


@functools.lru_cache(maxsize=16)
def _hdm05_skeleton(path: str, _size: int, _mtime_ns: int) -> tuple[AsfSkeleton, np.ndarray]:
    """The subject's skeleton and the index that puts FK output in HDM05Mocap31 order.

    Cached by file identity: one ASF serves dozens of clips.  Raises
    DatasetError unless the ASF has exactly the layout's bones and parents.
    """
    skeleton = read_asf(path)
    names = ["root"] + [b.name for b in skeleton.bones]
    if sorted(names) != sorted(HDM05_ASF_BONES):
        missing = sorted(set(HDM05_ASF_BONES) - set(names))
        extra = sorted(set(names) - set(HDM05_ASF_BONES))
        raise DatasetError(path, ":bonedata", f"not the HDM05 skeleton: missing {missing}, unexpected {extra}")
    for child, parent in HDM05_MOCAP31_BONES:
        bone = skeleton.bones[names.index(HDM05_ASF_BONES[child]) - 1]
        if bone.parent != HDM05_ASF_BONES[parent]:
            raise DatasetError(
                path, ":hierarchy", f"bone {bone.name!r} hangs from {bone.parent!r}, not {HDM05_ASF_BONES[parent]!r}"
            )
    order = np.array([names.index(name) for name in HDM05_ASF_BONES])
    return skeleton, order


@functools.lru_cache(maxsize=4)
def _hdm05_split(path: str, _size: int, _mtime_ns: int) -> dict[str, int]:
    """``split.tsv`` (``train|test <TAB> clip file``) as clip file name -> fold (0 train, 1 test)."""
    folds: dict[str, int] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != 2 or fields[0].strip() not in _HDM05_SPLIT_FOLDS:
            raise DatasetError(path, number, "expected 'train' or 'test', a tab, and a clip file name")
        clip = fields[1].strip()
        if clip in folds:
            raise DatasetError(path, number, f"{clip} is listed twice")
        folds[clip] = _HDM05_SPLIT_FOLDS[fields[0].strip()]
    return folds


def _identity(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_size, stat.st_mtime_ns


def read_hdm05_clip(path: PathLike, fps: float = HDM05_FPS) -> np.ndarray:
    """One HDM05 ``HDM_<subject>_<class>_<take>_<rate>.amc`` as float32 (T, M=1, V=31, C=3).

    Joints in :class:`calibration.layouts.HDM05Mocap31` order, metres in the
    mocap world (y up); the skeleton is ``HDM_<subject>.asf`` beside the clip.
    Every ``rate / fps``-th frame is kept (120 -> 30 fps: every 4th), without
    low-pass filtering first (body motion has little above 15 Hz): ``fsvae
    train`` merges datasets only at one frame rate, the Kinect datasets' 30 fps,
    and model windows resample to 30 fps or less anyway, so the frames dropped
    carry nothing the model would see.
    """
    path = Path(path)
    match = _HDM05_NAME.fullmatch(path.name)
    if match is None:
        raise DatasetError(path, "file name", "expected HDM_<subject>_<class>_<take>_<fps>.amc")
    subject, rate = match.group(1), int(match.group(4))
    step = rate / fps
    if rate <= 0 or step != int(step):
        raise DatasetError(path, "file name", f"capture rate {rate} fps is not a multiple of {fps:g} fps")
    asf = path.parent / f"HDM_{subject}.asf"
    if not asf.is_file():
        raise DatasetError(path, "subject", f"the skeleton of subject {subject!r} is missing: no file {asf}")
    skeleton, order = _hdm05_skeleton(*_identity(asf))
    motion = read_amc(path, skeleton)
    joints = forward_kinematics(skeleton, motion, slice(None, None, int(step)))[:, order]  # (T, V, C)
    return joints[:, None].astype(np.float32)


def _read_hdm05_record(path: Path) -> _Record:
    match = _HDM05_NAME.fullmatch(path.name)
    if match is None:
        raise DatasetError(path, "file name", "expected HDM_<subject>_<class>_<take>_<fps>.amc")
    subject, motion_class = match.group(1), match.group(2)
    if subject not in HDM05_SUBJECTS:
        raise DatasetError(path, "file name", f"subject {subject!r} is not one of {', '.join(HDM05_SUBJECTS)}")
    if motion_class not in HDM05_MOTION_CLASSES:
        raise DatasetError(path, "file name", f"motion class {motion_class!r} is not one of the 11 read here")
    split = path.parent / "split.tsv"
    fold = None
    if split.is_file():
        fold = _hdm05_split(*_identity(split)).get(path.name)
        if fold is None:
            raise DatasetError(path, "split", f"the clip is not listed in {split}")
    joints = read_hdm05_clip(path)
    return _Record(joints, HDM05_MOTION_CLASSES.index(motion_class), HDM05_SUBJECTS.index(subject) + 1, None, fold)


_SBU_ACTION_FOLDER = re.compile(r"\d{2}")


def _read_sbu_record(path: Path) -> _Record:
    pair, action = path.parent.parent.parent.name, path.parent.parent.name
    if pair not in SBU_ACTOR_PAIRS:
        raise DatasetError(path, "folder name", f"actor pair {pair!r} is not one of SBU's 21 (s01s02 ... s07s03)")
    if not _SBU_ACTION_FOLDER.fullmatch(action) or not 1 <= int(action) <= len(SBU_CLASS_NAMES):
        raise DatasetError(path, "folder name", f"action folder {action!r} is not 01..{len(SBU_CLASS_NAMES):02d}")
    pair_id = SBU_ACTOR_PAIRS.index(pair) + 1
    fold = next(k for k, pairs in enumerate(SBU_FOLDS, start=1) if pair_id in pairs)
    return _Record(read_sbu_skeleton(path), int(action) - 1, pair_id, None, fold)


_HDM05_FORMAT = _FolderFormat(
    kind="hdm05",
    title="HDM05",
    pattern="HDM_*.amc",
    read=_read_hdm05_record,
    class_names=HDM05_CLASS_NAMES,
    layout="hdm05_mocap31",
    fps=HDM05_FPS,
    has_views=False,
    side_patterns=("HDM_*.asf", "split.tsv"),
)
_SBU_FORMAT = _FolderFormat(
    kind="sbu",
    title="SBU Kinect Interaction",
    pattern="s[0-9][0-9]s[0-9][0-9]/[0-9][0-9]/[0-9][0-9][0-9]/skeleton_pos.txt",
    read=_read_sbu_record,
    class_names=SBU_CLASS_NAMES,
    layout="sbu15",
    fps=SBU_FPS,
    has_views=False,
)


def _natural_key(path: Path) -> list[object]:
    # a2 before a10, so sequence order follows the dataset's numbering.  The
    # whole path, not the name: SBU's files differ only in their folders.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.as_posix())]


def _list_files(fmt: _FolderFormat, folder: Path) -> list[Path]:
    # Absolute (not resolved: symlinked data folders keep their names), so
    # ``sources`` read the same from the cache whatever the working directory.
    folder = Path(os.path.abspath(folder))
    if not folder.is_dir():
        raise FileNotFoundError(f"{fmt.title} folder not found: {folder}")
    files = sorted((p for p in folder.glob(fmt.pattern) if p.is_file()), key=_natural_key)
    if not files:
        raise FileNotFoundError(f"no {fmt.title} files ({fmt.pattern}) in {folder}")
    return files


@dataclass(frozen=True)
class _FolderLoad:
    dataset: SkeletonDataset
    skipped: list[tuple[str, str]]  # (file, why)
    num_files: int


def _parse_folder(fmt: _FolderFormat, files: list[Path], skip_bad_files: bool) -> _FolderLoad:
    records: list[_Record] = []
    sources: list[str] = []
    skipped: list[tuple[str, str]] = []
    for path in files:
        try:
            record = fmt.read(path)
        except DatasetError as err:
            if not skip_bad_files:
                raise DatasetError(
                    err.path, err.line if err.line is not None else str(err.field),
                    f"{err.problem} (pass skip_bad_files=True to skip unreadable files)",
                ) from err
            skipped.append((str(path), str(err)))
            continue
        if record is not None:
            records.append(record)
            sources.append(str(path))
    dataset = SkeletonDataset(
        sequences=[r.joints for r in records],
        labels=np.array([r.label for r in records], dtype=np.int64),
        class_names=list(fmt.class_names),
        layout=fmt.layout,
        fps=fmt.fps,
        sources=sources,
        subjects=np.array([r.subject for r in records], dtype=np.int64),
        views=np.array([r.view for r in records], dtype=np.int64) if fmt.has_views else None,
        folds=_record_folds(records),
    )
    return _FolderLoad(dataset, skipped, len(files))


def _record_folds(records: list[_Record]) -> np.ndarray | None:
    """int64 (N,) folds, or None where the source assigns none (readers never mix the two)."""
    if not records or any(r.fold is None for r in records):
        return None
    return np.array([r.fold for r in records], dtype=np.int64)


def _warn_skipped(fmt: _FolderFormat, folder: Path, result: _FolderLoad) -> None:
    if not result.skipped:
        return
    for _path, why in result.skipped[:_MAX_NAMED_SKIPS]:
        warnings.warn(f"skipped unreadable file: {why}", stacklevel=4)
    more = len(result.skipped) - _MAX_NAMED_SKIPS
    tail = f" ({more} not named above)" if more > 0 else ""
    warnings.warn(
        f"{fmt.title}: skipped {len(result.skipped)} of {result.num_files} files in {folder}{tail}",
        stacklevel=4,  # the caller of load_dataset / load_<dataset>
    )


def _load_folder(fmt: _FolderFormat, folder: PathLike, skip_bad_files: bool) -> SkeletonDataset:
    folder = Path(folder)
    result = _parse_folder(fmt, _list_files(fmt, folder), skip_bad_files)
    _warn_skipped(fmt, folder, result)
    return result.dataset


def load_ntu_folder(
    folder: PathLike, max_persons: int = 2, *, num_classes: int = 120, skip_bad_files: bool = False
) -> SkeletonDataset:
    """Load every ``SsssCcccPpppRrrrAaaa.skeleton`` in ``folder`` (not recursive).

    Sequences are float32 (T, M=max_persons, V=25, C=3), layout ``"ntu25"``,
    30 fps; label = A-1, subject = P (performer), view = C (camera).  With
    ``num_classes=60`` files of the NTU-120 extension (A061..A120) are left out.
    Not cached: use :func:`load_dataset` for the parsed-dataset cache.
    """
    return _load_folder(_ntu_format(num_classes, max_persons), folder, skip_bad_files)


def load_utd_mhad(folder: PathLike, *, skip_bad_files: bool = False) -> SkeletonDataset:
    """Load every ``aA_sS_tT_skeleton.mat`` in ``folder``.

    Sequences are float32 (T, M=1, V=20, C=3) in UTD's joint order, layout
    ``"utd_mhad"``, 30 fps; label = A-1, subject = S, no views; 27 classes.
    Not cached: use :func:`load_dataset` for the parsed-dataset cache.
    """
    return _load_folder(_UTD_FORMAT, folder, skip_bad_files)


def load_nw_ucla(folder: PathLike, *, skip_bad_files: bool = False) -> SkeletonDataset:
    """Load every ``aAA_sSS_eEE_vVV.json`` in ``folder`` (NW-UCLA ``all_sqe``).

    Sequences are float32 (T, M=1, V=20, C=3) in Kinect v1 SDK order, layout
    ``"kinect_v1"``, 30 fps; label = JSON label - 1 (checked against the
    action in the file name), subject = S, view = V; 10 classes.  Not cached:
    use :func:`load_dataset` for the parsed-dataset cache.
    """
    return _load_folder(_NW_UCLA_FORMAT, folder, skip_bad_files)


def load_hdm05(folder: PathLike, *, skip_bad_files: bool = False) -> SkeletonDataset:
    """Load every ``HDM_<subject>_<class>_<take>_120.amc`` in ``folder`` with its subject's ASF.

    Sequences are float32 (T, M=1, V=31, C=3) in HDM05Mocap31 order, layout
    ``"hdm05_mocap31"``, metres in the mocap world (y up), decimated from 120
    to 30 fps; label = position of the file's motion class in
    :data:`HDM05_MOTION_CLASSES` (11 classes, :data:`HDM05_CLASS_NAMES`),
    subject = position in :data:`HDM05_SUBJECTS` + 1, no views.  Where
    ``folder/split.tsv`` exists, ``folds`` is 0 for its train clips and 1 for
    its test clips (a clip it does not list is an error); without it, None.
    Not cached: use :func:`load_dataset` for the parsed-dataset cache.
    """
    return _load_folder(_HDM05_FORMAT, folder, skip_bad_files)


def load_sbu(folder: PathLike, *, skip_bad_files: bool = False) -> SkeletonDataset:
    """Load every ``sPPsQQ/AA/NNN/skeleton_pos.txt`` under ``folder`` (SBU Kinect Interaction).

    Sequences are float32 (T, M=2, V=15, C=3), both persons in file order,
    SBU15 joint order, layout ``"sbu15"``, metres in Kinect camera axes, at
    SBU's own 15 fps; label = AA - 1 (8 classes, :data:`SBU_CLASS_NAMES`),
    subject = actor-pair id (position in :data:`SBU_ACTOR_PAIRS` + 1), fold =
    the pair's fold in :data:`SBU_FOLDS` (1..5), no views.  Not cached: use
    :func:`load_dataset` for the parsed-dataset cache.
    """
    return _load_folder(_SBU_FORMAT, folder, skip_bad_files)


# --------------------------------------------------------------------------- npz formats


def _open_npz(path: Path) -> np.lib.npyio.NpzFile:
    try:
        npz = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except ValueError as err:  # numpy's answer to a pickle when pickles are refused
        raise DatasetError(path, "file", f"holds pickled data, which is refused ({err})") from err
    except (OSError, EOFError, zipfile.BadZipFile) as err:
        raise DatasetError(path, "file", f"cannot be read as .npz ({err})") from err
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise DatasetError(path, "file", "is a single .npy array, not an .npz archive of named arrays")
    return npz


def _npz_get(npz: np.lib.npyio.NpzFile, path: Path, key: str, required: bool = True) -> np.ndarray | None:
    if key not in npz.files:
        if required:
            held = ", ".join(sorted(npz.files)) or "nothing"
            raise DatasetError(path, key, f"missing (the archive holds: {held})")
        return None
    try:
        return npz[key]
    except ValueError as err:
        raise DatasetError(
            path, key, "is a pickled object array, which is refused; store numbers or fixed-width strings"
        ) from err


def _npz_int_vector(npz, path: Path, key: str, n: int, required: bool = True) -> np.ndarray | None:
    value = _npz_get(npz, path, key, required)
    if value is None:
        return None
    if value.dtype.kind not in "iu" or value.shape != (n,):
        raise DatasetError(path, key, f"expected integers shaped ({n},), got {value.dtype} {value.shape}")
    return value.astype(np.int64)


def _check_action_texts(path: Path, key: str, texts: list[str], max_chars: int) -> None:
    """Class names and descriptions become a bundle's actions: refuse here what the bundle would refuse after
    training (:mod:`fsvae_core.action_text`), and two names for one action."""
    first: dict[str, int] = {}
    for i, text in enumerate(texts):
        problem = text_problem(text, max_chars)
        if problem is not None:
            raise DatasetError(path, key, f"{key}[{i}] {problem}")
        if key == "class_names":
            if reserved := reserved_name_problem(text):
                raise DatasetError(path, key, f"{key}[{i}] = {text!r}: {reserved}")
            j = first.setdefault(name_key(text), i)
            if j != i:
                raise DatasetError(path, key, f"{key}[{i}] = {text!r} names the same action as {key}[{j}] = "
                                              f"{texts[j]!r} (names compare regardless of case and spacing)")


def _npz_str_vector(npz, path: Path, key: str, n: int | None, required: bool = True) -> list[str] | None:
    value = _npz_get(npz, path, key, required)
    if value is None:
        return None
    if value.dtype.kind not in "US" or value.ndim != 1 or (n is not None and value.shape[0] != n):
        want = f"({n},)" if n is not None else "(C,)"
        raise DatasetError(path, key, f"expected strings shaped {want}, got {value.dtype} {value.shape}")
    if value.dtype.kind == "S":
        try:
            return [v.decode("utf-8") for v in value]
        except UnicodeDecodeError as err:
            raise DatasetError(path, key, f"bytes that are not UTF-8: {err}") from err
    return [str(v) for v in value]


def _npz_str_scalar(npz, path: Path, key: str) -> str:
    value = _npz_get(npz, path, key)
    if value.dtype.kind not in "US" or value.size != 1:
        raise DatasetError(path, key, f"expected one string, got {value.dtype} {value.shape}")
    item = value.reshape(()).item()
    return item.decode("utf-8", errors="replace") if isinstance(item, bytes) else str(item)


def load_generic_npz(path: PathLike) -> SkeletonDataset:
    """Load the project's generic ``.npz`` dataset format, validating every field.

    Keys (read with ``allow_pickle=False``; strings as fixed-width str arrays):

    * ``joints``: float (N, T, V, C=3) or (N, T, M, V, C=3), zero-padded after each length;
    * ``lengths``: int (N,), 1 <= lengths[i] <= T;
    * ``labels``: int (N,), 0 <= label < C_cls;
    * ``class_names``: str (C_cls,);
    * ``layout``: str, one of :data:`LAYOUTS`; V must match it;
    * optional ``subjects`` / ``views`` / ``folds``: int (N,); ``sources``: str (N,);
      ``fps``: float (default 30); ``descriptions_ld`` / ``descriptions_gd``: str (C_cls,).

    Unknown keys are ignored.  Any violation raises DatasetError naming the
    file and the key.
    """
    path = Path(path)
    with _open_npz(path) as npz:
        layout = _npz_str_scalar(npz, path, "layout")
        if layout not in LAYOUT_JOINT_COUNTS:
            raise DatasetError(
                path, "layout", f"unknown layout {layout!r}; expected one of {', '.join(LAYOUTS)}"
            )
        joints = _npz_get(npz, path, "joints")
        if joints.dtype.kind != "f":
            raise DatasetError(path, "joints", f"expected floating-point coordinates, got {joints.dtype}")
        if joints.ndim == 4:
            joints = joints[:, :, None]  # (N, T, V, C) -> (N, T, M=1, V, C)
        if joints.ndim != 5:
            raise DatasetError(
                path, "joints", f"expected (N, T, V, 3) or (N, T, M, V, 3), got {joints.shape}"
            )
        n, t_max, _m, v, c = joints.shape
        want_v = LAYOUT_JOINT_COUNTS[layout]
        if c != 3 or v != want_v:
            raise DatasetError(
                path, "joints", f"shape {joints.shape}: layout {layout!r} needs V={want_v} joints and C=3"
            )
        lengths = _npz_int_vector(npz, path, "lengths", n)
        bad = np.flatnonzero((lengths < 1) | (lengths > t_max))
        if bad.size:
            i = int(bad[0])
            raise DatasetError(path, "lengths", f"lengths[{i}] = {lengths[i]} is outside 1..T={t_max}")
        class_names = _npz_str_vector(npz, path, "class_names", None)
        if not class_names:
            raise DatasetError(path, "class_names", "is empty")
        _check_action_texts(path, "class_names", class_names, MAX_NAME_CHARS)
        labels = _npz_int_vector(npz, path, "labels", n)
        bad = np.flatnonzero((labels < 0) | (labels >= len(class_names)))
        if bad.size:
            i = int(bad[0])
            c_cls = len(class_names)
            raise DatasetError(
                path, "labels", f"labels[{i}] = {labels[i]} is outside 0..{c_cls - 1} (class_names has {c_cls})"
            )
        subjects = _npz_int_vector(npz, path, "subjects", n, required=False)
        views = _npz_int_vector(npz, path, "views", n, required=False)
        folds = _npz_int_vector(npz, path, "folds", n, required=False)
        sources = _npz_str_vector(npz, path, "sources", n, required=False)
        descriptions = {
            key: _npz_str_vector(npz, path, key, len(class_names), required=False)
            for key in ("descriptions_ld", "descriptions_gd")
        }
        for key, texts in descriptions.items():
            if texts is not None:
                _check_action_texts(path, key, texts, MAX_DESCRIPTION_CHARS)
        fps_value = _npz_get(npz, path, "fps", required=False)
        fps = 30.0
        if fps_value is not None:
            if fps_value.dtype.kind not in "fiu" or fps_value.size != 1:
                raise DatasetError(path, "fps", f"expected one number, got {fps_value.dtype} {fps_value.shape}")
            fps = float(fps_value.reshape(()))
            if not (np.isfinite(fps) and fps > 0):
                raise DatasetError(path, "fps", f"must be positive, got {fps}")

    valid = np.arange(t_max)[None, :] < lengths[:, None]  # (N, T)
    finite = np.isfinite(joints).all(axis=(2, 3, 4))  # (N, T)
    bad_frames = np.argwhere(valid & ~finite)
    if bad_frames.size:
        i, t = (int(x) for x in bad_frames[0])
        raise DatasetError(
            path, "joints", f"sample {i} frame {t} holds NaN or infinite values ({len(bad_frames)} such frames)"
        )

    return SkeletonDataset(
        sequences=[np.array(joints[i, : lengths[i]], dtype=np.float32) for i in range(n)],
        labels=labels,
        class_names=class_names,
        layout=layout,
        fps=fps,
        sources=sources if sources is not None else [f"{path}#{i}" for i in range(n)],
        subjects=subjects,
        views=views,
        folds=folds,
        descriptions_ld=descriptions["descriptions_ld"],
        descriptions_gd=descriptions["descriptions_gd"],
    )


def _str_array(values: Sequence[str]) -> np.ndarray:
    return np.array(list(values), dtype=np.str_)


def _atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an uncompressed .npz so readers never see a half-written file."""
    with paths.replaced_whole(path) as temporary, open(temporary, "wb") as handle:
        np.savez(handle, **arrays)


def save_generic_npz(dataset: SkeletonDataset, path: PathLike) -> None:
    """Write ``dataset`` in the format :func:`load_generic_npz` reads (written atomically).

    ``joints`` is float32 (N, T=max length, M=max persons, V, C=3), zero-padded;
    every other field of the dataset is stored, so loading gives the same
    dataset back (sequences with fewer persons come back zero-padded to M).
    """
    path = Path(path)
    n = len(dataset)
    counts = dataset.frame_counts
    t_max = int(counts.max()) if n else 0
    m_max = max((seq.shape[1] for seq in dataset.sequences), default=1)
    v = LAYOUT_JOINT_COUNTS[dataset.layout]
    joints = np.zeros((n, t_max, m_max, v, 3), dtype=np.float32)  # (N, T, M, V, C)
    for i, seq in enumerate(dataset.sequences):
        joints[i, : seq.shape[0], : seq.shape[1]] = seq
    arrays: dict[str, np.ndarray] = {
        "joints": joints,
        "lengths": counts,
        "labels": dataset.labels,
        "class_names": _str_array(dataset.class_names),
        "layout": np.array(dataset.layout),
        "fps": np.array(dataset.fps, dtype=np.float64),
        "sources": _str_array(dataset.sources),
    }
    for key in ("subjects", "views", "folds"):
        if getattr(dataset, key) is not None:
            arrays[key] = getattr(dataset, key)
    for key in ("descriptions_ld", "descriptions_gd"):
        if getattr(dataset, key) is not None:
            arrays[key] = _str_array(getattr(dataset, key))
    _atomic_savez(path, arrays)


def load_ntu_npz(path: PathLike) -> tuple[SkeletonDataset, SkeletonDataset]:
    """Load a CTR-GCN style preprocessed NTU ``.npz`` as (train, test).

    Expects ``x_train`` / ``x_test`` float (N, T, 150) = (N, T, M=2 * V=25 * C=3)
    zero-padded after each sequence, and ``y_train`` / ``y_test`` one-hot
    (N, 60|120) or integer (N,) 0-based labels.  Trailing all-zero frames are
    trimmed, so sequences come back float32 (T_i, M=2, V=25, C=3), layout
    ``"ntu25"``.  The archive has no subject or camera ids: ``subjects`` and
    ``views`` are None.  Note the whole archive is held in memory while read.
    """
    path = Path(path)
    with _open_npz(path) as npz:
        labels = {s: _ctrgcn_labels(npz, path, s) for s in ("train", "test")}
        one_hot = [width for _, width in labels.values() if width is not None]
        if one_hot:
            num_classes = one_hot[0]
            if any(w != num_classes for w in one_hot) or num_classes not in (60, 120):
                raise DatasetError(
                    path, "y_train", f"one-hot widths {one_hot}: expected 60 or 120 classes in both splits"
                )
        else:
            top = max((int(y.max()) for y, _ in labels.values() if y.size), default=0)
            num_classes = 60 if top < 60 else 120
        names = ntu_class_names()[:num_classes]
        splits = []
        for split in ("train", "test"):
            y = labels[split][0]
            key = f"y_{split}"
            bad = np.flatnonzero((y < 0) | (y >= num_classes))
            if bad.size:
                i = int(bad[0])
                raise DatasetError(path, key, f"label {y[i]} at index {i} is outside 0..{num_classes - 1}")
            sequences = _ctrgcn_sequences(npz, path, split, len(y))
            splits.append(
                SkeletonDataset(
                    sequences=sequences,
                    labels=y,
                    class_names=names,
                    layout="ntu25",
                    fps=NTU_FPS,
                    sources=[f"{path}#x_{split}[{i}]" for i in range(len(y))],
                )
            )
    return splits[0], splits[1]


def _ctrgcn_labels(npz, path: Path, split: str) -> tuple[np.ndarray, int | None]:
    key = f"y_{split}"
    y = _npz_get(npz, path, key)
    if y.ndim == 2 and y.dtype.kind in "fiub":
        if y.shape[0] and not (y.max(axis=1) > 0).all():
            row = int(np.flatnonzero(~(y.max(axis=1) > 0))[0])
            raise DatasetError(path, key, f"one-hot row {row} has no positive entry")
        return y.argmax(axis=1).astype(np.int64), int(y.shape[1])
    if y.ndim == 1 and y.dtype.kind in "iu":
        return y.astype(np.int64), None
    raise DatasetError(path, key, f"expected one-hot (N, C) or integer (N,) labels, got {y.dtype} {y.shape}")


def _ctrgcn_sequences(npz, path: Path, split: str, n: int) -> list[np.ndarray]:
    key = f"x_{split}"
    x = _npz_get(npz, path, key)
    if x.dtype.kind != "f" or x.ndim != 3 or x.shape[0] != n or x.shape[2] != 2 * NTU_JOINTS * 3:
        raise DatasetError(path, key, f"expected float (N={n}, T, 150), got {x.dtype} {x.shape}")
    t_max = x.shape[1]
    sequences: list[np.ndarray] = []
    # Chunks keep the temporary masks small next to an archive of many GB.
    for start in range(0, n, 1024):
        chunk = x[start : start + 1024]  # (n_chunk, T, 150)
        if not np.isfinite(chunk).all():
            i, t = (int(a) for a in np.argwhere(~np.isfinite(chunk).all(axis=2))[0])
            raise DatasetError(path, key, f"sample {start + i} frame {t} holds NaN or infinite values")
        nonzero = (chunk != 0).any(axis=2)  # (n_chunk, T)
        lengths = t_max - nonzero[:, ::-1].argmax(axis=1)
        lengths[~nonzero.any(axis=1)] = 0
        for i, length in enumerate(lengths):
            if length == 0:
                raise DatasetError(path, key, f"sample {start + i} is all zeros")
            # np.array copies, so the full archive array can be freed afterwards.
            sequences.append(np.array(chunk[i, :length].reshape(length, 2, NTU_JOINTS, 3), dtype=np.float32))
    return sequences


# --------------------------------------------------------------------------- cache


def _cache_file(fmt: _FolderFormat, folder: Path) -> Path:
    # One file per (format, folder): a stale entry is overwritten, not left behind.
    folder_id = hashlib.sha256(str(folder.resolve()).encode("utf-8")).hexdigest()[:16]
    return paths.cache_dir() / "datasets" / f"{fmt.kind}-{folder_id}.npz"


def _cache_key(fmt: _FolderFormat, folder: Path, files: list[Path], skip_bad_files: bool) -> str:
    digest = hashlib.sha256()
    header = [CACHE_FORMAT_VERSION, fmt.kind, fmt.layout, fmt.fps, list(fmt.class_names),
              [repr(o) for o in fmt.options], skip_bad_files]
    digest.update(json.dumps(header).encode("utf-8"))
    folder = Path(os.path.abspath(folder))
    side_files = sorted({p for pattern in fmt.side_patterns for p in folder.glob(pattern) if p.is_file()})
    for path in [*files, *side_files]:
        stat = path.stat()
        name = path.relative_to(folder).as_posix()
        digest.update(f"\n{name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode("utf-8"))
    return digest.hexdigest()


def _write_cache(cache: Path, key: str, result: _FolderLoad) -> None:
    ds = result.dataset
    shapes = np.array([seq.shape for seq in ds.sequences], dtype=np.int64).reshape(-1, 4)  # (N, 4)
    sizes = shapes.prod(axis=1)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)  # (N+1,)
    flat = (np.concatenate([seq.reshape(-1) for seq in ds.sequences]) if len(ds)
            else np.zeros(0, dtype=np.float32))
    arrays = {
        "format_version": np.array(CACHE_FORMAT_VERSION),
        "key": np.array(key),
        "flat": flat.astype(np.float32, copy=False),
        "offsets": offsets,
        "shapes": shapes,
        "labels": ds.labels,
        "class_names": _str_array(ds.class_names),
        "layout": np.array(ds.layout),
        "fps": np.array(ds.fps, dtype=np.float64),
        "sources": _str_array(ds.sources),
        "skipped_files": _str_array([p for p, _ in result.skipped]),
        "skipped_reasons": _str_array([why for _, why in result.skipped]),
        "num_files": np.array(result.num_files),
    }
    for name in ("subjects", "views", "folds"):
        if getattr(ds, name) is not None:
            arrays[name] = getattr(ds, name)
    _atomic_savez(cache, arrays)


def _read_cache(cache: Path, key: str) -> _FolderLoad | None:
    """The cached parse, or None when it is absent, unreadable, from another version or stale."""
    if not cache.is_file():
        return None
    try:
        with np.load(cache, allow_pickle=False) as npz:
            if int(npz["format_version"]) != CACHE_FORMAT_VERSION or str(npz["key"]) != key:
                return None
            flat, offsets, shapes = npz["flat"], npz["offsets"], npz["shapes"]
            # Views into one buffer: no per-sequence copies of the whole dataset.
            sequences = [flat[offsets[i] : offsets[i + 1]].reshape(shapes[i]) for i in range(len(shapes))]
            dataset = SkeletonDataset(
                sequences=sequences,
                labels=npz["labels"],
                class_names=[str(c) for c in npz["class_names"]],
                layout=str(npz["layout"]),
                fps=float(npz["fps"]),
                sources=[str(s) for s in npz["sources"]],
                subjects=npz["subjects"] if "subjects" in npz.files else None,
                views=npz["views"] if "views" in npz.files else None,
                folds=npz["folds"] if "folds" in npz.files else None,
            )
            skipped = [(str(p), str(w)) for p, w in zip(npz["skipped_files"], npz["skipped_reasons"])]
            return _FolderLoad(dataset, skipped, int(npz["num_files"]))
    except (OSError, EOFError, KeyError, ValueError, TypeError, IndexError, zipfile.BadZipFile) as err:
        log.info("rebuilding unreadable dataset cache %s: %s", cache, err)
        return None


def _load_folder_cached(
    fmt: _FolderFormat, folder: Path, skip_bad_files: bool, use_cache: bool
) -> SkeletonDataset:
    files = _list_files(fmt, folder)
    if not use_cache:
        result = _parse_folder(fmt, files, skip_bad_files)
    else:
        cache = _cache_file(fmt, folder)
        key = _cache_key(fmt, folder, files, skip_bad_files)
        result = _read_cache(cache, key)
        if result is None:
            result = _parse_folder(fmt, files, skip_bad_files)
            try:
                _write_cache(cache, key, result)
            except OSError as err:  # a read-only cache dir must not stop loading
                warnings.warn(f"could not write dataset cache {cache}: {err}", stacklevel=3)
    _warn_skipped(fmt, folder, result)
    return result.dataset


# --------------------------------------------------------------------------- dispatch

# Folder names under the data directory, first existing one wins.  The
# official NTU release unpacks to nturgb+d_skeletons/.
_NAMED_FOLDERS: dict[str, tuple[tuple[str, ...], Callable[[], _FolderFormat]]] = {
    "ntu60": (("ntu_samples", "nturgb+d_skeletons"), lambda: _ntu_format(60, 2)),
    "ntu120": (("ntu_samples", "nturgb+d_skeletons"), lambda: _ntu_format(120, 2)),
    "utd-mhad": (("utd_mhad",), lambda: _UTD_FORMAT),
    "nw-ucla": (("nw_ucla/all_sqe",), lambda: _NW_UCLA_FORMAT),
    "hdm05": (("hdm05",), lambda: _HDM05_FORMAT),
    "sbu": (("sbu_kinect",), lambda: _SBU_FORMAT),
}


def _detect_folder_format(folder: Path) -> _FolderFormat:
    for fmt in (_ntu_format(120, 2), _UTD_FORMAT, _NW_UCLA_FORMAT, _HDM05_FORMAT, _SBU_FORMAT):
        if any(folder.glob(fmt.pattern)):
            return fmt
    raise FileNotFoundError(
        f"no skeleton files in {folder}: expected NTU *.skeleton, UTD-MHAD *_skeleton.mat, NW-UCLA *.json, "
        "HDM05 HDM_*.amc or SBU sPPsQQ/AA/NNN/skeleton_pos.txt"
    )


def load_dataset(
    name_or_path: PathLike,
    data_dir: PathLike | None = None,
    skip_bad_files: bool = False,
    *,
    split: str | None = None,
    use_cache: bool = True,
) -> SkeletonDataset:
    """Load a dataset by name or path; sequences are float32 (T, M, V, C=3).

    ``name_or_path`` is one of ``"ntu60"``, ``"ntu120"``, ``"utd-mhad"``,
    ``"nw-ucla"``, ``"hdm05"``, ``"sbu"`` (found under ``data_dir``, default
    :func:`paths.data_dir`, in ``ntu_samples/``, ``utd_mhad/``,
    ``nw_ucla/all_sqe/``, ``hdm05/`` and ``sbu_kinect/``), a folder of such
    files, or a ``.npz`` file: either the generic format
    (:func:`load_generic_npz`) or a CTR-GCN NTU archive, which comes pre-split
    and so needs ``split="train"`` or ``split="test"``.

    Folders are parsed once and cached under ``paths.cache_dir()/datasets``
    (``use_cache=False`` to bypass).  With ``skip_bad_files`` an unreadable file
    is skipped with a warning naming it, followed by a warning with the count;
    otherwise its DatasetError propagates.  A missing folder raises
    FileNotFoundError saying which folder and how to point at it.
    """
    key = str(name_or_path).lower().replace("_", "-")
    if key in _NAMED_FOLDERS:
        subfolders, make_format = _NAMED_FOLDERS[key]
        root = Path(data_dir) if data_dir is not None else paths.data_dir()
        candidates = [root / sub for sub in subfolders]
        folder = next((c for c in candidates if c.is_dir()), None)
        if folder is None:
            raise FileNotFoundError(
                f"{key} skeletons not found: no folder {' or '.join(str(c) for c in candidates)}. "
                f"Set ${paths.DATA_DIR_ENV} (or pass data_dir=) to the folder holding ntu_samples/, "
                f"utd_mhad/, nw_ucla/all_sqe/, hdm05/ and sbu_kinect/ as described in ../shared/data/README.md."
            )
        fmt = make_format()
    else:
        path = Path(name_or_path)
        if path.suffix == ".npz":
            return _load_any_npz(path, split)
        if not path.is_dir():
            raise FileNotFoundError(
                f"{path} is neither a dataset name ({', '.join(_NAMED_FOLDERS)}), a folder nor an .npz file"
            )
        folder, fmt = path, _detect_folder_format(path)
    if split is not None:
        raise ValueError(f"split: {key} is not pre-split; take subsets by subject or view instead")
    return _load_folder_cached(fmt, folder, skip_bad_files, use_cache)


def _load_any_npz(path: Path, split: str | None) -> SkeletonDataset:
    with _open_npz(path) as npz:
        keys = set(npz.files)
    if "x_train" in keys:
        if split not in ("train", "test"):
            raise ValueError(
                f"split: {path} is a pre-split CTR-GCN archive; pass split='train' or split='test'"
            )
        train, test = load_ntu_npz(path)
        return train if split == "train" else test
    if split is not None:
        raise ValueError(f"split: {path} is not pre-split; take subsets by subject or view instead")
    return load_generic_npz(path)
