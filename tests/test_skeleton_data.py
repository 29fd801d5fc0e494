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

from calibration.layouts import HDM05_ASF_BONES, HDM05_MOCAP31_BONES, SBU15, HDM05Mocap31, KinectV1
from fsvae_core import paths
from fsvae_core import skeleton_data as sd
from fsvae_core.descriptions import load_descriptions
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
        folds=np.array([0, 1, 0]),
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
    assert (ds.layout, ds.fps) == ("kinect_v1", 15.0)
    assert set(ds.views.tolist()) == {1, 2, 3}
    single = [Path(s).name for s in ds.sources].index("a02_s09_e04_v02.json")
    assert ds.sequences[single].shape == (1, 1, 20, 3)
    assert ds.labels[single] == 1
    assert ds.frame_counts.max() == 201


def step_period_frames(ankle_left: np.ndarray, ankle_right: np.ndarray) -> int | None:
    """Frames between two steps of a walk (T, 3) ankles: the first clear repeat of the feet's spread."""
    spread = np.linalg.norm((ankle_left - ankle_right)[:, [0, 2]], axis=-1)
    spread = spread - spread.mean()
    repeat = np.correlate(spread, spread, "full")[len(spread) - 1 :] / max(float(spread @ spread), 1e-12)
    for lag in range(3, len(spread) // 2):
        if repeat[lag] > 0.2 and repeat[lag] > repeat[lag - 1] and repeat[lag] >= repeat[lag + 1]:
            return lag
    return None


def test_nw_ucla_people_walk_at_a_walkers_pace_at_its_declared_frame_rate(shared_data: Path) -> None:
    # The rate is not in the files: read from how fast its people step (a walk: 0.45-0.7 s a step).
    ds = sd.load_dataset("nw-ucla", data_dir=shared_data)
    walking = ds.class_names.index("walk around")
    periods = [step_period_frames(seq[:, 0, KinectV1.ANKLE_LEFT], seq[:, 0, KinectV1.ANKLE_RIGHT])
               for seq, label in zip(ds.sequences, ds.labels) if label == walking and len(seq) >= 30]
    seconds = np.array([p for p in periods if p is not None]) / ds.fps
    assert len(seconds) > 50
    assert 0.45 <= np.median(seconds) <= 0.7


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
    for name in ("labels", "subjects", "views", "folds"):
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
        # What a bundle would refuse after hours of training is refused when the file is read.
        ({"class_names": np.array(["Walk  on", "walk on"])}, "class_names",
         "class_names[1] = 'walk on' names the same action as class_names[0] = 'Walk  on'"),
        ({"class_names": np.array(["walk", " "])}, "class_names", "class_names[1] must be a non-empty string"),
        ({"class_names": np.array(["walk", "Unknown"])}, "class_names", "'unknown' is reserved for undecided labels"),
        ({"class_names": np.array(["walk", "run\n"])}, "class_names", "class_names[1] holds U+000A LINE FEED"),
        ({"descriptions_ld": np.array(["legs step", ""]), "descriptions_gd": np.array(["walking", "running"])},
         "descriptions_ld", "descriptions_ld[1] must be a non-empty string"),
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
    assert part.folds.tolist() == [1, 0]


# --------------------------------------------------------------------------- HDM05: ASF / AMC

# A two-bone arm hanging from the root; ``length 0.0254`` makes one ASF unit a metre.
TWO_BONE_ASF = """\
# a hand-made skeleton
:version 1.10
:name TEST
:units
  mass 1.0
  length 0.0254
  angle deg
:root
   order TX TY TZ RX RY RZ
   axis XYZ
   position 0 0 0
   orientation 0 0 0
:bonedata
  begin
     id 1
     name upper
     direction 1 0 0
     length 2
     axis 0 0 0 XYZ
    dof rz
    limits (-180.0 180.0)
  end
  begin
     id 2
     name lower
     direction 1 0 0
     length 0.5
     axis 0 0 90 XYZ
    dof rx
  end
:hierarchy
  begin
    root upper
    upper lower
  end
"""


def _amc_text(frames: list[dict[str, tuple[float, ...]]]) -> str:
    lines = ["#!OML:ASF test.asf", ":FULLY-SPECIFIED", ":DEGREES"]
    for t, bones in enumerate(frames, start=1):
        lines.append(str(t))
        lines.extend(f"{name} {' '.join(f'{v:g}' for v in values)}" for name, values in bones.items())
    return "\n".join(lines) + "\n"


def _two_bone(tmp_path: Path, frames: list[dict[str, tuple[float, ...]]]) -> tuple[sd.AsfSkeleton, Path]:
    asf = tmp_path / "two.asf"
    asf.write_text(TWO_BONE_ASF)
    amc = tmp_path / "two.amc"
    amc.write_text(_amc_text(frames))
    return sd.read_asf(asf), amc


def test_asf_bones_come_parents_first_in_metres(tmp_path: Path) -> None:
    skeleton, _ = _two_bone(tmp_path, [])
    assert [(b.name, b.parent, b.dof) for b in skeleton.bones] == [
        ("upper", "root", ("rz",)), ("lower", "upper", ("rx",)),
    ]  # fmt: skip
    assert skeleton.metres_per_unit == pytest.approx(1.0)
    assert [b.length_m for b in skeleton.bones] == pytest.approx([2.0, 0.5])
    assert skeleton.root_order == ("tx", "ty", "tz", "rx", "ry", "rz")


def test_euler_matrices_turn_the_first_named_axis_first() -> None:
    quarter = np.pi / 2
    rx_then_ry = sd.euler_matrices(np.array([quarter, quarter]), "XY")  # Ry @ Rx
    # y: Rx takes it to z, then Ry takes z to x (the other way round, y would end at z).
    np.testing.assert_allclose(rx_then_ry @ [0.0, 1.0, 0.0], [1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(rx_then_ry @ [1.0, 0.0, 0.0], [0.0, 0.0, -1.0], atol=1e-12)
    frames = sd.euler_matrices(np.zeros((4, 3)), "ZXY")
    assert frames.shape == (4, 3, 3) and np.array_equal(frames, np.broadcast_to(np.eye(3), (4, 3, 3)))


def test_forward_kinematics_of_a_two_bone_arm_gives_the_hand_worked_answer(tmp_path: Path) -> None:
    rest = {"root": (1, 2, 3, 0, 0, 0), "upper": (0,), "lower": (0,)}
    # Root turned 90 deg about y; upper turned 90 deg about its z; lower 90 deg
    # about its own x, which its axis (0 0 90) lays along the world y.
    moved = {"root": (1, 2, 3, 0, 90, 0), "upper": (90,), "lower": (90,)}
    skeleton, amc = _two_bone(tmp_path, [rest, moved])
    joints = sd.forward_kinematics(skeleton, sd.read_amc(amc, skeleton))
    assert joints.shape == (2, 3, 3)
    # Rest: both bones along +x from the root.
    np.testing.assert_allclose(joints[0], [[1, 2, 3], [3, 2, 3], [3.5, 2, 3]], atol=1e-9)
    # Moved: Ry90 Rz90 x = y, so the upper bone points up; the lower bone's
    # frame adds Ry90 (C Rx90 C^-1): Ry90 Rz90 Ry90 x = -x.
    np.testing.assert_allclose(joints[1], [[1, 2, 3], [1, 4, 3], [0.5, 4, 3]], atol=1e-9)
    # Frames are computed together, but each depends only on its own values.
    only_moved = sd.forward_kinematics(skeleton, sd.read_amc(amc, skeleton), slice(1, None))
    np.testing.assert_allclose(only_moved[0], joints[1], atol=1e-12)


def test_amc_with_bones_in_varying_order_reads_like_a_regular_one(tmp_path: Path) -> None:
    frames = [{"root": (0, 0, 0, 0, 0, 0), "upper": (10.0 * t,), "lower": (5.0 * t,)} for t in range(5)]
    skeleton, amc = _two_bone(tmp_path, frames)
    regular = sd.read_amc(amc, skeleton)
    shuffled_frames = [dict(reversed(list(f.items()))) if t % 2 else f for t, f in enumerate(frames)]
    amc.write_text(_amc_text(shuffled_frames) + "\n\n")
    shuffled = sd.read_amc(amc, skeleton)
    for name in ("root", "upper", "lower"):
        np.testing.assert_array_equal(regular.channels[name], shuffled.channels[name])
    assert regular.channels["upper"][:, 0].tolist() == [0, 10, 20, 30, 40]
    assert regular.num_frames == 5 and regular.degrees


@pytest.mark.parametrize(
    "line, replacement, problem",
    [
        ("lower 0", "elbow 0", "unknown bone 'elbow'"),
        ("lower 0", "lower 0 1", "has 2 values; the ASF"),
        ("upper 0", "upper 1.2.3", "'1.2.3' is not a number"),
        ("upper 0", "upper nan", "NaN or infinite"),
        ("lower 0", "", "lacks lower"),
        ("lower 0", "upper 0", "appears twice"),
    ],
)
def test_malformed_amc_names_file_and_line(tmp_path: Path, line: str, replacement: str, problem: str) -> None:
    rest = {"root": (0, 0, 0, 0, 0, 0), "upper": (0,), "lower": (0,)}
    skeleton, amc = _two_bone(tmp_path, [rest, rest, rest])
    lines = amc.read_text().splitlines()
    target = [i for i, text in enumerate(lines) if text == line][1]  # in frame 2
    lines[target] = replacement
    amc.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError) as info:
        sd.read_amc(amc, skeleton)
    assert problem in info.value.problem and str(amc) in str(info.value)
    frame_two = lines.index("2") + 1
    assert info.value.line == (frame_two if problem == "lacks lower" else target + 1)


def test_amc_frames_must_count_up_by_one(tmp_path: Path) -> None:
    rest = {"root": (0, 0, 0, 0, 0, 0), "upper": (0,), "lower": (0,)}
    skeleton, amc = _two_bone(tmp_path, [rest, rest, rest])
    amc.write_text(amc.read_text().replace("\n3\n", "\n4\n"))
    with pytest.raises(DatasetError, match="frame 4 follows frame 2") as info:
        sd.read_amc(amc, skeleton)
    assert info.value.line == 12


@pytest.mark.parametrize(
    "old, new, line, problem",
    [
        ("length 0.5", "length 0,5", 27, "'0,5' is not a number"),
        ("dof rx\n", "dof rx tx\n", 29, "only rx, ry, rz"),
        ("upper lower", "upper forearm", 34, "unknown bone 'forearm'"),
        ("axis 0 0 90 XYZ", "axis 0 0 90 XYW", 28, "not a permutation of XYZ"),
    ],
)
def test_malformed_asf_names_file_and_line(tmp_path: Path, old: str, new: str, line: int, problem: str) -> None:
    path = tmp_path / "bad.asf"
    path.write_text(TWO_BONE_ASF.replace(old, new))
    with pytest.raises(DatasetError) as info:
        sd.read_asf(path)
    assert (info.value.line, str(path)) == (line, info.value.path)
    assert problem in info.value.problem


def test_asf_bone_outside_the_hierarchy_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.asf"
    path.write_text(TWO_BONE_ASF.replace("    upper lower\n", ""))
    with pytest.raises(DatasetError, match="bones without a parent: lower"):
        sd.read_asf(path)


def _hdm05_asf_text() -> str:
    """An ASF with HDM05's 30 bones and hierarchy, each bone 10 cm along a simple direction."""
    blocks = []
    for joint in list(HDM05Mocap31)[1:]:
        name = HDM05_ASF_BONES[joint]
        side = {"l": 1.0, "r": -1.0}.get(name[0], 0.0) if name not in ("lowerback", "lowerneck") else 0.0
        direction = "0 -1 0" if "hip" in name or "femur" in name or "tibia" in name else f"{side:g} 1 0"
        dof = "" if name.endswith("hipjoint") else "    dof rx ry rz\n"  # as in HDM05: hips do not move
        blocks.append(
            f"  begin\n     id {int(joint)}\n     name {name}\n     direction {direction}\n"
            f"     length 1.77165\n     axis 0 0 0 XYZ\n{dof}  end"
        )
    children: dict[str, list[str]] = {}
    for child, parent in HDM05_MOCAP31_BONES:
        children.setdefault(HDM05_ASF_BONES[parent], []).append(HDM05_ASF_BONES[child])
    hierarchy = "\n".join(f"    {parent} {' '.join(kids)}" for parent, kids in children.items())
    return (
        ":units\n  length 0.45\n  angle deg\n:root\n   order TX TY TZ RX RY RZ\n   axis XYZ\n"
        ":bonedata\n" + "\n".join(blocks) + f"\n:hierarchy\n  begin\n{hierarchy}\n  end\n"
    )


def _write_hdm05_clip(folder: Path, name: str, num_frames: int) -> Path:
    moving = [b for b in HDM05_ASF_BONES[1:] if b not in ("lhipjoint", "rhipjoint")]
    # The root 1 m up (0.45 / 0.0254 units), moving 0.1 units a frame along z.
    frames = [{"root": (0, 17.716535, 0.1 * t, 0, 0, 0)} | {b: (0, 0, 0) for b in moving} for t in range(num_frames)]
    path = folder / name
    path.write_text(_amc_text(frames))
    return path


@pytest.fixture
def hdm05_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "hdm05"
    folder.mkdir()
    for subject in ("bd", "mm"):
        (folder / f"HDM_{subject}.asf").write_text(_hdm05_asf_text())
    _write_hdm05_clip(folder, "HDM_bd_squat1Reps_001_120.amc", 9)
    _write_hdm05_clip(folder, "HDM_mm_depositFloorR_019_120.amc", 4)
    (folder / "split.tsv").write_text(
        "test\tHDM_mm_depositFloorR_019_120.amc\ntrain\tHDM_bd_squat1Reps_001_120.amc\n"
    )
    return folder


def test_hdm05_folder_loads_at_30_fps_with_labels_subjects_and_split(hdm05_folder: Path) -> None:
    ds = sd.load_hdm05(hdm05_folder)
    assert (ds.layout, ds.fps, ds.num_classes) == ("hdm05_mocap31", 30.0, 11)
    assert [Path(s).name for s in ds.sources] == ["HDM_bd_squat1Reps_001_120.amc", "HDM_mm_depositFloorR_019_120.amc"]
    assert ds.class_names[9] == "deep squat" and ds.labels.tolist() == [9, 0]
    assert ds.subjects.tolist() == [1, 4] and ds.views is None
    assert ds.folds.tolist() == [0, 1]
    # 120 fps -> 30 fps keeps frames 1, 5, 9 of 9 and 1 of 4.
    assert [s.shape for s in ds.sequences] == [(3, 1, 31, 3), (1, 1, 31, 3)]
    root_z = ds.sequences[0][:, 0, HDM05Mocap31.ROOT, 2]
    np.testing.assert_allclose(root_z, 0.1 * np.array([0, 4, 8]) * 0.0254 / 0.45, atol=1e-6)
    # The synthetic legs hang straight down from the root: hip, thigh and shin bones of 10 cm.
    np.testing.assert_allclose(ds.sequences[0][0, 0, HDM05Mocap31.ANKLE_LEFT, 1], 1.0 - 0.3, atol=1e-5)


def test_hdm05_by_path_is_cached_and_a_changed_split_rebuilds(hdm05_folder: Path, private_cache: Path) -> None:
    assert sd.load_dataset(hdm05_folder).folds.tolist() == [0, 1]
    assert list((private_cache / "datasets").glob("hdm05-*.npz"))
    split = hdm05_folder / "split.tsv"
    split.write_text("train\tHDM_mm_depositFloorR_019_120.amc\ntrain\tHDM_bd_squat1Reps_001_120.amc\n")
    stat = split.stat()
    os.utime(split, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert sd.load_dataset(hdm05_folder).folds.tolist() == [0, 0]


def test_hdm05_clip_without_its_subjects_skeleton_names_both_files(hdm05_folder: Path) -> None:
    (hdm05_folder / "HDM_mm.asf").unlink()
    with pytest.raises(DatasetError) as info:
        sd.load_hdm05(hdm05_folder)
    assert "HDM_mm_depositFloorR_019_120.amc" in info.value.path
    assert str(hdm05_folder / "HDM_mm.asf") in info.value.problem


def test_hdm05_clip_missing_from_the_split_file_is_refused(hdm05_folder: Path) -> None:
    (hdm05_folder / "split.tsv").write_text("train\tHDM_bd_squat1Reps_001_120.amc\n")
    with pytest.raises(DatasetError, match="not listed in .*split.tsv") as info:
        sd.load_hdm05(hdm05_folder)
    assert info.value.path.endswith("HDM_mm_depositFloorR_019_120.amc")


def test_hdm05_split_file_errors_name_its_line(hdm05_folder: Path) -> None:
    (hdm05_folder / "split.tsv").write_text("train\tHDM_bd_squat1Reps_001_120.amc\nvalid\tHDM_mm_x.amc\n")
    with pytest.raises(DatasetError, match="'train' or 'test'") as info:
        sd.load_hdm05(hdm05_folder)
    assert info.value.line == 2 and info.value.path.endswith("split.tsv")


def test_hdm05_asf_with_other_bones_is_refused(hdm05_folder: Path) -> None:
    asf = hdm05_folder / "HDM_bd.asf"
    asf.write_text(asf.read_text().replace("lthumb", "lpinky"))
    with pytest.raises(DatasetError, match=r"missing \['lthumb'\], unexpected \['lpinky'\]"):
        sd.load_hdm05(hdm05_folder)


def test_hdm05_unknown_motion_class_or_subject_is_refused(hdm05_folder: Path) -> None:
    _write_hdm05_clip(hdm05_folder, "HDM_bd_cartwheelLHandStart1Reps_001_120.amc", 4)
    with pytest.raises(DatasetError, match="motion class 'cartwheelLHandStart1Reps'"):
        sd.load_hdm05(hdm05_folder)


# --------------------------------------------------------------------------- SBU


def _sbu_row(frame: int, value: float = 0.5) -> str:
    return ",".join([str(frame)] + [f"{value:g}"] * 90)


def _write_sbu(root: Path, pair: str, action: str, rows: list[str], take: str = "001") -> Path:
    folder = root / pair / action / take
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "skeleton_pos.txt"
    path.write_text("\r\n".join(rows) + "\r\n")  # as SBU ships them
    return path


def test_sbu_values_become_metres_with_kinect_axes(tmp_path: Path) -> None:
    row = [0.5] * 90
    row[0:3] = [0.25, 0.75, 1.5625]  # person 1, head
    row[45:48] = [0.75, 0.25, 2.34375]  # person 2, head
    path = _write_sbu(tmp_path, "s01s02", "05", ["7," + ",".join(map(str, row)), _sbu_row(8)])
    joints = sd.read_sbu_skeleton(path)
    assert joints.shape == (2, 2, 15, 3) and joints.dtype == np.float32
    # x = 1280 - 2560 x', y = 960 - 1920 y', z = z' * 10000 / 7.8125 millimetres.
    np.testing.assert_allclose(joints[0, 0, SBU15.HEAD], [0.64, -0.48, 2.0], atol=1e-6)
    np.testing.assert_allclose(joints[0, 1, SBU15.HEAD], [-0.64, 0.48, 3.0], atol=1e-6)
    np.testing.assert_allclose(joints[1, 0, SBU15.TORSO], [0.0, 0.0, 0.64], atol=1e-6)


@pytest.mark.parametrize(
    "bad_row, problem",
    [
        (",".join(["2"] + ["0.5"] * 89), "expected 91 values"),
        (_sbu_row(2).replace(",0.5", ",0.5x", 1), "'0.5x' is not a number"),
        (_sbu_row(2).replace(",0.5", ",inf", 1), "NaN or infinite"),
        (_sbu_row(3), "frame 3 follows frame 1"),
        ("two," + ",".join(["0.5"] * 90), "frame number 'two'"),
    ],
)
def test_malformed_sbu_file_names_file_and_line(tmp_path: Path, bad_row: str, problem: str) -> None:
    path = _write_sbu(tmp_path, "s01s02", "01", [_sbu_row(1), bad_row, _sbu_row(3)])
    with pytest.raises(DatasetError) as info:
        sd.read_sbu_skeleton(path)
    assert info.value.line == 2 and problem in info.value.problem and str(path) in str(info.value)


def test_sbu_folder_gives_pairs_as_subjects_and_their_folds(tmp_path: Path) -> None:
    root = tmp_path / "sbu_kinect"
    _write_sbu(root, "s01s02", "08", [_sbu_row(5), _sbu_row(6), _sbu_row(7)])
    _write_sbu(root, "s07s03", "01", [_sbu_row(1)])
    _write_sbu(root, "s01s02", "01", [_sbu_row(1)], take="002")
    ds = sd.load_dataset("sbu", data_dir=tmp_path)
    assert (ds.layout, ds.fps, ds.num_classes) == ("sbu15", 15.0, 8)
    assert [Path(s).relative_to(root).parts[:3] for s in ds.sources] == [
        ("s01s02", "01", "002"), ("s01s02", "08", "001"), ("s07s03", "01", "001"),
    ]  # fmt: skip
    assert ds.labels.tolist() == [0, 7, 0] and ds.class_names[7] == "punch"
    assert ds.subjects.tolist() == [1, 1, 21] and ds.folds.tolist() == [1, 1, 3]
    assert [s.shape for s in ds.sequences] == [(1, 2, 15, 3), (3, 2, 15, 3), (1, 2, 15, 3)]
    cached = sd.load_dataset("sbu", data_dir=tmp_path)
    assert cached.folds.tolist() == [1, 1, 3] and cached.sources == ds.sources


def test_sbu_unknown_actor_pair_is_refused(tmp_path: Path) -> None:
    _write_sbu(tmp_path, "s09s01", "01", [_sbu_row(1)])
    with pytest.raises(DatasetError, match="actor pair 's09s01'"):
        sd.load_sbu(tmp_path)


def test_sbu_folds_split_the_21_pairs_five_ways() -> None:
    pairs = [pair for fold in sd.SBU_FOLDS for pair in fold]
    assert sorted(pairs) == list(range(1, 22)) and len(sd.SBU_ACTOR_PAIRS) == 21
    assert [len(fold) for fold in sd.SBU_FOLDS] == [4, 4, 4, 4, 5]


# --------------------------------------------------------------------------- class names and descriptions


@pytest.mark.parametrize("dataset, names", [("hdm05", sd.HDM05_CLASS_NAMES), ("sbu", sd.SBU_CLASS_NAMES)])
def test_descriptions_name_the_loaders_classes_in_order(dataset: str, names: tuple[str, ...]) -> None:
    descriptions = load_descriptions(dataset)
    assert [d.name for d in descriptions] == list(names)
    assert all(len(d.ld.split()) >= 15 and len(d.gd.split()) >= 5 for d in descriptions)


def test_new_class_names_clash_with_no_other_dataset() -> None:
    """Datasets trained together must not share an action name (``merge_training_data`` refuses)."""
    taken = {d.name.lower() for name in ("ntu120", "utd-mhad", "nw-ucla") for d in load_descriptions(name)}
    new = [n.lower() for n in sd.HDM05_CLASS_NAMES + sd.SBU_CLASS_NAMES]
    assert len(set(new)) == len(new)
    assert not taken & set(new)
    assert all(n == n.strip() and n.islower() for n in new), "readable lower-case names"


# --------------------------------------------------------------------------- HDM05 and SBU real data


def _real_folder(shared_data: Path, name: str) -> Path:
    folder = shared_data / name
    if not folder.is_dir():
        pytest.skip(f"{folder} not found: see ../shared/data/README.md, section {name}/")
    return folder


def test_hdm05_by_name_reads_a_handful_of_real_clips(shared_data: Path, tmp_path: Path) -> None:
    """Links (not copies) to one clip per subject, so the named path is tested without parsing 287 clips."""
    real = _real_folder(shared_data, "hdm05")
    picked = [sorted(real.glob(f"HDM_{s}_grabHighR_*.amc"))[0] for s in sd.HDM05_SUBJECTS]
    folder = tmp_path / "data" / "hdm05"
    folder.mkdir(parents=True)
    for path in [*picked, *real.glob("HDM_*.asf"), real / "split.tsv"]:
        (folder / path.name).symlink_to(path)
    start = time.perf_counter()
    ds = sd.load_dataset("hdm05", data_dir=tmp_path / "data")
    print(f"HDM05: {len(ds)} clips parsed in {time.perf_counter() - start:.2f} s")
    assert ds.labels.tolist() == [2] * 5 and ds.subjects.tolist() == [1, 2, 3, 4, 5]
    # split.tsv: bd, bk, dg train; mm, tr test.
    assert ds.folds.tolist() == [0, 0, 0, 1, 1]
    toes = [HDM05Mocap31.TOE_LEFT, HDM05Mocap31.TOE_RIGHT]
    heights = [np.median(s[:, 0, HDM05Mocap31.HEAD, 1] - s[:, 0, toes, 1].min(axis=1)) for s in ds.sequences]
    # Measured 1.55-1.81 m (top of the head above the lower toe, while reaching up).
    assert all(1.4 < h < 2.1 for h in heights), heights


def test_hdm05_split_file_is_the_cross_subject_split(shared_data: Path) -> None:
    real = _real_folder(shared_data, "hdm05")
    rows = [line.split("\t") for line in (real / "split.tsv").read_text().splitlines() if line.strip()]
    assert len(rows) == 287 == len(list(real.glob("HDM_*.amc")))
    subjects = {split: {clip.split("_")[1] for s, clip in rows if s == split} for split in ("train", "test")}
    assert subjects == {"train": {"bd", "bk", "dg"}, "test": {"mm", "tr"}}


@pytest.mark.parametrize("subject", sd.HDM05_SUBJECTS)
def test_hdm05_rest_pose_stands_as_tall_as_an_adult(shared_data: Path, subject: str) -> None:
    skeleton = sd.read_asf(_real_folder(shared_data, "hdm05") / f"HDM_{subject}.asf")
    zeros = {"root": np.zeros((1, 6))} | {b.name: np.zeros((1, len(b.dof))) for b in skeleton.bones if b.dof}
    joints = sd.forward_kinematics(skeleton, sd.AmcMotion(zeros, degrees=True))[0]
    names = ["root"] + [b.name for b in skeleton.bones]
    height = joints[names.index("head"), 1] - joints[names.index("ltoes"), 1]
    assert 1.4 < height < 2.1  # measured 1.58-1.74 m


def test_hdm05_squat_bends_the_knees_forward_over_the_toes(shared_data: Path) -> None:
    """Forward kinematics in the wrong rotation order still gives legs, but knees that bend backwards."""
    path = sorted(_real_folder(shared_data, "hdm05").glob("HDM_bd_squat1Reps_*.amc"))[0]
    body = sd.read_hdm05_clip(path)[:, 0]
    for side in ("LEFT", "RIGHT"):
        hip, knee, ankle, toe = (body[:, HDM05Mocap31[f"{j}_{side}"]] for j in ("HIP", "KNEE", "ANKLE", "TOE"))
        deepest = int(np.argmin(hip[:, 1]))
        toes = (toe - ankle)[deepest] * [1, 0, 1]
        knee_ahead = (knee - 0.5 * (hip + ankle))[deepest] @ toes / np.linalg.norm(toes)
        assert knee_ahead > 0.1  # measured 0.25-0.34 m on every squat leg tried
    assert body[:, [HDM05Mocap31.TOE_LEFT, HDM05Mocap31.TOE_RIGHT], 1].min() > -0.05  # not through the floor


def test_sbu_by_name_has_282_two_person_clips_of_adults_a_step_apart(shared_data: Path) -> None:
    _real_folder(shared_data, "sbu_kinect")
    start = time.perf_counter()
    ds = sd.load_dataset("sbu", data_dir=shared_data)
    print(f"SBU: {len(ds)} clips parsed in {time.perf_counter() - start:.2f} s")
    assert len(ds) == 282
    # data/README.md: folders per action.
    assert np.bincount(ds.labels).tolist() == [42, 43, 40, 41, 18, 21, 39, 38]
    assert {s.shape[1:] for s in ds.sequences} == {(2, 15, 3)} and (ds.fps, ds.layout) == (15.0, "sbu15")
    assert 10 <= ds.frame_counts.min() and ds.frame_counts.max() <= 46
    assert set(ds.subjects.tolist()) == set(range(1, 22)) and set(ds.folds.tolist()) == {1, 2, 3, 4, 5}
    first = np.stack([s[0] for s in ds.sequences])  # (N, M, V, C), first frames
    # NiTE's head is the head's centre and its foot the ankle: about 0.2 m short of full height.
    head_over_feet = first[..., SBU15.HEAD, 1] - first[..., [SBU15.FOOT_LEFT, SBU15.FOOT_RIGHT], 1].min(axis=-1)
    assert 1.2 < np.median(head_over_feet) < 1.9  # measured 1.44 (5-95%: 1.30-1.60)
    gaps = np.array([np.median(np.linalg.norm(s[:, 0, SBU15.TORSO] - s[:, 1, SBU15.TORSO], axis=-1))
                     for s in ds.sequences])  # fmt: skip
    hugs = ds.labels == sd.SBU_CLASS_NAMES.index("hug")
    assert np.all((gaps > 0.15) & (gaps < 3.0))  # measured 0.21-1.68 m
    assert np.all((gaps[~hugs] > 0.5) & (gaps[~hugs] < 3.0))  # hugs: 0.21-0.59 m
    assert np.all(ds.sequences[0][..., 2] > 1.0), "everyone stands in front of the sensor"
