"""Capture: sources, the window builder, the capture loop and its command line."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from calibration import MediaPipe33, to_canonical
from calibration.windows import WindowSpec, clip_windows, model_window
from fsvae_core.paths import PROJECT_ROOT
from realtime.capture import (
    CaptureStats,
    PoseSample,
    PoseSubscriberSource,
    SkeletonReplaySource,
    VideoSource,
    WindowBuilder,
    main,
    run_capture,
)
from realtime.messages import NoPerson, PoseFrame, SkeletonWindow, now_ms, skeleton_topics
from realtime.transport import LatestWinsPublisher, LatestWinsSubscriber
from ports import free_endpoint, free_port

SKELETON = "ntu_samples/S001C001P001R001A011.skeleton"
TWO_BODIES = "ntu_samples/S001C003P008R002A058.skeleton"
VIDEO = "videos/S001C001P001R001A001_rgb.avi"


def standing_pose(rng: np.random.Generator | None = None) -> np.ndarray:
    """A plausible NTU25 body (25, 3) in Kinect metres, with a little jitter."""
    from calibration import NTU25

    pose = np.zeros((25, 3), dtype=np.float32)
    heights = {NTU25.SPINE_BASE: 0.0, NTU25.SPINE_MID: 0.3, NTU25.SPINE_SHOULDER: 0.5, NTU25.NECK: 0.58,
               NTU25.HEAD: 0.7}
    for joint, y in heights.items():
        pose[joint] = (0.0, y, 3.0)
    for side, x in (("LEFT", -1.0), ("RIGHT", 1.0)):
        pose[NTU25[f"SHOULDER_{side}"]] = (0.18 * x, 0.48, 3.0)
        pose[NTU25[f"ELBOW_{side}"]] = (0.22 * x, 0.22, 3.0)
        for name in ("WRIST", "HAND", "HAND_TIP", "THUMB"):
            pose[NTU25[f"{name}_{side}"]] = (0.24 * x, 0.0, 3.0)
        pose[NTU25[f"HIP_{side}"]] = (0.09 * x, -0.02, 3.0)
        pose[NTU25[f"KNEE_{side}"]] = (0.1 * x, -0.45, 3.0)
        pose[NTU25[f"ANKLE_{side}"]] = (0.1 * x, -0.85, 3.0)
        pose[NTU25[f"FOOT_{side}"]] = (0.1 * x, -0.88, 2.9)
    if rng is not None:
        pose += rng.normal(0, 0.005, pose.shape).astype(np.float32)
    return pose


def samples(times: np.ndarray, present: np.ndarray | None = None) -> list[PoseSample]:
    rng = np.random.default_rng(0)
    out = []
    for i, t in enumerate(times):
        seen = present is None or present[i]
        out.append(PoseSample(float(t), standing_pose(rng)[None] if seen else None, "ntu25", capture_ms=1e12 + t * 1e3))
    return out


# ---------------------------------------------------------------------------------------------
# WindowBuilder


def waving(times: np.ndarray) -> np.ndarray:
    """(T, 1, 25, 3) NTU25 bodies whose right hand swings, so every frame differs from the next."""
    from calibration import NTU25

    poses = np.repeat(standing_pose()[None, None], len(times), axis=0)
    for joint in (NTU25.WRIST_RIGHT, NTU25.HAND_RIGHT, NTU25.HAND_TIP_RIGHT, NTU25.THUMB_RIGHT):
        poses[:, 0, joint, 0] += 0.3 * np.sin(2 * np.pi * times).astype(np.float32)
        poses[:, 0, joint, 1] += 0.5 * np.asarray(times, np.float32)
    return poses


def test_builder_sends_its_first_window_half_a_second_after_a_person_appears_then_every_stride():
    spec = WindowSpec(frames=48, fps=20.0, max_persons=2)
    builder = WindowBuilder(spec, stride_s=0.25, source_id="cam0")
    times = np.arange(120) / 30.0  # 4 s at 30 fps
    emitted = [(s.timestamp_s, builder.push(s)) for s in samples(times)]
    windows = [(t, m) for t, m in emitted if m is not None]
    assert all(isinstance(m, SkeletonWindow) for _, m in windows)
    first = windows[0][0]
    assert first == pytest.approx(0.5)  # the first frame 0.5 s after the person appeared
    gaps = np.diff([t for t, _ in windows])
    assert np.all(gaps >= 0.25 - 1e-6) and np.all(gaps < 0.25 + 1 / 30 + 1e-6)
    for _, m in windows:
        assert m.joints.shape == (48, 2, 25, 3)
        assert m.fps == 20.0 and m.layout == "ntu25" and m.source_id == "cam0"
        assert np.all(m.joints[:, 1] == 0)  # the absent second person stays zeros
        assert np.isfinite(m.joints).all()
    assert [m.seq for _, m in windows] == list(range(len(windows)))
    assert windows[-1][1].capture_timestamp_ms == pytest.approx(1e12 + times[-1] * 1e3)
    # The ring buffer keeps a little more than one window, not the whole stream.
    assert builder.buffered_frames * (1 / 30.0) < spec.duration_s + 1.0


def test_builder_sends_no_person_after_a_gap_and_clears_the_buffer():
    spec = WindowSpec()
    builder = WindowBuilder(spec, stride_s=0.25, source_id="cam0", grace_s=0.5)
    times = np.arange(180) / 30.0  # 6 s
    present = (times < 2.0) | (times >= 3.5)
    emitted = [(s.timestamp_s, builder.push(s)) for s in samples(times, present)]
    no_person = [t for t, m in emitted if isinstance(m, NoPerson)]
    assert no_person, "no NoPerson during a 1.5 s gap"
    assert min(no_person) >= 2.0 - 1 / 30 + 0.5 - 1e-6 and max(no_person) < 3.5  # last seen + grace
    assert np.all(np.diff(no_person) >= 0.25 - 1e-6)
    # After the gap the person is new: the first window comes 0.5 s after they reappear.
    after = [t for t, m in emitted if isinstance(m, SkeletonWindow) and t >= 3.5]
    assert after and min(after) == pytest.approx(4.0)
    # Windows and notices share one gap-free seq.
    seqs = [m.seq for _, m in emitted if m is not None]
    assert seqs == list(range(len(seqs)))


def test_builder_keeps_the_buffer_through_a_short_dropout():
    builder = WindowBuilder(WindowSpec(), stride_s=0.25, source_id="cam0", grace_s=0.5)
    times = np.arange(150) / 30.0
    present = ~((times > 2.0) & (times < 2.2))
    messages = [builder.push(s) for s in samples(times, present)]
    assert not any(isinstance(m, NoPerson) for m in messages)
    windows = [m for m in messages if isinstance(m, SkeletonWindow)]
    assert len(windows) >= 14


def test_builder_sends_no_person_when_nobody_ever_appears():
    builder = WindowBuilder(WindowSpec(), stride_s=0.25, source_id="cam0", grace_s=0.5)
    messages = [builder.push(s) for s in samples(np.arange(60) / 30.0, np.zeros(60, dtype=bool))]
    kinds = {type(m) for m in messages if m is not None}
    assert kinds == {NoPerson}


def test_a_short_buffer_gives_the_window_training_cuts_from_the_same_frames():
    spec = WindowSpec(frames=32, fps=15.0)  # the shipped bundle's windows: 2.07 s
    times = np.arange(40) / 30.0  # 1.3 s of a person
    poses = waving(times)
    for start_s in (0.0, 1234.5):  # a file from 0 s, a camera on the monotonic clock
        builder = WindowBuilder(spec, stride_s=0.25, source_id="cam0")
        sent = [(i, builder.push(PoseSample(start_s + t, poses[i], "ntu25"))) for i, t in enumerate(times)]
        windows = [(i, m) for i, m in sent if m is not None]
        assert [i for i, _ in windows] == [15, 23, 31, 39]  # 0.5 s, then every 0.25 s at 30 fps
        for i, message in windows:
            trained = clip_windows(to_canonical(poses[: i + 1], "ntu25"), 30.0, spec)[0]  # (M, T', V, 3)
            np.testing.assert_allclose(message.joints.transpose(1, 0, 2, 3), trained, atol=1e-4)
            if start_s == 0.0:
                np.testing.assert_array_equal(message.joints.transpose(1, 0, 2, 3), trained)
        first = windows[0][1].joints[:, 0]  # (T', V, 3): 0.5 s of motion centred, edges held
        assert np.array_equal(first[0], first[1]) and np.array_equal(first[-1], first[-2])


def test_a_long_buffer_still_gives_the_window_ending_at_the_newest_frame():
    spec = WindowSpec(frames=32, fps=15.0)
    times = 50.0 + np.arange(120) / 30.0
    poses = waving(times)
    builder = WindowBuilder(spec, stride_s=0.25, source_id="cam0")
    last = None
    for i, t in enumerate(times):
        last = builder.push(PoseSample(t, poses[i], "ntu25")) or last
    canonical = to_canonical(poses, "ntu25")
    expected = model_window(canonical, times, spec, end_s=times[-1])
    np.testing.assert_allclose(last.joints.transpose(1, 0, 2, 3), expected, atol=1e-5)
    assert builder.flush() is None  # the last window already took the newest frame


def test_flush_gives_a_stream_shorter_than_the_first_window_delay_its_training_window():
    spec = WindowSpec(frames=32, fps=15.0)
    times = np.arange(9) / 30.0  # 0.27 s: less than first_window_s
    poses = waving(times)
    builder = WindowBuilder(spec, stride_s=0.25, source_id="cam0")
    assert all(builder.push(PoseSample(t, poses[i], "ntu25")) is None for i, t in enumerate(times))
    window = builder.flush(capture_ms=123.0)
    assert isinstance(window, SkeletonWindow) and window.capture_timestamp_ms == 123.0
    np.testing.assert_array_equal(window.joints.transpose(1, 0, 2, 3),
                                  clip_windows(to_canonical(poses, "ntu25"), 30.0, spec)[0])
    assert builder.flush() is None and builder.windows == 1
    assert WindowBuilder(spec, 0.25, "cam0").flush() is None  # nobody seen: nothing to flush


def test_builder_counts_the_frames_with_a_person():
    builder = WindowBuilder(WindowSpec(), stride_s=0.25, source_id="cam0")
    present = np.arange(30) % 3 != 0
    for s in samples(np.arange(30) / 30.0, present):
        builder.push(s)
    assert builder.person_frames == 20


def test_builder_maps_other_layouts_and_drops_extra_persons():
    spec = WindowSpec(max_persons=1)
    builder = WindowBuilder(spec, stride_s=0.25, source_id="cam0")
    rng = np.random.default_rng(1)
    message = None
    for i in range(60):
        joints = rng.normal(0, 0.2, (3, 33, 3)).astype(np.float32)  # three "persons", mediapipe layout
        joints[:, 5] = np.nan  # an unplaced joint is filled, never sent as NaN
        message = builder.push(PoseSample(i / 30.0, joints, "mediapipe33")) or message
    assert isinstance(message, SkeletonWindow)
    assert message.joints.shape == (48, 1, 25, 3)


def test_builder_restarts_when_time_goes_backwards():
    builder = WindowBuilder(WindowSpec(), stride_s=0.25, source_id="cam0")
    for s in samples(np.arange(60) / 30.0):
        builder.push(s)
    assert builder.buffered_frames > 30
    builder.push(samples(np.array([0.0]))[0])
    assert builder.buffered_frames == 1


def test_builder_options_are_checked():
    with pytest.raises(ValueError, match="stride_s"):
        WindowBuilder(WindowSpec(), stride_s=0, source_id="cam0")
    with pytest.raises(ValueError, match="grace_s"):
        WindowBuilder(WindowSpec(), stride_s=0.25, source_id="cam0", grace_s=-1)
    with pytest.raises(ValueError, match="first_window_s"):
        WindowBuilder(WindowSpec(), stride_s=0.25, source_id="cam0", first_window_s=float("nan"))


def test_a_recorded_sequence_replays_with_absent_bodies_dropped():
    from realtime.capture import SequenceReplaySource

    joints = np.ones((3, 2, 20, 3), np.float32)
    joints[0, 1] = 0.0  # second body absent in frame 0
    joints[1, 1] = np.nan  # ... and in frame 1
    joints[2] = 0.0  # nobody in frame 2
    got = list(SequenceReplaySource(joints, "kinect_v1", fps=30.0, realtime=False))
    assert [None if s.joints is None else s.joints.shape for s in got] == [(1, 20, 3), (1, 20, 3), None]
    np.testing.assert_allclose([s.timestamp_s for s in got], np.arange(3) / 30.0)
    assert {s.layout for s in got} == {"kinect_v1"}


# ---------------------------------------------------------------------------------------------
# Sources on real data


def test_skeleton_replay_yields_every_frame_at_30_fps(shared_data):
    source = SkeletonReplaySource(shared_data / SKELETON, realtime=False)
    got = list(source)
    assert len(got) == 82
    np.testing.assert_allclose([s.timestamp_s for s in got], np.arange(82) / 30.0)
    assert all(s.layout == "ntu25" and s.joints is not None and s.joints.shape == (1, 25, 3) for s in got)


def test_skeleton_replay_gives_both_bodies(shared_data):
    got = list(SkeletonReplaySource(shared_data / TWO_BODIES, realtime=False))
    assert max(s.joints.shape[0] for s in got if s.joints is not None) == 2


def test_skeleton_replay_realtime_is_paced(shared_data):
    source = SkeletonReplaySource(shared_data / SKELETON, realtime=True)
    started = time.monotonic()
    for i, _ in enumerate(source):
        if i == 9:
            break
    assert time.monotonic() - started >= 9 / 30.0 - 0.01


def test_skeleton_replay_through_the_builder(shared_data):
    builder = WindowBuilder(WindowSpec(), stride_s=0.25, source_id="cam0")
    source = SkeletonReplaySource(shared_data / SKELETON, realtime=False)
    stats = run_capture(source, builder, _ListPublisher())
    assert stats.frames == 82 and stats.windows >= 5 and stats.no_person == 0
    assert stats.pose_ms_p50 is None  # no estimator in a replay


def test_run_capture_sends_a_last_window_when_a_short_file_ends():
    from realtime.capture import SequenceReplaySource

    times = np.arange(9) / 30.0  # shorter than the first-window delay
    source = SequenceReplaySource(waving(times), "ntu25", fps=30.0, realtime=False)
    publisher = _ListPublisher()
    stats = run_capture(source, WindowBuilder(WindowSpec(frames=32, fps=15.0), 0.25, "cam0"), publisher)
    assert stats.frames == 9 and stats.windows == 1 and isinstance(publisher.messages[0], SkeletonWindow)


class _ListPublisher:
    def __init__(self):
        self.messages = []

    def publish(self, message) -> bool:
        message.to_frames()  # serialisable, as the real publisher needs
        self.messages.append(message)
        return True


class _FakeEstimator:
    """Stands in for MediaPipe where only the source's timing is under test."""

    def __init__(self, delay_s: float = 0.0):
        self.delay_s = delay_s

    def estimate(self, frame, timestamp_ms=None):
        time.sleep(self.delay_s)
        return None


def test_video_fast_processes_every_frame_with_index_timestamps(shared_data):
    source = VideoSource(shared_data / VIDEO, _FakeEstimator(), realtime=False)
    got = [s for _, s in zip(range(20), source)]
    source.close()
    assert source.fps == pytest.approx(30.0)
    np.testing.assert_allclose([s.timestamp_s for s in got], np.arange(20) / 30.0)
    assert source.dropped_frames == 0
    assert got[0].frame.shape == (1080, 1920, 3)


def test_a_mirrored_video_is_flipped_back_before_pose_estimation(shared_data):
    import cv2
    from realtime.pose import PoseEstimator

    capture = cv2.VideoCapture(str(shared_data / VIDEO))
    ok, frame = capture.read()
    capture.release()
    assert ok
    with PoseEstimator.create() as straight, PoseEstimator.create() as unmirrored:
        direct = straight.estimate(frame)
        source = VideoSource(shared_data / VIDEO, unmirrored, realtime=False, mirrored=True)
        flipped = next(source)
        source.close()
    np.testing.assert_array_equal(flipped.frame, frame[:, ::-1])
    # The file is not a mirror image, so flipping it makes one: the sides swap (see test_pose).
    left, right = MediaPipe33.LEFT_SHOULDER, MediaPipe33.RIGHT_SHOULDER
    assert direct.world[0, left, 2] < direct.world[0, right, 2] - 0.05
    assert flipped.joints[0, left, 2] > flipped.joints[0, right, 2] + 0.05


def test_fast_files_stamp_frames_with_the_wall_clock_time_they_were_read(shared_data):
    # Video time runs ahead of the wall clock under --fast; stamping with it would make latencies negative.
    for source in (VideoSource(shared_data / VIDEO, _FakeEstimator(), realtime=False),
                   SkeletonReplaySource(shared_data / SKELETON, realtime=False)):
        started = now_ms()
        got = [s for _, s in zip(range(20), source)]
        source.close()
        captured = [s.capture_ms for s in got]
        assert started <= captured[0] and np.all(np.diff(captured) >= 0) and captured[-1] <= now_ms()


def test_video_realtime_drops_frames_when_estimation_is_slow(shared_data):
    source = VideoSource(shared_data / VIDEO, _FakeEstimator(delay_s=0.07), realtime=True)
    got = [s for _, s in zip(range(8), source)]
    source.close()
    assert source.dropped_frames >= 8
    assert np.all(np.diff([s.timestamp_s for s in got]) > 1.5 / 30.0)


def test_video_with_mediapipe_emits_windows(shared_data):
    from realtime.pose import PoseEstimator

    with PoseEstimator.create() as estimator:
        source = VideoSource(shared_data / VIDEO, estimator, realtime=False)
        builder = WindowBuilder(WindowSpec(), stride_s=0.25, source_id="cam0")
        publisher = _ListPublisher()
        stats = run_capture(source, builder, publisher, max_frames=45)
        source.close()
    assert stats.frames == 45 and stats.dropped_frames == 0
    assert stats.windows >= 1 and stats.no_person == 0
    assert stats.pose_ms_p50 is not None and stats.pose_ms_p99 >= stats.pose_ms_p50
    window = publisher.messages[0]
    assert window.joints.shape == (48, 2, 25, 3) and window.layout == "ntu25"


def test_pose_subscriber_source_turns_zero_confidence_into_nan():
    endpoint = free_endpoint()
    with LatestWinsPublisher(endpoint) as tracker:
        source = PoseSubscriberSource(endpoint, timeout_s=3.0)
        joints = np.ones((1, 33, 3), dtype=np.float32)
        confidence = np.ones((1, 33), dtype=np.float32)
        confidence[0, 7] = 0.0
        frame = PoseFrame(seq=0, source_id="mp0", capture_timestamp_ms=1.7e12, layout="mediapipe33",
                          joints=joints, confidence=confidence)
        result = {}

        def read():
            result["sample"] = next(source)

        reader = threading.Thread(target=read)
        reader.start()
        deadline = time.monotonic() + 3.0
        while reader.is_alive() and time.monotonic() < deadline:
            tracker.publish(frame)  # until the subscription has reached the publisher
            time.sleep(0.05)
        reader.join(timeout=3.0)
        source.close()
    sample = result["sample"]
    assert sample.layout == "mediapipe33" and sample.joints.shape == (1, 33, 3)
    assert np.isnan(sample.joints[0, 7]).all() and np.isfinite(np.delete(sample.joints[0], 7, axis=0)).all()


def test_garbage_on_the_pose_socket_is_counted_and_the_next_frame_still_read():
    import zmq

    endpoint = free_endpoint()
    with zmq.Context.instance().socket(zmq.PUB) as tracker:
        tracker.bind(endpoint)
        source = PoseSubscriberSource(endpoint, timeout_s=3.0)
        good = PoseFrame(seq=0, source_id="mp0", capture_timestamp_ms=now_ms(), layout="mediapipe33",
                         joints=np.ones((1, 33, 3), dtype=np.float32)).to_frames()
        result = {}
        reader = threading.Thread(target=lambda: result.setdefault("sample", next(source)))
        reader.start()
        deadline = time.monotonic() + 3.0
        while reader.is_alive() and time.monotonic() < deadline:
            tracker.send_multipart([b"pose.frame.mp0", b"{\"seq\": 1" + b"0" * 5000 + b"}"])  # a 5000-digit integer
            time.sleep(0.02)
            if source.malformed_messages:
                tracker.send_multipart(good)
        reader.join(timeout=3.0)
        source.close()
    assert result["sample"].joints.shape == (1, 33, 3) and source.malformed_messages >= 1


def test_a_pose_tracker_whose_clock_jumps_keeps_the_time_line_and_real_latencies():
    source = PoseSubscriberSource(free_endpoint(), timeout_s=0.1)

    def frame(seq, capture_ms):
        return PoseFrame(seq=seq, source_id="mp0", capture_timestamp_ms=capture_ms, layout="mediapipe33",
                         joints=np.ones((1, 33, 3), dtype=np.float32))

    start = now_ms()
    first = source._sample(frame(0, start))
    forged = source._sample(frame(1, start + 1e9))  # one frame from weeks ahead
    after = source._sample(frame(2, start + 33.0))
    source.close()
    assert first.capture_ms == start and after.capture_ms == start + 33.0  # a sane clock keeps its times
    assert forged.capture_ms < start + 60_000  # the forged time is not passed on as a capture time
    assert first.timestamp_s < forged.timestamp_s < after.timestamp_s < first.timestamp_s + 60  # not weeks ahead


# ---------------------------------------------------------------------------------------------
# The command line


def _run(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-m", "realtime.capture", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_cli_publishes_windows_a_subscriber_receives(shared_data):
    endpoint = free_endpoint()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    with LatestWinsSubscriber(endpoint, topics=skeleton_topics("cam0")) as subscriber:
        process = subprocess.Popen(
            [sys.executable, "-m", "realtime.capture", "--skeleton", str(shared_data / SKELETON),
             "--duration", "2", "--fast", "--windows", endpoint],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        received = []
        deadline = time.monotonic() + 20.0
        while time.monotonic() < deadline and process.poll() is None:
            message = subscriber.receive(timeout_ms=100)
            if message is not None:
                received.append(message)
        while (message := subscriber.receive(timeout_ms=100)) is not None:
            received.append(message)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    windows = [m for m in received if isinstance(m, SkeletonWindow)]
    assert windows, f"no window arrived; capture said: {stderr[-500:]}"
    assert windows[0].joints.shape == (48, 2, 25, 3) and windows[0].source_id == "cam0"


def _windows_from_a_connecting_capture(endpoint: str, server_keys, *capture_args: str) -> tuple[list, str]:
    """Windows that reach a bound (inference-side) subscriber from ``capture --connect``, and capture's stderr."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    with LatestWinsSubscriber(endpoint, topics=skeleton_topics("cam0"), bind=True, curve=server_keys) as subscriber:
        process = subprocess.Popen(
            [sys.executable, "-m", "realtime.capture", "--duration", "3", "--fast", "--settle", "1",
             "--windows", endpoint, "--connect", *capture_args],
            cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        received = []
        while process.poll() is None:
            received.append(subscriber.receive(timeout_ms=100))
        while (message := subscriber.receive(timeout_ms=200)) is not None:
            received.append(message)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    return [m for m in received if isinstance(m, SkeletonWindow)], stderr


def test_cli_connects_its_windows_to_an_inference_on_another_machine_over_curve(shared_data, tmp_path):
    from realtime.transport import read_curve_key_files, write_curve_key_files

    write_curve_key_files(tmp_path / "keys")
    remote = tmp_path / "capture-machine"  # what the README tells a capture machine to hold
    remote.mkdir()
    for name in ("server.key", "client.key_secret"):
        shutil.copy(tmp_path / "keys" / name, remote / name)
    server = read_curve_key_files(tmp_path / "keys", "server")
    windows, stderr = _windows_from_a_connecting_capture(free_endpoint(), server, "--skeleton",
                                                         str(shared_data / SKELETON), "--curve-keys", str(remote))
    assert windows and windows[0].source_id == "cam0", stderr[-500:]
    # Without the keys nothing gets through.
    refused, _ = _windows_from_a_connecting_capture(free_endpoint(), server, "--skeleton", str(shared_data / SKELETON))
    assert refused == []


def test_cli_missing_camera_exits_2_with_one_line():
    result = _run("--camera", "7")
    assert result.returncode == 2
    assert result.stderr.strip() == "capture: no camera 7 on this machine (try --video PATH or --skeleton PATH)"


def test_cli_kinect_without_pyk4a_exits_2():
    try:
        import pyk4a  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("pyk4a is installed here")
    result = _run("--kinect")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pyk4a is not installed" in lines[0]


def test_cli_needs_exactly_one_source(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--camera", "0", "--video", "x.avi"])
    assert stopped.value.code == 2
    with pytest.raises(SystemExit):
        main([])


def test_cli_refuses_a_source_id_that_cannot_end_a_topic_in_one_line(tmp_path, capsys):
    clip = tmp_path / "clip.skeleton"
    clip.write_text("")
    assert main(["--skeleton", str(clip), "--source-id", "cam.0", "--windows", free_endpoint()]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("capture: --source-id: must be 1-64 characters")


def test_cli_show_without_display_fails_in_one_line(shared_data, monkeypatch, capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code = main(["--skeleton", str(shared_data / SKELETON), "--show", "--windows", free_endpoint()])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "capture: --show needs a display, and there is none here (no $DISPLAY); use --record FILE instead"
    ]


def test_cli_reads_the_window_spec_from_a_bundle(tmp_path, shared_data, capsys):
    import json

    from fsvae_core.bundle import MANIFEST, window_to_dict

    spec = WindowSpec(frames=32, fps=15.0, max_persons=1)
    (tmp_path / MANIFEST).write_text(json.dumps({"skeleton": window_to_dict(spec)}))
    from realtime import capture

    assert capture._window_spec(str(tmp_path)) == spec
    assert capture._window_spec(None) == WindowSpec()


def test_cli_records_the_overlay_headless(tmp_path, shared_data):
    out = tmp_path / "overlay.avi"
    result = _run("--video", str(shared_data / VIDEO), "--fast", "--duration", "1", "--settle", "0",
                  "--windows", free_endpoint(), "--record", str(out), timeout=60)
    assert result.returncode == 0, result.stderr[-800:]
    import cv2

    capture = cv2.VideoCapture(str(out))
    ok, frame = capture.read()
    capture.release()
    assert ok and frame.shape == (1080, 1920, 3)


def test_run_capture_stops_on_the_event(shared_data):
    stop = threading.Event()
    stop.set()
    stats = run_capture(SkeletonReplaySource(shared_data / SKELETON, realtime=False),
                        WindowBuilder(WindowSpec(), 0.25, "cam0"), _ListPublisher(), stop_event=stop)
    assert isinstance(stats, CaptureStats) and stats.frames == 1


def test_cli_stops_cleanly_on_sigterm():
    import signal

    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "realtime.capture", "--poses", free_endpoint(), "--windows", free_endpoint()],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    time.sleep(1.5)  # started and waiting for poses that never come
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0, stderr
    assert '"frames": 0' in stderr


def test_the_window_spec_is_read_without_torch_and_agrees_with_the_bundle(tmp_path):
    from fsvae_core.text import SentenceEncoder
    from test_inference import make_bundle

    from fsvae_core.bundle import load_bundle
    from realtime import capture

    bundle = make_bundle(tmp_path / "bundle", SentenceEncoder(cache_root=tmp_path / "text"))
    assert capture._window_spec(str(bundle)) == load_bundle(bundle).skeleton
    code = ("import sys; from realtime.capture import _window_spec; _window_spec(sys.argv[1]); "
            "print('torch' in sys.modules)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", code, str(bundle)], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "False", done.stderr


def test_cli_binds_windows_to_the_network_only_with_allow_remote():
    port = free_port()
    refused = _run("--poses", free_endpoint(), "--windows", f"tcp://0.0.0.0:{port}", "--duration", "0.5")
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "--allow-remote" in lines[0], refused.stderr
    allowed = _run("--poses", free_endpoint(), "--windows", f"tcp://0.0.0.0:{port}", "--allow-remote",
                   "--duration", "0.5")  # fmt: skip
    assert allowed.returncode == 0, allowed.stderr


def test_a_source_without_images_is_drawn_on_a_blank_canvas():
    from calibration import NTU25
    from realtime.capture import draw_canonical_skeleton

    pose = standing_pose()
    image = draw_canonical_skeleton(pose[None], origin=pose[NTU25.SPINE_BASE])
    assert image.shape == (480, 640, 3) and image.dtype == np.uint8
    rows, cols = np.nonzero(image.any(axis=2))
    assert len(rows) > 200  # bones, not a few dots
    # Head above feet; drawn as the camera sees a person facing it: their right hand on the image's left.
    def column_row(joint):
        point = pose[joint]
        return 320 - (point[0] - pose[NTU25.SPINE_BASE][0]) * 200, 288 - (point[1] - pose[NTU25.SPINE_BASE][1]) * 200

    assert column_row(NTU25.HEAD)[1] < column_row(NTU25.FOOT_LEFT)[1]
    assert column_row(NTU25.HAND_RIGHT)[0] < 320 < column_row(NTU25.HAND_LEFT)[0]
    assert image[int(column_row(NTU25.HEAD)[1]), int(column_row(NTU25.HEAD)[0])].any()
    assert not draw_canonical_skeleton(None).any()


def test_cli_records_a_skeleton_replay_on_a_blank_canvas(tmp_path, shared_data):
    out = tmp_path / "overlay.avi"
    result = _run("--skeleton", str(shared_data / SKELETON), "--fast", "--windows", free_endpoint(),
                  "--record", str(out), timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr[-800:]
    import cv2

    video = cv2.VideoCapture(str(out))
    frames = []
    while True:
        ok, frame = video.read()
        if not ok:
            break
        frames.append(frame)
    video.release()
    replayed = len(SkeletonReplaySource(shared_data / SKELETON, realtime=False))
    assert len(frames) == replayed and frames[0].shape == (480, 640, 3)
    assert all(frame.any() for frame in frames[5:])  # a skeleton on every frame with a person


def test_the_overlay_subscribes_with_the_keys_of_the_recognizers_machine(tmp_path):
    from realtime import capture
    from realtime.transport import write_curve_key_files

    write_curve_key_files(tmp_path / "keys")
    server_side = tmp_path / "server-side"
    server_side.mkdir()
    for name in ("server.key_secret", "client.key"):  # what the recognizer's machine keeps
        shutil.copy(tmp_path / "keys" / name, server_side / name)
    keys = capture._client_keys(str(server_side), remote=False)
    assert keys is not None and keys.client_secret is not None and keys.server_secret is None
