"""How long labels stop when a child of ``fsvae-live`` is killed: time from ``kill -9`` to the next label.

    python3 benchmarks/restart_time.py [--bundle B] [--kills 3] [--no-spare]

A tracker thread replays an NTU ``.skeleton`` recording (looped) as PoseFrames
at 30 fps into ``fsvae-live --poses``; once both loaded spares wait, the
inference process and then the capture process are killed with SIGKILL,
``--kills`` times each, and the gap between the kill and the first label
published after it is measured from the label stream (``--jsonl``). With
``--no-spare`` the supervisor starts a fresh child instead (the slow path).
Reports each gap and their median and maximum, in seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from fsvae_core.paths import PROJECT_ROOT, data_dir
from fsvae_core.skeleton_data import read_ntu_skeleton
from realtime.live import FAST_CRASH_S
from realtime.messages import PoseFrame, now_ms
from realtime.transport import LatestWinsPublisher

SKELETON = "ntu_samples/S002C001P003R001A003.skeleton"


def replay(endpoint: str, joints: np.ndarray, stop: threading.Event) -> None:
    """Publish the recording's first body (T, V, 3) as PoseFrames at 30 fps, looping, until ``stop``."""
    with LatestWinsPublisher(endpoint, hwm=100) as publisher:
        seq = 0
        while not stop.is_set():
            now = now_ms()
            publisher.publish(PoseFrame(seq=seq, source_id="cam0", capture_timestamp_ms=now, timestamp_ms=now,
                                        layout="ntu25", joints=joints[seq % len(joints)][None]))  # fmt: skip
            seq += 1
            time.sleep(1 / 30)


def labels_after(jsonl: Path, after_ms: float) -> float | None:
    """Publish time (ms) of the first decided label after ``after_ms``, or None yet."""
    if not jsonl.exists():
        return None
    for line in jsonl.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a line being written
        if event.get("status") == "ok" and event["publish_timestamp_ms"] > after_ms:
            return event["publish_timestamp_ms"]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=str(PROJECT_ROOT / "fsvae_core" / "default_bundle"))
    parser.add_argument("--kills", type=int, default=3, help="kills of each child")
    parser.add_argument("--no-spare", action="store_true", help="restart from scratch instead of a loaded spare")
    args = parser.parse_args(argv)

    sequence = read_ntu_skeleton(data_dir() / SKELETON)  # (T, M, V, 3)
    gaps: dict[str, list[float]] = {"inference": [], "capture": []}
    with tempfile.TemporaryDirectory() as work:
        poses, windows, labels, control = (f"ipc://{work}/{name}" for name in ("poses", "windows", "labels", "control"))
        stop = threading.Event()
        threading.Thread(target=replay, args=(poses, sequence[:, 0], stop), daemon=True).start()
        jsonl = Path(work) / "labels.jsonl"
        command = [sys.executable, "-m", "realtime.live", "--poses", poses, "--bundle", args.bundle, "--jsonl",
                   str(jsonl), "--verbose", "--windows", windows, "--labels", labels, "--control", control,
                   *(["--no-spare"] if args.no_spare else [])]  # fmt: skip
        process = subprocess.Popen(command, cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True).start()

        def pids(name: str) -> list[int]:
            return [int(line.split("(pid ")[1].split(")")[0]) for line in list(lines)
                    if line.startswith(f"fsvae-live: {name} started (pid ")]  # fmt: skip

        def serving(name: str, takeovers: int) -> int:
            # Spares take over in the order they started; without spares each restart prints a fresh start.
            return pids(name)[-1] if args.no_spare or takeovers == 0 else pids(f"{name} spare")[takeovers - 1]

        def wait(predicate, timeout_s: float = 120.0):
            deadline = time.monotonic() + timeout_s
            while not predicate():
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("fsvae-live ended or stalled:\n" + "".join(lines[-20:]))
                time.sleep(0.02)

        def ready(kills: int) -> bool:
            # Every spare loaded (a fresh one replaces each that took over), and labels flowing.
            spares = args.no_spare or sum("standby" in line for line in list(lines)) >= 2 + kills
            return spares and labels_after(jsonl, now_ms() - 1000.0) is not None

        try:
            kills = 0
            last_kill = {"inference": -math.inf, "capture": -math.inf}
            for _ in range(args.kills):
                for name in ("inference", "capture"):
                    wait(lambda: ready(kills))
                    # A child killed sooner than FAST_CRASH_S after its start counts towards the supervisor's
                    # crash-loop limit (a fresh start, --no-spare, is that young): let it grow older first.
                    time.sleep(max(0.0, last_kill[name] + FAST_CRASH_S + 0.5 - time.monotonic()))
                    last_kill[name] = time.monotonic()
                    killed_at = now_ms()
                    os.kill(serving(name, len(gaps[name])), signal.SIGKILL)
                    kills += 1
                    wait(lambda: labels_after(jsonl, killed_at + 1.0) is not None)
                    gaps[name].append((labels_after(jsonl, killed_at + 1.0) - killed_at) / 1000.0)
                    print(f"{name} killed: labels back after {gaps[name][-1]:.2f} s", flush=True)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)
            stop.set()
    restarts = [line.strip() for line in lines if "exited with status -9" in line]
    if len(restarts) != sum(len(values) for values in gaps.values()):  # each kill must have hit the serving child
        raise RuntimeError(f"{len(restarts)} restarts for {sum(map(len, gaps.values()))} kills: {restarts}")
    for name, values in gaps.items():
        print(f"{name}: median {np.median(values):.2f} s, max {max(values):.2f} s over {len(values)} kills "
              f"({'fresh start' if args.no_spare else 'loaded spare'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
