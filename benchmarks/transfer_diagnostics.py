"""Where zero-shot accuracy is lost: separating unseen classes, or matching them to their text?

    python3 benchmarks/transfer_diagnostics.py [--runs runs/bench] [--dataset utd-mhad] [--unseen 5] [--seeds 0,1,2,3,4]

For each finished ``full`` run of ``zero_shot_results.py`` this rebuilds the
run's windows, passes them through the run's own backbone and prints, per seed:

- ``separable``: leave-one-test-subject-out nearest-centroid accuracy among the
  unseen classes on their test windows. It uses unseen labels, so it is no
  zero-shot result: it is how well the backbone's features tell the unseen
  classes apart at all, an upper bound for any mapping to text.
- ``ridge features``: a ridge regression from the seen classes' standardised
  backbone features to their class text vectors (label + local + global
  description), then the nearest unseen text by cosine: the simplest mapping
  from the same features to the same text as FS-VAE.
- ``ridge statistics``: the same ridge on hand-made joint statistics of the
  window (per joint and axis: mean, spread, mean speed, net displacement), to
  compare the backbone's features with features that saw no class at all.
- ``ridge joints, label``: the reference the README quotes (about 30% on
  UTD-MHAD), a ridge from the resampled joints to the label's text vector alone.
- ``FS-VAE``: the run's own ZSL top-1 from its ``metrics.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

from fsvae_core.backbone import extract_features, load_backbone
from fsvae_core.pipeline import PipelineConfig, dataset_descriptions, make_windows, training_data
from fsvae_core.settings import load_settings
from fsvae_core.skeleton_data import load_dataset
from fsvae_core.splits import resolve_split
from fsvae_core.text import SentenceEncoder, class_embeddings

RIDGE_PENALTY = 100.0  # on standardised inputs; 10-1000 move the means by a few points


def unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def ridge_zero_shot(x_train: np.ndarray, text_train: np.ndarray, x_test: np.ndarray, unseen_text: np.ndarray) -> np.ndarray:
    """Index (N_test,) of the nearest unseen text vector (K, Ct) to each regressed test input."""
    mean, scale = x_train.mean(0), x_train.std(0) + 1e-6
    a = (x_train - mean) / scale
    weights = np.linalg.solve(a.T @ a + RIDGE_PENALTY * np.eye(a.shape[1]), a.T @ text_train)
    return (unit_rows(((x_test - mean) / scale) @ weights) @ unit_rows(unseen_text).T).argmax(1)


def joint_statistics(windows: np.ndarray) -> np.ndarray:
    """Windows (N, M, T, V, 3) -> per joint and axis mean, spread, mean speed, net displacement (N, 12 V)."""
    x = windows[:, 0]  # the first person (N, T, V, 3)
    speed = np.abs(np.diff(x, axis=1)).mean(1)
    displacement = x[:, -4:].mean(1) - x[:, :4].mean(1)
    return np.concatenate([s.reshape(len(x), -1) for s in (x.mean(1), x.std(1), speed, displacement)], axis=1)


def separability(features: np.ndarray, labels: np.ndarray, subjects: np.ndarray, classes: np.ndarray) -> float:
    """Leave-one-subject-out nearest-centroid (cosine) accuracy among ``classes``."""
    hits = []
    for subject in np.unique(subjects):
        held = subjects == subject
        centroids = np.stack([unit_rows(features[~held & (labels == c)]).mean(0) for c in classes])
        hits.append(classes[(unit_rows(features[held]) @ unit_rows(centroids).T).argmax(1)] == labels[held])
    return float(np.concatenate(hits).mean())


def diagnose(run: Path, dataset_name: str, unseen: str, seed: int, text: np.ndarray, label_text: np.ndarray, dataset) -> dict:
    config = load_settings(PipelineConfig, run / "settings.json").resolved()
    data = training_data(dataset, dataset_name, seed)
    split = resolve_split(dataset_name, unseen, dataset.num_classes, seed)
    seen, unseen_classes = np.asarray(split.seen), np.asarray(split.unseen)
    train_idx = np.flatnonzero(data.is_train & np.isin(dataset.labels, seen))
    test_idx = np.flatnonzero(~data.is_train & np.isin(dataset.labels, unseen_classes))
    train_windows, train_labels = make_windows(dataset, train_idx, config.window, config.crops(dataset.labels[train_idx]))
    test_windows, test_labels = make_windows(dataset, test_idx, config.window, 1)
    backbone = load_backbone(run / "backbone.ckpt.safetensors")
    train_features, test_features = extract_features(backbone, train_windows), extract_features(backbone, test_windows)

    def accuracy(x_train, targets, x_test) -> float:
        predicted = unseen_classes[ridge_zero_shot(x_train, targets[train_labels], x_test, targets[unseen_classes])]
        return float((predicted == test_labels).mean())

    return {
        "separable": separability(test_features, test_labels, dataset.subjects[test_idx], unseen_classes),
        "ridge features": accuracy(train_features, text, test_features),
        "ridge statistics": accuracy(joint_statistics(train_windows), text, joint_statistics(test_windows)),
        "ridge joints, label": accuracy(train_windows[:, 0].reshape(len(train_windows), -1), label_text,
                                        test_windows[:, 0].reshape(len(test_windows), -1)),
        "FS-VAE": json.loads((run / "metrics.json").read_text())["zsl"]["top1"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/bench")
    parser.add_argument("--dataset", default="utd-mhad")
    parser.add_argument("--unseen", default="5")
    parser.add_argument("--seeds", default="0,1,2,3,4")
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = load_dataset(args.dataset)
    descriptions = dataset_descriptions(dataset, args.dataset)
    encoder = SentenceEncoder()
    text, label_text = class_embeddings(descriptions, encoder), class_embeddings(descriptions, encoder, ("name",))
    rows = {}
    for seed in (int(s) for s in args.seeds.split(",")):
        run = Path(args.runs) / f"{args.dataset}-u{args.unseen}-full-s{seed}"
        if not (run / "metrics.json").exists():
            print(f"{run}: no finished run, skipped", file=sys.stderr)
            continue
        rows[seed] = diagnose(run, args.dataset, args.unseen, seed, text, label_text, dataset)
    if not rows:
        raise SystemExit("no finished runs to diagnose")
    seeds = sorted(rows)
    print(f"| {args.dataset}, {args.unseen} unseen | " + " | ".join(f"seed {s}" for s in seeds) + " | mean |")
    print("| --- " * (len(seeds) + 2) + "|")
    for measure in rows[seeds[0]]:
        values = [100 * rows[s][measure] for s in seeds]
        print(f"| {measure} | " + " | ".join(f"{v:.1f}" for v in values) + f" | {np.mean(values):.1f} |")


if __name__ == "__main__":
    main()
