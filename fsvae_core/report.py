"""What a run leaves behind: ``metrics.json``, predictions, and pictures worth looking at.

``per_class_accuracy.png`` shows each class's accuracy as a bar (ZSL on the
unseen classes; GZSL on all, seen and unseen coloured apart);
``confusion_zsl.png`` and ``confusion_gzsl.png`` show row-normalised
confusion matrices with class names.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from fsvae_core.paths import replaced_whole  # noqa: E402


def write_json_atomic(path: Path, document: dict) -> None:
    """Write ``document`` as indented JSON, replacing ``path`` only once complete."""
    with replaced_whole(path) as temporary:
        temporary.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def confusion_matrix(predicted: np.ndarray, target: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Counts (K, K): row = true class, column = predicted class, both in ``classes`` order."""
    position = {int(c): i for i, c in enumerate(classes)}
    matrix = np.zeros((len(classes), len(classes)), dtype=np.int64)
    for p, t in zip(predicted, target):
        if int(p) in position and int(t) in position:
            matrix[position[int(t)], position[int(p)]] += 1
    return matrix


def plot_confusion(matrix: np.ndarray, names: list[str], title: str, path: Path) -> None:
    rows = matrix.sum(axis=1, keepdims=True)
    normalised = np.divide(matrix, rows, out=np.zeros(matrix.shape, dtype=float), where=rows > 0)
    size = max(4.0, 0.28 * len(names) + 2.5)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(normalised, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if len(names) <= 15:
        for (i, j), value in np.ndenumerate(normalised):
            if matrix[i].sum():
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if value > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_per_class(zsl: dict[int, float], gzsl: dict[int, float], seen: set[int], names: list[str], path: Path) -> None:
    fig, axes = plt.subplots(2, 1, figsize=(max(6.0, 0.2 * len(gzsl) + 3), 7.5),
                             gridspec_kw={"height_ratios": [1, 1.4]})
    ids = sorted(zsl)
    axes[0].bar(range(len(ids)), [zsl[c] for c in ids], color="tab:orange")
    axes[0].set_xticks(range(len(ids)), [names[c] for c in ids], rotation=45, ha="right", fontsize=8)
    axes[0].set_ylim(0, 1)
    axes[0].set_ylabel("top-1 accuracy")
    axes[0].set_title(f"ZSL on unseen classes (mean {np.mean([zsl[c] for c in ids]):.3f})")
    ids = sorted(gzsl)
    axes[1].bar(range(len(ids)), [gzsl[c] for c in ids],
                color=["tab:blue" if c in seen else "tab:orange" for c in ids])
    axes[1].set_xticks(range(len(ids)), [names[c] for c in ids], rotation=90, fontsize=6 if len(ids) > 40 else 8)
    axes[1].set_ylim(0, 1)
    axes[1].set_ylabel("top-1 accuracy")
    axes[1].set_title("GZSL (calibrated stacking): seen in blue, unseen in orange")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# Checkpoints of a run folder whose histories go into loss_curves.png: (file, label, x key, loss key).
_CURVES = (
    ("backbone_validation.ckpt.safetensors", "backbone 1/2", "epoch", "loss"),
    ("backbone.ckpt.safetensors", "backbone 2/2", "epoch", "loss"),
    ("validation_stage.ckpt.safetensors", "VAE validation stage", "cycle", "total"),
    ("final_stage.ckpt.safetensors", "VAE final stage", "cycle", "total"),
)


def plot_loss_curves(out_dir: Path) -> Path | None:
    """``loss_curves.png``: training loss per backbone epoch and per VAE cycle, from the run's checkpoints.

    Returns the picture's path, or None when the folder holds no checkpoint with a history.
    """
    from fsvae_core.checkpoint import CheckpointError, read_checkpoint_info

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    drawn = 0
    for name, label, x_key, y_key in _CURVES:
        try:
            history = read_checkpoint_info(out_dir / name).get("history") or []
        except (CheckpointError, OSError):
            continue
        points = [(record[x_key], record[y_key]) for record in history if x_key in record and y_key in record]
        if points:
            axis = left if x_key == "epoch" else right
            axis.plot(*zip(*points), marker="o", markersize=3, label=label)
            drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    for axis, x_label, title in ((left, "epoch", "backbone: cross-entropy"), (right, "cycle", "VAEs: total loss")):
        axis.set_xlabel(x_label)
        axis.set_title(title)
        if axis.lines:
            axis.legend(fontsize=8)
    fig.tight_layout()
    path = out_dir / "loss_curves.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_run_report(out_dir: Path, metrics: dict, predictions: dict[str, np.ndarray], class_names: list[str],
                     seen: tuple[int, ...], unseen: tuple[int, ...]) -> None:
    """Write metrics.json, predictions.npz and the PNG pictures into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / "metrics.json", metrics)
    np.savez(out_dir / "predictions.npz", **{k: np.asarray(v) for k, v in predictions.items()})
    all_ids = np.arange(len(class_names))
    if metrics.get("zsl") is None:  # deployment run: every class seen
        plot_confusion(confusion_matrix(predictions["gzsl"], predictions["gzsl_target"], all_ids),
                       class_names, "Confusion (all classes seen)", out_dir / "confusion_all.png")
        return
    unseen_ids = np.asarray(sorted(unseen))
    plot_confusion(confusion_matrix(predictions["zsl"], predictions["zsl_target"], unseen_ids),
                   [class_names[c] for c in unseen_ids], "ZSL confusion (unseen classes)", out_dir / "confusion_zsl.png")
    plot_confusion(confusion_matrix(predictions["gzsl"], predictions["gzsl_target"], all_ids),
                   class_names, "GZSL confusion (all classes)", out_dir / "confusion_gzsl.png")
    zsl = {int(k): v for k, v in metrics["zsl"][metrics["zsl"]["classifier"]]["per_class"].items()}
    gzsl = {int(k): v for k, v in metrics["gzsl"]["stacking"]["per_class"].items()}
    plot_per_class(zsl, gzsl, set(seen), class_names, out_dir / "per_class_accuracy.png")
