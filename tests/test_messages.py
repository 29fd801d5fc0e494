"""The wire format: every message round-trips, and every malformed input is a MessageError naming its field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from realtime.messages import (
    FORMAT_VERSION,
    MAX_CLOCK_SKEW_MS,
    MAX_HEADER_BYTES,
    MAX_MESSAGE_BYTES,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
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
    capture_time_plausible,
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
        LabelEvent.no_decision("still", seq=6, source_id="cam0", capture_timestamp_ms=1.0),
        ControlRequest(seq=1, command="list"),
        ControlRequest(seq=2, command="status"),
        ControlRequest(seq=3, command="add", name="juggle", ld="hands toss and catch", gd="juggling balls"),
        ControlRequest(seq=4, command="remove", name="juggle"),
        ControlRequest(seq=5, command="add", name="juggle", ld="hands toss", gd="juggling",
                       parts={"left_arm": "the left hand tosses", "right_arm": "the right hand catches"}),
        ControlRequest(seq=6, command="add", name="bow", ld="the back bends", gd="bowing", show_s=2.5, source_id="cam0"),
        ControlRequest(seq=7, command="add", name="bow", ld="the back bends", gd="bowing", show_s=3, show_times=3),
        ControlRequest(seq=8, command="add", name="bow", ld="the back bends", gd="bowing",
                       examples=np.zeros((3, 8, 2, 25, 3), np.float32), example_windows=[1, 2]),
        ControlReply.success(1, actions=[ActionInfo("wave", False), ActionInfo("clap", True), ActionInfo("bow", False, 1, True)]),
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


@pytest.mark.parametrize("status", ["no_person", "still", "warming_up"])
def test_no_decision_events_carry_no_guess(status):
    event = LabelEvent.no_decision(status, seq=1, source_id="cam0", capture_timestamp_ms=1.0)
    assert (event.label, event.unknown, event.seen, event.topk, event.score) == ("unknown", True, None, (), 0.0)
    with pytest.raises(MessageError, match="status"):
        label_event(status=status)
    with pytest.raises(MessageError, match="status"):
        label_event(status=status, label="unknown", seen=None, score=0.0)  # a still body lists no candidates


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
        (lambda: ControlRequest(seq=0, command="remove", name="x", parts={"head": "nods"}), "parts"),
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", parts=["head", "nods"]), "parts"),
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", parts={"head": "a\x00b"}), "parts.head"),
        (lambda: ControlRequest(seq=0, command="add", name="unknown", ld="a", gd="b"), "name"),
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", show_s=0.1), "show_s"),
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", show_s=600), "show_s"),
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", show_s="3"), "show_s"),
        (lambda: ControlRequest(seq=0, command="remove", name="x", show_s=3), "show_s"),
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", source_id="cam0"), "source_id"),
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", show_s=3, source_id="a.b"), "source_id"),
        (lambda: ActionInfo("bow", False, -1), "actions.examples"),
        (lambda: ActionInfo("bow", False, 0, "yes"), "actions.added"),
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", show_times=2), "show_times"),
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", show_s=3, show_times=6), "show_times"),
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", examples=np.zeros((3, 8, 1, 25, 3))),
         "example_windows"),  # the one missing
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", examples=np.zeros((3, 8, 1, 25, 3)),
                                example_windows=[1, 1]), "example_windows"),  # 2 windows named, 3 sent
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", examples=np.zeros((3, 8, 1, 20, 3)),
                                example_windows=[3]), "examples"),  # not the canonical 25 joints
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", examples=np.zeros((3, 8, 1, 25, 3)),
                                example_windows=[3], show_s=2), "examples"),
        (lambda: ControlRequest(seq=0, command="add", name="x", ld="y", gd="z", examples=np.zeros((40, 8, 1, 25, 3)),
                                example_windows=[1] * 40), "example_windows"),
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


# --- hostile content: only MessageError ever escapes a decoder (issue 11, items 1 and 10) ----------


def _raw_header(frames: list[bytes], key: str, raw: str) -> list[bytes]:
    """``frames`` with ``key``'s JSON value replaced by the literal text ``raw`` (any JSON, valid or not)."""
    header = json.loads(frames[1])
    header[key] = "@@RAW@@"
    text = json.dumps(header).replace('"@@RAW@@"', raw)
    return [frames[0], text.encode(), *frames[2:]]


HUGE_INT = "9" * 5000  # beyond Python's 4300-digit int parsing limit: a ValueError, not a JSONDecodeError
HOSTILE_VALUES = [
    HUGE_INT,
    "-" + HUGE_INT,
    "9" * 400,  # parses, but float() overflows
    "1e400",  # parses to inf
    "-1e400",
    "[" * 5000 + "]" * 5000,  # nesting deeper than the recursion limit
    "[" * 900 + "]" * 900,  # parses, but re-serialising or printing it may recurse too deep
    '"\\ud800"',  # a lone surrogate: cannot be encoded as UTF-8
    '"a\\u0000b"',
    '"\\u202ewave"',
    '"' + "x" * 100_000 + '"',
    "null",
    "true",
    "{}",
    "[]",
    '[{"label": "a", "score": 1, "seen": true}]',
    '{"x": ' + "9" * 400 + "}",
]


@pytest.mark.parametrize("raw", HOSTILE_VALUES, ids=lambda raw: raw[:12])
def test_hostile_values_in_any_field_are_message_errors(raw):
    samples = [message.to_frames() for message in every_message()]
    for frames in samples:
        header = json.loads(frames[1])
        for key in [*header, "extra"]:
            for shape_too in (False, True):
                target = _raw_header(frames, key, raw)
                if shape_too and "arrays" in header:
                    spec = json.loads(frames[1])["arrays"]
                    spec[0]["shape"][0] = "@@RAW@@"
                    text = json.dumps({**json.loads(frames[1]), "arrays": spec}).replace('"@@RAW@@"', raw)
                    target = [frames[0], text.encode(), *frames[2:]]
                try:
                    message = decode(target)
                except MessageError:
                    continue  # anything else escaping fails the test
                message.to_frames()  # what was decoded can be sent on (e.g. echoed in a reply)


def test_a_huge_integer_names_the_header():
    with pytest.raises(MessageError, match="header: .*digits"):
        decode(_raw_header(L, "seq", HUGE_INT))
    with pytest.raises(MessageError) as caught:
        decode(_raw_header(L, "score", "9" * 400))
    assert caught.value.field in ("header", "score")


def test_truncated_and_bit_flipped_messages_are_message_errors():
    rng = np.random.default_rng(11)
    for message in every_message():
        frames = message.to_frames()
        for _ in range(40):
            index = int(rng.integers(1, len(frames)))
            frame = bytearray(frames[index])
            if rng.random() < 0.5 and frame:
                frame[int(rng.integers(len(frame)))] ^= 1 << int(rng.integers(8))
            else:
                del frame[int(rng.integers(len(frame) + 1)) :]
            try:
                decode([*frames[:index], bytes(frame), *frames[index + 1 :]])
            except MessageError:
                pass


def test_error_texts_escape_what_the_peer_sent():
    frames = _raw_header(L, "colour\u202e\n", '"x"')
    with pytest.raises(MessageError) as caught:
        decode(frames)
    text = str(caught.value)
    assert "\u202e" not in text and "\n" not in text and "\\u202e" in text


BAD_NAMES = {
    "NUL": ("a\x00b", "U+0000"),
    "newline": ("wave\nclap", "U+000A"),
    "bidi override": ("\u202egnaw", "U+202E"),
    "bidi isolate": ("wave\u2066", "U+2066"),
    "zero-width space": ("wa\u200bve", "U+200B"),
    "escape": ("\x1b[31mwave", "U+001B"),
    "line separator": ("wave\u2028", "U+2028"),
    "too long": ("w" * (MAX_NAME_CHARS + 1), "at most 200 characters"),
}


@pytest.mark.parametrize("name, problem", BAD_NAMES.values(), ids=BAD_NAMES.keys())
def test_action_names_refuse_control_and_invisible_characters(name, problem):
    with pytest.raises(MessageError) as caught:
        ControlRequest(seq=1, command="add", name=name, ld="hands up", gd="a wave")
    assert caught.value.field == "name" and problem in str(caught.value)
    # ...and on the wire, where the constructor never ran on the sender's side.
    good = ControlRequest(seq=1, command="add", name="wave", ld="hands up", gd="a wave").to_frames()
    with pytest.raises(MessageError) as caught:
        decode(_with_header(good, _set("name", name)))
    assert caught.value.field == "name" and problem in str(caught.value)


@pytest.mark.parametrize("field", ["ld", "gd"])
def test_descriptions_refuse_newlines_and_overrides(field):
    arguments = {"name": "wave", "ld": "hands up", "gd": "a wave"}
    for bad, code in (("one\ntwo", "U+000A"), ("left \u202eright", "U+202E")):
        with pytest.raises(MessageError) as caught:
            ControlRequest(seq=1, command="add", **{**arguments, field: bad})
        assert caught.value.field == field and code in str(caught.value)
    with pytest.raises(MessageError, match=f"at most {MAX_TEXT_CHARS}"):
        ControlRequest(seq=1, command="add", **{**arguments, field: "x" * (MAX_TEXT_CHARS + 1)})


def test_an_add_shown_by_recordings_splits_its_windows_back_into_them():
    windows = np.arange(5 * 8 * 1 * 25 * 3, dtype=np.float32).reshape(5, 8, 1, 25, 3)
    request = decode(ControlRequest(seq=1, command="add", name="bow", ld="a", gd="b", examples=windows,
                                    example_windows=[2, 3]).to_frames())  # fmt: skip
    first, second = request.recordings()
    np.testing.assert_array_equal(first, windows[:2])
    np.testing.assert_array_equal(second, windows[2:])
    assert ControlRequest(seq=1, command="list").recordings() == []


def test_an_action_known_by_text_lists_as_name_and_seen_alone_and_a_users_with_added_and_its_count():
    assert ActionInfo("wave", False).to_json() == {"name": "wave", "seen": False}  # as readers before `examples`
    assert ActionInfo("clap", False, 0, True).to_json() == {"name": "clap", "seen": False, "added": True}
    assert ActionInfo("bow", False, 2, True).to_json() == {"name": "bow", "seen": False, "examples": 2, "added": True}

def test_names_in_labels_and_action_lists_are_checked_too():
    with pytest.raises(MessageError, match=r"U\+202E"):
        label_event(label="\u202eevaw", topk=())
    with pytest.raises(MessageError, match=r"U\+0000"):
        ActionInfo("wa\x00ve", True)
    assert ActionInfo("café au lait 日本", True).name == "café au lait 日本"  # any visible script is fine


def test_a_failure_reply_cleans_its_text_instead_of_raising():
    reply = ControlReply.failure(3, "bad name 'x\u202e\x00'\nsecond line\u2028" + "y" * 10_000)
    assert reply.error.startswith("bad name 'x\\u202e\\x00'\nsecond line\\u2028")
    assert len(reply.error) <= MAX_TEXT_CHARS
    assert decode(reply.to_frames()) == reply


def test_capture_time_plausibility():
    now = 1_700_000_000_000.0
    assert capture_time_plausible(now - 5_000.0, now=now)
    assert capture_time_plausible(now + 1_000.0, now=now)
    assert not capture_time_plausible(0.0, now=now)  # 1970: a spoofed or unset clock
    assert not capture_time_plausible(now + 2 * MAX_CLOCK_SKEW_MS, now=now)
    assert not capture_time_plausible(now - 2 * MAX_CLOCK_SKEW_MS, now=now)


def test_docs_state_the_limits():
    text = DOCS.read_text(encoding="utf-8")
    for name in ("MAX_INT_DIGITS", "MAX_CLOCK_SKEW_MS", "MAX_SEQ_GAP", "MAX_SUBSCRIPTIONS", "U+202E"):
        assert name in text, f"docs/messages.md does not state {name}"
