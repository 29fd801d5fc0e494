"""Specifications of the skeleton dataset loaders.

Real recordings are read in place through the ``shared_data`` fixture (never
copied into the repository); malformed inputs are small files written to
``tmp_path``.  Every test that may write a parsed-dataset cache points
``$FSVAE_CACHE_DIR`` at its own tmp folder.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from fsvae_core import paths
from fsvae_core import skeleton_data as sd
from fsvae_core.skeleton_data import DatasetError, SkeletonDataset

NTU_SAMPLE_FRAMES = {  # from ../shared/data/README.md
    "S001C001P001R001A011": 82,
    "S001C003P008R002A058": 70,
    "S002C001P003R001A003": 100,
    "S003C001P015R001A034": 71,
    "S004C002P003R001A017": 124,
}


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets an empty cache folder of its own."""
    folder = tmp_path / "cache"
    monkeypatch.setenv(paths.CACHE_DIR_ENV, str(folder))
    return folder


# --------------------------------------------------------------------------- helpers


def _ntu_text(frames: list[dict[str, np.ndarray]]) -> str:
    """An NTU .skeleton file: per frame, body id -> (25, 3) joint positions."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies.items():
            lines.append(f"{body_id} 0 1 1 1 1 0 0.01119184 -0.256052 2")
            lines.append("25")
            tail = "336.5 192.8 1184.5 489.4 -0.22 0.03 0.97 -0.10 2"  # depth, colour, orientation, state
            lines.extend(f"{x:.6f} {y:.6f} {z:.6f} {tail}" for x, y, z in joints)
    return "\n".join(lines) + "\n"


def _still(value: float) -> np.ndarray:
    return np.full((25, 3), value, dtype=np.float32)


def _write_ntu(path: Path, num_frames: int = 3) -> Path:
    rng = np.random.default_rng(0)
    path.write_text(_ntu_text([{"7": rng.normal(size=(25, 3))} for _ in range(num_frames)]))
    return path


def _write_ucla(folder: Path, name: str, num_frames: int, label: int, value: float = 0.5) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    skeletons = np.full((num_frames, 20, 3), value).tolist()
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"file_name": name, "skeletons": skeletons, "label": label}))
    return path


def _small_dataset(layout: str = "kinect_v1") -> SkeletonDataset:
    rng = np.random.default_rng(1)
    v = sd.LAYOUT_JOINT_COUNTS[layout]
    return SkeletonDataset(
        sequences=[rng.normal(size=(t, 1, v, 3)).astype(np.float32) for t in (5, 1, 9)],
        labels=np.array([0, 2, 1]),
        class_names=["wave", "sit down", "stand up"],
        layout=layout,
        fps=15.0,
        sources=["a.json", "b.json", "c.json"],
        subjects=np.array([1, 2, 2]),
        views=np.array([3, 1, 2]),
        descriptions_ld=["arm moves", "hips lower", "hips rise"],
        descriptions_gd=["greeting", "resting", "getting up"],
    )


def _generic_arrays(**overrides: object) -> dict[str, np.ndarray]:
    joints = np.zeros((2, 4, 20, 3), dtype=np.float32)
    joints[0, :3] = 1.0
    joints[1, :4] = 2.0
    arrays = {
        "joints": joints,
        "lengths": np.array([3, 4]),
        "labels": np.array([0, 1]),
        "class_names": np.array(["walk", "run"]),
        "layout": np.array("kinect_v1"),
    }
    arrays.update(overrides)
    return {k: v for k, v in arrays.items() if v is not None}


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)
    return path


# --------------------------------------------------------------------------- real data


@pytest.mark.parametrize("stem", sorted(NTU_SAMPLE_FRAMES))
def test_ntu_sample_has_readme_frame_count_and_two_person_shape(shared_data: Path, stem: str) -> None:
    joints = sd.read_ntu_skeleton(shared_data / "ntu_samples" / f"{stem}.skeleton")
    assert joints.shape == (NTU_SAMPLE_FRAMES[stem], 2, 25, 3)
    assert joints.dtype == np.float32
    first, second = np.abs(joints[:, 0]).sum(axis=(1, 2)), np.abs(joints[:, 1]).sum(axis=(1, 2))
    assert (first > 0).all(), "the most active person is tracked in every frame of these samples"
    if stem.endswith("A058"):  # handshaking: two people
        assert (second > 0).all()
    else:
        assert not second.any()


def test_ntu_folder_takes_label_subject_and_camera_from_file_names(shared_data: Path) -> None:
    ds = sd.load_ntu_folder(shared_data / "ntu_samples")
    stems = [Path(s).stem for s in ds.sources]
    assert stems == sorted(NTU_SAMPLE_FRAMES)
    assert ds.labels.tolist() == [int(s[-3:]) - 1 for s in stems]
    assert ds.subjects.tolist() == [int(s[9:12]) for s in stems]
    assert ds.views.tolist() == [int(s[5:8]) for s in stems]
    assert (ds.layout, ds.fps, ds.num_classes) == ("ntu25", 30.0, 120)
    assert ds.class_names == sd.ntu_class_names()


def test_ntu60_by_name_keeps_sixty_classes(shared_data: Path) -> None:
    ds = sd.load_dataset("ntu60", data_dir=shared_data)
    assert (len(ds), ds.num_classes) == (5, 60)
    assert [s.shape[0] for s in ds.sequences] == [NTU_SAMPLE_FRAMES[Path(s).stem] for s in ds.sources]


def test_utd_mhad_has_861_sequences_32_per_class_except_three(shared_data: Path) -> None:
    start = time.perf_counter()
    ds = sd.load_utd_mhad(shared_data / "utd_mhad")
    seconds = time.perf_counter() - start
    print(f"UTD-MHAD: {len(ds)} sequences parsed in {seconds:.2f} s")
    assert len(ds) == 861
    assert ds.num_classes == 27 and ds.class_names[26] == "squat"
    expected = np.full(27, 32)
    expected[[8 - 1, 23 - 1, 27 - 1]] = 31
    assert np.bincount(ds.labels, minlength=27).tolist() == expected.tolist()
    assert {s.shape[1:] for s in ds.sequences} == {(1, 20, 3)}
    assert 41 <= ds.frame_counts.min() and ds.frame_counts.max() <= 125
    assert set(ds.subjects.tolist()) == set(range(1, 9)) and ds.views is None
    assert (ds.layout, ds.fps) == ("utd_mhad", 30.0)


def test_nw_ucla_has_1484_sequences_and_the_single_frame_one_loads(shared_data: Path) -> None:
    start = time.perf_counter()
    ds = sd.load_dataset("nw-ucla", data_dir=shared_data)
    seconds = time.perf_counter() - start
    print(f"NW-UCLA: {len(ds)} sequences parsed (cold) in {seconds:.2f} s")
    assert len(ds) == 1484
    assert ds.num_classes == 10 and np.unique(ds.labels).tolist() == list(range(10))
    assert (ds.layout, ds.fps) == ("kinect_v1", 30.0)
    assert set(ds.views.tolist()) == {1, 2, 3}
    single = [Path(s).name for s in ds.sources].index("a02_s09_e04_v02.json")
    assert ds.sequences[single].shape == (1, 1, 20, 3)
    assert ds.labels[single] == 1
    assert ds.frame_counts.max() == 201


def test_cached_load_returns_identical_arrays_without_parsing(
    shared_data: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = time.perf_counter()
    cold = sd.load_dataset("nw-ucla", data_dir=shared_data)
    cold_s = time.perf_counter() - start
    assert list((private_cache / "datasets").glob("nw-ucla-*.npz"))

    def no_parsing(path: object) -> None:
        raise AssertionError("a cached load must not parse the JSON files")

    monkeypatch.setattr(sd, "read_nw_ucla_json", no_parsing)
    start = time.perf_counter()
    warm = sd.load_dataset("nw-ucla", data_dir=shared_data)
    warm_s = time.perf_counter() - start
    print(f"NW-UCLA: cold {cold_s:.2f} s, cached {warm_s:.3f} s")

    assert len(warm) == len(cold)
    for a, b in zip(cold.sequences, warm.sequences):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    for name in ("labels", "subjects", "views"):
        assert np.array_equal(getattr(cold, name), getattr(warm, name))
    assert (warm.class_names, warm.sources, warm.layout, warm.fps) == (
        cold.class_names, cold.sources, cold.layout, cold.fps,
    )


# --------------------------------------------------------------------------- cache


def test_stale_cache_is_rebuilt_when_a_file_changes(tmp_path: Path) -> None:
    folder = tmp_path / "ucla"
    _write_ucla(folder, "a01_s01_e00_v01", 4, 1, value=0.5)
    path = _write_ucla(folder, "a12_s02_e01_v03", 2, 10, value=0.5)
    assert sd.load_dataset(folder).sequences[1][0, 0, 0, 0] == 0.5

    _write_ucla(folder, "a12_s02_e01_v03", 3, 10, value=0.25)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # same-second writes still count
    rebuilt = sd.load_dataset(folder)
    assert rebuilt.sequences[1].shape == (3, 1, 20, 3) and rebuilt.sequences[1][0, 0, 0, 0] == 0.25

    _write_ucla(folder, "a04_s03_e02_v02", 1, 4)  # a new file is a new dataset
    assert len(sd.load_dataset(folder)) == 3


def test_corrupt_cache_file_is_rebuilt(tmp_path: Path, private_cache: Path) -> None:
    folder = tmp_path / "ucla"
    _write_ucla(folder, "a01_s01_e00_v01", 4, 1)
    first = sd.load_dataset(folder)
    (cache_file,) = (private_cache / "datasets").glob("*.npz")
    cache_file.write_bytes(b"not a zip archive")
    again = sd.load_dataset(folder)
    assert np.array_equal(first.sequences[0], again.sequences[0])
    assert np.load(cache_file, allow_pickle=False)["flat"].size == 4 * 20 * 3


# --------------------------------------------------------------------------- NTU text format


def test_two_most_active_bodies_are_kept_most_active_first(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    frames = []
    for t in range(6):
        bodies = {"111": _still(1.0), "222": _still(0.1 * t), "333": rng.normal(size=(25, 3))}
        if t == 0:
            del bodies["222"]  # absent in frame 0
        frames.append(bodies)
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text(_ntu_text(frames))

    joints = sd.read_ntu_skeleton(path)
    assert joints.shape == (6, 2, 25, 3)
    np.testing.assert_allclose(joints[:, 0], np.stack([f["333"] for f in frames]), atol=1e-6)
    assert not joints[0, 1].any(), "a body absent in a frame is zeros there"
    np.testing.assert_allclose(joints[1:, 1, 0, 0], 0.1 * np.arange(1, 6), atol=1e-6)


def test_truncated_skeleton_file_names_file_and_line(tmp_path: Path) -> None:
    path = _write_ntu(tmp_path / "S001C001P001R001A001.skeleton", num_frames=3)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:40]) + "\n")  # cut inside frame 2's joints
    with pytest.raises(DatasetError) as info:
        sd.read_ntu_skeleton(path)
    assert info.value.line == 41
    assert str(path) in str(info.value) and "line 41" in str(info.value)
    assert "truncated" in str(info.value)


def test_half_written_last_line_is_reported_at_that_line(tmp_path: Path) -> None:
    path = _write_ntu(tmp_path / "S001C001P001R001A001.skeleton", num_frames=1)
    path.write_text(path.read_text()[:-40])
    with pytest.raises(DatasetError) as info:
        sd.read_ntu_skeleton(path)
    assert info.value.line == 29 and "found" in info.value.problem


def test_non_number_in_joint_line_names_the_line(tmp_path: Path) -> None:
    path = _write_ntu(tmp_path / "S001C001P001R001A001.skeleton", num_frames=2)
    lines = path.read_text().splitlines()
    lines[9] = lines[9].replace(lines[9].split()[1], "1.2.3", 1)  # joint 6 of frame 1
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as info:
        sd.read_ntu_skeleton(path)
    assert info.value.line == 10
    assert "'1.2.3' is not a number" in str(info.value) and str(path) in str(info.value)


def test_skeleton_file_without_any_body_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "S001C001P001R001A001.skeleton"
    path.write_text("2\n0\n0\n")
    with pytest.raises(DatasetError, match="no body"):
        sd.read_ntu_skeleton(path)


def test_ntu60_leaves_out_extension_classes(tmp_path: Path) -> None:
    _write_ntu(tmp_path / "S001C002P003R001A060.skeleton")
    _write_ntu(tmp_path / "S018C002P003R001A061.skeleton")
    assert len(sd.load_ntu_folder(tmp_path, num_classes=60)) == 1
    assert sd.load_ntu_folder(tmp_path).labels.tolist() == [59, 60]


# --------------------------------------------------------------------------- bad folders


def test_skip_bad_files_skips_and_warns_with_count(tmp_path: Path) -> None:
    folder = tmp_path / "ucla"
    _write_ucla(folder, "a01_s01_e00_v01", 3, 1)
    _write_ucla(folder, "a02_s01_e00_v01", 3, 2)
    bad = folder / "a03_s01_e00_v01.json"
    bad.write_text('{"file_name": "a03_s01_e00_v01", "skeletons": [[[1, 2')

    with pytest.raises(DatasetError) as info:
        sd.load_dataset(folder)
    assert str(bad) in str(info.value) and info.value.line == 1

    with pytest.warns(UserWarning) as caught:
        ds = sd.load_dataset(folder, skip_bad_files=True)
    messages = [str(w.message) for w in caught]
    assert len(ds) == 2
    assert any(str(bad) in m for m in messages)
    assert any("skipped 1 of 3 files" in m for m in messages)

    with pytest.warns(UserWarning) as caught:  # the same report when served from the cache
        assert len(sd.load_dataset(folder, skip_bad_files=True)) == 2
    assert [str(w.message) for w in caught] == messages


def test_nw_ucla_label_must_match_file_name(tmp_path: Path) -> None:
    _write_ucla(tmp_path, "a08_s01_e00_v01", 3, 8)  # a08 is label 7, not 8
    with pytest.raises(DatasetError, match="does not match action a08"):
        sd.load_nw_ucla(tmp_path)


def test_damaged_mat_file_is_a_dataset_error(tmp_path: Path) -> None:
    (tmp_path / "a1_s1_t1_skeleton.mat").write_bytes(b"MATLAB 5.0 MAT-file, garbage")
    with pytest.raises(DatasetError, match="a1_s1_t1_skeleton.mat"):
        sd.load_utd_mhad(tmp_path)


def test_missing_named_folder_says_which_folder_and_env_var(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError) as info:
        sd.load_dataset("nw-ucla", data_dir=tmp_path)
    assert str(tmp_path / "nw_ucla" / "all_sqe") in str(info.value)
    assert paths.DATA_DIR_ENV in str(info.value)


# --------------------------------------------------------------------------- generic npz


def test_generic_npz_round_trips_every_field(tmp_path: Path) -> None:
    original = _small_dataset()
    path = tmp_path / "mine.npz"
    sd.save_generic_npz(original, path)
    loaded = sd.load_generic_npz(path)
    assert len(loaded) == len(original)
    for a, b in zip(original.sequences, loaded.sequences):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    for name in ("labels", "subjects", "views"):
        assert np.array_equal(getattr(original, name), getattr(loaded, name))
    for name in ("class_names", "layout", "fps", "sources", "descriptions_ld", "descriptions_gd"):
        assert getattr(original, name) == getattr(loaded, name)
    assert sd.load_dataset(path).labels.tolist() == original.labels.tolist()


def test_generic_npz_minimal_four_axis_joints_load_as_one_person(tmp_path: Path) -> None:
    ds = sd.load_generic_npz(_write_npz(tmp_path / "d.npz", _generic_arrays()))
    assert [s.shape for s in ds.sequences] == [(3, 1, 20, 3), (4, 1, 20, 3)]
    assert ds.subjects is None and ds.descriptions_ld is None and ds.fps == 30.0


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"labels": None}, "labels", "missing"),
        ({"labels": np.array([0, 2])}, "labels", "outside 0..1"),
        ({"lengths": np.array([3, 5])}, "lengths", "outside 1..T=4"),
        ({"layout": np.array("openpose18")}, "layout", "unknown layout"),
        ({"joints": np.zeros((2, 4, 25, 3), dtype=np.float32)}, "joints", "V=20"),
        ({"joints": np.zeros((2, 4, 20, 3), dtype=np.int32)}, "joints", "floating-point"),
        ({"class_names": np.array(["walk", "run"], dtype=object)}, "class_names", "pickled object array"),
        ({"subjects": np.array([1])}, "subjects", "shaped (2,)"),
    ],
)
def test_generic_npz_field_errors_name_file_and_field(
    tmp_path: Path, overrides: dict, field: str, words: str
) -> None:
    path = _write_npz(tmp_path / "bad.npz", _generic_arrays(**overrides))
    with pytest.raises(DatasetError) as info:
        sd.load_generic_npz(path)
    assert info.value.field == field
    assert str(path) in str(info.value) and words in str(info.value)


def test_generic_npz_nan_only_matters_in_valid_frames(tmp_path: Path) -> None:
    joints = _generic_arrays()["joints"]
    joints[0, 3] = np.nan  # padding after length 3: ignored
    sd.load_generic_npz(_write_npz(tmp_path / "ok.npz", _generic_arrays(joints=joints)))
    joints[1, 2, 5, 1] = np.inf
    with pytest.raises(DatasetError, match="sample 1 frame 2"):
        sd.load_generic_npz(_write_npz(tmp_path / "bad.npz", _generic_arrays(joints=joints)))


def test_pickled_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pickle.npz"
    with path.open("wb") as handle:  # a pickled .npy under an .npz name
        np.save(handle, np.array([{"joints": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DatasetError, match="pickled"):
        sd.load_generic_npz(path)


# --------------------------------------------------------------------------- CTR-GCN npz


def _ctrgcn_x(lengths: list[int], t_max: int = 6) -> np.ndarray:
    x = np.zeros((len(lengths), t_max, 150), dtype=np.float32)
    for i, length in enumerate(lengths):
        x[i, :length, :75] = i + 1.0  # first person only
    return x


def test_ctrgcn_npz_trims_padding_and_reads_one_hot_labels(tmp_path: Path) -> None:
    path = _write_npz(
        tmp_path / "NTU60_CS.npz",
        {"x_train": _ctrgcn_x([6, 2]), "y_train": np.eye(60)[[4, 59]],
         "x_test": _ctrgcn_x([3]), "y_test": np.eye(60)[[0]]},
    )
    train, test = sd.load_ntu_npz(path)
    assert [s.shape for s in train.sequences] == [(6, 2, 25, 3), (2, 2, 25, 3)]
    assert not train.sequences[1][:, 1].any() and train.sequences[1][0, 0, 0, 0] == 2.0
    assert train.labels.tolist() == [4, 59] and test.labels.tolist() == [0]
    assert train.num_classes == 60 and train.layout == "ntu25" and train.subjects is None
    assert len(sd.load_dataset(path, split="test")) == 1
    with pytest.raises(ValueError, match="split"):
        sd.load_dataset(path)


def test_ctrgcn_npz_integer_labels_above_59_mean_ntu120(tmp_path: Path) -> None:
    path = _write_npz(
        tmp_path / "NTU120_CSub.npz",
        {"x_train": _ctrgcn_x([1]), "y_train": np.array([100]),
         "x_test": _ctrgcn_x([1]), "y_test": np.array([3])},
    )
    train, _ = sd.load_ntu_npz(path)
    assert train.num_classes == 120 and train.labels.tolist() == [100]


# --------------------------------------------------------------------------- dataset object


def test_dataset_checks_name_the_inconsistent_field() -> None:
    good = _small_dataset()
    with pytest.raises(ValueError, match="^labels:"):
        SkeletonDataset(**{**_fields(good), "labels": np.array([0, 1, 3])})
    with pytest.raises(ValueError, match="^sources:"):
        SkeletonDataset(**{**_fields(good), "sources": ["a"]})
    with pytest.raises(ValueError, match="^sequences:"):
        SkeletonDataset(**{**_fields(good), "layout": "ntu25"})
    with pytest.raises(ValueError, match="^layout:"):
        SkeletonDataset(**{**_fields(good), "layout": "coco17"})


def _fields(ds: SkeletonDataset) -> dict:
    return {name: getattr(ds, name) for name in SkeletonDataset.__dataclass_fields__}


def test_subset_keeps_classes_and_aligns_every_per_sequence_field() -> None:
    ds = _small_dataset()
    part = ds.subset(ds.labels != 0)
    assert len(part) == 2 and part.class_names == ds.class_names
    assert part.labels.tolist() == [2, 1] and part.sources == ["b.json", "c.json"]
    assert part.views.tolist() == [1, 2] and part.sequences[1] is ds.sequences[2]
