"""Skeleton feature files in the layout the published protocol uses, checked on load.

A split folder holds ``train.npy`` / ``train_label.npy`` (seen classes, for
training), ``ztest.npy`` / ``z_label.npy`` (unseen test) and ``gtest.npy`` /
``g_label.npy`` (all test classes, for GZSL): float32 features (N, C) and
labels as original class indices (N,).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fsvae_core.splits import ClassSplit

FEATURE_FILES = {
    "train": ("train.npy", "train_label.npy"),
    "ztest": ("ztest.npy", "z_label.npy"),
    "gtest": ("gtest.npy", "g_label.npy"),
}


class FeatureFileError(ValueError):
    """A feature file that cannot be used; the message names the file and what is wrong."""


@dataclass(frozen=True)
class LabelledFeatures:
    """Features (N, C) float32 with their class labels (N,) int64, and optionally
    the backbone's activations pooled per body part (N, B, C_last) (``fsvae_core.parts``)
    and the windows' attribute measures (N, A) (``fsvae_core.attributes``)."""

    x: np.ndarray
    y: np.ndarray
    parts: np.ndarray | None = None
    attributes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.y)

    def subset(self, mask: np.ndarray) -> "LabelledFeatures":
        return LabelledFeatures(self.x[mask], self.y[mask], None if self.parts is None else self.parts[mask],
                                None if self.attributes is None else self.attributes[mask])

    def of_classes(self, classes) -> "LabelledFeatures":
        return self.subset(np.isin(self.y, np.asarray(classes)))

    @staticmethod
    def concatenate(pieces: list["LabelledFeatures"]) -> "LabelledFeatures":
        """The samples of every piece, in order (part features and measures kept when every piece has them)."""
        def joined(field: str) -> np.ndarray | None:
            arrays = [getattr(p, field) for p in pieces]
            return None if any(a is None for a in arrays) else np.concatenate(arrays)

        return LabelledFeatures(np.concatenate([p.x for p in pieces]), np.concatenate([p.y for p in pieces]),
                                joined("parts"), joined("attributes"))


@dataclass(frozen=True)
class FeatureSplit:
    """The three parts of a split folder."""

    train: LabelledFeatures
    ztest: LabelledFeatures
    gtest: LabelledFeatures

    @property
    def dim(self) -> int:
        return self.train.x.shape[1]


def load_feature_split(folder: str | Path, split: ClassSplit) -> FeatureSplit:
    """Read and check a split folder against ``split``.

    Raises :class:`FeatureFileError` for a missing file, a shape that is not
    (N, C) with one label per row, a feature width that differs between files,
    NaN or infinite values, or labels that do not belong where they are
    (train labels must be seen classes, ztest labels unseen ones).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FeatureFileError(f"{folder}: feature folder not found")
    parts = {name: _read_pair(folder, *files) for name, files in FEATURE_FILES.items()}
    widths = {name: part.x.shape[1] for name, part in parts.items()}
    if len(set(widths.values())) != 1:
        raise FeatureFileError(f"{folder}: feature widths differ between files: {widths}")

    allowed = {"train": split.seen, "ztest": split.unseen, "gtest": tuple(range(split.n_classes))}
    for name, classes in allowed.items():
        labels = parts[name].y
        stray = np.setdiff1d(labels, np.asarray(classes))
        if stray.size:
            label_file = folder / FEATURE_FILES[name][1]
            raise FeatureFileError(
                f"{label_file}: labels {stray[:10].tolist()} do not belong to this file's classes "
                f"under split {split.name!r} (expected a subset of {len(classes)} classes)"
            )
    missing = np.setdiff1d(np.asarray(split.train_classes), parts["train"].y)
    if missing.size:
        raise FeatureFileError(f"{folder / 'train_label.npy'}: seen classes {missing.tolist()} have no sample")
    return FeatureSplit(**parts)


def _read_pair(folder: Path, feature_name: str, label_name: str) -> LabelledFeatures:
    x = _read_array(folder / feature_name)
    y = _read_array(folder / label_name)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise FeatureFileError(f"{folder / feature_name}: expected features of shape (N, C), got {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise FeatureFileError(f"{folder / feature_name}: expected floating-point features, got {x.dtype}")
    if not np.isfinite(x).all():
        bad = int((~np.isfinite(x)).any(axis=1).sum())
        raise FeatureFileError(f"{folder / feature_name}: {bad} rows contain NaN or infinite values")
    y = y.reshape(-1) if y.ndim == 2 and 1 in y.shape else y
    if y.ndim != 1 or len(y) != len(x):
        raise FeatureFileError(f"{folder / label_name}: expected {len(x)} labels (one per feature row), got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.issubdtype(y.dtype, np.floating) or not np.all(np.mod(y, 1) == 0):
            raise FeatureFileError(f"{folder / label_name}: labels must be whole class indices, got {y.dtype}")
    return LabelledFeatures(x.astype(np.float32), y.astype(np.int64))


def _read_array(path: Path) -> np.ndarray:
    if not path.is_file():
        raise FeatureFileError(f"{path}: file not found")
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as error:
        raise FeatureFileError(f"{path}: not a plain numeric .npy array ({error})") from error
    except OSError as error:
        raise FeatureFileError(f"{path}: cannot read: {error}") from error


def text_structured_features(
    class_text: np.ndarray,
    split: ClassSplit,
    dim: int = 256,
    noise: float = 0.3,
    per_class: tuple[int, int, int] = (40, 20, 8),
    seed: int = 0,
) -> FeatureSplit:
    """Generated features whose class means are a fixed linear map of the class text vectors.

    For tests and benchmarks: with ``class_text`` (K, Ct) real sentence
    embeddings, the only route to an unseen class is through its description,
    so zero-shot accuracy measures real alignment. Class means are
    ``4 * class_text @ A`` with ``A`` (Ct, dim) Gaussian / sqrt(Ct); samples add
    isotropic Gaussian noise of standard deviation ``noise``. ``per_class`` is
    the number of samples per class in train (seen), ztest (unseen) and gtest (all).
    """
    rng = np.random.default_rng(seed)
    mapping = rng.normal(size=(class_text.shape[1], dim)) / np.sqrt(class_text.shape[1])
    means = 4 * class_text @ mapping  # (K, dim)

    def draw(classes, n):
        y = np.repeat(np.asarray(classes), n)
        return LabelledFeatures((means[y] + noise * rng.normal(size=(len(y), dim))).astype(np.float32), y.astype(np.int64))

    return FeatureSplit(
        train=draw(split.seen, per_class[0]),
        ztest=draw(split.unseen, per_class[1]),
        gtest=draw(range(split.n_classes), per_class[2]),
    )
