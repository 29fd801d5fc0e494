"""The wire format: every message round-trips, and every malformed input is a MessageError naming its field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from realtime.messages import (
    FORMAT_VERSION,
    MAX_HEADER_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_WINDOW_FRAMES,
    MAX_WINDOW_PERSONS,
    ActionInfo,
    ControlReply,
    ControlRequest,
    LabelEvent,
    LogEvent,
    MessageError,
    NoPerson,
    PoseFrame,
    RankedLabel,
    SkeletonWindow,
    decode,
    label_topic,
    skeleton_topics,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "messages.md"
RNG = np.random.default_rng(0)


def window(**overrides) -> SkeletonWindow:
    fields = dict(
        seq=7,
        source_id="cam0",
        capture_timestamp_ms=1_700_000_000_000.0,
        timestamp_ms=1_700_000_000_012.5,
        fps=30.0,
        joints=RNG.standard_normal((30, 2, 25, 3)).astype(np.float32),  # (T, M, V, 3)
    )
    fields.update(overrides)
    return SkeletonWindow(**fields)


def label_event(**overrides) -> LabelEvent:
    fields = dict(
        seq=3,
        source_id="cam0",
        capture_timestamp_ms=1000.0,
        timestamp_ms=1042.5,
        label="wave",
        score=0.81,
        seen=False,
        topk=(RankedLabel("wave", 0.81, False), RankedLabel("clap", 0.4, True)),
    )
    fields.update(overrides)
    return LabelEvent(**fields)


def every_message() -> list:
    joints = RNG.standard_normal((2, 33, 3)).astype(np.float32)
    return [
        PoseFrame(seq=1, source_id="mp", capture_timestamp_ms=5.0, layout="mediapipe33", joints=joints),
        PoseFrame(
            seq=2, source_id="k4a", capture_timestamp_ms=5.0, layout="azure_kinect32",
            joints=np.zeros((1, 32, 3)), confidence=np.full((1, 32), 0.5),
        ),  # fmt: skip
        PoseFrame(seq=3, source_id="mp", capture_timestamp_ms=5.0, layout="mediapipe33", joints=np.zeros((0, 33, 3))),
        window(),
        NoPerson(seq=8, source_id="cam0", capture_timestamp_ms=2000.0),
        label_event(),
        label_event(label="unknown", seen=None, score=0.2),
        LabelEvent.no_decision("no_person", seq=4, source_id="cam0", capture_timestamp_ms=1.0),
        LabelEvent.no_decision("warming_up", seq=5, source_id="cam0", capture_timestamp_ms=1.0),
        ControlRequest(seq=1, command="list"),
        ControlRequest(seq=2, command="status"),
        ControlRequest(seq=3, command="add", name="juggle", ld="hands toss and catch", gd="juggling balls"),
        ControlRequest(seq=4, command="remove", name="juggle"),
        ControlReply.success(1, actions=[ActionInfo("wave", False), ActionInfo("clap", True)]),
        ControlReply.success(2, status={"fps": 29.5, "sources": ["cam0"], "nested": {"a": None}}),
        ControlReply.failure(3, "no action named 'juggle'"),
        LogEvent(seq=1, level="warning", source="inference", text="dropped 3 stale windows"),
    ]


@pytest.mark.parametrize("message", every_message(), ids=lambda m: m.topic)
def test_every_message_round_trips(message):
    frames = message.to_frames()
    assert all(isinstance(frame, bytes) for frame in frames)
    assert frames[0] == message.topic.encode()
    assert json.loads(frames[1])["format_version"] == FORMAT_VERSION
    again = decode(frames)
    assert type(again) is type(message)
    assert again == message
    assert type(message).from_frames(frames) == message


def test_topics_are_dotted_and_end_with_the_source():
    assert window().topic == "skeleton.window.cam0"
    assert NoPerson(seq=0, source_id="cam1", capture_timestamp_ms=0.0).topic == "skeleton.no_person.cam1"
    assert label_event(source_id="cam2").topic == "action.label.cam2"
    assert LogEvent(seq=0, level="error", source="capture", text="x").topic == "log.error"
    assert label_topic() == "action.label" and label_topic("cam0") == "action.label.cam0"
    assert skeleton_topics("cam0") == ("skeleton.window.cam0", "skeleton.no_person.cam0")


def test_decoded_arrays_are_zero_copy_read_only_views():
    frames = window().to_frames()
    decoded = decode(frames)
    assert np.shares_memory(decoded.joints, np.frombuffer(frames[2], dtype=np.uint8))
    assert not decoded.joints.flags.writeable


def test_construction_copies_caller_arrays_and_converts_to_float32():
    joints = np.zeros((4, 1, 25, 3), dtype=np.float64)
    message = window(joints=joints)
    joints[:] = 1.0  # the caller's later writes must not reach the frozen message
    assert message.joints.dtype == np.float32 and not message.joints.any()
    with pytest.raises(ValueError):
        message.joints[0] = 1.0


def test_from_frames_of_the_wrong_type_names_the_topic():
    with pytest.raises(MessageError, match="expected a skeleton.window message"):
        SkeletonWindow.from_frames(label_event().to_frames())


def test_label_event_json_has_every_documented_field():
    header = json.loads(label_event().to_frames()[1])
    documented = {
        "format_version", "seq", "timestamp_ms", "source_id", "capture_timestamp_ms", "publish_timestamp_ms",
        "latency_ms", "status", "label", "score", "unknown", "seen", "topk",
    }  # fmt: skip
    assert set(header) == documented
    assert header["latency_ms"] == pytest.approx(42.5)
    assert header["publish_timestamp_ms"] == header["timestamp_ms"] == 1042.5
    assert header["topk"][0] == {"label": "wave", "score": 0.81, "seen": False}
    text = DOCS.read_text(encoding="utf-8")
    for name in documented:
        assert f"`{name}`" in text, f"docs/messages.md does not document {name}"


def test_docs_subscriber_example_is_ten_lines_of_python():
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    example = next(block for block in blocks if "action.label" in block)
    assert len(example.strip().splitlines()) <= 10
    compile(example, "docs/messages.md", "exec")


def test_no_decision_events_carry_no_guess():
    event = LabelEvent.no_decision("no_person", seq=1, source_id="cam0", capture_timestamp_ms=1.0)
    assert (event.label, event.unknown, event.seen, event.topk, event.score) == ("unknown", True, None, (), 0.0)
    with pytest.raises(MessageError, match="status"):
        label_event(status="no_person")


# --- constructors reject contradictions at once -------------------------------------------------


@pytest.mark.parametrize(
    "build, field",
    [
        (lambda: window(joints=np.zeros((30, 1, 20, 3))), "joints"),  # V does not fit ntu25
        (lambda: window(joints=np.zeros((MAX_WINDOW_FRAMES + 1, 1, 25, 3))), "joints"),
        (lambda: window(joints=np.zeros((30, MAX_WINDOW_PERSONS + 1, 25, 3))), "joints"),
        (lambda: window(joints=np.zeros((30, 0, 25, 3))), "joints"),  # nobody: send NoPerson
        (lambda: window(joints=np.zeros((30, 1, 25, 3), dtype=np.int32)), "joints"),
        (lambda: window(joints=np.full((30, 1, 25, 3), np.nan)), "joints"),
        (lambda: window(fps=0), "fps"),
        (lambda: window(fps=float("inf")), "fps"),
        (lambda: window(seq=-1), "seq"),
        (lambda: window(seq=True), "seq"),
        (lambda: window(source_id="cam.0"), "source_id"),
        (lambda: window(layout="coco17"), "layout"),
        (
            lambda: PoseFrame(seq=0, source_id="a", capture_timestamp_ms=0, layout="ntu25", joints=np.zeros((1, 33, 3))),
            "joints",
        ),
        (
            lambda: PoseFrame(
                seq=0, source_id="a", capture_timestamp_ms=0, layout="ntu25",
                joints=np.zeros((1, 25, 3)), confidence=np.full((1, 25), 2.0),
            ),
            "confidence",
        ),  # fmt: skip
        (lambda: label_event(label="unknown"), "seen"),  # unknown label claims seen=False
        (lambda: label_event(seen=None), "seen"),
        (lambda: label_event(unknown=True), "unknown"),
        (lambda: label_event(status="asleep"), "status"),
        (lambda: label_event(topk=(RankedLabel("a", 0.1, True), RankedLabel("b", 0.9, True))), "topk"),
        (lambda: label_event(score=float("nan")), "score"),
        (lambda: RankedLabel("unknown", 0.5, True), "topk.label"),
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y"), "gd"),
        (lambda: ControlRequest(seq=0, command="list", name="x"), "name"),
        (lambda: ControlRequest(seq=0, command="jump"), "command"),
        (lambda: ControlRequest(seq=0, command="add", name="unknown", ld="a", gd="b"), "name"),
        (lambda: ControlReply(seq=0, ok=True, error="but"), "error"),
        (lambda: ControlReply(seq=0, ok=False), "error"),
        (lambda: ControlReply(seq=0, ok=True, status={"x": object()}), "status"),
        (lambda: LogEvent(seq=0, level="fatal", source="x", text="y"), "level"),
    ],
)
def test_constructors_reject_bad_fields(build, field):
    with pytest.raises(MessageError) as caught:
        build()
    assert caught.value.field == field, str(caught.value)
    assert field in str(caught.value)


# --- the decoder rejects anything a peer could get wrong ----------------------------------------


def _with_header(frames: list[bytes], change) -> list[bytes]:
    header = json.loads(frames[1])
    change(header)
    return [frames[0], json.dumps(header).encode(), *frames[2:]]


def _set(key, value):
    return lambda header: header.__setitem__(key, value)


def _shape(shape):
    return lambda header: header["arrays"][0].__setitem__("shape", shape)


W = window(joints=np.ones((2, 1, 25, 3), dtype=np.float32)).to_frames()
L = label_event().to_frames()
NAN_JOINTS = np.ones((2, 1, 25, 3), dtype=np.float32)
NAN_JOINTS[1, 0, 4, 2] = np.nan

MALFORMED = {
    "one frame": ([W[0]], "frames"),
    "extra frame": ([*L, b"x"], "frames"),
    "missing array frame": (W[:2], "frames"),
    "not a list": (b"".join(W), "frames"),
    "str frame": ([W[0], W[1].decode(), W[2]], "frame 1"),
    "unknown topic": ([b"weather.report", L[1]], "topic"),
    "binary topic": ([b"\xff\xfe", L[1]], "topic"),
    "non-UTF-8 header": ([L[0], b"\xff\xfe{}"], "header"),
    "invalid JSON": ([L[0], b'{"seq": 1,'], "header"),
    "header not an object": ([L[0], b"[1, 2]"], "header"),
    "NaN literal": ([L[0], L[1].replace(b'"score":0.81', b'"score":NaN')], "header"),
    "duplicate key": ([L[0], L[1][:-1] + b',"seq":4}'], "header"),
    "missing version": (_with_header(L, lambda h: h.pop("format_version")), "format_version"),
    "unknown version": (_with_header(L, _set("format_version", 2)), "format_version"),
    "missing field": (_with_header(L, lambda h: h.pop("score")), "score"),
    "unknown field": (_with_header(L, _set("colour", "red")), "colour"),
    "seq as string": (_with_header(L, _set("seq", "3")), "seq"),
    "seq as bool": (_with_header(L, _set("seq", True)), "seq"),
    "score as string": (_with_header(L, _set("score", "high")), "score"),
    "seen as int": (_with_header(L, _set("seen", 1)), "seen"),
    "topk entry": (_with_header(L, _set("topk", [{"label": "wave"}])), "score"),
    "latency disagrees": (_with_header(L, _set("latency_ms", 1.0)), "latency_ms"),
    "topic/source mismatch": ([b"action.label.cam9", L[1]], "topic"),
    "dtype float64": (_with_header(W, lambda h: h["arrays"][0].__setitem__("dtype", "<f8")), "joints.dtype"),
    "big-endian": (_with_header(W, lambda h: h["arrays"][0].__setitem__("dtype", ">f4")), "joints.dtype"),
    "shape vs buffer": (_with_header(W, _shape([3, 1, 25, 3])), "joints.shape"),
    "shape rank": (_with_header(W, _shape([2, 25, 3])), "joints.shape"),
    "shape not ints": (_with_header(W, _shape([2, 1, 25, 3.0])), "joints.shape"),
    "wrong-shape array": (_with_header(W, _shape([2, 1, 15, 5])), "joints"),  # same bytes, wrong V and C
    "array name": (_with_header(W, lambda h: h["arrays"][0].__setitem__("name", "bones")), "arrays"),
    "NaN in joints": ([W[0], W[1], NAN_JOINTS.tobytes()], "joints"),
    "fps negative": (_with_header(W, _set("fps", -30)), "fps"),
    "header too large": ([L[0], b" " * (MAX_HEADER_BYTES + 1)], "header"),
    "message too large": ([W[0], W[1], bytes(MAX_MESSAGE_BYTES)], "message"),
}


@pytest.mark.parametrize("frames, field", MALFORMED.values(), ids=MALFORMED.keys())
def test_decoder_rejects_malformed_frames_naming_the_field(frames, field):
    with pytest.raises(MessageError) as caught:
        decode(frames)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.field is not None and error.field.startswith(field.split(".")[0]), str(error)
    assert field.split(".")[0] in str(error)


def test_wrong_shape_array_is_caught_by_the_layout_check():
    # M=2, T=1 fits the buffer size exactly; the joint count still has to fit the layout.
    frames = _with_header(W, _shape([1, 2, 25, 3]))
    decoded = decode(frames)  # a legal (T=1, M=2) window: shape alone cannot tell
    assert decoded.joints.shape == (1, 2, 25, 3)
    bad = _with_header(W, _shape([2, 1, 15, 5]))
    with pytest.raises(MessageError, match=r"skeleton.window.cam0: joints: axis 2 \(V\)"):
        decode(bad)


def test_error_text_names_topic_and_field():
    with pytest.raises(MessageError, match=r"^action.label.cam0: score: must be a number"):
        decode(_with_header(L, _set("score", "high")))
