"""``fsvae actions list|add|remove``: the actions of a bundle (``--bundle B``) or of a running ``fsvae-live``
(``--control ENDPOINT``), changed by text, by recordings that show an action (``--example``) or by a person
showing it to the running recognizer's camera (``--show``), without retraining."""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

from realtime.messages import MAX_EXAMPLES, MAX_SHOW_S, MAX_SHOW_TIMES, MIN_SHOW_S

APPLY_TIMEOUT_S = 120.0  # how long --control waits for a change to be made (the first add loads the text model)


def add_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("actions", help="list, add or remove a bundle's actions without retraining")
    p.add_argument("action", choices=("list", "add", "remove"))
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--bundle", help="bundle folder")
    where.add_argument("--control", metavar="ENDPOINT",
                       help="the control socket of a running fsvae-live, e.g. tcp://127.0.0.1:5562: the change is "
                            "made there (and in its bundle), waiting until it is")  # fmt: skip
    p.add_argument("--curve-keys", metavar="DIR",
                   help="with --control: the CURVE keys of a recognizer started with --curve-keys (server.key and "
                        "client.key_secret)")  # fmt: skip
    p.add_argument("--name", help="action name (add, remove)")
    p.add_argument("--ld", help="local description: what the body parts do (add)")
    p.add_argument("--gd", help="global description: what the action is (add)")
    p.add_argument("--part", action="append", metavar="PART=TEXT", default=[],
                   help="one sentence for one body part (add; repeat for each of head, torso, left_arm, right_arm, "
                        "left_leg, right_leg: all six or none); without them a bundle's part-aware rule scores the "
                        "action by its descriptions alone")  # fmt: skip
    p.add_argument("--parts-file", metavar="JSON",
                   help="the six part sentences as a JSON object {\"head\": \"...\", ...} (add; instead of --part)")
    p.add_argument("--example", action="append", metavar="FILE", default=[],
                   help="a recording of a person doing the action (video, .skeleton or dataset file, read here; "
                        "add; repeat for more): its windows, not the descriptions, place the action; part "
                        "sentences still count")  # fmt: skip
    p.add_argument("--show", type=float, metavar="SECONDS",
                   help="add with --control: a person shows the action to the running recognizer's camera for "
                        "SECONDS (0.5-30) after a countdown; its windows, not the descriptions, place the action, "
                        "as --example does")  # fmt: skip
    p.add_argument("--times", type=int, default=1, metavar="N",
                   help=f"with --show: show it N times (1-{MAX_SHOW_TIMES}), each a recording of its own, with a "
                        "pause to stand ready between (default 1)")  # fmt: skip
    p.add_argument("--source", metavar="ID",
                   help="with --show: the camera (source id) that sees the person; needed when several do")
    p.add_argument("--countdown", type=float, default=3.0, metavar="SECONDS",
                   help="with --show: seconds to get into place before the showing starts (default 3)")
    p.set_defaults(handler=actions, check=check)


def part_sentences(args: argparse.Namespace) -> dict[str, str] | None:
    """The body-part sentences of ``--part``/``--parts-file``, or None when none were given.

    Raises:
        ValueError: a --part without '=', a part named twice, or a file that is not a JSON object of strings.
    """
    if args.parts_file is not None:
        try:
            parts = json.loads(Path(args.parts_file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{args.parts_file}: cannot read the part sentences: {error}") from error
        if not isinstance(parts, dict) or not all(isinstance(v, str) for v in parts.values()):
            raise ValueError(f"{args.parts_file}: must hold a JSON object of part name -> sentence")
        return parts
    if not args.part:
        return None
    parts = {}
    for given in args.part:
        name, equals, text = given.partition("=")
        if not equals:
            raise ValueError(f"--part {given!r}: write PART=TEXT, e.g. --part right_arm='the right hand waves'")
        if name.strip() in parts:
            raise ValueError(f"--part names {name.strip()!r} twice")
        parts[name.strip()] = text
    return parts


def check(args: argparse.Namespace) -> str | None:
    """The options ``args.action`` needs but lacks, as a parser error; None when all are there."""
    needed = {"list": (), "add": ("name", "ld", "gd"), "remove": ("name",)}[args.action]
    missing = [f"--{name}" for name in needed if not getattr(args, name)]
    if missing:
        return f"actions {args.action} needs {' '.join(missing)}"
    if (args.part or args.parts_file or args.example) and args.action != "add":
        return "--part, --parts-file and --example go with actions add"
    if args.example and args.show is not None:
        return "show the action by recordings (--example) or live (--show), not both"
    if args.control is not None and len(args.example) > MAX_EXAMPLES:
        return f"a running recognizer takes at most {MAX_EXAMPLES} recordings in one add, got {len(args.example)}"
    if args.show is not None and (args.action != "add" or args.control is None):
        return "--show goes with actions add --control (a running fsvae-live's camera); a bundle takes --example"
    if (args.source is not None or args.countdown != 3.0 or args.times != 1) and args.show is None:
        return "--source, --countdown and --times go with --show"
    if not 1 <= args.times <= MAX_SHOW_TIMES:
        return f"--times takes 1 to {MAX_SHOW_TIMES}, got {args.times}"
    if args.show is not None and not MIN_SHOW_S <= args.show <= MAX_SHOW_S:
        return f"--show takes {MIN_SHOW_S:g} to {MAX_SHOW_S:g} seconds, got {args.show:g}"
    if args.countdown < 0 or not math.isfinite(args.countdown):
        return f"--countdown must be 0 or more seconds, got {args.countdown:g}"
    if args.part and args.parts_file:
        return "give the part sentences by --part or by --parts-file, not both"
    if args.curve_keys is not None and args.control is None:
        return "--curve-keys goes with --control (a bundle folder needs no keys)"
    return None


def kind(action) -> str:
    """``trained`` (learnt from recordings), ``unseen`` (a training class known only by its text), ``added`` (by a
    user, by text) or ``shown`` (by a user, by recordings of it), of a bundle's class entry or a recognizer's
    ``ActionInfo`` alike (both have ``seen``, ``added`` and ``examples``)."""
    if action.added:
        return "shown" if action.examples else "added"
    return "trained" if action.seen else "unseen"


def format_actions(entries, width: int = 100) -> list[str]:
    """One line per action: name, kind, and the global description cut to fit ``width`` columns."""
    name_width = max([len("action")] + [len(entry.name) for entry in entries])
    lines = [f"{'action':<{name_width}}  {'kind':<7}  description"]
    room = max(20, width - name_width - 11)
    for entry in entries:
        text = entry.gd if len(entry.gd) <= room else entry.gd[: room - 3].rstrip() + "..."
        lines.append(f"{entry.name:<{name_width}}  {kind(entry):<7}  {text}")
    return lines


def actions(args: argparse.Namespace) -> int:
    """List, add or remove a bundle's actions by text alone."""
    try:
        parts = part_sentences(args)
    except ValueError as error:
        print(f"fsvae: error: {error}", file=sys.stderr)
        return 2
    if args.control is not None:
        return live_actions(args, parts)
    from fsvae_core.bundle import add_action, list_actions, load_bundle, look_alike_note, remove_action
    from fsvae_core.text import text_name

    if args.action == "list":
        entries = list_actions(args.bundle)
        for line in format_actions(entries, shutil.get_terminal_size((100, 24)).columns):
            print(line)
    elif args.action == "add":
        # The text model prints a bar while its weights load; one line of result is enough here.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        examples = None
        if args.example:
            examples = example_windows(args.bundle, args.example)
            if examples is None:
                return 1
        entry = add_action(args.bundle, args.name, args.ld, args.gd, parts=parts, examples=examples)
        print(f"added {entry.name!r} to {args.bundle}{shown_by(entry.examples) if entry.examples else ''}")
        bundle = load_bundle(args.bundle, verify=False)
        if parts is None and bundle.part_weight > 0:
            print(f"note: {entry.name!r} has no part sentences (--part); this bundle's part-aware rule scores it by "
                  f"its {'examples' if examples else 'descriptions'} alone", file=sys.stderr)  # fmt: skip
        alike = look_alike_note(bundle, entry.name)
        if alike is not None:
            print(f"note: {alike}", file=sys.stderr)
        print_negation_note(args, parts)
        unused = [flag for part, flag in (("ld", "--ld"), ("gd", "--gd")) if part not in bundle.text.parts]
        if unused and examples is None:  # the validation classes of its training chose a shorter class text
            print(f"note: this bundle's class text is {text_name(bundle.text.parts)}; {' and '.join(unused)} "
                  "is kept with the action but not embedded", file=sys.stderr)  # fmt: skip
    else:
        entry = remove_action(args.bundle, args.name)
        print(f"removed {entry.name!r} from {args.bundle}")
    return 0


def print_negation_note(args: argparse.Namespace, parts: dict[str, str] | None) -> None:
    """Say on stderr where the new action's descriptions negate a motion (:func:`fsvae_core.action_text.negation_note`)."""
    from fsvae_core.action_text import negation_note

    texts = {"--ld": args.ld, "--gd": args.gd, **{f"--part {part}": text for part, text in (parts or {}).items()}}
    note = negation_note(texts)
    if note is not None:
        print(f"note: {note}", file=sys.stderr)


def shown_by(recordings: int) -> str:
    """`` as N recording(s) show it``: how an added action was shown."""
    return f" as {recordings} recording{'s' if recordings > 1 else ''} show it"


def read_examples(files: list[str], read) -> list | None:
    """``read(path)`` of each ``--example`` file; None (each unreadable file named on stderr, all of them read)
    when any cannot be read or shows no one."""
    from realtime.recognize import ClipError

    recordings, failed = [], False
    for path in files:
        try:
            recordings.append(read(path))
        except ClipError as error:
            print(f"fsvae actions: {error}", file=sys.stderr)
            failed = True
    return None if failed else recordings


def example_windows(bundle: str, files: list[str]) -> list | None:
    """Every window of each ``--example`` file as the bundle's model takes them, read as ``fsvae recognize`` reads
    files; None (each unreadable file named on stderr) when any cannot be read or shows no one."""
    from fsvae_core.bundle import load_bundle
    from realtime.inference import Recognizer
    from realtime.recognize import model_windows

    recognizer = Recognizer.from_bundle(load_bundle(bundle), device="cpu")
    return read_examples(files, lambda path: model_windows(path, recognizer))


def live_actions(args: argparse.Namespace, parts: dict[str, str] | None) -> int:
    """``--control``: the same on a running recognizer; add and remove wait until the change is made.

    The recognizer answers an add or remove at once ('accepted') and makes it in
    the background; this polls ``status`` until the change has left the pending
    list, then says whether it was made. 0 when it was, 1 when it failed or did
    not finish within APPLY_TIMEOUT_S, 2 for a refused request or no answer.
    """
    from realtime.transport import ControlClient, read_curve_key_files

    try:
        curve = None if args.curve_keys is None else read_curve_key_files(args.curve_keys, "client")
        client = ControlClient(args.control, curve=curve)
    except ValueError as error:
        print(f"fsvae: error: {error}", file=sys.stderr)
        return 2
    with client:
        try:
            if args.action == "list":
                reply = client.call("list")
            elif args.action == "add" and args.show is not None:
                reply = show_live(client, args, parts)
            elif args.action == "add" and args.example:
                sent = examples_to_send(client, args.control, args.example)
                if sent is None:
                    return 1
                reply = client.call("add", name=args.name, ld=args.ld, gd=args.gd, parts=parts, examples=sent[0],
                                    example_windows=sent[1])  # fmt: skip
            elif args.action == "add":
                reply = client.call("add", name=args.name, ld=args.ld, gd=args.gd, parts=parts)
            else:
                reply = client.call("remove", name=args.name)
            if not reply.ok:
                print(f"fsvae: error: {reply.error}", file=sys.stderr)
                return 2
            if args.action == "list":
                for info in reply.actions:
                    print(f"{info.name}  {kind(info)}")
                return 0
            change = reply.status["accepted"]
            deadline = time.monotonic() + APPLY_TIMEOUT_S
            while True:
                status = client.call("status").status
                if change not in status.get("pending_changes", []):
                    break
                if time.monotonic() > deadline:
                    print(f"fsvae: {change} is still pending after {APPLY_TIMEOUT_S:g} s", file=sys.stderr)
                    return 1
                time.sleep(0.2)
            names = {" ".join(info.name.split()).casefold() for info in client.call("list").actions}
        except TimeoutError as error:
            print(f"fsvae: error: {error}", file=sys.stderr)
            return 2
    made = (" ".join(args.name.split()).casefold() in names) == (args.action == "add")
    if not made:
        failed = [text for text in status.get("failed_changes", []) if text.startswith(f"{change} failed")]
        print(f"fsvae: error: {failed[-1] if failed else f'{change} was not made'}", file=sys.stderr)
        return 1
    alike = [text for text in status.get("look_alike_changes", []) if text.startswith(f"{change}: ")]
    if alike:
        print(f"note: {alike[-1][len(change) + 2:]}", file=sys.stderr)
    if args.action == "add":
        print_negation_note(args, parts)
    shown = ""
    if args.show is not None:
        shown = f", as {reply.status['showing']['source_id']} showed it"
    elif args.example:
        shown = shown_by(len(args.example))
    print(f"{'added' if args.action == 'add' else 'removed'} {args.name!r} on {args.control}{shown}")
    return 0


def examples_to_send(client, endpoint: str, files: list[str]):
    """The windows of each ``--example`` file as the capture of the recognizer behind ``client`` makes them (its
    window spec from ``status``), as ``(examples (N, T, M, V, 3), windows per file)`` that fit one message: a
    long recording sends evenly spaced windows. None (each unreadable file named on stderr) when any cannot be
    read or shows no one."""
    from fsvae_core.bundle import window_from_dict
    from realtime.messages import MAX_HEADER_BYTES, MAX_MESSAGE_BYTES
    from realtime.recognize import file_windows

    spec = client.call("status").status.get("window_spec")
    if spec is None:
        print(f"fsvae: error: the recognizer at {endpoint} does not say its window spec, so it cannot be "
              "shown recordings (it is older than this command)", file=sys.stderr)  # fmt: skip
        return None
    recordings = read_examples(files, lambda path: file_windows(path, window_from_dict(spec)))
    return None if recordings is None else windows_within(recordings, MAX_MESSAGE_BYTES - MAX_HEADER_BYTES)


def windows_within(recordings, max_bytes: int):
    """Each recording's windows (T, M, V, 3), persons padded with zeros to the most any has (as the capture pads
    an absent person), as ``(windows (N, T, M, V, 3) float32, windows per recording)`` of at most ``max_bytes``:
    where all would not fit, each recording keeps a share of evenly spaced windows in proportion to its length
    (at least one)."""
    import numpy as np

    persons = max(window.shape[1] for windows in recordings for window in windows)
    room = max_bytes // (recordings[0][0][:, :1].astype(np.float32).nbytes * persons)
    total = sum(len(windows) for windows in recordings)
    sent = []
    for windows in recordings:
        keep = len(windows) if total <= room else max(1, len(windows) * room // total)
        picked = [windows[i] for i in np.unique(np.linspace(0, len(windows) - 1, keep).round().astype(int))]
        sent.append(np.stack([np.pad(w, ((0, 0), (0, persons - w.shape[1]), (0, 0), (0, 0))) for w in picked]))
    return np.concatenate(sent).astype(np.float32), [len(windows) for windows in sent]


def show_live(client, args: argparse.Namespace, parts: dict[str, str] | None):
    """Count down on stderr, ask the recognizer to take the next ``--show`` seconds of its camera (``--times``
    times) as the action, and prompt the person through each showing; the reply, once they are over."""
    count_down(f"showing {args.name!r} in", args.countdown)
    reply = client.call("add", name=args.name, ld=args.ld, gd=args.gd, parts=parts, show_s=args.show,
                        show_times=args.times, source_id=args.source)  # fmt: skip
    if not reply.ok:
        return reply
    showing = reply.status["showing"]
    for turn in range(1, args.times + 1):
        if turn > 1:
            count_down("again in", showing["pause_s"])
        of = f" ({turn} of {args.times})" if args.times > 1 else ""
        print(f"now: show {args.name!r} to {showing['source_id']} for {args.show:g} s{of}", file=sys.stderr, flush=True)
        time.sleep(args.show)
    print("shown", file=sys.stderr, flush=True)
    return reply


def count_down(text: str, seconds: float) -> None:
    """``text 3...``, ``text 2...``, ... on stderr, a line a second, for ``seconds``."""
    steps = math.ceil(seconds)
    for left in range(steps, 0, -1):
        print(f"{text} {left}...", file=sys.stderr, flush=True)
        time.sleep(seconds / steps)
