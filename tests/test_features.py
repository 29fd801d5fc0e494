"""Feature folders load when well-formed and fail with the file and the problem otherwise."""

import numpy as np
import pytest

from fsvae_core.features import FeatureFileError, load_feature_split
from fsvae_core.splits import ClassSplit

SPLIT = ClassSplit(n_classes=6, unseen=(4, 5), validation=(3,), name="tiny")


def write_split(folder, train_labels=(0, 1, 2, 3) * 3, z_labels=(4, 5), g_labels=(0, 4, 5), dim=8):
    rng = np.random.default_rng(0)
    for stem, labels_name, labels in (("train", "train_label", train_labels), ("ztest", "z_label", z_labels), ("gtest", "g_label", g_labels)):
        np.save(folder / f"{stem}.npy", rng.normal(size=(len(labels), dim)).astype(np.float32))
        np.save(folder / f"{labels_name}.npy", np.asarray(labels))
    return folder


def test_a_well_formed_folder_loads(tmp_path):
    data = load_feature_split(write_split(tmp_path), SPLIT)
    assert data.dim == 8 and len(data.train) == 12 and data.train.y.dtype == np.int64


def test_missing_file_is_named(tmp_path):
    (write_split(tmp_path) / "ztest.npy").unlink()
    with pytest.raises(FeatureFileError, match=r"ztest\.npy: file not found"):
        load_feature_split(tmp_path, SPLIT)


def test_wrong_shape_is_named(tmp_path):
    write_split(tmp_path)
    np.save(tmp_path / "gtest.npy", np.zeros((3, 2, 4), np.float32))
    with pytest.raises(FeatureFileError, match=r"gtest\.npy: expected features of shape \(N, C\)"):
        load_feature_split(tmp_path, SPLIT)


def test_label_count_mismatch_is_named(tmp_path):
    write_split(tmp_path)
    np.save(tmp_path / "z_label.npy", np.array([4, 5, 4]))
    with pytest.raises(FeatureFileError, match=r"z_label\.npy: expected 2 labels"):
        load_feature_split(tmp_path, SPLIT)


def test_unseen_label_in_training_file_is_refused(tmp_path):
    write_split(tmp_path, train_labels=(0, 1, 2, 3, 4))
    with pytest.raises(FeatureFileError, match=r"train_label\.npy: labels \[4\] do not belong"):
        load_feature_split(tmp_path, SPLIT)


def test_labels_outside_the_split_are_refused(tmp_path):
    write_split(tmp_path, g_labels=(0, 4, 9))
    with pytest.raises(FeatureFileError, match=r"g_label\.npy: labels \[9\]"):
        load_feature_split(tmp_path, SPLIT)


def test_nan_features_are_refused(tmp_path):
    write_split(tmp_path)
    x = np.load(tmp_path / "train.npy")
    x[2, 3] = np.nan
    np.save(tmp_path / "train.npy", x)
    with pytest.raises(FeatureFileError, match=r"train\.npy: 1 rows contain NaN"):
        load_feature_split(tmp_path, SPLIT)


def test_widths_must_agree(tmp_path):
    write_split(tmp_path)
    np.save(tmp_path / "ztest.npy", np.zeros((2, 5), np.float32))
    with pytest.raises(FeatureFileError, match="widths differ"):
        load_feature_split(tmp_path, SPLIT)


def test_pickled_arrays_are_refused(tmp_path):
    write_split(tmp_path)
    np.save(tmp_path / "train_label.npy", np.array([{"a": 1}] * 12, dtype=object), allow_pickle=True)
    with pytest.raises(FeatureFileError, match=r"train_label\.npy: not a plain numeric"):
        load_feature_split(tmp_path, SPLIT)


def test_a_seen_class_without_samples_is_refused(tmp_path):
    write_split(tmp_path, train_labels=(0, 1, 3))
    with pytest.raises(FeatureFileError, match=r"seen classes \[2\] have no sample"):
        load_feature_split(tmp_path, SPLIT)
