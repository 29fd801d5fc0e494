"""``fsvae-live``: run capture and inference as two child processes and watch over them.

    fsvae-live [--camera N | --video PATH | --skeleton PATH | --kinect | --poses ENDPOINT] [--bundle DIR]

The supervisor checks what it can at once (the bundle, the files named), then
starts ``python -m realtime.capture`` and ``python -m realtime.inference``
(capture opens its source at once but waits to play a file until inference
is ready, so a clip's beginning is not lost),
subscribes to the labels itself (for the status line on stderr and
``--jsonl``), restarts a child that dies unexpectedly and stops both cleanly on
Ctrl-C or SIGTERM (terminate, wait, kill), ending with a one-line summary.
A child that exits with status 2 has said in one line why it cannot run (no
camera, bad bundle); the supervisor repeats that line and exits 2 instead of
retrying.

Restarts are fast because a second process of each kind waits loaded
(``--standby``: inference with its model, capture with MediaPipe) and takes
over the moment the first one dies; a new spare is started once the system
runs again (``--no-spare``: none, saving their memory).
Children end with the supervisor however it ends, ``kill -9`` included
(``--parent-pid``, :func:`realtime.options.exit_with_parent`), so no orphan
keeps the ports.

Only the standard library is imported at module level, so ``fsvae-live
--help`` and the early checks answer at once.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsvae_core
from realtime.options import DEFAULT_ENDPOINTS, DEFAULT_STRIDE_S, add_source_arguments, positive_seconds

DEFAULT_BUNDLE = Path(fsvae_core.__file__).resolve().parent / "default_bundle"  # shipped with the package
MANIFEST = "manifest.json"  # fsvae_core.bundle.MANIFEST, named here so that the checks need no torch
WINDOW_ANSWERS = ("ok", "still")  # realtime.messages.WINDOW_ANSWERS, spelled out: only the standard library here
FAST_CRASH_S = 10.0  # a child dying sooner than this after its start counts as a fast crash
MAX_FAST_CRASHES = 3  # in a row; then the supervisor gives up
STOP_WAIT_S = 5.0  # how long a child gets to stop after SIGTERM before it is killed
CONFIG_ERROR = 2  # the exit status by which a child says it cannot run as configured
INFERENCE_READY = "inference: ready"  # realtime.inference.READY_LINE, its stderr line once its sockets are open
SPARE_DELAY_S = 5.0  # a spare starts this long after its child started (and after another spare), once labels flow
STATUS_WAIT_S = 10.0  # the status line starts with the first label, or after this long without one
QUIET_S = 0.5  # at the end, labels are read until none came for this long...
DRAIN_MAX_S = 3.0  # ...or this long passed


# ---------------------------------------------------------------------------------------------
# The bundle


def writable_default_bundle() -> Path:
    """The shipped bundle, copied once into the user's cache and used from there.

    Actions added while running are persisted in the bundle directory; the copy
    keeps them out of the installed package. A newer shipped bundle (other
    weights) replaces the copy.
    """
    from fsvae_core.bundle import WEIGHTS
    from fsvae_core.paths import cache_dir

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


def check_bundle(folder: Path) -> str | None:
    """What makes ``folder`` unusable as a bundle, found without loading it (one line), or None.

    The inference process checks everything else (checksums, shapes) when it loads it.
    """
    if not folder.is_dir():
        return f"{folder}: no bundle directory here (train one with `fsvae train`)"
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"{folder}: not a model bundle (no {MANIFEST}; train one with `fsvae train`)"
    except (OSError, ValueError) as error:
        return f"{manifest_path}: cannot read the bundle's manifest: {error}"
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict) or not isinstance(manifest.get("skeleton"), dict):
        return f"{manifest_path}: not a bundle manifest (no 'files' or 'skeleton' section)"
    missing = sorted(name for name in files if not (folder / str(name)).is_file())
    if missing:
        return f"{folder}: the bundle lacks {', '.join(missing)}"
    return None


# ---------------------------------------------------------------------------------------------
# Children


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
    reports: list = field(default_factory=list)  # the final JSON stats line of each life that printed one
    ready_line: str | None = None  # a stderr line by which the process says it is ready (sets ``ready``)
    ready: threading.Event = field(default_factory=threading.Event, repr=False)
    _ended: threading.Event = field(default_factory=threading.Event, repr=False)
    _collected: Any = field(default=None, repr=False)

    def start(self, argv: list[str] | None = None, standby: bool = False) -> None:
        """Start the process (``argv``: other arguments for this start); a ``standby`` child reads its go from stdin."""
        self.process = subprocess.Popen(
            self.argv if argv is None else argv, stdin=subprocess.PIPE if standby else subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace",
            start_new_session=True,  # our Ctrl-C handling decides when it stops
        )  # fmt: skip
        self.started = time.monotonic()
        self.stderr_tail = deque(maxlen=20)
        self.ready = threading.Event()
        self._ended = threading.Event()
        threading.Thread(target=self._pump, args=(self.process, self.stderr_tail, self.ready, self._ended),
                         daemon=True).start()  # fmt: skip
        if self.verbose:
            print(f"fsvae-live: {self.name} started (pid {self.process.pid})", file=sys.stderr, flush=True)

    def _pump(self, process: subprocess.Popen, tail: deque, ready: threading.Event, ended: threading.Event) -> None:
        # Keep the child's last words for the crash report and its stats; echo them only when asked.
        for line in process.stderr:
            line = line.rstrip()
            if line:
                tail.append(line)
                if line == self.ready_line:
                    ready.set()
                if self.verbose:
                    print(f"[{self.name}] {line}", file=sys.stderr, flush=True)
        ended.set()

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def last_line(self) -> str:
        """The child's last stderr line once it has exited (waits briefly for the pipe to drain)."""
        deadline = time.monotonic() + 1.0
        while not self.stderr_tail and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.stderr_tail[-1] if self.stderr_tail else ""

    def collect_report(self) -> None:
        """Keep the stats line (``{"capture": {...}}``) the ended process printed last, if it printed one."""
        if self.process is None or self._collected is self.process:
            return
        self._collected = self.process
        self._ended.wait(1.0)  # the pipe's last lines
        for line in reversed(self.stderr_tail):
            if line.startswith("{"):
                try:
                    report = json.loads(line)
                except ValueError:
                    continue
                if isinstance(report, dict):
                    self.reports.append(report)
                    return

    def go(self) -> None:
        """Tell a standby child to take over (it has been loading or waiting since its start)."""
        if self.process is not None and self.process.stdin is not None:
            try:
                self.process.stdin.write("go\n")
                self.process.stdin.close()
            except (OSError, ValueError):
                pass  # it died meanwhile: the next watch restarts it
        self.started = time.monotonic()

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


class Spare:
    """A second process of one child's kind, loaded and waiting (``--standby``), that replaces a dead one at once.

    Inference waits with its model loaded, capture with MediaPipe (the camera
    or file it opens on 'go'). A spare that dies while waiting is not replaced
    (the restart then takes a full start again); ``--verbose`` says so.
    """

    def __init__(self, name: str, argv: list[str], verbose: bool = False) -> None:
        self.name = name
        self.child = Child(f"{name} spare", list(argv), verbose)
        self.running = False
        self.failed = False

    def start(self) -> None:
        self.child.start(self.child.argv + ["--standby"], standby=True)
        self.running = True

    def check(self) -> None:
        """Notice a spare that died while waiting."""
        if self.running and self.child.poll() is not None:
            self.running = False
            self.failed = True
            if self.child.verbose:
                print(f"fsvae-live: the {self.name} spare exited ({self.child.poll()}): {self.child.last_line()}; "
                      f"{self.name} restarts will take a full start", file=sys.stderr, flush=True)  # fmt: skip

    def take(self) -> Child | None:
        """The waiting process, told to go, as a plain child; None when no spare is ready."""
        self.check()
        if not self.running:
            return None
        taken, self.running = self.child, False
        taken.go()
        self.child = Child(f"{self.name} spare", taken.argv, taken.verbose)
        return taken

    def stop(self) -> None:
        if self.running:
            self.child.stop()
            self.running = False


class StatusLine:
    """Window rate, latency p50 and the current label of each source, from the LabelEvents seen;
    totals for the summary at the end."""

    def __init__(self) -> None:
        self.arrivals: deque = deque(maxlen=200)  # monotonic times of answered windows (ok or still)
        self.latencies: deque = deque(maxlen=200)
        self.all_latencies: deque = deque(maxlen=100_000)
        self.current: dict[str, str] = {}
        self.events = 0
        self.decisions = 0
        self.unknown = 0
        self.no_person = 0
        self.still = 0
        self.started = time.monotonic()

    def add(self, event) -> None:
        self.events += 1
        if event.status in WINDOW_ANSWERS:
            self.arrivals.append(time.monotonic())
            self.latencies.append(event.latency_ms)
            self.all_latencies.append(event.latency_ms)
        if event.status == "ok":
            self.decisions += 1
            self.unknown += bool(event.unknown)
            self.current[event.source_id] = f"{event.label} {event.score:.2f}"
        else:
            self.no_person += event.status == "no_person"
            self.still += event.status == "still"
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

    def summary(self, restarts: int, windows: int | None = None) -> str:
        """``ran 31.4 s: 402 windows, 118 labels (96 decisions, 16 of them unknown; 22 no person, 0 still),
        latency p50 7 ms, p99 12 ms, 0 restarts``."""
        parts = [f"ran {time.monotonic() - self.started:.1f} s:"]
        if windows is not None:
            parts.append(f"{windows} windows,")
        parts.append(f"{self.events} labels ({self.decisions} decisions, {self.unknown} of them unknown; "
                     f"{self.no_person} no person, {self.still} still),")  # fmt: skip
        if self.all_latencies:
            ordered = sorted(self.all_latencies)
            p50, p99 = _quantile(ordered, 0.5), _quantile(ordered, 0.99)
            parts.append(f"latency p50 {p50:.0f} ms, p99 {p99:.0f} ms,")
        else:
            parts.append("latency -,")
        parts.append(f"{restarts} restart{'' if restarts == 1 else 's'}")
        return " ".join(parts)


def _quantile(ordered: list[float], q: float) -> float:
    """Linear-interpolated ``q``-quantile of sorted values (numpy's default), without numpy."""
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# ---------------------------------------------------------------------------------------------
# Command line


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fsvae-live", description="Live zero-shot skeleton action recognition.")
    add_source_arguments(parser, required=False)  # none given: --camera 0
    parser.add_argument("--bundle", type=Path, help=f"model bundle (default: {DEFAULT_BUNDLE} if it exists)")
    parser.add_argument("--stride", type=positive_seconds, default=DEFAULT_STRIDE_S, metavar="S",
                        help="seconds between windows, so between labels (default %(default)s)")
    parser.add_argument("--windows", default=DEFAULT_ENDPOINTS["windows"], metavar="ENDPOINT",
                        help="where capture publishes skeleton windows for inference (default %(default)s)")
    parser.add_argument("--labels", default=DEFAULT_ENDPOINTS["labels"], metavar="ENDPOINT",
                        help="where inference publishes the labels, for `fsvae listen` and your subscribers "
                             "(default %(default)s)")
    parser.add_argument("--control", default=DEFAULT_ENDPOINTS["control"], metavar="ENDPOINT",
                        help="where inference answers list/add/remove/status requests (default %(default)s)")
    parser.add_argument("--source-id", default="cam0", help="the id in topics and labels (default cam0)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="inference device")
    # realtime.inference.RUNTIMES, spelled out: this supervisor imports no torch, so that it starts at once.
    parser.add_argument("--runtime", default="auto", choices=("auto", "torch", "onnx"),
                        help="what scores windows: auto (default: onnx on the CPU, torch on CUDA), torch or onnx")
    parser.add_argument("--duration", type=positive_seconds, metavar="S", help="stop after S seconds")
    parser.add_argument("--jsonl", type=Path, metavar="FILE", help="append each LabelEvent as one JSON line")
    parser.add_argument("--fast", action="store_true", help="capture: process every frame as fast as possible, dropping none")
    parser.add_argument("--show", action="store_true", help="capture: show the camera image")
    parser.add_argument("--record", metavar="FILE",
                        help="capture: write the skeleton and label overlay to FILE (.avi); sources without images "
                             "draw the skeleton on a blank canvas")
    parser.add_argument("--pose-model", metavar="PATH", help="capture: your own MediaPipe pose landmarker .task file")
    parser.add_argument("--allow-remote", action="store_true",
                        help="let --labels, --control and --windows bind to an address other than loopback, "
                             "e.g. tcp://0.0.0.0:5561; use --curve-keys too")
    parser.add_argument("--curve-keys", type=Path, metavar="DIR",
                        help="encrypt and authenticate labels and control with the CURVE keys in DIR (`fsvae keys DIR`)")
    parser.add_argument("--no-spare", action="store_true",
                        help="keep no second inference and capture process loaded for fast restarts (saves their "
                             "memory; a restart then takes a full start)")
    parser.add_argument("--quiet", action="store_true", help="no status line and no summary")
    parser.add_argument("--verbose", action="store_true", help="announce child starts and echo their stderr")
    return parser


def _preflight(args: argparse.Namespace) -> str | None:
    """The first problem with the options that can be seen without starting anything, as one line, or None."""
    bundle = args.bundle if args.bundle is not None else DEFAULT_BUNDLE
    if args.bundle is None and not DEFAULT_BUNDLE.is_dir():
        return (f"no model bundle given and none at {DEFAULT_BUNDLE}; train one with `fsvae train` or pass "
                "--bundle DIR")  # fmt: skip
    problem = check_bundle(bundle)
    if problem:
        return problem
    for option, path in (("--video", args.video), ("--skeleton", args.skeleton), ("--pose-model", args.pose_model)):
        if path is not None and not Path(path).is_file():
            return f"{option} {path}: " + ("a folder, not a file" if Path(path).is_dir() else "no such file")
    if args.curve_keys is not None and not args.curve_keys.is_dir():
        return f"--curve-keys {args.curve_keys}: no such folder (create the keys with `fsvae keys {args.curve_keys}`)"
    for option, path in (("--record", args.record), ("--jsonl", args.jsonl)):
        if path is not None:
            folder = Path(path).resolve().parent
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                return f"{option} {path}: cannot write there (no folder {folder}, or not writable)"
    if args.show and sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or
                                                               os.environ.get("WAYLAND_DISPLAY")):
        return "--show needs a display, and there is none here (no $DISPLAY); use --record FILE instead"
    return None


def _child_argvs(args: argparse.Namespace, bundle: Path) -> tuple[list[str], list[str]]:
    from realtime.transport import local_endpoint

    parent = ["--parent-pid", str(os.getpid())]
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
    capture += ["--bundle", str(bundle), "--windows", args.windows, "--source-id", args.source_id,
                "--stride", repr(args.stride), *parent]  # fmt: skip
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
        sys.executable, "-m", "realtime.inference", "--bundle", str(bundle), "--windows", local_endpoint(args.windows),
        "--labels", args.labels, "--control", args.control, "--device", args.device, "--runtime", args.runtime,
        *parent,
    ]  # fmt: skip
    if args.allow_remote:
        inference.append("--allow-remote")
        capture.append("--allow-remote")  # capture binds --windows
    if args.curve_keys:
        inference += ["--curve-keys", str(args.curve_keys)]
        capture += ["--curve-keys", str(args.curve_keys)]
    return capture, inference


def _remote_warnings(args: argparse.Namespace) -> list[str]:
    """One line per socket that --allow-remote opens to the network without encryption."""
    if not args.allow_remote:
        return []
    from realtime.transport import check_endpoint

    def remote(endpoint: str) -> bool:
        try:
            check_endpoint(endpoint, bind=True, allow_remote=False)
            return False
        except ValueError:
            return True

    warnings = []
    if args.curve_keys is None:
        warnings.append("fsvae-live: warning: --allow-remote without --curve-keys: anyone who can reach this machine's "
                        "ports can read the labels and add or remove actions")  # fmt: skip
    if remote(args.windows):
        warnings.append(f"fsvae-live: warning: skeleton windows on {args.windows} are sent unencrypted to anyone who "
                        "connects (--curve-keys covers labels and control only)")  # fmt: skip
    return warnings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``fsvae-live``: 0 after a clean stop, 2 when a source or the bundle is unusable, 1 after crashes."""
    args = _parser().parse_args(argv)
    problem = _preflight(args)
    if problem:
        print(f"fsvae-live: {problem}", file=sys.stderr)
        return 2
    from realtime.messages import LabelEvent, LogEvent, label_topic, source_id_problem
    from realtime.transport import LatestWinsSubscriber, check_endpoint, local_endpoint, read_curve_key_files

    if problem := source_id_problem(args.source_id):  # it ends every topic the children publish
        print(f"fsvae-live: --source-id: {problem}", file=sys.stderr)
        return 2
    # The children bind the first three and capture connects to --poses: say what is wrong before they start.
    for option, bind in (("windows", True), ("labels", True), ("control", True), ("poses", False)):
        if getattr(args, option) is None:
            continue
        try:
            check_endpoint(getattr(args, option), bind=bind, allow_remote=args.allow_remote)
        except ValueError as error:
            print(f"fsvae-live: --{option}: {error}", file=sys.stderr)
            return 2
    bundle = writable_default_bundle() if args.bundle is None else args.bundle
    try:
        curve = None if args.curve_keys is None else read_curve_key_files(args.curve_keys, "local")
    except ValueError as error:
        print(f"fsvae-live: {error}", file=sys.stderr)
        return 2
    try:
        jsonl = open(args.jsonl, "a", encoding="utf-8") if args.jsonl else None  # noqa: SIM115 - closed below
    except OSError as error:
        print(f"fsvae-live: --jsonl {args.jsonl}: {error.strerror or error}", file=sys.stderr)
        return 2
    for warning in _remote_warnings(args):
        print(warning, file=sys.stderr, flush=True)
    capture_argv, inference_argv = _child_argvs(args, bundle.resolve())
    children = [Child("inference", inference_argv, args.verbose, ready_line=INFERENCE_READY),
                Child("capture", capture_argv, args.verbose)]  # fmt: skip
    hold_capture = args.video is not None or args.skeleton is not None  # a file plays once inference is ready
    spares = {} if args.no_spare else {child.name: Spare(child.name, child.argv, args.verbose) for child in children}

    stopping = threading.Event()

    def _on_signal(signum, frame):  # noqa: ARG001
        stopping.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    status = StatusLine()
    tty = sys.stderr.isatty()
    exit_code = 0
    last_status = 0.0
    last_spare_start = -math.inf
    status_shown = False
    deadline = None if args.duration is None else time.monotonic() + args.duration

    def take(message: Any) -> None:
        if isinstance(message, LabelEvent):
            status.add(message)
            if jsonl is not None:
                jsonl.write(json.dumps(json.loads(message.to_frames()[1]), separators=(",", ":")) + "\n")
                jsonl.flush()
        elif isinstance(message, LogEvent) and args.verbose:
            print(f"[{message.source}] {message.level}: {message.text}", file=sys.stderr, flush=True)

    try:
        with LatestWinsSubscriber(local_endpoint(args.labels), topics=(label_topic(), "log.warning", "log.error"),
                                  hwm=1000, curve=curve) as sub:  # fmt: skip
            inference, capture = children
            inference.start()
            capture.start(capture.argv + ["--standby", "--open-early"], standby=True)  # bad sources fail at once
            released = False
            while not stopping.is_set():
                if not released and (not hold_capture or children[0].ready.is_set()):
                    children[1].go()
                    released = True
                if deadline is not None and time.monotonic() >= deadline:
                    break
                _read_waiting(sub, take, timeout_ms=50)
                outcome = _watch(children, spares)
                if outcome is not None:
                    exit_code = outcome
                    break
                for child in children:  # a spare for each once the system runs, one loading at a time
                    spare = spares.get(child.name)
                    if spare is None:
                        continue
                    spare.check()
                    now = time.monotonic()
                    if (not spare.running and not spare.failed and status.events
                            and now - child.started >= SPARE_DELAY_S and now - last_spare_start >= SPARE_DELAY_S):
                        spare.start()
                        last_spare_start = now
                now = time.monotonic()
                if not args.quiet and (status.events or now - status.started >= STATUS_WAIT_S) and \
                        now - last_status >= (0.5 if tty else 5.0):
                    last_status, status_shown = now, True
                    line = status.text(sum(child.restarts for child in children))
                    print(f"\r{line}\033[K" if tty else line, end="" if tty else "\n", file=sys.stderr, flush=True)
            # The labels of the last windows are still on their way: capture stops first, inference
            # answers what it has, and everything that arrives is written before the end.
            if exit_code != CONFIG_ERROR:
                children[1].stop()
                _drain(sub, take)
    finally:
        for child in reversed(children):  # capture first, so inference sees no half-sent window
            child.stop()
        for spare in spares.values():
            spare.stop()
        if jsonl is not None:
            jsonl.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if tty and status_shown:
            print(file=sys.stderr)
    if exit_code != CONFIG_ERROR and not args.quiet:
        capture = children[1]
        capture.collect_report()
        windows = [report["capture"].get("windows") for report in capture.reports if "capture" in report]
        total = sum(w for w in windows if isinstance(w, int)) if windows else None
        print(f"fsvae-live: {status.summary(sum(child.restarts for child in children), total)}", file=sys.stderr)
    return exit_code


def _read_waiting(sub, take: Callable[[Any], None], timeout_ms: float) -> int:
    """Hand every message waiting on ``sub`` to ``take`` (waiting up to ``timeout_ms`` for the first); how many."""
    count = 0
    message = sub.receive(timeout_ms=timeout_ms)
    while message is not None:
        take(message)
        count += 1
        message = sub.receive(timeout_ms=0)
    return count


def _drain(sub, take: Callable[[Any], None], quiet_s: float = QUIET_S, max_s: float = DRAIN_MAX_S) -> None:
    """Read labels until none came for ``quiet_s`` or ``max_s`` passed."""
    end = time.monotonic() + max_s
    last = time.monotonic()
    while time.monotonic() < end and time.monotonic() - last < quiet_s:
        if _read_waiting(sub, take, timeout_ms=50):
            last = time.monotonic()


def _watch(children: list[Child], spares: dict[str, Spare] | None = None) -> int | None:
    """Restart children that died (from their spare in ``spares`` when one waits); an exit status for the
    supervisor when it must stop, else None."""
    for index, child in enumerate(children):
        code = child.poll()
        if code is None:
            continue
        if code == CONFIG_ERROR:
            message = child.last_line() or f"{child.name} cannot start (exit status 2)"
            print(f"fsvae-live: {message}", file=sys.stderr, flush=True)
            return 2
        child.collect_report()
        if code == 0 and child.name == "capture":
            return 0  # the source ended (a video or a replay): a normal end, not a crash
        lived = time.monotonic() - child.started
        child.fast_crashes = child.fast_crashes + 1 if lived < FAST_CRASH_S else 0
        if child.fast_crashes >= MAX_FAST_CRASHES:
            tail = " | ".join(list(child.stderr_tail)[-3:]) or "no output"
            print(f"fsvae-live: {child.name} crashed {child.fast_crashes} times within {FAST_CRASH_S:g} s of "
                  f"starting (exit status {code}); giving up. Last output: {tail}", file=sys.stderr, flush=True)  # fmt: skip
            return 1
        child.restarts += 1
        spare = (spares or {}).get(child.name)
        replacement = spare.take() if spare is not None else None
        how = "; the spare takes over" if replacement is not None else ""
        print(f"fsvae-live: {child.name} exited with status {code}; restarting (restart {child.restarts}){how}",
              file=sys.stderr, flush=True)  # fmt: skip
        if replacement is not None:
            replacement.name, replacement.argv = child.name, child.argv
            replacement.restarts, replacement.fast_crashes = child.restarts, child.fast_crashes
            replacement.reports = child.reports
            children[index] = replacement
            continue
        time.sleep(0.2 * max(0, child.fast_crashes - 1))  # back off only when it keeps crashing
        child.start()
    return None


if __name__ == "__main__":
    sys.exit(main())
