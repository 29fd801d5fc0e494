"""Many cameras, one inference process: throughput, window-to-label latency and stale drops.

    python3 benchmarks/many_cameras.py --bundle fsvae_core/default_bundle [--sources 1,4,16,64,256]
        [--seconds 10] [--stride 0.25] [--max-batch 8] [--runtime auto] [--device cpu] [--json FILE]

For each N, N simulated cameras stream poses at 30 fps (a real NTU recording,
each camera at its own offset, switched on one frame after another) through the capture's own window builder
(``realtime.capture.WindowBuilder``: a window per camera every ``--stride``
seconds), and their windows go over a real ZeroMQ socket into one
``python -m realtime.inference`` process, as under ``fsvae-live``. The cameras
run in this process (one capture process per camera would not fit this
machine at N = 256); the report says how many windows they managed to offer.

Per N: windows offered per second, labels per second, window-to-label p50/p99
(the label's publish time minus the window's capture time), and the windows
the inference dropped as stale (a newer window of the same camera arrived
first: latest wins) or lost. Tests never check these numbers.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from fsvae_core.bundle import load_bundle
from fsvae_core.paths import data_dir
from fsvae_core.skeleton_data import read_ntu_skeleton
from realtime.capture import PoseSample, WindowBuilder
from realtime.inference import RUNTIMES
from realtime.messages import WINDOW_ANSWERS, LabelEvent, SkeletonWindow, now_ms
from realtime.transport import ControlClient, LatestWinsPublisher, LatestWinsSubscriber

POSE_FPS = 30.0
RECORDING = "S002C001P003R001A003.skeleton"


def percentiles(values) -> dict[str, float | None]:
    if not len(values):
        return {"p50": None, "p99": None, "n": 0}
    v = np.asarray(values, dtype=float)
    return {"p50": round(float(np.percentile(v, 50)), 2), "p99": round(float(np.percentile(v, 99)), 2), "n": int(v.size)}


def run(bundle: str, sources: int, seconds: float, stride_s: float, max_batch: int, runtime: str, device: str) -> dict:
    """One inference process fed by ``sources`` simulated cameras for ``seconds``."""
    spec = load_bundle(bundle, verify=False).skeleton
    poses = read_ntu_skeleton(data_dir() / "ntu_samples" / RECORDING)  # (T, M, 25, 3), Kinect v2 order = ntu25
    cameras = [WindowBuilder(spec, stride_s, f"cam{i}") for i in range(sources)]
    offsets = np.random.default_rng(0).integers(0, len(poses), sources)
    phases = max(1, round(stride_s * POSE_FPS))
    with tempfile.TemporaryDirectory() as folder:
        windows_ep, labels_ep, control_ep = (f"ipc://{folder}/{name}" for name in ("windows", "labels", "control"))
        process = subprocess.Popen([
            sys.executable, "-m", "realtime.inference", "--bundle", bundle, "--windows", windows_ep,
            "--labels", labels_ep, "--control", control_ep, "--device", device, "--runtime", runtime,
            "--max-batch", str(max_batch),
        ])  # fmt: skip
        try:
            with (
                LatestWinsPublisher(windows_ep, hwm=100_000) as windows_pub,
                LatestWinsSubscriber(labels_ep, topics=("action.label",), hwm=100_000) as labels_sub,
            ):
                _wait_until_serving(windows_pub, labels_sub, process, spec.fps, poses, spec)
                latencies, offered, labels = [], 0, 0
                started = time.monotonic()
                for tick in range(int(seconds * POSE_FPS)):
                    due = started + tick / POSE_FPS
                    while (left := due - time.monotonic()) > 0:
                        labels += _collect(labels_sub, latencies, timeout_ms=1000 * left)
                    for i, (camera, offset) in enumerate(zip(cameras, offsets)):
                        if tick < i % phases:
                            continue  # cameras switched on one frame apart: their windows spread over a stride
                        sample = PoseSample(tick / POSE_FPS, poses[(offset + tick) % len(poses)], "ntu25")
                        message = camera.push(sample)
                        if isinstance(message, SkeletonWindow):
                            windows_pub.publish(message)
                            offered += 1
                elapsed = time.monotonic() - started
                end = time.monotonic() + 1.0
                while time.monotonic() < end:
                    labels += _collect(labels_sub, latencies, timeout_ms=100)
                with ControlClient(control_ep) as control:
                    status = control.call("status").status
        finally:
            process.terminate()
            process.wait(timeout=10)
    return {
        "sources": sources, "seconds": round(elapsed, 2), "windows_offered_per_s": round(offered / elapsed, 1),
        "labels_per_s": round(labels / elapsed, 1), "window_to_label_ms": percentiles(latencies),
        "stale_dropped": status["stale_dropped"], "lost": status["lost"],
        "batch_mean": status.get("batch_mean"), "batch_max": status.get("batch_max"),
    }  # fmt: skip


def _collect(labels_sub: LatestWinsSubscriber, latencies: list[float], timeout_ms: float) -> int:
    event = labels_sub.receive(timeout_ms=max(0.0, timeout_ms))
    if isinstance(event, LabelEvent) and event.status in WINDOW_ANSWERS and event.source_id.startswith("cam"):
        latencies.append(event.latency_ms)
        return 1
    return 0


def _wait_until_serving(windows_pub, labels_sub, process, fps, poses, spec) -> None:
    """Windows of a warm-up camera go out until a label comes back (model loaded, sockets joined)."""
    warm = WindowBuilder(spec, 0.1, "warm-up")
    started = time.monotonic()
    for tick in range(10**6):
        if labels_sub.receive(timeout_ms=30) is not None:
            break
        if process.poll() is not None or time.monotonic() - started > 120:
            raise RuntimeError("the inference process never answered")
        message = warm.push(PoseSample(tick / POSE_FPS, poses[tick % len(poses)], "ntu25"))
        if isinstance(message, SkeletonWindow):
            windows_pub.publish(SkeletonWindow(seq=message.seq, source_id="warm-up", capture_timestamp_ms=now_ms(),
                                               fps=fps, joints=message.joints))
    while labels_sub.receive(timeout_ms=200) is not None:
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--sources", default="1,4,16,64,256", help="comma-separated numbers of cameras")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long each N streams")
    parser.add_argument("--stride", type=float, default=0.25, help="seconds between a camera's windows (as fsvae-live)")
    parser.add_argument("--max-batch", type=int, default=8, help="the inference process's --max-batch")
    parser.add_argument("--runtime", default="auto", choices=("auto", *RUNTIMES))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    report = {"bundle": args.bundle, "runtime": args.runtime, "device": args.device, "stride_s": args.stride,
              "max_batch": args.max_batch, "runs": []}  # fmt: skip
    for n in (int(part) for part in args.sources.split(",")):
        result = run(args.bundle, n, args.seconds, args.stride, args.max_batch, args.runtime, args.device)
        print(json.dumps(result), flush=True)
        report["runs"].append(result)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
