"""The `fsvae-live` supervisor and `fsvae listen`: children restarted after a crash (a loaded spare
taking over), children ending with a killed supervisor, bad options and files reported in one line before
anything starts, labels written as JSON lines to the last one, a summary at the end, and labels printed
one per line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import numpy as np
import pytest

from realtime import live
from realtime.listen import format_event, listen_main
from realtime.messages import WINDOW_ANSWERS, LabelEvent, PoseFrame, RankedLabel, now_ms
from realtime.transport import ControlServer, LatestWinsPublisher, LatestWinsSubscriber, write_curve_key_files
from test_capture import standing_pose
from ports import free_endpoint as endpoint
from ports import free_port
from test_inference import make_bundle
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


def _stop(process):
    """SIGTERM, as a user's Ctrl-C or a service manager would; killed if it has not ended within 30 s."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()


def _jsonl(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class Tracker:
    """An external tracker: a standing, slightly moving NTU25 body as PoseFrames at 30 fps, until stopped."""

    def __init__(self):
        self.endpoint = endpoint()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        rng = np.random.default_rng(0)
        with LatestWinsPublisher(self.endpoint, hwm=100) as pub:
            seq = 0
            while not self.stop.is_set():
                now = now_ms()
                pub.publish(PoseFrame(seq=seq, source_id="cam0", capture_timestamp_ms=now, timestamp_ms=now,
                                      layout="ntu25", joints=standing_pose(rng)[None]))  # fmt: skip
                seq += 1
                time.sleep(1 / 30)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)


class Stderr:
    """Collects a process's stderr lines in a thread; ``pids`` reads the supervisor's "started (pid N)" lines."""

    def __init__(self, process):
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(process.stderr), daemon=True).start()

    def text(self):
        return "".join(self.lines)

    def pids(self):
        found = {}
        for line in list(self.lines):
            if line.startswith("fsvae-live: ") and " started (pid " in line:
                name = line[len("fsvae-live: "):line.index(" started (pid ")]
                found.setdefault(name, []).append(int(line.split("(pid ")[1].rstrip(")\n")))
        return found

    def wait_for(self, predicate, process, timeout_s=90):
        deadline = time.monotonic() + timeout_s
        while not predicate():
            assert process.poll() is None, self.text()
            assert time.monotonic() < deadline, self.text()
            time.sleep(0.1)


def _alive(pid):
    """Whether process ``pid`` runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


# ---------------------------------------------------------------------------------------------
# The supervisor's restart rules, with stand-in children (no capture needed)


def _child(name, code):
    return live.Child(name, [sys.executable, "-c", code])


def test_child_exiting_2_stops_the_supervisor_with_its_one_line(capsys):
    child = _child("capture", "import sys; print('capture: no camera 7 on this machine (try --video PATH or "
                              "--skeleton PATH)', file=sys.stderr); sys.exit(2)")  # fmt: skip
    child.start()
    child.process.wait(10)
    assert live._watch([child]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "fsvae-live: capture: no camera 7 on this machine (try --video PATH or --skeleton PATH)"


def test_the_camera_hint_is_given_only_where_it_applies(capsys):
    child = _child("capture", "import sys; print('capture: cannot open video x.avi (not a video OpenCV can "
                              "decode?)', file=sys.stderr); sys.exit(2)")  # fmt: skip
    child.start()
    child.process.wait(10)
    assert live._watch([child]) == 2
    assert capsys.readouterr().err.strip() == ("fsvae-live: capture: cannot open video x.avi "
                                              "(not a video OpenCV can decode?)")  # fmt: skip


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


def test_bad_files_and_bundles_are_one_line_before_anything_starts(bundle_dir, tmp_path, capsys, monkeypatch):
    import shutil

    def no_start(self, *args, **kwargs):
        raise AssertionError(f"{self.name} started although the options cannot work")

    monkeypatch.setattr(live.Child, "start", no_start)
    empty = tmp_path / "empty"
    empty.mkdir()
    broken = tmp_path / "broken"
    shutil.copytree(bundle_dir, broken)
    (broken / "weights.safetensors").unlink()
    clip = tmp_path / "clip.skeleton"
    clip.write_text("")
    cases = [
        (["--skeleton", str(tmp_path / "missing.skeleton"), "--bundle", str(bundle_dir)], "missing.skeleton: no such file"),
        (["--video", str(tmp_path / "missing.avi"), "--bundle", str(bundle_dir)], "missing.avi: no such file"),
        (["--video", str(empty), "--bundle", str(bundle_dir)], "--video " + str(empty) + ": a folder, not a file"),
        (["--poses", "tracker:5570", "--bundle", str(bundle_dir)], "--poses: endpoint 'tracker:5570' must look like"),
        (["--video", str(clip), "--source-id", "cam.0", "--bundle", str(bundle_dir)], "--source-id: must be 1-64"),
        (["--skeleton", str(clip), "--bundle", str(empty)], "not a model bundle"),
        (["--skeleton", str(clip), "--bundle", str(broken)], "lacks weights.safetensors"),
        (["--skeleton", str(clip), "--bundle", str(bundle_dir), "--record", str(tmp_path / "no" / "x.avi")],
         "--record"),
        (["--skeleton", str(clip), "--bundle", str(bundle_dir), "--jsonl", str(tmp_path / "no" / "x.jsonl")],
         "--jsonl"),
    ]  # fmt: skip
    for argv, expected in cases:
        assert live.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("fsvae-live: ") and expected in err, (argv, err)


def test_the_endpoints_named_for_help_are_the_transport_defaults():
    from realtime.options import DEFAULT_ENDPOINTS
    from realtime.transport import DEFAULT_PORTS, default_endpoint

    assert DEFAULT_ENDPOINTS == {name: default_endpoint(name) for name in DEFAULT_PORTS}


def test_stride_goes_to_capture_and_every_endpoint_has_help(bundle_dir, capsys):
    args = live._parser().parse_args(["--skeleton", "x.skeleton", "--stride", "0.5", "--allow-remote"])
    capture, inference = live._child_argvs(args, bundle_dir)
    assert capture[capture.index("--stride") + 1] == "0.5"
    assert "--allow-remote" in capture and "--allow-remote" in inference  # capture binds --windows
    assert capture[capture.index("--parent-pid") + 1] == str(os.getpid())
    assert inference[inference.index("--parent-pid") + 1] == str(os.getpid())
    with pytest.raises(SystemExit):
        live._parser().parse_args(["--stride", "0"])
    with pytest.raises(SystemExit):
        live.main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option in ("--windows ENDPOINT where capture publishes", "--labels ENDPOINT where inference publishes",
                   "--control ENDPOINT where inference answers", "--stride S seconds between windows"):
        assert option in text, option


def test_the_last_label_reaches_the_jsonl_file_and_a_summary_ends_the_run(tmp_path, monkeypatch, capsys):
    """Stand-in children: "inference" publishes labels and one more just after "capture" has ended."""
    labels, marker, jsonl = endpoint(), tmp_path / "capture-ends", tmp_path / "labels.jsonl"
    inference = (
        "import sys, time, pathlib\n"
        "from realtime.messages import LabelEvent, RankedLabel, now_ms\n"
        "from realtime.transport import LatestWinsPublisher\n"
        "with LatestWinsPublisher(sys.argv[1], hwm=1000) as pub:\n"
        "    def label(seq, name):\n"
        "        pub.publish(LabelEvent(seq=seq, source_id='cam0', capture_timestamp_ms=now_ms() - 5, label=name,\n"
        "                               score=0.9, seen=True, topk=(RankedLabel(name, 0.9, True),)))\n"
        "    for seq in range(30):\n"
        "        label(seq, 'wave')\n"
        "        time.sleep(0.05)\n"
        "    pathlib.Path(sys.argv[2]).write_text('end')\n"
        "    time.sleep(0.25)\n"
        "    label(30, 'last')\n"
        "    time.sleep(60)\n"
    )
    capture = (
        "import json, pathlib, sys, time\n"
        "while not pathlib.Path(sys.argv[1]).exists():\n"
        "    time.sleep(0.01)\n"
        "print(json.dumps({'capture': {'windows': 31}}), file=sys.stderr)\n"
    )
    monkeypatch.setattr(live, "_child_argvs", lambda args, bundle: (
        [sys.executable, "-c", capture, str(marker)], [sys.executable, "-c", inference, labels, str(marker)]))
    monkeypatch.setattr(live, "check_bundle", lambda folder: None)
    assert live.main(["--poses", endpoint(), "--bundle", str(tmp_path), "--labels", labels, "--no-spare",
                      "--jsonl", str(jsonl)]) == 0  # fmt: skip
    events = _jsonl(jsonl)
    assert events and events[-1]["label"] == "last"
    summary = capsys.readouterr().err.strip().splitlines()[-1]
    assert summary.startswith("fsvae-live: ran ") and "31 windows" in summary
    assert f"{len(events)} labels ({len(events)} decisions, 0 of them unknown; 0 no person, 0 still)" in summary
    assert "latency p50 " in summary and "p99 " in summary and "0 restarts" in summary


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


def test_status_line_shows_a_still_body_and_times_its_window_but_counts_no_decision():
    status = live.StatusLine()
    status.add(LabelEvent.no_decision("still", seq=0, source_id="cam0", capture_timestamp_ms=1000.0,
                                      timestamp_ms=1030.0))  # fmt: skip
    status.add(LabelEvent.no_decision("no_person", seq=1, source_id="cam1", capture_timestamp_ms=1000.0,
                                      timestamp_ms=1900.0))  # fmt: skip
    assert "cam0: still" in status.text(0) and "latency p50 30 ms" in status.text(0)  # nobody's notice is no window
    assert "2 labels (0 decisions, 0 of them unknown; 1 no person, 1 still)" in status.summary(0)
    assert live.WINDOW_ANSWERS == WINDOW_ANSWERS  # spelled out in the supervisor, which imports no numpy


# ---------------------------------------------------------------------------------------------
# `fsvae listen`


@contextmanager
def feeding(ep, events):
    """A label stream on ``ep`` while the block runs: the LabelEvents ``events(seq)`` every 50 ms, seq counting on."""
    with LatestWinsPublisher(ep, hwm=100) as pub:
        stop = threading.Event()

        def feed():
            seq = 0
            while not stop.is_set():
                for event in events(seq):
                    pub.publish(event)
                    seq += 1
                time.sleep(0.05)

        thread = threading.Thread(target=feed, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def test_listen_prints_one_line_per_label(capsys):
    ep = endpoint()

    def events(seq):
        return [LabelEvent(seq=seq, source_id="cam0", capture_timestamp_ms=now_ms() - 42, label="wave", score=0.81,
                           seen=False, topk=(RankedLabel("wave", 0.81, False), RankedLabel("clap", 0.4, True))),
                LabelEvent.no_decision("no_person", seq=seq + 1, source_id="cam1", capture_timestamp_ms=now_ms())]

    with feeding(ep, events):
        assert listen_main(ep, count=4, timeout_s=10) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    wave = next(line for line in lines if " cam0 " in line)
    assert "wave 0.81" in wave and "ms)" in wave and "clap 0.40" in wave
    assert any(" cam1 " in line and "no_person" in line for line in lines)


def test_listen_says_it_is_waiting_and_sums_up_on_stderr(capsys):
    ep = endpoint()
    assert listen_main(ep, count=1, timeout_s=0.3) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # stdout holds labels only
    waiting, summary = captured.err.splitlines()
    assert waiting == f"listen: waiting for labels on {ep}..."
    assert summary.startswith(f"listen: no labels from {ep} in 0.") and "fsvae-live running" in summary
    with feeding(ep, lambda seq: [LabelEvent(seq=seq, source_id="cam0", capture_timestamp_ms=now_ms(), label="wave",
                                             score=0.8, seen=False, topk=(RankedLabel("wave", 0.8, False),))]):
        assert listen_main(ep, count=2, timeout_s=10) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2
    assert captured.err.splitlines()[-1].startswith("listen: 2 labels in ")


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
                    "--no-spare", *_endpoints())  # fmt: skip
    _, err = process.communicate(timeout=60)
    assert process.returncode == 0, err
    events = _jsonl(jsonl)
    ok = [e for e in events if e["status"] == "ok"]
    assert ok, f"no labels; stderr: {err}"
    assert {"seq", "source_id", "label", "score", "topk", "latency_ms", "publish_timestamp_ms"} <= set(ok[0])
    assert ok[0]["label"] in ("wave", "sit down", "jump up", "unknown")
    # The file played once inference was ready: every window it sent got its label, the first ones too.
    summary = err.strip().splitlines()[-1]
    windows = int(summary.split(" windows,")[0].rsplit(" ", 1)[1])
    assert windows >= 5 and len(ok) >= windows - 1, summary


def test_the_ready_line_the_supervisor_waits_for_is_the_one_inference_prints():
    from realtime.inference import READY_LINE

    assert live.INFERENCE_READY == READY_LINE


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


def _both_spares_wait(err):
    return (any(line.startswith("[inference spare] inference: standby, model loaded") for line in err.lines)
            and any(line.startswith("[capture spare] capture: standby, ready") for line in err.lines))  # fmt: skip


def test_killed_children_are_replaced_by_their_loaded_spares_and_labels_resume(bundle_dir, tmp_path):
    jsonl = tmp_path / "labels.jsonl"
    with Tracker() as tracker:
        process = _live("--poses", tracker.endpoint, "--bundle", str(bundle_dir), "--jsonl", str(jsonl), "--verbose",
                        "--duration", "180", *_endpoints())  # fmt: skip
        err = Stderr(process)
        try:
            err.wait_for(lambda: _both_spares_wait(err), process)
            assert any(e["status"] == "ok" for e in _jsonl(jsonl)), err.text()
            for name in ("inference", "capture"):
                os.kill(err.pids()[name][0], signal.SIGKILL)
                killed_at = now_ms()
                err.wait_for(lambda: any(e["status"] == "ok" and e["publish_timestamp_ms"] > killed_at + 100
                                         for e in _jsonl(jsonl)), process, timeout_s=30)  # fmt: skip
                restart = next(line for line in err.lines if "restarting" in line and name in line)
                assert f"{name} exited with status -9" in restart and "the spare takes over" in restart
                assert len(err.pids()[name]) == 1  # no fresh start: the spare took over
        finally:
            _stop(process)
    assert process.returncode == 0, err.text()
    assert "2 restarts" in err.lines[-1]


def test_an_action_shown_to_the_camera_of_a_running_fsvae_live_is_added_and_listed_as_shown(bundle_dir, tmp_path,
                                                                                              capsys):
    import shutil

    from fsvae_cli.main import main as fsvae_main
    from fsvae_core.bundle import list_actions

    bundle = tmp_path / "bundle"
    shutil.copytree(bundle_dir, bundle)
    windows, labels, control = endpoint(), endpoint(), endpoint()
    jsonl = tmp_path / "labels.jsonl"
    with Tracker() as tracker:
        process = _live("--poses", tracker.endpoint, "--bundle", str(bundle), "--jsonl", str(jsonl), "--no-spare",
                        "--duration", "120", "--windows", windows, "--labels", labels, "--control", control)  # fmt: skip
        err = Stderr(process)
        try:
            err.wait_for(lambda: any(e["status"] == "ok" for e in _jsonl(jsonl)), process)
            show = ["actions", "add", "--control", control, "--name", "stand tall", "--ld", "the body stays upright",
                    "--gd", "standing", "--show", "1", "--countdown", "0"]  # fmt: skip
            assert fsvae_main(show) == 0, capsys.readouterr().err
            assert capsys.readouterr().out == f"added 'stand tall' on {control}, as cam0 showed it\n"
            assert fsvae_main(["actions", "list", "--control", control]) == 0
            assert capsys.readouterr().out.splitlines()[-1] == "stand tall  shown"
        finally:
            _stop(process)
    assert process.returncode == 0, err.text()
    assert list_actions(bundle)[-1].examples == 1


def test_children_end_with_the_supervisor_even_after_kill_9_and_free_the_ports(bundle_dir):
    labels, control = endpoint(), endpoint()
    with Tracker() as tracker:
        process = _live("--poses", tracker.endpoint, "--bundle", str(bundle_dir), "--verbose", "--windows", endpoint(),
                        "--labels", labels, "--control", control)  # fmt: skip
        err = Stderr(process)
        pids = []
        try:
            # Wait for all four children: capture, inference and their loaded spares.
            err.wait_for(lambda: _both_spares_wait(err), process)
            pids = [pid for found in err.pids().values() for pid in found]
            assert len(pids) == 4 and all(_alive(pid) for pid in pids), err.text()
            process.kill()  # SIGKILL: the supervisor cannot stop anything itself
            process.wait(10)
            deadline = time.monotonic() + 20
            while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not [pid for pid in pids if _alive(pid)], "children outlived their supervisor"
            # The next start can bind the same ports.
            with LatestWinsPublisher(labels), ControlServer(control):
                pass
        finally:
            for pid in pids:
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
            if process.poll() is None:
                process.kill()


def test_allow_remote_warns_without_keys_and_capture_binds_the_windows_too(bundle_dir, tmp_path):
    jsonl = tmp_path / "labels.jsonl"
    windows, labels = f"tcp://0.0.0.0:{free_port()}", f"tcp://0.0.0.0:{free_port()}"
    with Tracker() as tracker:
        process = _live("--poses", tracker.endpoint, "--bundle", str(bundle_dir), "--allow-remote", "--no-spare",
                        "--windows", windows, "--labels", labels, "--control", endpoint(), "--jsonl", str(jsonl),
                        "--quiet")  # fmt: skip
        err = Stderr(process)
        try:
            err.wait_for(lambda: any(e["status"] == "ok" for e in _jsonl(jsonl)), process)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    assert process.returncode == 0, err.text()
    warnings = [line for line in err.lines if "warning" in line]
    assert len(warnings) == 2, err.text()
    assert warnings[0].startswith("fsvae-live: warning: --allow-remote without --curve-keys")
    assert windows in warnings[1] and "unencrypted" in warnings[1]
    assert not any("restarting" in line for line in err.lines), err.text()


def test_binding_the_labels_to_the_network_needs_allow_remote_and_says_so(bundle_dir, shared_data):
    process = _live("--skeleton", str(shared_data / NTU_SAMPLE), "--bundle", str(bundle_dir), "--quiet",
                    "--windows", endpoint(), "--labels", f"tcp://0.0.0.0:{free_port()}", "--control", endpoint())
    _, err = process.communicate(timeout=60)
    assert process.returncode == 2
    assert "--allow-remote" in err


def test_a_remote_label_stream_with_curve_keys_reaches_only_the_key_holder(bundle_dir, tmp_path):
    """The documented key split: the recognizer's machine holds server.key_secret and client.key only,
    the listener elsewhere server.key and client.key_secret."""
    import shutil

    write_curve_key_files(tmp_path / "keys")
    server, client = tmp_path / "server-side", tmp_path / "client-side"
    for folder, names in ((server, ("server.key_secret", "client.key")), (client, ("server.key", "client.key_secret"))):
        folder.mkdir()
        for name in names:
            shutil.copy(tmp_path / "keys" / name, folder / name)
    port = free_port()
    jsonl = tmp_path / "labels.jsonl"
    with Tracker() as tracker:
        process = _live("--poses", tracker.endpoint, "--bundle", str(bundle_dir), "--quiet", "--no-spare",
                        "--windows", endpoint(), "--labels", f"tcp://0.0.0.0:{port}", "--control", endpoint(),
                        "--allow-remote", "--curve-keys", str(server), "--jsonl", str(jsonl))  # fmt: skip
        err = Stderr(process)
        outsider_got = []

        def outsider():  # a plain subscriber without the keys
            with LatestWinsSubscriber(f"tcp://127.0.0.1:{port}", topics=("action.label",)) as sub:
                deadline = time.monotonic() + 8
                while time.monotonic() < deadline:
                    if (message := sub.receive(timeout_ms=100)) is not None:
                        outsider_got.append(message)

        try:
            thread = threading.Thread(target=outsider)
            thread.start()
            code = listen_main(f"tcp://127.0.0.1:{port}", count=1, timeout_s=60, curve_keys=str(client))
            thread.join()
            err.wait_for(lambda: any(e["status"] == "ok" for e in _jsonl(jsonl)), process)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
    assert code == 0, err.text()  # the key holder got a label
    assert outsider_got == []
    assert process.returncode == 0, err.text()  # fsvae-live's own status subscriber needs no client secret
