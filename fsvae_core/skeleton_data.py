"""Skeleton action datasets: one in-memory form and the loaders that fill it.

Every loader returns a :class:`SkeletonDataset` whose sequences keep the
*source* joint layout and units (Kinect camera-space metres for the bundled
datasets); mapping between layouts belongs to ``calibration``, so the layout
is only recorded here by name.

Axis letters, used throughout the project: N sequences (batch), M persons,
T frames, V joints, C channels (x, y, z).

Formats read here:

* NTU RGB+D raw ``SsssCcccPpppRrrrAaaa.skeleton`` text files (Kinect v2, 25 joints);
* the CTR-GCN preprocessed NTU ``.npz`` (``x_train``/``y_train``/``x_test``/``y_test``);
* UTD-MHAD ``aA_sS_tT_skeleton.mat`` (Kinect v1, UTD's own 20-joint order);
* NW-UCLA ``aAA_sSS_eEE_vVV.json`` (Kinect v1 SDK 20-joint order);
* a generic ``.npz`` any user can write (see :func:`load_generic_npz`).

Arrays are always read with ``allow_pickle=False``: a dataset file must never
be able to run code.  Parsed folders are cached as one flat ``.npz`` under
``paths.cache_dir() / "datasets"`` because parsing thousands of small files
dominates start-up time.
"""

from __future__ import annotations

import dataclasses
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

from calibration.layouts import LAYOUTS as CALIBRATION_LAYOUTS
from fsvae_core import paths

__all__ = [
    "LAYOUTS",
    "LAYOUT_JOINT_COUNTS",
    "NTU_FPS",
    "NW_UCLA_CLASS_NAMES",
    "UTD_MHAD_CLASS_NAMES",
    "DatasetError",
    "SkeletonDataset",
    "load_dataset",
    "load_generic_npz",
    "load_ntu_folder",
    "load_ntu_npz",
    "load_nw_ucla",
    "load_utd_mhad",
    "ntu_class_names",
    "read_ntu_skeleton",
    "read_nw_ucla_json",
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

# Bump whenever the cache file layout or any parser's output changes, so old
# caches are rebuilt rather than trusted.
CACHE_FORMAT_VERSION = 1
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
    None where the source does not record them.  ``sources[i]`` names the file
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
        for name in ("labels", "sources", "subjects", "views"):
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


# --------------------------------------------------------------------------- folders


@dataclass(frozen=True)
class _Record:
    joints: np.ndarray  # (T, M, V, C)
    label: int
    subject: int | None
    view: int | None


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
    fps=KINECT_V1_FPS,
    has_views=True,
)


def _natural_key(path: Path) -> list[object]:
    # a2 before a10, so sequence order follows the dataset's numbering.
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


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
    )
    return _FolderLoad(dataset, skipped, len(files))


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
    * optional ``subjects`` / ``views``: int (N,); ``sources``: str (N,);
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
        sources = _npz_str_vector(npz, path, "sources", n, required=False)
        descriptions = {
            key: _npz_str_vector(npz, path, key, len(class_names), required=False)
            for key in ("descriptions_ld", "descriptions_gd")
        }
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
    for key in ("subjects", "views"):
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


def _cache_key(fmt: _FolderFormat, files: list[Path], skip_bad_files: bool) -> str:
    digest = hashlib.sha256()
    header = [CACHE_FORMAT_VERSION, fmt.kind, fmt.layout, fmt.fps, list(fmt.class_names),
              [repr(o) for o in fmt.options], skip_bad_files]
    digest.update(json.dumps(header).encode("utf-8"))
    for path in files:
        stat = path.stat()
        digest.update(f"\n{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}".encode("utf-8"))
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
    for name in ("subjects", "views"):
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
        key = _cache_key(fmt, files, skip_bad_files)
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
}


def _detect_folder_format(folder: Path) -> _FolderFormat:
    for fmt in (_ntu_format(120, 2), _UTD_FORMAT, _NW_UCLA_FORMAT):
        if any(folder.glob(fmt.pattern)):
            return fmt
    raise FileNotFoundError(
        f"no skeleton files in {folder}: expected NTU *.skeleton, UTD-MHAD *_skeleton.mat or NW-UCLA *.json"
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
    ``"nw-ucla"`` (found under ``data_dir``, default :func:`paths.data_dir`, in
    ``ntu_samples/``, ``utd_mhad/`` and ``nw_ucla/all_sqe/``), a folder of such
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
                f"utd_mhad/ and nw_ucla/all_sqe/ as described in ../shared/data/README.md."
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
