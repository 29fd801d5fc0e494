"""Every message on the wire, in one module: a frozen dataclass per message and its frames.

A message travels as ZeroMQ multipart frames::

    [topic (ASCII)] [JSON header (UTF-8)] [raw array bytes] ...

The topic is dotted so a subscriber takes what it wants by prefix
(``skeleton.window`` for every camera's windows, ``action.label.cam0`` for one
camera's labels). The header is one JSON object holding ``format_version``
(:data:`FORMAT_VERSION`), ``seq``, ``timestamp_ms`` and the message's fields;
an array travels as ``{"name", "dtype": "<f4", "shape"}`` in the header's
``arrays`` list plus its raw C-contiguous little-endian float32 buffer in the
next frame, in list order. Nothing is pickled. The format is documented for
other languages in ``docs/messages.md``.

Every constructor checks its fields, and :func:`decode` checks everything a
peer could get wrong (frame count, UTF-8, JSON, field names and types, topic,
version, dtype, shape against buffer size, NaN/inf, size limits, characters
of names and texts); both raise :class:`MessageError`, a ``ValueError`` whose
text names the topic and field. :func:`decode` raises nothing else, whatever
the frames hold: a receiver that catches MessageError survives any message.

Axis letters: M persons, T frames, V joints, C=3 coordinates. Arrays held by a
message are read-only; a decoded array is a zero-copy view of its frame.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from calibration.layouts import LAYOUTS
from fsvae_core.action_text import MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, UNKNOWN_LABEL, escape_refused, text_problem

FORMAT_VERSION = 1

# Limits a receiver enforces before trusting a peer's sizes.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024  # all frames together; also ZMQ_MAXMSGSIZE on receiving sockets
MAX_HEADER_BYTES = 256 * 1024
MAX_TOPIC_BYTES = 128
MAX_WINDOW_FRAMES = 600  # T of a SkeletonWindow: 20 s at 30 fps
MAX_WINDOW_PERSONS = 4  # M of a SkeletonWindow
MAX_POSE_PERSONS = 16  # M of a PoseFrame: a tracker may see a crowd; the capture picks the bodies
MAX_JOINTS = max(layout.num_joints for layout in LAYOUTS.values())  # 33 (mediapipe33)
MAX_FPS = 240.0
MAX_TOPK = 100
MAX_PARTS = 16  # body-part sentences of one added action (the bundles' grouping has 6)
# An action shown live (ControlRequest ``show_s``): long enough for one short action, short enough to hold.
MIN_SHOW_S = 0.5
MAX_SHOW_S = 30.0
MAX_SHOW_TIMES = 5  # showings of one action in one request, each its own recording
MAX_EXAMPLES = 32  # recordings one ControlRequest may show an action by
# MAX_NAME_CHARS (200): action names and labels; shared with bundles (fsvae_core.action_text).
MAX_TEXT_CHARS = MAX_DESCRIPTION_CHARS  # 4000: descriptions, log texts, error texts
MAX_SEQ = 2**53 - 1  # largest integer a JavaScript subscriber reads exactly
MAX_INT_DIGITS = 20  # a JSON integer with more digits is refused before Python parses it (seq needs 16)
MAX_NUMBER_CHARS = 64  # the same for any other JSON number literal (a float needs at most 24)
# A capture time further than this from the receiver's clock, ahead or behind, is implausible:
# a spoofed or unset clock (1970) or a recording replayed with its old times.
MAX_CLOCK_SKEW_MS = 60_000.0

WIRE_DTYPE = "<f4"
LABEL_STATUSES = ("ok", "no_person", "warming_up", "still")
WINDOW_ANSWERS = ("ok", "still")  # the statuses of a LabelEvent that answers a window the model scored
LOG_LEVELS = ("debug", "info", "warning", "error")
CONTROL_COMMANDS = ("list", "add", "remove", "status")

# Source ids end a topic, so they cannot hold the "." that separates topic levels.
_SOURCE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


class MessageError(ValueError):
    """A message that cannot be built or decoded; the text names the topic and field.

    ``topic`` and ``field`` hold those names (``None`` where not known yet) and
    ``problem`` says what is wrong.
    """

    def __init__(self, topic: str | None, field_name: str | None, problem: str) -> None:
        # Both may come from the peer (an unknown field's name): never print them raw.
        field_name = None if field_name is None else _printable(field_name, 80)
        problem = escape_refused(str(problem), allow="\n\t")
        self.topic = topic
        self.field = field_name
        self.problem = problem
        where = ": ".join(part for part in (topic, field_name) if part)
        super().__init__(f"{where}: {problem}" if where else problem)

    def __reduce__(self):
        # Rebuild from the parts, so the error survives pickling (e.g. across multiprocessing).
        return (type(self), (self.topic, self.field, self.problem))


def now_ms() -> float:
    """Wall-clock time in milliseconds since the Unix epoch."""
    return time.time() * 1000.0


def capture_time_plausible(
    capture_timestamp_ms: float, now: float | None = None, max_skew_ms: float = MAX_CLOCK_SKEW_MS
) -> bool:
    """Whether a capture time lies within ``max_skew_ms`` of ``now`` (this machine's clock), ahead or behind.

    A message's ``capture_timestamp_ms`` is only as true as its sender says;
    latencies computed from implausible ones (a clock at 0, a year ahead) are
    left out of statistics, or the messages dropped
    (``LatestWinsSubscriber(max_clock_skew_ms=...)``).
    """
    now = now_ms() if now is None else now
    return abs(float(capture_timestamp_ms) - now) <= max_skew_ms


def _printable(text: Any, limit: int) -> str:
    """``text`` if it is short printable text, else its escaped repr, clipped to ``limit`` characters."""
    if isinstance(text, str) and text.isprintable() and len(text) <= limit:
        return text
    try:
        shown = repr(text) if isinstance(text, str) else repr(str(text))
    except Exception:  # noqa: BLE001 - a value that cannot even be shown
        shown = f"<{type(text).__name__}>"
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------
# Field checks shared by constructors and the decoder. Each returns the normalised value.


def _show(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**60:
        return f"int of {len(str(abs(value))) if abs(value) < 10**4000 else 'over 4000'} digits"
    try:
        text = repr(value)  # escapes control and invisible characters
    except Exception:  # noqa: BLE001 - too deep to print, or an int too long for str()
        text = "..."
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _int(topic: str, name: str, value: Any, minimum: int = 0, maximum: int = MAX_SEQ) -> int:
    # bool is an int subclass, and JSON true must not pass for 1.
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise MessageError(topic, name, f"must be an integer, got {_show(value)}")
    value = int(value)
    if not minimum <= value <= maximum:
        raise MessageError(topic, name, f"must be in [{minimum}, {maximum}], got {value}")
    return value


def _float(
    topic: str,
    name: str,
    value: Any,
    minimum: float | None = None,
    maximum: float | None = None,
    above: float | None = None,
) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise MessageError(topic, name, f"must be a number, got {_show(value)}")
    try:
        value = float(value)
    except OverflowError:
        raise MessageError(topic, name, f"must be finite, got {_show(value)}") from None
    if not math.isfinite(value):
        raise MessageError(topic, name, f"must be finite, got {value}")
    if minimum is not None and value < minimum:
        raise MessageError(topic, name, f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise MessageError(topic, name, f"must be <= {maximum}, got {value}")
    if above is not None and value <= above:
        raise MessageError(topic, name, f"must be > {above}, got {value}")
    return value


def _bool(topic: str, name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise MessageError(topic, name, f"must be true or false, got {_show(value)}")
    return bool(value)


def _text(topic: str, name: str, value: Any, max_chars: int = MAX_NAME_CHARS, free: bool = False) -> str:
    """A name or description (no control, invisible or direction-changing characters, see
    :mod:`fsvae_core.action_text`); ``free`` text (logs, errors) may also hold newlines and tabs."""
    problem = text_problem(value, max_chars, allow="\n\t" if free else "")
    if problem is not None:
        if problem.startswith("must be a non-empty string"):
            problem = f"must be a non-empty string, got {_show(value)}"
        raise MessageError(topic, name, problem)
    return value


def _choice(topic: str, name: str, value: Any, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise MessageError(topic, name, f"must be one of {', '.join(map(repr, choices))}; got {_show(value)}")
    return value


def source_id_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a source id (the camera or tracker a message is about), or None if it can."""
    if isinstance(value, str) and _SOURCE_ID.fullmatch(value):
        return None
    return f"must be 1-64 characters from A-Z a-z 0-9 _ - (no dots: it ends the topic); got {_show(value)}"


def _source_id(topic: str, name: str, value: Any) -> str:
    problem = source_id_problem(value)
    if problem is not None:
        raise MessageError(topic, name, problem)
    return value


def _layout(topic: str, value: Any) -> int:
    """The joint count V of layout ``value``."""
    if not isinstance(value, str) or value not in LAYOUTS:
        raise MessageError(topic, "layout", f"must be one of {', '.join(sorted(LAYOUTS))}; got {_show(value)}")
    return LAYOUTS[value].num_joints


def _array(topic: str, name: str, value: Any, dims: Sequence[str], limits: Sequence[tuple[int, int]]) -> np.ndarray:
    """A read-only little-endian float32 C-contiguous array, checked against ``limits``.

    ``dims`` names the axes for the error text; ``limits`` gives (min, max) per axis.
    An array that is already read-only float32 and contiguous (a decoded frame) is
    kept as is; anything the caller could still write to is copied, so the frozen
    message cannot change under a subscriber.
    """
    array = np.asarray(value)
    if array.dtype.kind != "f":
        raise MessageError(topic, name, f"must be a floating-point array, got dtype {array.dtype}")
    expected = "(" + ", ".join(dims) + ")"
    if array.ndim != len(dims):
        raise MessageError(topic, name, f"must have shape {expected}, got {array.shape}")
    for axis, (size, (low, high)) in enumerate(zip(array.shape, limits)):
        if not low <= size <= high:
            raise MessageError(
                topic, name, f"axis {axis} ({dims[axis]}) must be in [{low}, {high}], got {size} in shape {array.shape}"
            )
    if array.flags.writeable or array.dtype != np.dtype(WIRE_DTYPE) or not array.flags.c_contiguous:
        array = np.array(array, dtype=WIRE_DTYPE, order="C", copy=True)
        array.flags.writeable = False
    bad = array.size - int(np.count_nonzero(np.isfinite(array)))
    if bad:
        first = tuple(int(i) for i in np.argwhere(~np.isfinite(array))[0])
        raise MessageError(topic, name, f"{bad} NaN/inf value(s), the first at index {first}")
    return array


# ---------------------------------------------------------------------------------------------
# The common base.


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class _Message:
    """Fields every message carries: ``seq`` and ``timestamp_ms``."""

    TOPIC: ClassVar[str]
    # (name, axis letters, required); frames follow the header in this order.
    ARRAYS: ClassVar[tuple[tuple[str, tuple[str, ...], bool], ...]] = ()
    # Header keys beyond format_version/seq/timestamp_ms/arrays: required, then optional.
    _KEYS: ClassVar[tuple[str, ...]] = ()
    _OPTIONAL_KEYS: ClassVar[tuple[str, ...]] = ()

    seq: int
    timestamp_ms: float = field(default_factory=now_ms)

    def __post_init__(self) -> None:
        self._set("seq", _int(self.TOPIC, "seq", self.seq))
        self._set("timestamp_ms", _float(self.TOPIC, "timestamp_ms", self.timestamp_ms, minimum=0.0))

    def _set(self, name: str, value: Any) -> None:
        # Normalising a field of a frozen dataclass inside __post_init__.
        object.__setattr__(self, name, value)

    @property
    def topic(self) -> str:
        """The first frame: dotted, so subscribers filter by prefix."""
        return self.TOPIC

    # --- serialisation ---

    def _header(self) -> dict[str, Any]:
        return {}

    def _arrays(self) -> list[tuple[str, np.ndarray]]:
        return [(name, getattr(self, name)) for name, _, _ in self.ARRAYS if getattr(self, name) is not None]

    def to_frames(self) -> list[bytes]:
        """``[topic, JSON header, array bytes...]``, all built before anything is sent."""
        header: dict[str, Any] = {"format_version": FORMAT_VERSION, "seq": self.seq, "timestamp_ms": self.timestamp_ms}
        header.update(self._header())
        arrays = self._arrays()
        if arrays:
            header["arrays"] = [{"name": name, "dtype": WIRE_DTYPE, "shape": list(a.shape)} for name, a in arrays]
        try:
            blob = json.dumps(header, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
        except (ValueError, TypeError, RecursionError) as error:  # UnicodeEncodeError: a lone surrogate
            raise MessageError(self.topic, "header", f"cannot be encoded as UTF-8 JSON: {error}") from None
        if len(blob) > MAX_HEADER_BYTES:
            raise MessageError(self.topic, "header", f"{len(blob)} bytes exceeds MAX_HEADER_BYTES={MAX_HEADER_BYTES}")
        return [self.topic.encode("ascii"), blob, *(array.tobytes() for _, array in arrays)]

    @classmethod
    def from_frames(cls, frames: Sequence[Any]) -> Any:
        """Decode ``frames`` as this message type; MessageError if they are anything else."""
        message = decode(frames)
        if not isinstance(message, cls):
            raise MessageError(message.topic, "topic", f"expected a {cls.TOPIC} message, got {type(message).__name__}")
        return message

    @classmethod
    def _from_header(cls, topic: str, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> _Message:
        _check_keys(topic, header, cls._KEYS, cls._OPTIONAL_KEYS)
        return cls(**header, **arrays)

    # --- comparison and display: arrays compare by value and print by shape ---

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if isinstance(mine, np.ndarray) or isinstance(theirs, np.ndarray):
                if not (
                    isinstance(mine, np.ndarray)
                    and isinstance(theirs, np.ndarray)
                    and mine.shape == theirs.shape
                    and np.array_equal(mine, theirs)
                ):
                    return False
            elif mine != theirs:
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # equal by value, mutable dict fields: not hashable

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                parts.append(f"{f.name}=<float32 {value.shape}>")
            else:
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


def _check_keys(topic: str, header: Mapping[str, Any], required: Sequence[str], optional: Sequence[str]) -> None:
    missing = [key for key in required if key not in header]
    if missing:
        raise MessageError(topic, missing[0], "field is missing from the header")
    unknown = sorted(set(header) - set(required) - set(optional))
    if unknown:
        raise MessageError(topic, unknown[0], f"unknown field (known: {', '.join((*required, *optional))})")


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class _SourcedMessage(_Message):
    """A message about one camera or tracker: the topic ends with ``.<source_id>``."""

    STREAM: ClassVar[str]  # messages of one source with the same STREAM share one seq counter

    source_id: str
    capture_timestamp_ms: float

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("source_id", _source_id(self.TOPIC, "source_id", self.source_id))
        self._set(
            "capture_timestamp_ms",
            _float(self.TOPIC, "capture_timestamp_ms", self.capture_timestamp_ms, minimum=0.0),
        )

    @property
    def topic(self) -> str:
        """``<TOPIC>.<source_id>``, e.g. ``skeleton.window.cam0``."""
        return f"{self.TOPIC}.{self.source_id}"

    @property
    def stream(self) -> tuple[str, str]:
        """(stream name, source id): the unit within which ``seq`` counts up by one."""
        return (self.STREAM, self.source_id)

    def _header(self) -> dict[str, Any]:
        return {"source_id": self.source_id, "capture_timestamp_ms": self.capture_timestamp_ms}


# ---------------------------------------------------------------------------------------------
# Capture side.


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class PoseFrame(_SourcedMessage):
    """Poses of every person one external tracker saw at one instant (input of ``--poses``).

    ``joints`` is float32 (M, V, 3) in the layout's own axes and units, exactly
    what ``calibration.mapping.to_canonical`` takes for ``layout`` (metres for
    every layout except ``azure_kinect32``, which is millimetres as the Azure
    Kinect SDK reports). M = 0 says the tracker saw nobody. ``confidence``,
    optional, is float32 (M, V) in [0, 1]; a joint the tracker could not place
    has confidence 0 and any finite coordinates (NaN is refused).
    ``capture_timestamp_ms`` is when the camera took the image.
    """

    TOPIC: ClassVar[str] = "pose.frame"
    STREAM: ClassVar[str] = "pose"
    ARRAYS: ClassVar[tuple[tuple[str, tuple[str, ...], bool], ...]] = (
        ("joints", ("M", "V", "C=3"), True),
        ("confidence", ("M", "V"), False),
    )
    _KEYS: ClassVar[tuple[str, ...]] = ("seq", "timestamp_ms", "source_id", "capture_timestamp_ms", "layout")

    layout: str
    joints: np.ndarray  # (M, V, 3)
    confidence: np.ndarray | None = None  # (M, V)

    def __post_init__(self) -> None:
        super().__post_init__()
        num_joints = _layout(self.TOPIC, self.layout)
        joints = _array(
            self.TOPIC, "joints", self.joints, ("M", "V", "C=3"),
            ((0, MAX_POSE_PERSONS), (num_joints, num_joints), (3, 3)),
        )  # fmt: skip
        self._set("joints", joints)
        if self.confidence is not None:
            persons = joints.shape[0]
            confidence = _array(
                self.TOPIC, "confidence", self.confidence, ("M", "V"), ((persons, persons), (num_joints, num_joints))
            )
            if confidence.size and (confidence.min() < 0.0 or confidence.max() > 1.0):
                raise MessageError(self.TOPIC, "confidence", "values must lie in [0, 1]")
            self._set("confidence", confidence)

    @property
    def num_persons(self) -> int:
        """M, the number of persons in this frame (0: nobody seen)."""
        return int(self.joints.shape[0])

    def _header(self) -> dict[str, Any]:
        return {**super()._header(), "layout": self.layout}


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class SkeletonWindow(_SourcedMessage):
    """A window of canonical skeletons, ready for inference.

    ``joints`` is float32 (T, M, V, 3): T frames at a uniform ``fps``, oldest
    first, the newest taken at ``capture_timestamp_ms``; M >= 1 persons; V joints
    of ``layout`` (the canonical ``ntu25``); a person absent in some frames has
    zeros there, as in NTU RGB+D. The publisher has done all preprocessing.
    When nobody is in view the capture sends :class:`NoPerson` instead: a
    window always holds at least one real person.
    """

    TOPIC: ClassVar[str] = "skeleton.window"
    STREAM: ClassVar[str] = "skeleton"
    ARRAYS: ClassVar[tuple[tuple[str, tuple[str, ...], bool], ...]] = (("joints", ("T", "M", "V", "C=3"), True),)
    _KEYS: ClassVar[tuple[str, ...]] = ("seq", "timestamp_ms", "source_id", "capture_timestamp_ms", "fps", "layout")

    fps: float
    joints: np.ndarray  # (T, M, V, 3)
    layout: str = "ntu25"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("fps", _float(self.TOPIC, "fps", self.fps, above=0.0, maximum=MAX_FPS))
        num_joints = _layout(self.TOPIC, self.layout)
        joints = _array(
            self.TOPIC, "joints", self.joints, ("T", "M", "V", "C=3"),
            ((1, MAX_WINDOW_FRAMES), (1, MAX_WINDOW_PERSONS), (num_joints, num_joints), (3, 3)),
        )  # fmt: skip
        self._set("joints", joints)

    @property
    def num_frames(self) -> int:
        """T, the number of frames in the window."""
        return int(self.joints.shape[0])

    @property
    def num_persons(self) -> int:
        """M, the number of persons in the window (>= 1)."""
        return int(self.joints.shape[1])

    @property
    def duration_ms(self) -> float:
        """The time the window spans, T / fps, in milliseconds."""
        return self.num_frames / self.fps * 1000.0

    def _header(self) -> dict[str, Any]:
        return {**super()._header(), "fps": self.fps, "layout": self.layout}


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class NoPerson(_SourcedMessage):
    """Nobody is in view of ``source_id`` at ``capture_timestamp_ms``: sent instead of a window.

    It shares its seq counter with the source's :class:`SkeletonWindow` messages
    (same ``stream``), so a ``skeleton.`` subscriber sees one gap-free sequence.
    """

    TOPIC: ClassVar[str] = "skeleton.no_person"
    STREAM: ClassVar[str] = "skeleton"
    _KEYS: ClassVar[tuple[str, ...]] = ("seq", "timestamp_ms", "source_id", "capture_timestamp_ms")


# ---------------------------------------------------------------------------------------------
# Inference side.


@dataclass(frozen=True)
class RankedLabel:
    """One of the top-k candidates of a decision: a class name, its score, whether it was seen in training."""

    label: str
    score: float
    seen: bool

    def __post_init__(self) -> None:
        topic = LabelEvent.TOPIC
        object.__setattr__(self, "label", _text(topic, "topk.label", self.label))
        if self.label == UNKNOWN_LABEL:
            raise MessageError(topic, "topk.label", f"{UNKNOWN_LABEL!r} is reserved, not a class name")
        object.__setattr__(self, "score", _float(topic, "topk.score", self.score))
        object.__setattr__(self, "seen", _bool(topic, "topk.seen", self.seen))

    def to_json(self) -> dict[str, Any]:
        """``{"label", "score", "seen"}``."""
        return {"label": self.label, "score": self.score, "seen": self.seen}


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class LabelEvent(_SourcedMessage):
    """One self-contained decision of the recognizer for one source (JSON only, no array).

    ``label`` is a class name, or ``"unknown"`` (:data:`UNKNOWN_LABEL`) when the
    recognizer will not name the action; ``unknown`` is derived from it when
    not given. ``seen`` says whether ``label`` is a class seen in training
    (None when unknown). ``topk`` is best first. ``status`` is ``"ok"`` for a
    decision, ``"no_person"`` when nobody is in view, ``"still"`` when the
    body in view stands still (no action to name, and its scores would only
    name the pose) and ``"warming_up"`` for a
    window with fewer frames than the model takes (our capture never sends
    one: its windows always have the model's length; other producers may);
    those three carry label ``"unknown"``, score 0, no
    top-k (build them with :meth:`no_decision`). ``timestamp_ms`` is when the
    event was published (also sent as ``publish_timestamp_ms``) and
    ``latency_ms`` = publish - capture time.
    """

    TOPIC: ClassVar[str] = "action.label"
    STREAM: ClassVar[str] = "action.label"
    _KEYS: ClassVar[tuple[str, ...]] = (
        "seq", "timestamp_ms", "source_id", "capture_timestamp_ms", "publish_timestamp_ms", "latency_ms",
        "status", "label", "score", "unknown", "seen", "topk",
    )  # fmt: skip

    label: str
    score: float
    topk: tuple[RankedLabel, ...] = ()
    unknown: bool | None = None
    seen: bool | None = None
    status: str = "ok"

    def __post_init__(self) -> None:
        super().__post_init__()
        topic = self.TOPIC
        status = _choice(topic, "status", self.status, LABEL_STATUSES)
        label = _text(topic, "label", self.label)
        score = _float(topic, "score", self.score)
        derived = label == UNKNOWN_LABEL
        unknown = derived if self.unknown is None else _bool(topic, "unknown", self.unknown)
        if unknown != derived:
            raise MessageError(topic, "unknown", f"is {unknown} but label is {label!r} (unknown <=> label == 'unknown')")
        if unknown:
            if self.seen is not None:
                raise MessageError(topic, "seen", f"must be null when the label is unknown, got {_show(self.seen)}")
            seen = None
        else:
            seen = _bool(topic, "seen", self.seen)
        topk = self._check_topk(self.topk)
        if status != "ok":
            if not unknown or topk or score != 0.0:
                raise MessageError(
                    topic, "status", f"{status!r} carries label 'unknown', score 0 and no topk; use LabelEvent.no_decision"
                )
        self._set("status", status)
        self._set("label", label)
        self._set("score", score)
        self._set("unknown", unknown)
        self._set("seen", seen)
        self._set("topk", topk)

    @classmethod
    def _check_topk(cls, value: Any) -> tuple[RankedLabel, ...]:
        topic = cls.TOPIC
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise MessageError(topic, "topk", f"must be a list of {{label, score, seen}}, got {_show(value)}")
        if len(value) > MAX_TOPK:
            raise MessageError(topic, "topk", f"must have at most {MAX_TOPK} entries, got {len(value)}")
        entries = []
        for i, entry in enumerate(value):
            if isinstance(entry, Mapping):
                _check_keys(topic, entry, ("label", "score", "seen"), ())
                entry = RankedLabel(**entry)
            elif not isinstance(entry, RankedLabel):
                raise MessageError(topic, f"topk[{i}]", f"must be {{label, score, seen}}, got {_show(entry)}")
            entries.append(entry)
        for i in range(1, len(entries)):
            if entries[i].score > entries[i - 1].score:
                raise MessageError(topic, "topk", f"must be sorted best first; entry {i} outscores entry {i - 1}")
        if len({entry.label for entry in entries}) != len(entries):
            raise MessageError(topic, "topk", "labels must be distinct")
        return tuple(entries)

    @classmethod
    def no_decision(
        cls,
        status: str,
        *,
        seq: int,
        source_id: str,
        capture_timestamp_ms: float,
        timestamp_ms: float | None = None,
    ) -> LabelEvent:
        """An event saying why there is no decision: ``status`` is ``"no_person"``, ``"still"`` or ``"warming_up"``."""
        if status == "ok":
            raise MessageError(cls.TOPIC, "status", "no_decision needs 'no_person', 'still' or 'warming_up', not 'ok'")
        return cls(
            seq=seq,
            source_id=source_id,
            capture_timestamp_ms=capture_timestamp_ms,
            timestamp_ms=now_ms() if timestamp_ms is None else timestamp_ms,
            label=UNKNOWN_LABEL,
            score=0.0,
            status=status,
        )

    @property
    def publish_timestamp_ms(self) -> float:
        """When the event was published: the same instant as ``timestamp_ms``."""
        return self.timestamp_ms

    @property
    def latency_ms(self) -> float:
        """Publish time minus capture time of the newest frame the decision used."""
        return self.timestamp_ms - self.capture_timestamp_ms

    def _header(self) -> dict[str, Any]:
        return {
            **super()._header(),
            "publish_timestamp_ms": self.publish_timestamp_ms,
            "latency_ms": self.latency_ms,
            "status": self.status,
            "label": self.label,
            "score": self.score,
            "unknown": self.unknown,
            "seen": self.seen,
            "topk": [entry.to_json() for entry in self.topk],
        }

    @classmethod
    def _from_header(cls, topic: str, header: dict[str, Any], arrays: dict[str, np.ndarray]) -> LabelEvent:
        _check_keys(topic, header, cls._KEYS, ())
        publish = header.pop("publish_timestamp_ms")
        latency = header.pop("latency_ms")
        event = cls(**header)
        # The two derived fields are for subscribers that read raw JSON; they must agree.
        if _float(topic, "publish_timestamp_ms", publish) != event.timestamp_ms:
            raise MessageError(topic, "publish_timestamp_ms", f"{publish} differs from timestamp_ms {event.timestamp_ms}")
        if abs(_float(topic, "latency_ms", latency) - event.latency_ms) > 1e-3:
            raise MessageError(topic, "latency_ms", f"{latency} is not publish - capture time ({event.latency_ms})")
        return event


# ---------------------------------------------------------------------------------------------
# Control socket (REQ/REP): list, add and remove actions while running.


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class ControlRequest(_Message):
    """A command for the running recognizer.

    ``list`` and ``status`` take no arguments; ``add`` needs ``name`` plus its
    local (``ld``) and global (``gd``) description, as in
    ``fsvae_core/descriptions/*.json``, and may give ``parts``, one sentence
    per body part (an object; which parts it must name is the bundle's to
    check); ``remove`` needs ``name``.

    An ``add`` with ``show_s`` (MIN_SHOW_S to MAX_SHOW_S seconds) is an action
    shown live: the windows of the person in front of camera ``source_id``
    (may be left out when one camera sends windows) over the next ``show_s``
    seconds place it, as recordings do for ``fsvae actions add --example``;
    ``show_times`` (1 to MAX_SHOW_TIMES) asks for that many showings, each
    its own recording, one after another with a pause between.
    An ``add`` with ``examples`` is an action shown by recordings: their
    windows, (N, T, M, V=25, 3) in the canonical ``ntu25`` layout as the
    capture makes them (T the recognizer's window, from ``status``), one
    recording after another, ``example_windows`` saying how many each gave.
    """

    TOPIC: ClassVar[str] = "control.request"
    ARRAYS: ClassVar[tuple[tuple[str, tuple[str, ...], bool], ...]] = (
        ("examples", ("N", "T", "M", "V=25", "C=3"), False),
    )
    _KEYS: ClassVar[tuple[str, ...]] = ("seq", "timestamp_ms", "command")
    _OPTIONAL_KEYS: ClassVar[tuple[str, ...]] = (
        "name", "ld", "gd", "parts", "show_s", "show_times", "source_id", "example_windows",
    )

    command: str
    name: str | None = None
    ld: str | None = None
    gd: str | None = None
    parts: Mapping[str, str] | None = None
    show_s: float | None = None
    show_times: int | None = None
    source_id: str | None = None
    examples: np.ndarray | None = None  # (N, T, M, V, 3)
    example_windows: Sequence[int] | None = None  # windows per recording, summing to N

    def __post_init__(self) -> None:
        super().__post_init__()
        topic = self.TOPIC
        command = _choice(topic, "command", self.command, CONTROL_COMMANDS)
        needs = {"list": (), "status": (), "add": ("name", "ld", "gd"), "remove": ("name",)}[command]
        for name in ("name", "ld", "gd"):
            value = getattr(self, name)
            if name in needs:
                limit = MAX_NAME_CHARS if name == "name" else MAX_TEXT_CHARS
                self._set(name, _text(topic, name, value, limit))
            elif value is not None:
                raise MessageError(topic, name, f"is not an argument of {command!r} (it takes {', '.join(needs) or 'none'})")
        if self.parts is not None:
            if command != "add":
                raise MessageError(topic, "parts", f"is not an argument of {command!r}")
            self._set("parts", _part_texts(topic, self.parts))
        if self.show_s is not None:
            if command != "add":
                raise MessageError(topic, "show_s", f"is not an argument of {command!r}")
            self._set("show_s", _float(topic, "show_s", self.show_s, MIN_SHOW_S, MAX_SHOW_S))
        if self.show_times is not None:
            if self.show_s is None:
                raise MessageError(topic, "show_times", "counts the showings of an action shown live: it goes with show_s")
            self._set("show_times", _int(topic, "show_times", self.show_times, 1, MAX_SHOW_TIMES))
        if self.source_id is not None:
            if self.show_s is None:
                raise MessageError(topic, "source_id", "names the camera of an action shown live: it goes with show_s")
            self._set("source_id", _source_id(topic, "source_id", self.source_id))
        if (self.examples is None) != (self.example_windows is None):
            raise MessageError(topic, "example_windows" if self.examples is not None else "examples",
                               "examples and example_windows go together")  # fmt: skip
        if self.examples is not None:
            self._check_examples(command)
        if command == "add" and self.name == UNKNOWN_LABEL:
            raise MessageError(topic, "name", f"{UNKNOWN_LABEL!r} is reserved for undecided labels")

    def _check_examples(self, command: str) -> None:
        topic = self.TOPIC
        if command != "add" or self.show_s is not None:
            raise MessageError(topic, "examples", "go with an add that is not shown live (show_s)")
        joints = LAYOUTS["ntu25"].num_joints
        examples = _array(topic, "examples", self.examples, ("N", "T", "M", "V", "C=3"),
                          ((1, MAX_SEQ), (1, MAX_WINDOW_FRAMES), (1, MAX_WINDOW_PERSONS), (joints, joints), (3, 3)))
        counts = self.example_windows
        if isinstance(counts, (str, bytes, Mapping)) or not isinstance(counts, Sequence) or not counts:
            raise MessageError(topic, "example_windows", f"must be a non-empty list of integers, got {_show(counts)}")
        if len(counts) > MAX_EXAMPLES:
            raise MessageError(topic, "example_windows", f"names {len(counts)} recordings, at most {MAX_EXAMPLES}")
        counts = tuple(_int(topic, "example_windows", n, minimum=1) for n in counts)
        if sum(counts) != len(examples):
            raise MessageError(topic, "example_windows", f"sum to {sum(counts)}, but examples holds {len(examples)} "
                                                         "windows")  # fmt: skip
        self._set("examples", examples)
        self._set("example_windows", counts)

    def recordings(self) -> list[np.ndarray]:
        """``examples`` split into its recordings, (n, T, M, V, 3) each; [] without examples."""
        if self.examples is None:
            return []
        return np.split(self.examples, np.cumsum(self.example_windows)[:-1])

    def _header(self) -> dict[str, Any]:
        header: dict[str, Any] = {"command": self.command}
        for name in ("name", "ld", "gd"):
            if getattr(self, name) is not None:
                header[name] = getattr(self, name)
        if self.parts is not None:
            header["parts"] = dict(self.parts)
        for name in ("show_s", "show_times", "source_id"):
            if getattr(self, name) is not None:
                header[name] = getattr(self, name)
        if self.example_windows is not None:
            header["example_windows"] = list(self.example_windows)
        return header


def _part_texts(topic: str, value: Any) -> dict[str, str]:
    """A copy of ``value`` checked as at most MAX_PARTS part names, each with one sentence."""
    if not isinstance(value, Mapping):
        raise MessageError(topic, "parts", f"must be an object of part name -> sentence, got {_show(value)}")
    if not 0 < len(value) <= MAX_PARTS:
        raise MessageError(topic, "parts", f"must name 1 to {MAX_PARTS} parts, got {len(value)}")
    return {_text(topic, "parts", key): _text(topic, f"parts.{key}", text, MAX_TEXT_CHARS) for key, text in value.items()}


@dataclass(frozen=True)
class ActionInfo:
    """One action the recognizer knows: its name, whether it was seen in training, whether a user added it
    (rather than training, which also writes classes known only by their text; on the wire only when true), and
    how many recordings showed it (0: known by its text; on the wire only when above 0)."""

    name: str
    seen: bool
    examples: int = 0
    added: bool = False

    def __post_init__(self) -> None:
        topic = ControlReply.TOPIC
        object.__setattr__(self, "name", _text(topic, "actions.name", self.name))
        object.__setattr__(self, "seen", _bool(topic, "actions.seen", self.seen))
        object.__setattr__(self, "examples", _int(topic, "actions.examples", self.examples))
        object.__setattr__(self, "added", _bool(topic, "actions.added", self.added))

    def to_json(self) -> dict[str, Any]:
        """``{"name", "seen"}``, ``"examples"`` when above 0 and ``"added"`` when true."""
        return {
            "name": self.name,
            "seen": self.seen,
            **({"examples": self.examples} if self.examples else {}),
            **({"added": True} if self.added else {}),
        }


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class ControlReply(_Message):
    """The answer to one :class:`ControlRequest`; ``seq`` echoes the request's.

    ``ok`` false comes with an ``error`` text and nothing else; ``actions``
    answers ``list`` (and may follow ``add``/``remove``), ``status`` answers
    ``status`` with any JSON object.
    """

    TOPIC: ClassVar[str] = "control.reply"
    _KEYS: ClassVar[tuple[str, ...]] = ("seq", "timestamp_ms", "ok")
    _OPTIONAL_KEYS: ClassVar[tuple[str, ...]] = ("error", "actions", "status")

    ok: bool
    error: str | None = None
    actions: tuple[ActionInfo, ...] | None = None
    status: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        topic = self.TOPIC
        self._set("ok", _bool(topic, "ok", self.ok))
        if self.ok:
            if self.error is not None:
                raise MessageError(topic, "error", "must be absent when ok is true")
        else:
            self._set("error", _text(topic, "error", self.error, MAX_TEXT_CHARS, free=True))
            if self.actions is not None or self.status is not None:
                raise MessageError(topic, "ok", "a failed reply carries only its error")
        if self.actions is not None:
            self._set("actions", self._check_actions(self.actions))
        if self.status is not None:
            if not isinstance(self.status, Mapping) or not all(isinstance(k, str) for k in self.status):
                raise MessageError(topic, "status", f"must be a JSON object with string keys, got {_show(self.status)}")
            try:
                # A detached plain copy that is known to serialise.
                self._set("status", json.loads(json.dumps(dict(self.status), allow_nan=False)))
            except (TypeError, ValueError, RecursionError) as error:
                raise MessageError(topic, "status", f"is not JSON-serialisable: {error}") from None

    @classmethod
    def _check_actions(cls, value: Any) -> tuple[ActionInfo, ...]:
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise MessageError(cls.TOPIC, "actions", f"must be a list of {{name, seen}}, got {_show(value)}")
        actions = []
        for i, entry in enumerate(value):
            if isinstance(entry, Mapping):
                _check_keys(cls.TOPIC, entry, ("name", "seen"), ("examples", "added"))
                entry = ActionInfo(**entry)
            elif not isinstance(entry, ActionInfo):
                raise MessageError(cls.TOPIC, f"actions[{i}]", f"must be {{name, seen}}, got {_show(entry)}")
            actions.append(entry)
        return tuple(actions)

    @classmethod
    def success(
        cls, seq: int, *, actions: Sequence[ActionInfo] | None = None, status: Mapping[str, Any] | None = None
    ) -> ControlReply:
        """A successful reply to request ``seq``."""
        return cls(seq=seq, ok=True, actions=None if actions is None else tuple(actions), status=status)

    @classmethod
    def failure(cls, seq: int, error: str) -> ControlReply:
        """A failed reply to request ``seq``, saying why.

        ``error`` may quote what a peer sent: characters a text may not hold
        are escaped (``\\u202e``) and it is cut to MAX_TEXT_CHARS, so that
        building a failure never fails.
        """
        text = escape_refused(str(error), allow="\n\t")[:MAX_TEXT_CHARS]
        return cls(seq=seq, ok=False, error=text if text.strip() else "failed")

    def _header(self) -> dict[str, Any]:
        header: dict[str, Any] = {"ok": self.ok}
        if self.error is not None:
            header["error"] = self.error
        if self.actions is not None:
            header["actions"] = [action.to_json() for action in self.actions]
        if self.status is not None:
            header["status"] = self.status
        return header


# ---------------------------------------------------------------------------------------------
# Logs, on the same PUB socket as the messages they are about.


@dataclass(frozen=True, kw_only=True, eq=False, repr=False)
class LogEvent(_Message):
    """A human-readable event, e.g. a warning about dropped windows; topic ``log.<level>``."""

    TOPIC: ClassVar[str] = "log"
    _KEYS: ClassVar[tuple[str, ...]] = ("seq", "timestamp_ms", "level", "source", "text")

    level: str
    source: str  # which process or camera said it, e.g. "inference"
    text: str

    def __post_init__(self) -> None:
        super().__post_init__()
        self._set("level", _choice(self.TOPIC, "level", self.level, LOG_LEVELS))
        self._set("source", _source_id(self.TOPIC, "source", self.source))
        self._set("text", _text(self.TOPIC, "text", self.text, MAX_TEXT_CHARS, free=True))

    @property
    def topic(self) -> str:
        """``log.<level>``, e.g. ``log.warning``."""
        return f"{self.TOPIC}.{self.level}"

    def _header(self) -> dict[str, Any]:
        return {"level": self.level, "source": self.source, "text": self.text}


Message = PoseFrame | SkeletonWindow | NoPerson | LabelEvent | ControlRequest | ControlReply | LogEvent

# Fixed topics match exactly; the others are a prefix followed by ".<source_id>" or ".<level>".
_EXACT_TOPICS: dict[str, type[_Message]] = {cls.TOPIC: cls for cls in (ControlRequest, ControlReply)}
_PREFIX_TOPICS: dict[str, type[_Message]] = {
    cls.TOPIC + ".": cls for cls in (PoseFrame, SkeletonWindow, NoPerson, LabelEvent, LogEvent)
}
_MAX_ARRAYS = max(len(cls.ARRAYS) for cls in (*_EXACT_TOPICS.values(), *_PREFIX_TOPICS.values()))
MAX_FRAMES = 2 + _MAX_ARRAYS  # topic, header, arrays


def label_topic(source_id: str | None = None) -> str:
    """Subscription prefix for labels: every source's, or one source's (``action.label.cam0``).

    ZeroMQ filters by prefix, so ``action.label.cam1`` also matches ``cam10``:
    give sources ids that are not prefixes of one another.
    """
    if source_id is None:
        return LabelEvent.TOPIC
    return f"{LabelEvent.TOPIC}.{_source_id(LabelEvent.TOPIC, 'source_id', source_id)}"


def skeleton_topics(source_id: str | None = None) -> tuple[str, str]:
    """Subscription prefixes for windows and no-person notices, of every source or of one."""
    if source_id is None:
        return (SkeletonWindow.TOPIC, NoPerson.TOPIC)
    source_id = _source_id("skeleton", "source_id", source_id)
    return (f"{SkeletonWindow.TOPIC}.{source_id}", f"{NoPerson.TOPIC}.{source_id}")


def pose_topic(source_id: str | None = None) -> str:
    """Subscription prefix for pose frames, of every tracker or of one."""
    if source_id is None:
        return PoseFrame.TOPIC
    return f"{PoseFrame.TOPIC}.{_source_id(PoseFrame.TOPIC, 'source_id', source_id)}"


# ---------------------------------------------------------------------------------------------
# Decoding.


class _JsonProblem(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _JsonProblem(f"key {key!r} appears twice")
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise _JsonProblem(f"{name} is not allowed (numbers must be finite)")


def _parse_int(text: str) -> int:
    # Before int(): Python refuses over 4300 digits with a ValueError, and parses long ones slowly.
    digits = len(text) - text.startswith("-")
    if digits > MAX_INT_DIGITS:
        raise _JsonProblem(f"an integer of {digits} digits exceeds MAX_INT_DIGITS={MAX_INT_DIGITS}")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _JsonProblem(f"a number of {len(text)} characters exceeds MAX_NUMBER_CHARS={MAX_NUMBER_CHARS}")
    value = float(text)
    if not math.isfinite(value):
        raise _JsonProblem(f"the number {text} is out of range (numbers must be finite)")
    return value


_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89abAB]", re.ASCII)  # "\ud800" in the JSON text
_SURROGATE = re.compile("[\ud800-\udfff]")


def _holds_lone_surrogate(value: Any) -> bool:
    """Whether any string in a parsed JSON value holds a surrogate json.loads left unpaired."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _buffer(index: int, frame: Any) -> memoryview:
    """A byte view of one frame: bytes, bytearray, memoryview or a zmq.Frame (via .buffer)."""
    try:
        view = memoryview(frame.buffer if hasattr(frame, "buffer") else frame)
        return view.cast("B") if view.format != "B" or view.ndim != 1 else view
    except TypeError:
        raise MessageError(None, f"frame {index}", f"must be contiguous bytes, got {type(frame).__name__}") from None


def _class_for(topic: str) -> type[_Message]:
    cls = _EXACT_TOPICS.get(topic)
    if cls is not None:
        return cls
    for prefix, cls in _PREFIX_TOPICS.items():
        if topic.startswith(prefix):
            return cls
    known = ", ".join([*_EXACT_TOPICS, *(prefix + "*" for prefix in _PREFIX_TOPICS)])
    raise MessageError(topic, "topic", f"unknown topic (known: {known})")


def _parse_arrays(topic: str, cls: type[_Message], spec: Any, buffers: list[memoryview]) -> dict[str, np.ndarray]:
    if spec is None:
        spec = []
    if not isinstance(spec, list):
        raise MessageError(topic, "arrays", f"must be a list of {{name, dtype, shape}}, got {_show(spec)}")
    names = [entry.get("name") if isinstance(entry, dict) else None for entry in spec]
    declared = [name for name, _, _ in cls.ARRAYS]
    required = [name for name, _, needed in cls.ARRAYS if needed]
    # Arrays come in declaration order, every required one present.
    if not all(isinstance(n, str) for n in names) or [n for n in declared if n in names] != names or any(
        n not in names for n in required
    ):
        raise MessageError(
            topic, "arrays", f"names {names} do not fit this message (arrays {declared}, required {required}, in that order)"
        )
    if len(buffers) != len(spec):
        parts = ", ".join(["topic", "header", *names])
        raise MessageError(topic, "frames", f"expected {2 + len(spec)} frames ({parts}), got {2 + len(buffers)}")
    arrays = {}
    dims_of = {name: dims for name, dims, _ in cls.ARRAYS}
    for entry, name, buffer in zip(spec, names, buffers):
        _check_keys(topic, entry, ("name", "dtype", "shape"), ())
        if entry["dtype"] != WIRE_DTYPE:
            problem = f"must be {WIRE_DTYPE!r} (little-endian float32), got {_show(entry['dtype'])}"
            raise MessageError(topic, f"{name}.dtype", problem)
        shape = entry["shape"]
        dims = dims_of[name]
        if (
            not isinstance(shape, list)
            or len(shape) != len(dims)
            or not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= MAX_MESSAGE_BYTES for n in shape)
        ):
            problem = f"must be {len(dims)} non-negative integers ({', '.join(dims)}), got {_show(shape)}"
            raise MessageError(topic, f"{name}.shape", problem)
        needed = math.prod(shape) * 4
        if needed != len(buffer):
            raise MessageError(topic, f"{name}.shape", f"{shape} needs {needed} bytes but its frame has {len(buffer)}")
        # Zero-copy: the array is a read-only view of the received frame.
        arrays[name] = np.frombuffer(buffer, dtype=WIRE_DTYPE).reshape(shape)
    return arrays


def decode(frames: Sequence[Any]) -> Message:
    """The message that ``frames`` (``[topic, header, arrays...]``) encode.

    Frames may be bytes, bytearray, memoryview or ``zmq.Frame``; arrays in the
    result are read-only views of them. Raises :class:`MessageError` naming the
    topic and field for anything malformed, and no other exception whatever the
    frames hold; never unpickles.
    """
    try:
        return _decode(frames)
    except MessageError:
        raise
    except Exception as error:  # noqa: BLE001 - the last line of defence against hostile input
        problem = f"cannot be read ({type(error).__name__}: {_printable(error, 200)})"
        raise MessageError(None, "message", problem) from None


def _decode(frames: Sequence[Any]) -> Message:
    if isinstance(frames, (bytes, bytearray, memoryview, str)) or not isinstance(frames, Sequence):
        raise MessageError(None, "frames", f"must be a list of byte frames, got {type(frames).__name__}")
    if not 2 <= len(frames) <= MAX_FRAMES:
        problem = f"expected 2 to {MAX_FRAMES} frames (topic, JSON header, arrays), got {len(frames)}"
        raise MessageError(None, "frames", problem)
    buffers = [_buffer(i, frame) for i, frame in enumerate(frames)]
    if len(buffers[0]) > MAX_TOPIC_BYTES:
        raise MessageError(None, "topic", f"frame of {len(buffers[0])} bytes exceeds {MAX_TOPIC_BYTES}")
    try:
        topic = bytes(buffers[0]).decode("ascii")
    except UnicodeDecodeError:
        raise MessageError(None, "topic", f"is not ASCII: {bytes(buffers[0])[:40]!r}") from None
    if not topic.isprintable():
        raise MessageError(None, "topic", f"has control characters: {topic[:40]!r}")
    cls = _class_for(topic)
    total = sum(len(b) for b in buffers)
    if total > MAX_MESSAGE_BYTES:
        raise MessageError(topic, "message", f"{total} bytes exceeds MAX_MESSAGE_BYTES={MAX_MESSAGE_BYTES}")
    if len(buffers) > 2 + len(cls.ARRAYS):
        raise MessageError(topic, "frames", f"expected at most {2 + len(cls.ARRAYS)} frames, got {len(buffers)}")
    if len(buffers[1]) > MAX_HEADER_BYTES:
        raise MessageError(topic, "header", f"{len(buffers[1])} bytes exceeds MAX_HEADER_BYTES={MAX_HEADER_BYTES}")
    try:
        text = bytes(buffers[1]).decode("utf-8")
    except UnicodeDecodeError as error:
        raise MessageError(topic, "header", f"is not UTF-8 ({error.reason} at byte {error.start})") from None
    try:
        header = json.loads(
            text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants,
            parse_int=_parse_int, parse_float=_parse_float,
        )  # fmt: skip
    except json.JSONDecodeError as error:
        problem = f"is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        raise MessageError(topic, "header", problem) from None
    except _JsonProblem as error:
        raise MessageError(topic, "header", str(error)) from None
    except RecursionError:
        raise MessageError(topic, "header", "JSON is nested too deeply") from None
    except ValueError as error:  # any other number or text json could not turn into a value
        raise MessageError(topic, "header", f"holds a value that cannot be read: {error}") from None
    if _ESCAPED_SURROGATE.search(text) and _holds_lone_surrogate(header):
        raise MessageError(topic, "header", "holds a lone UTF-16 surrogate escape (not encodable as UTF-8)")
    if not isinstance(header, dict):
        raise MessageError(topic, "header", f"must be a JSON object, got {type(header).__name__}")
    if "format_version" not in header:
        raise MessageError(topic, "format_version", "field is missing from the header")
    version = header.pop("format_version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise MessageError(topic, "format_version", f"must be an integer, got {_show(version)}")
    if version != FORMAT_VERSION:
        problem = f"version {version} is not supported (this decoder reads {FORMAT_VERSION})"
        raise MessageError(topic, "format_version", problem)
    arrays = _parse_arrays(topic, cls, header.pop("arrays", None), buffers[2:])
    try:
        message = cls._from_header(topic, header, arrays)
    except MessageError as error:
        # Constructors know only the topic family; the peer should see the topic it sent.
        raise MessageError(topic, error.field, error.problem) from None
    if message.topic != topic:
        raise MessageError(topic, "topic", f"does not match the header, which gives {message.topic!r}")
    return message  # type: ignore[return-value]
