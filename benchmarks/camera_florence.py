"""Recognising people on a camera: florence_dev clips end to end, actions added by text.

    python3 benchmarks/camera_florence.py [--bundle B] [--out DIR] [--not-mirrored] [--no-cache]

Every clip of ``$FSVAE_DATA_DIR/florence_dev`` (107 colour clips of 9 everyday
actions by 5 people, none of them ever trained on) goes through the product's
own path, as ``fsvae recognize`` takes it: MediaPipe Pose on every frame, the
live window builder, the recognizer's scores and smoothed decisions. The clip's
answer is the decision at its last window.

The 9 actions are added by text alone (``benchmarks/florence_actions.json``,
written once before any score was seen) to copies of the bundle, in two settings:

- ``text only``: the bundle's own actions removed, so the recognizer chooses
  among the 9 (chance 11%); what a user who adds their own actions and removes
  the rest gets;
- ``added``: the 9 added beside the bundle's own actions, which compete with
  them; an action whose name the bundle already has (the trained "sit down")
  cannot be added, and the trained one answers for it.

Reported per setting: clip accuracy of the decided label (``unknown`` counts
as wrong) and of the best candidate (the first of the final decision's top-k,
whatever the threshold), the share of clips left ``unknown``, a per-class
table and confusion pictures; and the other half of the decision rule
(``benchmarks/text_actions.py``): each action left out of the list in turn,
the share of its clips answered ``unknown``; each clip's first pose held
still for 3 s, the share of windows answered ``unknown``; and each clip
played between two 3 s still spells, as a camera sees people, how often the
label shown for the most windows, and the first label shown, are right.

The clips are mirror images (a Kinect colour stream): in them MediaPipe finds
the subjects waving, drinking and phoning with their left hand (29 of 36
clips) and reading a watch on their right wrist (8 of 13), the other way round
with the frames flipped. They are therefore read with ``mirrored=True``, as a
user would pass ``--mirrored`` for such a camera; ``--not-mirrored`` measures
the frames as they are.

MediaPipe's poses are cached (``$FSVAE_CACHE_DIR/benchmarks``) keyed by the
clips' sizes and times and the mirroring, so a second bundle costs seconds.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fsvae_core import paths
from fsvae_core.bundle import load_bundle
from fsvae_core.descriptions import load_descriptions
from realtime.capture import PoseSample
from realtime.recognize import close_clip, open_clip
from text_actions import run_settings, table

ACTIONS = Path(__file__).resolve().parent / "florence_actions.json"
DEFAULT_BUNDLE = paths.PROJECT_ROOT / "fsvae_core" / "default_bundle"
CLIP_NAME = re.compile(r"GestureRecording_Id(\d+)actor(\d+)idAction(\d+)category(\d+)\.mp4")
LAYOUT = "mediapipe33"
POSES_VERSION = 2  # 2: landmarks placed in the camera (realtime.pose.place_in_camera)


@dataclass(frozen=True)
class Clip:
    path: Path
    actor: int
    category: int  # 0-based index into the 9 actions
    times_s: np.ndarray  # (T,)
    joints: np.ndarray  # (T, 33, 3), NaN where nobody was found

    def samples(self) -> list[PoseSample]:
        """The clip's pose samples as the video source gave them (frames themselves not kept)."""
        return [PoseSample(timestamp_s=float(t), joints=None if np.isnan(j).all() else j[None], layout=LAYOUT)
                for t, j in zip(self.times_s, self.joints)]


def clip_files(folder: Path) -> list[tuple[Path, int, int]]:
    """(path, actor, 0-based category) of every clip, in name order."""
    found = []
    for path in sorted(folder.glob("*.mp4")):
        match = CLIP_NAME.fullmatch(path.name)
        if match is None:
            raise SystemExit(f"{path}: not a florence_dev clip name (GestureRecording_Id<n>actor<a>idAction<k>category<c>.mp4)")
        found.append((path, int(match.group(2)), int(match.group(4)) - 1))
    if not found:
        raise SystemExit(f"no clips in {folder}: set $FSVAE_DATA_DIR to the folder holding florence_dev/ (../shared/data/README.md)")
    return found


def _poses_of(path: Path, mirrored: bool) -> tuple[np.ndarray, np.ndarray]:
    source = open_clip(path, mirrored=mirrored)
    times, joints = [], []
    try:
        for sample in source:
            times.append(sample.timestamp_s)
            joints.append(np.full((33, 3), np.nan, np.float32) if sample.joints is None else sample.joints[0])
    finally:
        close_clip(source)
    return np.asarray(times), np.stack(joints)


def load_clips(folder: Path, mirrored: bool, use_cache: bool) -> list[Clip]:
    """Every clip with its MediaPipe poses, from the cache when it matches the files."""
    import mediapipe

    files = clip_files(folder)
    key = hashlib.sha256(json.dumps([POSES_VERSION, mediapipe.__version__, mirrored] + [
        [p.name, p.stat().st_size, p.stat().st_mtime_ns] for p, _, _ in files]).encode()).hexdigest()[:16]
    cache = paths.cache_dir() / "benchmarks" / f"florence_poses-{key}.npz"
    if use_cache and cache.is_file():
        with np.load(cache) as stored:
            return [Clip(p, a, c, stored[f"t{i}"], stored[f"j{i}"]) for i, (p, a, c) in enumerate(files)]
    clips = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype", category=UserWarning)
        for i, (path, actor, category) in enumerate(files):
            print(f"\rpose estimation {i + 1}/{len(files)}", end="", file=sys.stderr, flush=True)
            times, joints = _poses_of(path, mirrored)
            clips.append(Clip(path, actor, category, times, joints))
    print(file=sys.stderr)
    if use_cache:
        arrays = {f"t{i}": c.times_s for i, c in enumerate(clips)} | {f"j{i}": c.joints for i, c in enumerate(clips)}
        with paths.replaced_whole(cache) as temporary, temporary.open("wb") as file:
            np.savez(file, **arrays)  # through a handle: given a name, np.savez would append ".npz" to it
    return clips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE, help="bundle to add the actions to (default: shipped)")
    parser.add_argument("--data-dir", type=Path, default=None, help="folder holding florence_dev/ (default $FSVAE_DATA_DIR)")
    parser.add_argument("--out", type=Path, default=Path("runs/camera_florence"), help="results.json, table.md, pictures")
    parser.add_argument("--not-mirrored", action="store_true", help="read the frames as they are, not flipped back")
    parser.add_argument("--no-cache", action="store_true", help="estimate the poses again")
    args = parser.parse_args(argv)
    folder = (args.data_dir or paths.data_dir()) / "florence_dev"
    if not folder.is_dir():
        print(f"{folder} not found: set $FSVAE_DATA_DIR to the folder holding florence_dev/ "
              "(../shared/data/README.md)", file=sys.stderr)
        return 2
    load_bundle(args.bundle)  # a bad bundle fails here, in one line, before minutes of pose estimation
    clips = load_clips(folder, mirrored=not args.not_mirrored, use_cache=not args.no_cache)
    actions = load_descriptions(ACTIONS)
    with tempfile.TemporaryDirectory() as work:
        summaries = run_settings(args.bundle, actions, [(c.path.name, c.samples()) for c in clips],
                                 [c.category for c in clips], args.out, Path(work))
    report = {"bundle": str(args.bundle), "mirrored": not args.not_mirrored, "settings": summaries}
    (args.out / "results.json").write_text(json.dumps(report, indent=1))
    names = [a.name for a in actions]
    (args.out / "table.md").write_text(table(summaries, names) + "\n")
    print(table(summaries, names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
