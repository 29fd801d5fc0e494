"""Command-line options shared by ``fsvae-live`` and the processes it starts, their defaults, and
:func:`exit_with_parent`, which ``--parent-pid`` asks for.

Only the standard library is imported here, so ``fsvae-live --help`` answers
without loading ZeroMQ, NumPy or torch.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time

# realtime.transport.default_endpoint(name), spelled out so that --help needs no ZeroMQ
# (tests/test_live.py keeps the two equal).
DEFAULT_ENDPOINTS = {
    "windows": "tcp://127.0.0.1:5560",
    "labels": "tcp://127.0.0.1:5561",
    "control": "tcp://127.0.0.1:5562",
    "poses": "tcp://127.0.0.1:5563",
}
DEFAULT_STRIDE_S = 0.25  # seconds between windows
PARENT_CHECK_S = 0.5  # how often a child looks whether its parent is still there
PARENT_GONE_WAIT_S = 5.0  # how long a child whose parent died gets to stop after SIGTERM


def add_source_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    """The pose-source options, at most one of them; shared by the capture process and ``fsvae-live``."""
    source = parser.add_mutually_exclusive_group(required=required)
    source.add_argument("--camera", type=int, metavar="N", help="OpenCV camera index")
    source.add_argument("--video", metavar="PATH", help="a video file, played at its own frame rate")
    source.add_argument("--skeleton", metavar="PATH", help="an NTU RGB+D .skeleton file, replayed at 30 fps")
    source.add_argument("--kinect", action="store_true", help="Azure Kinect body tracking (needs pyk4a)")
    source.add_argument("--poses", metavar="ENDPOINT", help="PoseFrame messages from an external tracker")
    parser.add_argument("--mirrored", action="store_true",
                        help="the camera or video shows a mirror image (Kinect colour streams and many webcams do): "
                             "flip each frame back before pose estimation, so that left stays left")  # fmt: skip


def exit_with_parent(parent_pid: int | None) -> None:
    """End this process when ``parent_pid`` ends, however it ends (``kill -9`` included).

    Called by a child at the top of its ``main`` (``--parent-pid``). On Linux the
    kernel sends SIGTERM at the parent's death (``prctl(PR_SET_PDEATHSIG)``), so
    the child stops as on any SIGTERM (sockets closed, camera released);
    everywhere a daemon thread also checks every PARENT_CHECK_S whether the
    parent changed, sends SIGTERM itself, and ends the process outright if it
    is still there PARENT_GONE_WAIT_S later. A parent already gone ends it at once.
    """
    if parent_pid is None:
        return
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
            libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        except (OSError, AttributeError):
            pass  # the watcher below still covers it
    if os.getppid() != parent_pid:  # died before we could ask to be told
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(PARENT_GONE_WAIT_S)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def add_parent_argument(parser: argparse.ArgumentParser) -> None:
    """``--parent-pid PID``: the process ends when PID does (``fsvae-live`` passes its own; see ``exit_with_parent``)."""
    parser.add_argument("--parent-pid", type=int, metavar="PID",
                        help="end this process when process PID ends, however it ends (fsvae-live passes its own)")


def positive_seconds(text: str) -> float:
    """An argparse type: a span of time (--stride, --duration, --timeout), a positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not (0.0 < value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def positive_count(text: str) -> int:
    """An argparse type: how many of something, a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
