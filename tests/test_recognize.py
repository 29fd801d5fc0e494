"""``fsvae recognize``: recorded clips through the live recognizer's code path, offline.

Synthetic clips are NW-UCLA-style ``.json`` files (Kinect v1 layout, read at NW-UCLA's 15 fps)
scored by the small random-weight bundle of tests/test_inference.py; real
recordings (an NTU ``.skeleton``, a UTD-MHAD ``.mat``, an HDM05 ``.amc``, an
SBU ``skeleton_pos.txt``, a Florence colour clip through MediaPipe) by the
shipped bundle.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from calibration import KinectV1, to_canonical
from calibration.windows import clip_windows
from fsvae_core import skeleton_data as sd
from fsvae_core.bundle import load_bundle
from fsvae_core.decision import window_motion
from fsvae_core.text import SentenceEncoder
from realtime.capture import SequenceReplaySource
from realtime.inference import InferenceStats, Recognizer
from realtime.messages import SkeletonWindow
from realtime.recognize import ClipError, live_windows, recognize_file, recognize_main, recognize_samples
from test_inference import make_bundle

FPS = sd.NW_UCLA_FPS  # the rate recognize_file reads a .json at
FLORENCE = "florence_dev/GestureRecording_Id10actor1idAction10category4.mp4"


def kinect_v1_clip(frames: int, seed: int = 0) -> np.ndarray:
    """(T, 20, 3) Kinect v1 bodies 3 m from the camera whose right arm waves, a little jitter."""
    body = np.zeros((20, 3), np.float32)
    places = {
        "HIP_CENTER": (0, 0.0), "SPINE": (0, 0.3), "SHOULDER_CENTER": (0, 0.5), "HEAD": (0, 0.7),
        "SHOULDER_LEFT": (-0.18, 0.48), "ELBOW_LEFT": (-0.22, 0.22), "WRIST_LEFT": (-0.24, 0.0),
        "HAND_LEFT": (-0.24, -0.05), "SHOULDER_RIGHT": (0.18, 0.48), "ELBOW_RIGHT": (0.22, 0.22),
        "WRIST_RIGHT": (0.24, 0.0), "HAND_RIGHT": (0.24, -0.05), "HIP_LEFT": (-0.09, -0.02),
        "KNEE_LEFT": (-0.1, -0.45), "ANKLE_LEFT": (-0.1, -0.85), "FOOT_LEFT": (-0.1, -0.88),
        "HIP_RIGHT": (0.09, -0.02), "KNEE_RIGHT": (0.1, -0.45), "ANKLE_RIGHT": (0.1, -0.85),
        "FOOT_RIGHT": (0.1, -0.88),
    }  # fmt: skip
    for name, (x, y) in places.items():
        body[KinectV1[name]] = (x, y, 3.0)
    t = np.arange(frames) / FPS
    clip = np.repeat(body[None], frames, axis=0)
    for joint in (KinectV1.WRIST_RIGHT, KinectV1.HAND_RIGHT):
        clip[:, joint, 0] += 0.3 * np.sin(2 * np.pi * t)
        clip[:, joint, 1] += 0.6
    rng = np.random.default_rng(seed)
    return clip + rng.normal(0, 0.003, clip.shape).astype(np.float32)


def write_clip(path: Path, skeletons: np.ndarray) -> Path:
    path.write_text(json.dumps({"file_name": path.stem, "skeletons": skeletons.tolist(), "label": 1}))
    return path


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return SentenceEncoder(cache_root=tmp_path_factory.mktemp("text-cache"))


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory, encoder):
    return make_bundle(tmp_path_factory.mktemp("bundles") / "bundle", encoder)  # 16-frame windows at 10 fps


@pytest.fixture(scope="module")
def recognizer(bundle_dir, encoder):
    return Recognizer.from_bundle(load_bundle(bundle_dir), device="cpu", encoder=encoder)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FSVAE_CACHE_DIR", str(tmp_path / "cache"))


@pytest.fixture
def clips(tmp_path):
    """A short clip, a long one, an unreadable file and a file in which nobody is seen."""
    return {
        "short": write_clip(tmp_path / "short.json", kinect_v1_clip(6)),  # 0.4 s: shorter than the first-window delay
        "long": write_clip(tmp_path / "long.json", kinect_v1_clip(46)),  # 3 s: two windows' worth
        "broken": (tmp_path / "broken.json").write_text("{not json") and tmp_path / "broken.json",
        "empty": write_clip(tmp_path / "empty.json", np.zeros((20, 20, 3), np.float32)),
    }


# ---------------------------------------------------------------------------------------------
# Windows and decisions


def test_a_clip_shorter_than_the_first_window_delay_gets_exactly_the_training_window(recognizer):
    skeletons = kinect_v1_clip(6)[:, None]  # (T, M, V, 3)
    spec = recognizer.bundle.skeleton
    stream = live_windows(SequenceReplaySource(skeletons, "kinect_v1", FPS, realtime=False), spec)
    assert stream.frames == 6 and stream.frames_with_person == 6 and len(stream.windows) == 1
    trained = clip_windows(to_canonical(skeletons, "kinect_v1"), FPS, spec)[0]  # (M, T', V, 3): centred, edges held
    np.testing.assert_array_equal(stream.windows[0].transpose(1, 0, 2, 3), trained)

    result = recognize_samples(SequenceReplaySource(skeletons, "kinect_v1", FPS, realtime=False), recognizer, "short")
    assert result.windows == 1 and len(result.decisions) == 1 and result.status == "ok"
    scores = recognizer.scores([trained.transpose(1, 0, 2, 3)])[0]  # one window: nothing to smooth with
    assert result.topk[0].score == pytest.approx(float(scores.max()), abs=1e-5)
    assert result.label in (*recognizer.names, "unknown") and result.decisions[0].time_s == pytest.approx(5 / FPS)


def test_a_long_clip_gets_a_window_every_stride_and_one_at_its_end(recognizer, clips):
    result = recognize_file(clips["long"], recognizer)
    times = [d.time_s for d in result.decisions]
    assert result.frames == 46 and result.frames_with_person == 46
    # the first frame at 0.5 s or later, then every 0.25 s or more to 2.93 s, then the last frame
    assert result.windows == len(times) == 11
    assert times[0] == pytest.approx(8 / FPS) and times[-1] == pytest.approx(45 / FPS)
    assert np.all(np.diff(times[:-1]) >= 0.25 - 1e-9)
    assert (result.label, result.score) == (result.decisions[-1].label, result.decisions[-1].score)


def test_decisions_are_the_ones_the_live_inference_loop_makes(recognizer, clips):
    """The same windows through realtime.inference's loop body give the same labels and scores."""
    from realtime import inference

    class Publisher:
        events = []

        def publish(self, event):
            self.events.append(event)

    class Subscriber:
        malformed = lost = stale = implausible = 0

    from realtime.recognize import open_clip

    stream = live_windows(open_clip(clips["long"]), recognizer.bundle.skeleton)
    loop = inference._Loop(recognizer, Subscriber(), Publisher(), InferenceStats())
    recognizer.reset()
    for seq, joints in enumerate(stream.windows):
        message = SkeletonWindow(seq=seq, source_id="clip", capture_timestamp_ms=1e12, fps=recognizer.bundle.fps,
                                 layout="ntu25", joints=joints)  # fmt: skip
        loop.handle({"clip": message}, max_batch=8)
    recognizer.reset()
    live = [(e.label, e.score) for e in Publisher.events]
    offline = recognize_file(clips["long"], recognizer)
    assert [d.label for d in offline.decisions] == [label for label, _ in live]
    np.testing.assert_allclose([d.score for d in offline.decisions], [score for _, score in live], atol=1e-6)


def test_unreadable_and_empty_files_raise_one_line_naming_them(recognizer, clips, tmp_path):
    with pytest.raises(ClipError, match=r"broken\.json, line 1: not valid JSON"):
        recognize_file(clips["broken"], recognizer)
    with pytest.raises(ClipError, match=r"empty\.json: no person found in any of 20 frames"):
        recognize_file(clips["empty"], recognizer)
    with pytest.raises(ClipError, match=r"nothing\.mp4: no such file"):
        recognize_file(tmp_path / "nothing.mp4", recognizer)
    (tmp_path / "clips.mp4").mkdir()
    with pytest.raises(ClipError, match=r"clips\.mp4: a folder, not a recording"):
        recognize_file(tmp_path / "clips.mp4", recognizer)
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00not a video" * 100)
    with pytest.raises(ClipError, match=r"garbage\.mp4.*OpenCV"):
        recognize_file(garbage, recognizer)


# ---------------------------------------------------------------------------------------------
# The command


def run_main(*files: Path, **options) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = recognize_main([str(f) for f in files], out=out, err=err, **options)
    return code, out.getvalue(), err.getvalue()


def test_bad_files_get_one_line_each_and_the_others_are_still_recognised(bundle_dir, clips):
    code, out, err = run_main(clips["short"], clips["broken"], clips["long"], clips["empty"],
                              bundle=bundle_dir, device="cpu", quiet=True, top_k=2)  # fmt: skip
    assert code == 1
    lines = out.splitlines()
    assert [line.split(": ")[0] for line in lines] == [str(clips["short"]), str(clips["long"])]
    assert "(score " in lines[0] and "; windows 1) top: " in lines[0] and lines[0].count(", ") == 1  # top 2
    assert err.splitlines() == [
        f"fsvae recognize: {clips['broken']}, line 1: not valid JSON: Expecting property name enclosed in double "
        "quotes (column 2)",
        f"fsvae recognize: {clips['empty']}: no person found in any of 20 frames",
    ]


def test_json_lines_parse_with_every_field(bundle_dir, clips):
    code, out, err = run_main(clips["short"], clips["long"], bundle=bundle_dir, device="cpu", as_json=True, quiet=True)
    assert code == 0 and err == ""
    short, long = (json.loads(line) for line in out.splitlines())
    assert set(short) == {"file", "frames", "frames_with_person", "windows", "label", "score", "unknown", "seen",
                          "status", "topk", "decisions"}  # fmt: skip
    assert (short["frames"], short["windows"], len(short["decisions"])) == (6, 1, 1)
    assert long["windows"] == len(long["decisions"]) == 11 and len(long["topk"]) == 3  # the bundle's 3 classes
    assert set(long["topk"][0]) == {"name", "score", "seen"} and set(long["decisions"][0]) == {
        "time_s", "label", "score", "unknown", "still"}


def test_bad_options_and_bundles_exit_2_before_any_file(clips, bundle_dir, tmp_path):
    for options in ({"bundle": tmp_path / "no-bundle"}, {"bundle": bundle_dir, "stride_s": 0.0},
                    {"bundle": bundle_dir, "top_k": 0}):
        code, out, err = run_main(clips["short"], quiet=True, device="cpu", **options)
        assert code == 2 and out == "" and len(err.splitlines()) == 1 and err.startswith("fsvae recognize: ")


# ---------------------------------------------------------------------------------------------
# Real recordings, the shipped bundle


def test_real_recordings_end_to_end_with_the_shipped_bundle(shared_data):
    files = [shared_data / "utd_mhad/a1_s1_t1_skeleton.mat", shared_data / "ntu_samples/S001C001P001R001A011.skeleton"]
    code, out, err = run_main(*files, as_json=True, quiet=True, device="cpu")
    assert code == 0, err
    utd, ntu = (json.loads(line) for line in out.splitlines())
    assert utd["frames"] == utd["frames_with_person"] > 40 and utd["windows"] >= 2
    assert ntu["frames"] == ntu["frames_with_person"] == 82 and ntu["windows"] >= 5
    for result in (utd, ntu):
        assert result["status"] == "ok" and len(result["topk"]) == 5
        assert result["label"] == ("unknown" if result["unknown"] else result["topk"][0]["name"])


def test_the_shipped_bundle_answers_unknown_for_a_body_holding_a_pose_but_not_for_one_waving():
    from realtime.recognize import default_bundle

    recognizer = Recognizer.from_bundle(load_bundle(default_bundle()), device="cpu")
    rng = np.random.default_rng(1)
    holding = np.repeat(kinect_v1_clip(1), 46, axis=0) + rng.normal(0, 0.01, (46, 20, 3)).astype(np.float32)  # 1 cm jitter
    still = recognize_samples(SequenceReplaySource(holding[:, None], "kinect_v1", FPS, realtime=False), recognizer, "still")
    assert still.windows == 11 and all(d.still and d.unknown for d in still.decisions)
    assert (still.status, still.label, still.topk) == ("still", "unknown", ())
    assert still.line() == "still: unknown (score 0.00; windows 11; standing still at the end)"
    waving = live_windows(SequenceReplaySource(kinect_v1_clip(46)[:, None], "kinect_v1", FPS, realtime=False),
                          recognizer.bundle.skeleton)
    moving = window_motion(np.stack([recognizer.prepare(w) for w in waving.windows]))
    assert moving.min() > recognizer.rule.still_below > 0  # the first window too, half a second of waving in it


def test_real_actions_from_every_sensor_are_not_taken_for_still_but_a_quiet_one_can_start_so(shared_data):
    from realtime.recognize import default_bundle, open_clip

    recognizer = Recognizer.from_bundle(load_bundle(default_bundle()), device="cpu")

    def motion(name):
        stream = live_windows(open_clip(shared_data / name), recognizer.bundle.skeleton)
        return window_motion(np.stack([recognizer.prepare(w) for w in stream.windows]))

    for name in ("utd_mhad/a1_s1_t1_skeleton.mat", "hdm05/HDM_bd_depositFloorR_001_120.amc",
                 "sbu_kinect/s01s02/01/001/skeleton_pos.txt"):
        assert motion(name).min() > recognizer.rule.still_below, name
    reading = motion("ntu_samples/S001C001P001R001A011.skeleton")  # a window every 0.25 s from 0.5 s
    assert reading[0] < recognizer.rule.still_below < reading[-1]  # the book held still at first, moved later
    assert (reading < recognizer.rule.still_below).sum() <= 4


def test_mocap_and_two_person_recordings_end_to_end(shared_data):
    files = [shared_data / "hdm05/HDM_bd_depositFloorR_001_120.amc", shared_data / "sbu_kinect/s01s02/01/001/skeleton_pos.txt"]
    code, out, err = run_main(*files, as_json=True, quiet=True, device="cpu")
    assert code == 0, err
    hdm05, sbu = (json.loads(line) for line in out.splitlines())
    assert hdm05["frames"] == hdm05["frames_with_person"] == 76 and hdm05["windows"] >= 3  # 120 fps read at 30
    assert sbu["frames"] == sbu["frames_with_person"] == 45 and sbu["windows"] >= 3  # 15 fps


def test_an_amc_clip_without_its_subject_skeleton_is_one_error_line(shared_data, tmp_path, recognizer):
    import shutil

    clip = Path(shutil.copy(shared_data / "hdm05/HDM_bd_depositFloorR_001_120.amc", tmp_path))
    with pytest.raises(ClipError, match=r"HDM_bd_depositFloorR_001_120\.amc, field 'subject': the skeleton of subject"):
        recognize_file(clip, recognizer)


def test_a_video_through_mediapipe(shared_data):
    from fsvae_core.bundle import load_bundle
    from realtime.recognize import default_bundle

    recognizer = Recognizer.from_bundle(load_bundle(default_bundle()), device="cpu")
    result = recognize_file(shared_data / FLORENCE, recognizer)  # 13 frames at 20 fps: shorter than a window
    assert result.frames == 13 and result.frames_with_person >= 10
    assert 1 <= result.windows <= 3 and result.decisions[-1].time_s == pytest.approx(12 / 20)
