"""The `fsvae-live` supervisor and `fsvae listen`: children restarted after a crash, a missing camera
reported in one line, labels written as JSON lines and printed one per line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from realtime import live
from realtime.listen import format_event, listen_main
from realtime.messages import LabelEvent, PoseFrame, RankedLabel, now_ms
from realtime.transport import LatestWinsPublisher, LatestWinsSubscriber, write_curve_key_files
from test_inference import endpoint, free_port, make_bundle
from fsvae_core.text import SentenceEncoder

NTU_SAMPLE = "ntu_samples/S001C001P001R001A011.skeleton"


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory):
    encoder = SentenceEncoder(cache_root=tmp_path_factory.mktemp("text-cache"))
    return make_bundle(tmp_path_factory.mktemp("bundles") / "bundle", encoder)


def _live(*args):
    """Start `fsvae-live` as a process, as the console script would."""
    code = "import sys; from realtime.live import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def _endpoints():
    return ["--windows", endpoint(), "--labels", endpoint(), "--control", endpoint()]


def _jsonl(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# The supervisor's restart rules, with stand-in children (no capture needed)


def _child(name, code):
    return live.Child(name, [sys.executable, "-c", code])


def test_child_exiting_2_stops_the_supervisor_with_its_one_line(capsys):
    child = _child("capture", "import sys; print('capture: no camera 7 here', file=sys.stderr); sys.exit(2)")
    child.start()
    child.process.wait(10)
    assert live._watch([child]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "fsvae-live: capture: no camera 7 here (try --video PATH or --skeleton PATH)"


def test_crashed_child_is_restarted_then_given_up(capsys):
    sleeper = _child("inference", "import time; time.sleep(60)")
    sleeper.start()
    try:
        first = sleeper.process.pid
        sleeper.process.kill()
        sleeper.process.wait(10)
        assert live._watch([sleeper]) is None
        assert sleeper.restarts == 1 and sleeper.process.pid != first and sleeper.poll() is None
        assert "restarting" in capsys.readouterr().err
    finally:
        sleeper.stop()
    crasher = _child("inference", "import sys; print('boom', file=sys.stderr); sys.exit(1)")
    crasher.start()
    outcome = None
    deadline = time.monotonic() + 20
    while outcome is None and time.monotonic() < deadline:
        time.sleep(0.05)
        outcome = live._watch([crasher])
    assert outcome == 1 and crasher.restarts == live.MAX_FAST_CRASHES - 1
    assert "giving up" in capsys.readouterr().err.splitlines()[-1]


def test_stop_kills_a_child_that_ignores_sigterm(monkeypatch):
    monkeypatch.setattr(live, "STOP_WAIT_S", 0.5)
    stubborn = _child("capture", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                                 "print('ready', flush=True); time.sleep(60)")  # fmt: skip
    stubborn.start()
    time.sleep(0.5)
    stubborn.stop()
    assert stubborn.poll() == -signal.SIGKILL


def test_missing_bundle_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(live, "DEFAULT_BUNDLE", tmp_path / "none")
    assert live.main(["--skeleton", "x.skeleton"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "fsvae train" in err and "--bundle" in err


def test_the_shipped_bundle_is_used_from_a_user_copy_so_added_actions_never_touch_the_package(
        bundle_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(live, "DEFAULT_BUNDLE", bundle_dir)
    monkeypatch.setenv("FSVAE_CACHE_DIR", str(tmp_path / "cache"))
    copy = live.writable_default_bundle()
    assert copy != bundle_dir and (copy / "manifest.json").read_bytes() == (bundle_dir / "manifest.json").read_bytes()
    (copy / "marker").write_text("user state")
    assert live.writable_default_bundle() == copy and (copy / "marker").exists()  # same shipped weights: kept


def test_status_line_counts_rate_latency_and_label():
    status = live.StatusLine()
    assert "waiting" in status.text(0)
    for i in range(3):
        status.add(LabelEvent(seq=i, source_id="cam0", capture_timestamp_ms=1000.0, timestamp_ms=1040.0,
                              label="wave", score=0.8, seen=False, topk=(RankedLabel("wave", 0.8, False),)))  # fmt: skip
    text = status.text(2)
    assert "latency p50 40 ms" in text and "cam0: wave 0.80" in text and "restarts 2" in text


# ---------------------------------------------------------------------------------------------
# `fsvae listen`


def test_listen_prints_one_line_per_label(capsys):
    ep = endpoint()
    with LatestWinsPublisher(ep, hwm=100) as pub:
        stop = threading.Event()

        def feed():
            seq = 0
            while not stop.is_set():
                pub.publish(LabelEvent(seq=seq, source_id="cam0", capture_timestamp_ms=now_ms() - 42, label="wave",
                                       score=0.81, seen=False,
                                       topk=(RankedLabel("wave", 0.81, False), RankedLabel("clap", 0.4, True))))  # fmt: skip
                pub.publish(LabelEvent.no_decision("no_person", seq=seq + 1, source_id="cam1",
                                                   capture_timestamp_ms=now_ms()))  # fmt: skip
                seq += 2
                time.sleep(0.05)

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        try:
            assert listen_main(ep, count=4, timeout_s=10) == 0
        finally:
            stop.set()
            thread.join()
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    wave = next(line for line in lines if " cam0 " in line)
    assert "wave 0.81" in wave and "ms)" in wave and "clap 0.40" in wave
    assert any(" cam1 " in line and "no_person" in line for line in lines)
    assert listen_main(endpoint(), count=1, timeout_s=0.3) == 1


def test_format_event_top3_only():
    topk = tuple(RankedLabel(name, 0.9 - i / 10, False) for i, name in enumerate("abcde"))
    line = format_event(LabelEvent(seq=0, source_id="s", capture_timestamp_ms=1.0, timestamp_ms=11.0, label="a",
                                   score=0.9, seen=False, topk=topk))  # fmt: skip
    assert line.endswith("| a 0.90, b 0.80, c 0.70") and "(10 ms)" in line


# ---------------------------------------------------------------------------------------------
# The real thing: capture + inference under the supervisor


def test_camera_that_does_not_exist_is_one_line_and_exit_2(bundle_dir):
    pytest.importorskip("realtime.capture")
    pytest.importorskip("cv2")
    process = _live("--camera", "7", "--bundle", str(bundle_dir), "--quiet", *_endpoints())
    out, err = process.communicate(timeout=60)
    assert process.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "7" in lines[0] and "camera" in lines[0].lower() and "--video" in lines[0]


def test_skeleton_replay_gives_labels_and_ends_cleanly(bundle_dir, shared_data, tmp_path):
    pytest.importorskip("realtime.capture")
    jsonl = tmp_path / "labels.jsonl"
    process = _live("--skeleton", str(shared_data / NTU_SAMPLE), "--bundle", str(bundle_dir), "--jsonl", str(jsonl),
                    "--quiet", *_endpoints())  # fmt: skip
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    events = _jsonl(jsonl)
    ok = [e for e in events if e["status"] == "ok"]
    assert ok, f"no labels; stderr: {err}"
    assert {"seq", "source_id", "label", "score", "topk", "latency_ms", "publish_timestamp_ms"} <= set(ok[0])
    assert ok[0]["label"] in ("wave", "sit down", "jump up", "unknown")


def test_a_real_video_gives_labels_within_seconds(bundle_dir, shared_data, tmp_path):
    """MediaPipe on the NTU colour clip, played at its own rate, through capture, inference and the PUB socket."""
    pytest.importorskip("realtime.capture")
    jsonl = tmp_path / "labels.jsonl"
    started = time.monotonic()
    process = _live("--video", str(shared_data / "videos" / "S001C001P001R001A001_rgb.avi"), "--bundle", str(bundle_dir),
                    "--jsonl", str(jsonl), "--duration", "25", "--quiet", *_endpoints())  # fmt: skip
    _, err = process.communicate(timeout=90)
    assert process.returncode == 0, err
    ok = [e for e in _jsonl(jsonl) if e["status"] == "ok"]
    assert ok, f"no labels from the video; stderr: {err}"
    first_label_s = (ok[0]["publish_timestamp_ms"] / 1000) - (time.time() - (time.monotonic() - started))
    assert first_label_s < 20
    assert all(e["source_id"] == "cam0" and e["latency_ms"] >= 0 for e in ok)


def test_killed_inference_is_restarted_and_labels_resume(bundle_dir, shared_data, tmp_path):
    """A tracker replays the NTU sample as pose frames in a loop, so the capture runs as long as needed."""
    pytest.importorskip("realtime.capture")
    from fsvae_core.skeleton_data import read_ntu_skeleton

    joints = read_ntu_skeleton(shared_data / NTU_SAMPLE)  # (T, 2, V, 3)
    bodies = [frame[np.abs(frame).sum(axis=(1, 2)) > 0] for frame in joints]  # (M, V, 3) each
    poses = endpoint()
    jsonl = tmp_path / "labels.jsonl"
    stop = threading.Event()

    def track():
        with LatestWinsPublisher(poses, hwm=100) as pub:
            seq = 0
            while not stop.is_set():
                now = now_ms()
                pub.publish(PoseFrame(seq=seq, source_id="cam0", capture_timestamp_ms=now, timestamp_ms=now,
                                      layout="ntu25", joints=bodies[seq % len(bodies)]))  # fmt: skip
                seq += 1
                time.sleep(1 / 30)

    tracker = threading.Thread(target=track, daemon=True)
    tracker.start()
    process = _live("--poses", poses, "--bundle", str(bundle_dir), "--jsonl", str(jsonl), "--verbose",
                    "--duration", "60", *_endpoints())  # fmt: skip
    err_lines: list[str] = []
    threading.Thread(target=lambda: err_lines.extend(process.stderr), daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        while not any(e["status"] == "ok" for e in _jsonl(jsonl)) and time.monotonic() < deadline:
            assert process.poll() is None, "".join(err_lines)
            time.sleep(0.2)
        before = len(_jsonl(jsonl))
        assert before, "".join(err_lines)
        pid = next(int(line.split("pid ")[1].rstrip(")\n")) for line in err_lines if "inference started" in line)
        os.kill(pid, signal.SIGKILL)
        killed_at = now_ms()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if any(e["status"] == "ok" and e["publish_timestamp_ms"] > killed_at + 100 for e in _jsonl(jsonl)):
                break
            time.sleep(0.2)
        after = [e for e in _jsonl(jsonl) if e["publish_timestamp_ms"] > killed_at]
        assert any(e["status"] == "ok" for e in after), "".join(err_lines)
        assert any("restarting" in line for line in err_lines)
        started = [line for line in err_lines if "inference started" in line]
        assert len(started) == 2
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        finally:
            if process.poll() is None:
                process.kill()
            stop.set()
            tracker.join(5)
    assert process.returncode == 0


def test_binding_the_labels_to_the_network_needs_allow_remote_and_says_so(bundle_dir, shared_data):
    process = _live("--skeleton", str(shared_data / NTU_SAMPLE), "--bundle", str(bundle_dir), "--quiet",
                    "--windows", endpoint(), "--labels", f"tcp://0.0.0.0:{free_port()}", "--control", endpoint())
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "--allow-remote" in err


def test_a_remote_label_stream_with_curve_keys_reaches_only_the_key_holder(bundle_dir, shared_data, tmp_path):
    write_curve_key_files(tmp_path / "keys")
    port = free_port()
    jsonl = tmp_path / "labels.jsonl"
    process = _live("--skeleton", str(shared_data / NTU_SAMPLE), "--bundle", str(bundle_dir), "--quiet",
                    "--windows", endpoint(), "--labels", f"tcp://0.0.0.0:{port}", "--control", endpoint(),
                    "--allow-remote", "--curve-keys", str(tmp_path / "keys"), "--jsonl", str(jsonl))  # fmt: skip
    outsider_got = []

    def outsider():  # a plain subscriber without the keys
        with LatestWinsSubscriber(f"tcp://127.0.0.1:{port}", topics=("action.label",)) as sub:
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                if (message := sub.receive(timeout_ms=100)) is not None:
                    outsider_got.append(message)

    thread = threading.Thread(target=outsider)
    thread.start()
    code = listen_main(f"tcp://127.0.0.1:{port}", count=1, timeout_s=30, curve_keys=str(tmp_path / "keys"))
    thread.join()
    _, err = process.communicate(timeout=60)
    assert code == 0, err  # the key holder got a label
    assert outsider_got == []
    assert [e for e in _jsonl(jsonl) if e["status"] == "ok"], err  # fsvae-live's own status subscriber has the keys
