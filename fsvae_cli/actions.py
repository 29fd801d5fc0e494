"""``fsvae actions list|add|remove --bundle B``: a bundle's actions, changed by text alone (no retraining)."""

from __future__ import annotations

import argparse
import os
import shutil

KINDS = {"trained": "trained", "unseen": "unseen", "user": "added"}  # what `list` prints for each kind of class


def add_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("actions", help="list, add or remove a bundle's actions without retraining")
    p.add_argument("action", choices=("list", "add", "remove"))
    p.add_argument("--bundle", required=True, help="bundle folder")
    p.add_argument("--name", help="action name (add, remove)")
    p.add_argument("--ld", help="local description: what the body parts do (add)")
    p.add_argument("--gd", help="global description: what the action is (add)")
    p.set_defaults(handler=actions, check=check)


def check(args: argparse.Namespace) -> str | None:
    """The options ``args.action`` needs but lacks, as a parser error; None when all are there."""
    needed = {"list": (), "add": ("name", "ld", "gd"), "remove": ("name",)}[args.action]
    missing = [f"--{name}" for name in needed if not getattr(args, name)]
    return f"actions {args.action} needs {' '.join(missing)}" if missing else None


def kind(entry) -> str:
    """``trained`` (learnt from recordings), ``unseen`` (a training class known only by its text) or ``added`` (by a user)."""
    if entry.origin == "user":
        return KINDS["user"]
    return KINDS["trained"] if entry.seen else KINDS["unseen"]


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
    from fsvae_core.bundle import add_action, list_actions, remove_action

    if args.action == "list":
        entries = list_actions(args.bundle)
        for line in format_actions(entries, shutil.get_terminal_size((100, 24)).columns):
            print(line)
    elif args.action == "add":
        # The text model prints a bar while its weights load; one line of result is enough here.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        entry = add_action(args.bundle, args.name, args.ld, args.gd)
        print(f"added {entry.name!r} to {args.bundle}")
    else:
        entry = remove_action(args.bundle, args.name)
        print(f"removed {entry.name!r} from {args.bundle}")
    return 0
