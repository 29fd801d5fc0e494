"""How far apart bodies from different pose sources land after normalisation, by scale measure.

    python3 benchmarks/pose_source_gap.py [--clips 200]

Kinect v1 training data (UTD-MHAD and NW-UCLA) against Kinect v2 (the raw NTU
samples) and MediaPipe Pose (world landmarks of the two sample videos). Every
clip becomes model windows (32 frames at 15 fps, body-frame normalised as the
shipped bundle does); for each source the median position of every joint over
all its windows is taken, and the gap between two sources is the mean over
the 25 joints of the distance between their medians, in spine units. Printed
once with bodies sized by the spine and once by the limbs (``scale_by``).
The actions differ between sources, so the gap never reaches zero; what the
scale measure changes is how much of it is the body's size.
"""

from __future__ import annotations

import argparse

import numpy as np

from calibration import to_canonical
from calibration.normalize import NormalizationConfig
from calibration.windows import WindowSpec, clip_windows
from fsvae_core.paths import data_dir
from fsvae_core.skeleton_data import load_nw_ucla, load_utd_mhad, read_ntu_skeleton


def mediapipe_clips(folder) -> list[tuple[np.ndarray, float]]:
    """Canonical (T, 25, 3) MediaPipe bodies of each sample video, with its frame rate."""
    from realtime.capture import VideoSource
    from realtime.pose import PoseEstimator

    clips = []
    with PoseEstimator.create() as estimator:
        for video in sorted(folder.glob("*.avi")):
            with VideoSource(video, estimator, realtime=False) as source:
                bodies = [to_canonical(s.joints[0], "mediapipe33") for s in source if s.joints is not None]
                clips.append((np.stack(bodies), source.fps))
    return clips


def windows(clips, spec: WindowSpec) -> np.ndarray:
    """Person 0 of every window of every clip: (N, T, 25, 3)."""
    return np.concatenate([clip_windows(joints, fps, spec, crops=4)[:, 0] for joints, fps in clips])


def gap(a: np.ndarray, b: np.ndarray) -> float:
    medians = [np.median(x.reshape(-1, 25, 3), axis=0) for x in (a, b)]  # (25, 3) each
    return float(np.linalg.norm(medians[0] - medians[1], axis=-1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=200, help="clips of each Kinect v1 dataset")
    args = parser.parse_args()
    root = data_dir()
    utd, nw = load_utd_mhad(root / "utd_mhad"), load_nw_ucla(root / "nw_ucla" / "all_sqe")
    kinect_v1 = [(to_canonical(seq, d.layout)[:, 0], d.fps) for d in (utd, nw) for seq in d.sequences[: args.clips]]
    kinect_v2 = [(to_canonical(read_ntu_skeleton(path), "ntu25")[:, 0], 30.0)
                 for path in sorted((root / "ntu_samples").glob("*.skeleton"))]  # fmt: skip
    mediapipe = mediapipe_clips(root / "videos")
    print("| bodies sized by | Kinect v2 to Kinect v1 | MediaPipe to Kinect v1 | MediaPipe to Kinect v2 |")
    print("| --- | --- | --- | --- |")
    for scale_by in ("spine", "limbs"):
        spec = WindowSpec(frames=32, fps=15.0, normalization=NormalizationConfig(scale_by=scale_by))
        v1, v2, mp = (windows(clips, spec) for clips in (kinect_v1, kinect_v2, mediapipe))
        print(f"| {scale_by} | {gap(v2, v1):.3f} | {gap(mp, v1):.3f} | {gap(mp, v2):.3f} |")


if __name__ == "__main__":
    main()
