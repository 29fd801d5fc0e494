"""``fsvae-live``: run capture and inference as two child processes and watch over them.

    fsvae-live [--camera N | --video PATH | --skeleton PATH | --kinect | --poses ENDPOINT] [--bundle DIR]

The supervisor starts ``python -m realtime.capture`` and ``python -m
realtime.inference``, subscribes to the labels itself (for the status line on
stderr and ``--jsonl``), restarts a child that dies unexpectedly and stops both
cleanly on Ctrl-C or SIGTERM (terminate, wait, kill). A child that exits with
status 2 has said in one line why it cannot run (no camera, bad bundle); the
supervisor repeats that line and exits 2 instead of retrying.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import fsvae_core
from fsvae_core.bundle import MANIFEST, WEIGHTS
from fsvae_core.paths import cache_dir
from realtime.capture import add_source_arguments
from realtime.messages import LabelEvent, LogEvent, label_topic
from realtime.transport import LatestWinsSubscriber, default_endpoint, local_endpoint, read_curve_key_files

DEFAULT_BUNDLE = Path(fsvae_core.__file__).resolve().parent / "default_bundle"  # shipped with the package
FAST_CRASH_S = 10.0  # a child dying sooner than this after its start counts as a fast crash
MAX_FAST_CRASHES = 3  # in a row; then the supervisor gives up
STOP_WAIT_S = 5.0  # how long a child gets to stop after SIGTERM before it is killed
CONFIG_ERROR = 2  # the exit status by which a child says it cannot run as configured


def writable_default_bundle() -> Path:
    """The shipped bundle, copied once into the user's cache and used from there.

    Actions added while running are persisted in the bundle directory; the copy
    keeps them out of the installed package. A newer shipped bundle (other
    weights) replaces the copy.
    """
    target = cache_dir() / "default_bundle"

    def weights_digest(folder: Path) -> str | None:
        try:
            return json.loads((folder / MANIFEST).read_text())["files"][WEIGHTS]
        except (OSError, ValueError, KeyError):
            return None

    if weights_digest(target) != weights_digest(DEFAULT_BUNDLE):
        staging = target.with_name(target.name + ".copying")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(DEFAULT_BUNDLE, staging)
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
    return target


@dataclass
class Child:
    """One supervised child process and its history."""

    name: str
    argv: list[str]
    verbose: bool = False
    process: subprocess.Popen | None = None
    started: float = 0.0
    restarts: int = 0
    fast_crashes: int = 0
    stderr_tail: deque = field(default_factory=lambda: deque(maxlen=20))

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, errors="replace", start_new_session=True,  # our Ctrl-C handling decides when it stops
        )  # fmt: skip
        self.started = time.monotonic()
        self.stderr_tail.clear()
        threading.Thread(target=self._pump, args=(self.process,), daemon=True).start()
        if self.verbose:
            print(f"fsvae-live: {self.name} started (pid {self.process.pid})", file=sys.stderr, flush=True)

    def _pump(self, process: subprocess.Popen) -> None:
        # Keep the child's last words for the crash report; echo them only when asked.
        for line in process.stderr:
            line = line.rstrip()
            if line:
                self.stderr_tail.append(line)
                if self.verbose:
                    print(f"[{self.name}] {line}", file=sys.stderr, flush=True)

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def last_line(self) -> str:
        """The child's last stderr line once it has exited (waits briefly for the pipe to drain)."""
        deadline = time.monotonic() + 1.0
        while not self.stderr_tail and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.stderr_tail[-1] if self.stderr_tail else ""

    def stop(self) -> None:
        """SIGTERM, wait up to STOP_WAIT_S, then SIGKILL."""
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(STOP_WAIT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_WAIT_S)


class StatusLine:
    """Window rate, latency p50 and the current label of each source, from the LabelEvents seen."""

    def __init__(self) -> None:
        self.arrivals: deque = deque(maxlen=200)  # monotonic times of ok decisions
        self.latencies: deque = deque(maxlen=200)
        self.current: dict[str, str] = {}
        self.events = 0

    def add(self, event: LabelEvent) -> None:
        self.events += 1
        if event.status == "ok":
            self.arrivals.append(time.monotonic())
            self.latencies.append(event.latency_ms)
            self.current[event.source_id] = f"{event.label} {event.score:.2f}"
        else:
            self.current[event.source_id] = event.status

    def text(self, restarts: int) -> str:
        now = time.monotonic()
        recent = [t for t in self.arrivals if now - t <= 5.0]
        fps = len(recent) / min(5.0, max(now - recent[0], 1e-3)) if len(recent) > 1 else 0.0
        latencies = sorted(self.latencies)
        p50 = f"{latencies[len(latencies) // 2]:.0f} ms" if latencies else "-"
        labels = ", ".join(f"{source}: {label}" for source, label in sorted(self.current.items())) or "waiting"
        extra = f" | restarts {restarts}" if restarts else ""
        return f"{fps:4.1f} win/s | latency p50 {p50} | {labels}{extra}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fsvae-live", description="Live zero-shot skeleton action recognition.")
    add_source_arguments(parser, required=False)  # none given: --camera 0
    parser.add_argument("--bundle", type=Path, help=f"model bundle (default: {DEFAULT_BUNDLE} if it exists)")
    parser.add_argument("--windows", default=default_endpoint("windows"), metavar="ENDPOINT")
    parser.add_argument("--labels", default=default_endpoint("labels"), metavar="ENDPOINT")
    parser.add_argument("--control", default=default_endpoint("control"), metavar="ENDPOINT")
    parser.add_argument("--source-id", default="cam0", help="the id in topics and labels (default cam0)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="inference device")
    parser.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    parser.add_argument("--jsonl", type=Path, metavar="FILE", help="append each LabelEvent as one JSON line")
    parser.add_argument("--fast", action="store_true", help="capture: process every frame as fast as possible, dropping none")
    parser.add_argument("--show", action="store_true", help="capture: show the camera image")
    parser.add_argument("--record", metavar="FILE", help="capture: write the skeleton and label overlay to FILE")
    parser.add_argument("--pose-model", metavar="PATH", help="capture: your own MediaPipe pose landmarker .task file")
    parser.add_argument("--allow-remote", action="store_true",
                        help="let --labels and --control bind to an address other than loopback, e.g. tcp://0.0.0.0:5561")
    parser.add_argument("--curve-keys", type=Path, metavar="DIR",
                        help="encrypt and authenticate labels and control with the CURVE keys in DIR (`fsvae keys DIR`)")
    parser.add_argument("--quiet", action="store_true", help="no status line")
    parser.add_argument("--verbose", action="store_true", help="announce child starts and echo their stderr")
    return parser


def _child_argvs(args: argparse.Namespace, bundle: Path) -> tuple[list[str], list[str]]:
    capture = [sys.executable, "-m", "realtime.capture"]
    if args.video is not None:
        capture += ["--video", args.video]
    elif args.skeleton is not None:
        capture += ["--skeleton", args.skeleton]
    elif args.kinect:
        capture += ["--kinect"]
    elif args.poses is not None:
        capture += ["--poses", args.poses]
    else:
        capture += ["--camera", str(0 if args.camera is None else args.camera)]
    capture += ["--bundle", str(bundle), "--windows", args.windows, "--source-id", args.source_id]
    if args.fast:
        capture.append("--fast")
    if args.show:
        capture.append("--show")
    if args.record:
        capture += ["--record", args.record]
    if args.show or args.record:
        capture += ["--labels", local_endpoint(args.labels)]  # the overlay draws the current label
    if args.pose_model:
        capture += ["--pose-model", args.pose_model]
    if args.mirrored:
        capture.append("--mirrored")
    inference = [
        sys.executable, "-m", "realtime.inference", "--bundle", str(bundle), "--windows", args.windows,
        "--labels", args.labels, "--control", args.control, "--device", args.device,
    ]  # fmt: skip
    if args.allow_remote:
        inference.append("--allow-remote")
    if args.curve_keys:
        inference += ["--curve-keys", str(args.curve_keys)]
        capture += ["--curve-keys", str(args.curve_keys)]
    return capture, inference


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fsvae-live``: 0 after a clean stop, 2 when a source or the bundle is unusable, 1 after crashes."""
    args = _parser().parse_args(argv)
    bundle = args.bundle
    if bundle is None:
        if not DEFAULT_BUNDLE.is_dir():
            print(f"fsvae-live: no model bundle given and none at {DEFAULT_BUNDLE}; train one with "
                  "`fsvae train` or pass --bundle DIR", file=sys.stderr)  # fmt: skip
            return 2
        bundle = writable_default_bundle()
    elif not bundle.is_dir():
        print(f"fsvae-live: {bundle}: no bundle directory here (train one with `fsvae train`)", file=sys.stderr)
        return 2
    try:
        curve = None if args.curve_keys is None else read_curve_key_files(args.curve_keys, "client")
    except ValueError as error:
        print(f"fsvae-live: {error}", file=sys.stderr)
        return 2
    capture_argv, inference_argv = _child_argvs(args, bundle.resolve())
    children = [Child("inference", inference_argv, args.verbose), Child("capture", capture_argv, args.verbose)]

    stopping = threading.Event()

    def _on_signal(signum, frame):  # noqa: ARG001
        stopping.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    jsonl = open(args.jsonl, "a", encoding="utf-8") if args.jsonl else None  # noqa: SIM115 - closed below
    status = StatusLine()
    tty = sys.stderr.isatty()
    exit_code = 0
    last_status = 0.0
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        with LatestWinsSubscriber(local_endpoint(args.labels), topics=(label_topic(), "log.warning", "log.error"),
                                  hwm=1000, curve=curve) as sub:
            for child in children:
                child.start()
            while not stopping.is_set():
                if deadline is not None and time.monotonic() >= deadline:
                    break
                message = sub.receive(timeout_ms=50)
                while message is not None:
                    if isinstance(message, LabelEvent):
                        status.add(message)
                        if jsonl is not None:
                            jsonl.write(json.dumps(json.loads(message.to_frames()[1]), separators=(",", ":")) + "\n")
                            jsonl.flush()
                    elif isinstance(message, LogEvent) and args.verbose:
                        print(f"[{message.source}] {message.level}: {message.text}", file=sys.stderr, flush=True)
                    message = sub.receive(timeout_ms=1) if sub.socket.poll(0) else None
                outcome = _watch(children)
                if outcome is not None:
                    exit_code = outcome
                    break
                now = time.monotonic()
                if not args.quiet and now - last_status >= (0.5 if tty else 5.0):
                    last_status = now
                    line = status.text(sum(child.restarts for child in children))
                    print(f"\r{line}\033[K" if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
    finally:
        for child in reversed(children):  # capture first, so inference sees no half-sent window
            child.stop()
        if jsonl is not None:
            jsonl.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if tty and not args.quiet:
            print(file=sys.stderr)
    return exit_code


def _watch(children: list[Child]) -> int | None:
    """Restart children that died; an exit status for the supervisor when it must stop, else None."""
    for child in children:
        code = child.poll()
        if code is None:
            continue
        if code == CONFIG_ERROR:
            message = child.last_line() or f"{child.name} cannot start (exit status 2)"
            if child.name == "capture" and "--video" not in message:
                message += " (try --video PATH or --skeleton PATH)"
            print(f"fsvae-live: {message}", file=sys.stderr, flush=True)
            return 2
        if code == 0 and child.name == "capture":
            # The source ended (a video or a replay): a normal end, not a crash.
            time.sleep(0.3)  # let the last labels through
            return 0
        lived = time.monotonic() - child.started
        child.fast_crashes = child.fast_crashes + 1 if lived < FAST_CRASH_S else 0
        if child.fast_crashes >= MAX_FAST_CRASHES:
            tail = " | ".join(list(child.stderr_tail)[-3:]) or "no output"
            print(f"fsvae-live: {child.name} crashed {child.fast_crashes} times within {FAST_CRASH_S:g} s of "
                  f"starting (exit status {code}); giving up. Last output: {tail}", file=sys.stderr, flush=True)  # fmt: skip
            return 1
        child.restarts += 1
        print(f"fsvae-live: {child.name} exited with status {code}; restarting (restart {child.restarts})",
              file=sys.stderr, flush=True)  # fmt: skip
        time.sleep(0.2 * child.fast_crashes)
        child.start()
    return None


if __name__ == "__main__":
    sys.exit(main())
