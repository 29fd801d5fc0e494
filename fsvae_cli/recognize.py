"""``fsvae recognize FILE...``: recorded clips through the live recognizer's own code path (:mod:`realtime.recognize`)."""

from __future__ import annotations

import argparse


def add_parsers(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser("recognize", help="name the action in recorded clips, as fsvae-live would")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="videos (any format OpenCV reads), NTU .skeleton, UTD-MHAD .mat, NW-UCLA .json, "
                        "HDM05 .amc (with the subject's .asf beside it) or SBU skeleton_pos.txt files")
    p.add_argument("--bundle", help="model bundle (default: the shipped one, as fsvae-live uses it)")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines), with every window")
    p.add_argument("--top-k", type=int, default=5, metavar="K", help="candidates to show (default 5)")
    p.add_argument("--stride", type=float, default=0.25, metavar="S", help="seconds between windows (default 0.25, as live)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where the model runs (default auto)")
    p.add_argument("--pose-model", metavar="PATH", help="videos: a MediaPipe Tasks pose landmarker .task file")
    p.add_argument("--mirrored", action="store_true",
                   help="videos: recorded as a mirror image (Kinect colour streams, many webcams); flipped back before pose estimation")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=recognize)


def recognize(args: argparse.Namespace) -> int:
    """Recognise recorded clips offline, with the live recognizer's code path."""
    from realtime.recognize import recognize_main

    return recognize_main(args.files, bundle=args.bundle, as_json=args.json, top_k=args.top_k, stride_s=args.stride,
                          device=args.device, pose_model=args.pose_model, mirrored=args.mirrored, quiet=args.quiet)
