"""``fsvae listen`` (print a running ``fsvae-live``'s labels) and ``fsvae keys`` (CURVE keys for remote listeners)."""

from __future__ import annotations

import argparse

from realtime.options import positive_count, positive_seconds

DEFAULT_LABELS = "tcp://127.0.0.1:5561"  # realtime.transport.default_endpoint("labels"), without importing ZeroMQ


def add_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("listen", help="print the label stream of a running fsvae-live")
    p.add_argument("endpoint", nargs="?", default=DEFAULT_LABELS, help=f"label endpoint (default {DEFAULT_LABELS})")
    p.add_argument("--count", type=positive_count, help="stop after this many label events")
    p.add_argument("--timeout", type=positive_seconds, help="give up after this many seconds")
    p.add_argument("--curve-keys", metavar="DIR", help="folder holding server.key and client.key_secret (see `fsvae keys`)")
    p.set_defaults(handler=listen)

    p = commands.add_parser("keys", help="create CURVE keys for an encrypted, authenticated remote label stream")
    p.add_argument("folder", help="where to write server.key, server.key_secret, client.key, client.key_secret")
    p.set_defaults(handler=keys)


def listen(args: argparse.Namespace) -> int:
    """Print the live label stream, one line per decision."""
    from realtime.listen import listen_main

    return listen_main(args.endpoint, count=args.count, timeout_s=args.timeout, curve_keys=args.curve_keys)


def keys(args: argparse.Namespace) -> int:
    """Write a CURVE server and client key pair for remote label streams."""
    from realtime.transport import write_curve_key_files

    for path in write_curve_key_files(args.folder):
        print(path)
    return 0
