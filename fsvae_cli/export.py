"""``fsvae export --onnx BUNDLE OUT.onnx``: a bundle's window -> scores graph for other runtimes (:mod:`fsvae_core.export`)."""

from __future__ import annotations

import argparse
import sys

CHECK_WINDOWS = 256  # at most this many windows from --check clips are compared


def add_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("export", help="write a bundle's window -> scores computation as an ONNX graph")
    p.add_argument("--onnx", nargs=2, required=True, metavar=("BUNDLE", "OUT"),
                   help="the bundle directory and the .onnx file to write (classes, thresholds and window spec "
                        "go into its 'fsvae' metadata)")
    p.add_argument("--check", nargs="+", metavar="FILE", default=(), dest="check_files",
                   help="recorded clips (anything `fsvae recognize` reads) whose windows both runtimes score "
                        "before the file is written (default: synthetic windows)")
    p.add_argument("--mirrored", action="store_true", help="--check videos are mirror images")
    p.set_defaults(handler=export, check=check)


def check(args: argparse.Namespace) -> str | None:
    """What is wrong with the options before any work, as one line, or None."""
    from pathlib import Path

    out = Path(args.onnx[1])
    if out.is_dir():
        return f"--onnx ... {out}: a folder; name the .onnx file to write in it"
    return None


def export(args: argparse.Namespace) -> int:
    """Export, after checking the graph against PyTorch (nothing is written if they disagree)."""
    import numpy as np

    from fsvae_core.bundle import load_bundle
    from fsvae_core.export import ExportError, export_onnx
    from realtime.inference import Recognizer
    from realtime.recognize import ClipError, model_windows

    bundle_path, out = args.onnx
    # Only to cut and prepare the check windows as the live recognizer does; the graph is made below.
    recognizer = Recognizer.from_bundle(load_bundle(bundle_path), device="cpu", runtime="torch")
    if args.check_files:
        try:
            windows = np.concatenate([model_windows(path, recognizer, mirrored=args.mirrored) for path in args.check_files])
        except ClipError as error:
            print(f"fsvae export: {error}", file=sys.stderr)
            return 2
        windows = windows[np.linspace(0, len(windows) - 1, min(len(windows), CHECK_WINDOWS)).astype(int)]
    else:
        windows = synthetic_windows(recognizer)
    try:
        check = export_onnx(bundle_path, out, windows)
    except ExportError as error:
        print(f"fsvae export: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out}: {len(recognizer.names)} actions; {check.line()}")
    return 0


def synthetic_windows(recognizer, n: int = 32):
    """Smooth random motions, one or two persons, prepared as the model takes them: (n, M, T, V, 3)."""
    import numpy as np

    rng = np.random.default_rng(0)
    windows = []
    for i in range(n):
        persons = 1 + i % recognizer.max_persons
        steps = rng.normal(scale=0.02, size=(recognizer.window_frames, persons, 25, 3))
        pose = rng.normal(scale=0.3, size=(1, persons, 25, 3))
        windows.append(recognizer.prepare((pose + np.cumsum(steps, axis=0)).astype(np.float32)))
    return np.stack(windows)
