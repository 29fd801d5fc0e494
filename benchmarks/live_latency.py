"""Live-system speed: pose estimation, inference per window, batching, and window-to-label latency.

    python3 benchmarks/live_latency.py --bundle runs/default/bundle [--video PATH] [--device cpu] [--frames 0]
                                       [--runtime auto|torch|onnx]

Reports, as percentiles over repeated runs:
1. MediaPipe pose estimation, ms per frame, on a real video (the pose stage;
   ``--frames 0`` skips it, e.g. on a GPU machine without MediaPipe);
2. inference, ms per window (backbone + VAE encoder + prototype scores) at batch 1;
3. batched throughput, windows/s at batch 8 and the ratio to batch 1;
4. window-to-label latency over real ZeroMQ sockets (pose stage excluded): an
   NTU .skeleton recording cut into canonical windows is published at 30 windows/s
   into a ``python -m realtime.inference`` process, and each label's publish time
   minus its window's capture time is collected.
Tests never check these numbers; this script is where speed is measured.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from calibration import to_canonical
from calibration.windows import model_window
from fsvae_core.bundle import load_bundle
from fsvae_core.paths import data_dir
from fsvae_core.skeleton_data import read_ntu_skeleton
from realtime.inference import RUNTIMES, Recognizer
from realtime.messages import WINDOW_ANSWERS, LabelEvent, SkeletonWindow, now_ms
from realtime.transport import ControlClient, LatestWinsPublisher, LatestWinsSubscriber


def percentiles(values) -> dict[str, float]:
    v = np.asarray(values, dtype=float)
    return {"p50": round(float(np.percentile(v, 50)), 2), "p99": round(float(np.percentile(v, 99)), 2),
            "mean": round(float(v.mean()), 2), "n": int(v.size)}


def pose_stage(video: Path, frames: int) -> dict:
    from realtime.capture import VideoSource
    from realtime.pose import PoseEstimator

    times, found = [], 0
    with PoseEstimator.create() as estimator, VideoSource(video, estimator, realtime=False) as source:
        for sample in itertools.islice(source, frames):  # one frame alive at a time, as in capture
            times.append(sample.pose_ms)
            found += sample.joints is not None
    return {"ms_per_frame": percentiles(times[3:]), "person_found": f"{found}/{len(times)}", "video": video.name}


def real_windows(recognizer: Recognizer, count: int) -> list[np.ndarray]:
    """Canonical windows (T, M, V, 3) cut every 1/30 s from a real NTU recording."""
    bundle = recognizer.bundle
    joints = to_canonical(read_ntu_skeleton(data_dir() / "ntu_samples" / "S002C001P003R001A003.skeleton"), "ntu25")
    t = np.arange(len(joints)) / 30.0
    ends = np.linspace(t[-1] / 2, t[-1], count)
    return [model_window(joints, t, bundle.skeleton, end).transpose(1, 0, 2, 3) for end in ends]


def inference_stage(recognizer: Recognizer, windows: list[np.ndarray], repeats: int) -> dict:
    single, batched = [], []
    for i in range(repeats):
        started = time.perf_counter()
        recognizer.scores([windows[i % len(windows)]])
        single.append(1000 * (time.perf_counter() - started))
    for i in range(repeats // 4):
        started = time.perf_counter()
        recognizer.scores([windows[(i + j) % len(windows)] for j in range(8)])
        batched.append(1000 * (time.perf_counter() - started))
    per_window_1 = np.median(single)
    per_window_8 = np.median(batched) / 8
    return {"ms_per_window_batch1": percentiles(single), "ms_per_batch8": percentiles(batched),
            "windows_per_s_batch1": round(1000 / per_window_1, 1), "windows_per_s_batch8": round(1000 / per_window_8, 1),
            "batching_speedup": round(per_window_1 / per_window_8, 2)}


def socket_latency(bundle: str, windows: list[np.ndarray], rate_hz: float, threads: int, device: str,
                   runtime: str = "auto") -> dict:
    """Publish windows at ``rate_hz`` into a real inference process and collect its labels' latencies.

    The inference runs as ``python -m realtime.inference``, its own process as
    under ``fsvae-live``: a thread in this process would share the GIL with the
    publisher and wait out switch intervals the product never sees.
    """
    with tempfile.TemporaryDirectory() as folder:
        windows_ep, labels_ep, control_ep = (f"ipc://{folder}/{name}" for name in ("windows", "labels", "control"))
        windows_pub = LatestWinsPublisher(windows_ep)
        labels_sub = LatestWinsSubscriber(labels_ep, topics=("action.label",), hwm=10000)
        process = subprocess.Popen([
            sys.executable, "-m", "realtime.inference", "--bundle", bundle, "--windows", windows_ep,
            "--labels", labels_ep, "--control", control_ep, "--threads", str(threads), "--device", device,
            "--runtime", runtime,
        ])  # fmt: skip
        try:
            # Warm-up: windows go out until labels come back (model loaded, both subscriptions joined).
            fps = load_bundle(bundle, verify=False).fps
            started = time.monotonic()
            for seq in itertools.count():
                if labels_sub.receive(timeout_ms=100) is not None:
                    break
                if process.poll() is not None or time.monotonic() - started > 120:
                    raise RuntimeError("the inference process never answered")
                windows_pub.publish(SkeletonWindow(seq=seq, source_id="warm-up", capture_timestamp_ms=now_ms(),
                                                   fps=fps, joints=windows[0]))
            while labels_sub.receive(timeout_ms=200) is not None:
                pass
            latencies = []

            def keep(event) -> None:
                if isinstance(event, LabelEvent) and event.status in WINDOW_ANSWERS and event.source_id == "bench":
                    latencies.append(event.latency_ms)

            for seq, joints in enumerate(windows):
                windows_pub.publish(SkeletonWindow(seq=seq, source_id="bench", capture_timestamp_ms=now_ms(),
                                                   fps=fps, joints=joints))
                deadline = time.monotonic() + 1 / rate_hz
                while time.monotonic() < deadline:
                    keep(labels_sub.receive(timeout_ms=max(0.0, 1000 * (deadline - time.monotonic()))))
            while (event := labels_sub.receive(timeout_ms=300)) is not None:
                keep(event)
            with ControlClient(control_ep) as control:
                status = control.call("status").status
        finally:
            process.terminate()
            process.wait(timeout=10)
            windows_pub.close()
            labels_sub.close()
    return {"window_to_label_ms": percentiles(latencies), "windows_sent": len(windows), "labels": len(latencies),
            "stale_dropped": status["stale_dropped"], "lost": status["lost"], "rate_hz": rate_hz}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", required=True)
    parser.add_argument("--video", default=str(data_dir() / "videos" / "S001C001P001R001A001_rgb.avi"))
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--windows", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for the model, as the inference process uses")
    parser.add_argument("--runtime", default="auto", choices=("auto", *RUNTIMES),
                        help="what scores windows (onnx: CPU only; auto: onnx on the CPU, as the product)")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    recognizer = Recognizer.from_bundle(load_bundle(args.bundle), device=args.device, runtime=args.runtime)
    windows = real_windows(recognizer, 64)
    report = {"device": str(recognizer.device), "runtime": recognizer.runtime, "bundle": args.bundle, "threads": args.threads}
    if args.frames > 0:
        report["pose"] = pose_stage(Path(args.video), args.frames)
    report["inference"] = inference_stage(recognizer, windows, 200)
    stream = [windows[i % len(windows)] for i in range(args.windows)]
    report["sockets"] = socket_latency(args.bundle, stream, 30.0, args.threads, args.device, recognizer.runtime)
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
