"""``fsvae listen ENDPOINT``: print the recognizer's labels, one line each.

    12:00:01.042 cam0 #412 wave 0.81 (43 ms) | wave 0.81, clap 0.40, sit down 0.12
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from datetime import datetime

from realtime.messages import LabelEvent, LogEvent
from realtime.transport import LatestWinsSubscriber, read_curve_key_files


def format_event(event: LabelEvent) -> str:
    """One line: local time, source, seq, label (or status), score, latency, top-3."""
    clock = datetime.fromtimestamp(event.timestamp_ms / 1000.0).strftime("%H:%M:%S.%f")[:-3]
    shown = event.label if event.status == "ok" else event.status
    top = ", ".join(f"{item.label} {item.score:.2f}" for item in event.topk[:3])
    line = f"{clock} {event.source_id} #{event.seq} {shown} {event.score:.2f} ({event.latency_ms:.0f} ms)"
    return f"{line} | {top}" if top else line


def listen_main(
    endpoint: str,
    topics: Sequence[str] = ("action.label",),
    count: int | None = None,
    timeout_s: float | None = None,
    curve_keys: str | None = None,
) -> int:
    """Print each LabelEvent (and LogEvent, if subscribed) from ``endpoint`` until ``count`` or ``timeout_s``.

    Says once on stderr that it is waiting, and ends with a one-line summary
    there (how many labels in how long, or that none came), so stdout holds
    only the labels. Returns 0 after ``count`` events or Ctrl-C; 1 when
    ``timeout_s`` passed before ``count`` events came (0 if no count was asked
    for); 2 for a bad endpoint or key folder. ``curve_keys``: the folder of
    :func:`write_curve_key_files` for a recognizer started with ``--curve-keys``.
    """
    started = time.monotonic()
    deadline = None if timeout_s is None else started + timeout_s
    printed = 0
    try:
        curve = None if curve_keys is None else read_curve_key_files(curve_keys, "client")
        subscriber = LatestWinsSubscriber(endpoint, topics=tuple(topics), hwm=1000, curve=curve)
    except ValueError as error:
        print(f"listen: {error}", file=sys.stderr)
        return 2
    print(f"listen: waiting for labels on {endpoint}...", file=sys.stderr, flush=True)
    code = 0
    try:
        with subscriber:
            while count is None or printed < count:
                wait_ms = 500.0
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        code = 1 if count is not None else 0
                        break
                    wait_ms = min(wait_ms, left * 1000.0)
                message = subscriber.receive(timeout_ms=max(wait_ms, 1.0))
                if isinstance(message, LabelEvent):
                    print(format_event(message), flush=True)
                    printed += 1
                elif isinstance(message, LogEvent):
                    print(f"{message.source} {message.level}: {message.text}", flush=True)
    except KeyboardInterrupt:
        code = 0
    print(summary(endpoint, printed, time.monotonic() - started, curve_keys is not None), file=sys.stderr, flush=True)
    return code


def summary(endpoint: str, labels: int, elapsed_s: float, with_keys: bool = False) -> str:
    """The last line of ``fsvae listen``: how many labels came in how long, or what to check when none came."""
    if labels:
        return f"listen: {labels} label{'' if labels == 1 else 's'} in {elapsed_s:.1f} s"
    check = "is fsvae-live running there" + (", with the matching keys?" if with_keys else "?")
    return f"listen: no labels from {endpoint} in {elapsed_s:.1f} s; {check}"
