"""``fsvae``: the parser of every command and the one place input errors become one line.

    fsvae train --dataset utd-mhad --unseen 5 --seed 0 --out runs/utd-0
    fsvae train-features --features DIR --dataset ntu60 --split 55/5 --out runs/ntu60-55-5
    fsvae actions list --bundle runs/utd-0/bundle
    fsvae actions add --bundle B --name "jumping jacks" --ld "..." --gd "..."
    fsvae recognize clip.mp4 S001C001P001R001A011.skeleton a1_s1_t1_skeleton.mat [--bundle B] [--json]
    fsvae listen tcp://127.0.0.1:5561
    fsvae keys keys/
    fsvae export --onnx runs/utd-0/bundle scorer.onnx
"""

from __future__ import annotations

import argparse
import logging
import sys

from fsvae_cli import actions, export, live, recognize, train

# Errors that mean "your input is wrong", shown as one line (the rest keep their traceback).
# Named rather than imported: the modules that define them load torch, and an error of a
# class whose module was never imported cannot have been raised.
_USER_ERRORS = (
    ("fsvae_core.features", "FeatureFileError"),
    ("fsvae_core.descriptions", "DescriptionError"),
    ("fsvae_core.settings", "SettingsError"),
    ("fsvae_core.checkpoint", "CheckpointError"),
    ("fsvae_core.bundle", "BundleError"),
    ("fsvae_core.skeleton_data", "DatasetError"),
)


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is bad input (a missing file, a bad setting, a bad bundle), not a bug."""
    if isinstance(error, (FileNotFoundError, FileExistsError)):
        return True
    for module, name in _USER_ERRORS:
        kind = getattr(sys.modules.get(module), name, None)
        if kind is not None and isinstance(error, kind):
            return True
    return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fsvae", description="FS-VAE zero-shot skeleton action recognition")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every training cycle")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for input errors")
    commands = parser.add_subparsers(dest="command", required=True)
    train.add_parsers(commands)
    actions.add_parsers(commands)
    live.add_parsers(commands)
    recognize.add_parsers(commands)
    export.add_parsers(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one ``fsvae`` command; 0 on success, 2 for bad input (one line on stderr), 130 on Ctrl-C."""
    parser = build_parser()
    args = parser.parse_args(argv)
    check = getattr(args, "check", None)
    if check is not None:
        problem = check(args)
        if problem:
            parser.error(problem)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")  # fmt: skip
    for noisy in ("httpx", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        print("fsvae: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except Exception as error:
        if args.debug or not is_user_error(error):
            raise
        print(f"fsvae: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
