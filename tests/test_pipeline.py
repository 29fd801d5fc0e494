"""``fsvae train`` from raw skeletons to a loadable bundle, on a small generic dataset file."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from calibration import NTU25
from fsvae_core.bundle import load_bundle
from fsvae_core.cli import main
from fsvae_core.descriptions import load_descriptions
from fsvae_core.pipeline import TrainingData, merge_training_data, train_test_partition, training_data
from fsvae_core.settings import load_settings
from fsvae_core.skeleton_data import DatasetError, SkeletonDataset, save_generic_npz

ACTIONS = [
    ("raise right hand", "the right hand rises from the hip to above the head and comes back down", "lifting one hand high to ask for attention"),
    ("raise left hand", "the left hand rises from the hip to above the head and comes back down", "lifting the other hand high to be noticed"),
    ("squat", "both knees bend deeply so the hips drop toward the floor, then the legs straighten", "lowering the whole body by bending the knees"),
    ("wave right hand", "the right hand is held up beside the head and swings quickly left and right", "greeting someone with a raised waving hand"),
]


def body(frames: int, action: int, rng) -> np.ndarray:
    """A crude NTU25 person (T, 1, 25, 3) doing one of the four actions."""
    rest = np.zeros((25, 3), np.float32)
    rest[:, 1] = np.linspace(0.0, 1.7, 25)
    rest[NTU25.HIP_LEFT] = [-0.15, 0.0, 0.0]
    rest[NTU25.HIP_RIGHT] = [0.15, 0.0, 0.0]
    rest[NTU25.SPINE_SHOULDER] = [0.0, 0.5, 0.0]
    clip = np.repeat(rest[None], frames, axis=0) + rng.normal(0, 0.01, (frames, 25, 3)).astype(np.float32)
    phase = np.linspace(0, np.pi, frames)
    if action == 0:
        clip[:, NTU25.HAND_RIGHT, 1] += np.sin(phase)
    elif action == 1:
        clip[:, NTU25.HAND_LEFT, 1] += np.sin(phase)
    elif action == 2:
        clip[:, :, 1] -= 0.4 * np.sin(phase)[:, None]
    else:
        clip[:, NTU25.HAND_RIGHT, 1] += 1.0
        clip[:, NTU25.HAND_RIGHT, 0] += 0.2 * np.sin(6 * phase)
    return clip[:, None]


@pytest.fixture
def dataset_file(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 8)
    dataset = SkeletonDataset(
        sequences=[body(int(rng.integers(20, 40)), int(a), rng) for a in labels],
        labels=labels, class_names=[a[0] for a in ACTIONS], layout="ntu25", fps=30.0,
        sources=[f"clip{i}" for i in range(len(labels))], subjects=np.tile(np.arange(1, 5), 8),
        descriptions_ld=[a[1] for a in ACTIONS], descriptions_gd=[a[2] for a in ACTIONS],
    )
    path = tmp_path / "actions.npz"
    save_generic_npz(dataset, path)
    return path


@pytest.fixture
def tiny_settings(tmp_path):
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps({
        "window": {"frames": 8, "fps": 10.0},
        "train_crops": 2,
        "backbone": {"channels": [8, 16], "feature_dim": 32, "temporal_kernel": 3},
        "backbone_train": {"epochs": 2, "batch_size": 8, "warmup_epochs": 0},
        "experiment": {"vae": {"latent_dim": 8, "skeleton_frequency": {"n_bands": 4, "phi": 4},
                               "text_frequency": {"n_bands": 4, "phi": 4}},
                       "train": {"cycles": 1, "steps_per_cycle": 20}, "samples_per_class": 10, "classifier_epochs": 10},
    }))
    return path


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FSVAE_CACHE_DIR", str(tmp_path / "cache"))


def test_train_writes_a_bundle_the_live_system_can_load(tmp_path, dataset_file, tiny_settings, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(dataset_file), "--unseen", "1", "--seed", "0", "--out", str(out),
                 "--config", str(tiny_settings), "--quiet"]) == 0
    bundle = load_bundle(out / "bundle")
    assert bundle.class_names == [a[0] for a in ACTIONS]
    unseen = int(np.random.default_rng(0).choice(4, 1, replace=False)[0])
    assert [c.seen for c in bundle.classes] == [c != unseen for c in range(4)]
    assert bundle.window_frames == 8 and bundle.fps == 10.0 and bundle.backbone_state
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"zsl", "gzsl", "timings_s", "calibration"} <= set(metrics)
    assert "bundle:" in capsys.readouterr().out


def test_a_dataset_file_without_class_descriptions_is_refused_before_training(tmp_path, capsys):
    dataset = SkeletonDataset(sequences=[body(20, a, np.random.default_rng(a)) for a in (0, 1)], labels=np.array([0, 1]),
                              class_names=["raise right hand", "raise left hand"], layout="ntu25", fps=30.0,
                              sources=["one", "two"])
    with pytest.raises(DatasetError, match="mine.npz, field 'descriptions_ld': is missing"):
        training_data(dataset, "mine.npz", 0)
    save_generic_npz(dataset, tmp_path / "mine.npz")
    assert main(["train", "--dataset", str(tmp_path / "mine.npz"), "--unseen", "1", "--out", str(tmp_path / "run")]) == 2
    assert "field 'descriptions_ld': is missing" in capsys.readouterr().err
    assert not (tmp_path / "run" / "backbone.ckpt.safetensors").exists()


def test_a_run_folder_keeps_a_readable_log_and_loss_curves(tmp_path, dataset_file, tiny_settings):
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(dataset_file), "--unseen", "1", "--out", str(out),
                 "--config", str(tiny_settings), "--quiet"]) == 0
    text = (out / "train.log").read_text()
    for line in (f"settings from {tiny_settings}", "stage: windows", "stage: backbone 1/2", "stage: backbone 2/2",
                 "epoch 2/2 done, about 0 s left for the backbones", "stage: features", "stage: VAEs", "cycle 1/1: loss",
                 "s more in later stages"):  # the validation stage's estimate covers the final one too
        assert line in text, line
    assert (out / "loss_curves.png").stat().st_size > 0


def test_without_a_config_a_machine_without_a_gpu_gets_the_cpu_preset(tmp_path, dataset_file, tiny_settings,
                                                                       monkeypatch, capsys):
    from fsvae_core import pipeline

    assert pipeline.preset_config("full") == pipeline.PipelineConfig()
    camera_cpu = Path(__file__).parents[1] / "benchmarks" / "configs" / "camera_cpu.json"
    assert pipeline.preset_config("cpu") == load_settings(pipeline.PipelineConfig, camera_cpu)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setitem(pipeline.PRESETS, "cpu", json.loads(tiny_settings.read_text()))  # the plumbing, quickly
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(dataset_file), "--unseen", "1", "--out", str(out), "--quiet"]) == 0
    assert "fsvae train: preset cpu (no CUDA GPU; --preset full for the full settings)" in capsys.readouterr().err
    assert load_bundle(out / "bundle").window_frames == 8  # the (patched) cpu preset's windows
    assert "preset cpu" in (out / "train.log").read_text()


def test_decision_shift_fits_the_thresholds_on_windows_seen_through_the_sensor_changes(tmp_path, dataset_file,
                                                                                        tiny_settings):
    import shutil

    settings = json.loads(tiny_settings.read_text())
    settings["backbone_train"]["augment"] = {"depth_range": [0.5, 0.6], "jitter_std": 0.05}
    tiny_settings.write_text(json.dumps(settings))
    clean, shifted = tmp_path / "clean", tmp_path / "shifted"
    train = ["train", "--dataset", str(dataset_file), "--unseen", "1", "--config", str(tiny_settings), "--quiet"]
    assert main([*train, "--out", str(clean)]) == 0
    shifted.mkdir()
    for checkpoint in clean.glob("backbone*.ckpt.safetensors"):  # the same backbones
        shutil.copy(checkpoint, shifted)
    (tmp_path / "shift.json").write_text(json.dumps({**settings, "decision_shift": True}))
    assert main([*train[:-3], "--config", str(tmp_path / "shift.json"), "--quiet", "--out", str(shifted)]) == 0
    a, b = np.load(clean / "decision_windows.npz"), np.load(shifted / "decision_windows.npz")
    assert np.array_equal(a["target"], b["target"]) and float(a["gamma"]) == pytest.approx(float(b["gamma"]))
    assert not np.allclose(a["scores"], b["scores"])  # same windows, other sensor


def test_temporal_placement_moves_the_frequency_module_into_the_backbone(tmp_path, dataset_file, tiny_settings):
    settings = json.loads(tiny_settings.read_text())
    settings["backbone"]["frequency"] = {"n_bands": 4, "phi": 2}
    tiny_settings.write_text(json.dumps(settings))
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(dataset_file), "--unseen", "1", "--out", str(out),
                 "--config", str(tiny_settings), "--frequency", "temporal", "--quiet"]) == 0
    bundle = load_bundle(out / "bundle")
    assert bundle.backbone_config["frequency"]["placement"] == "temporal"
    assert bundle.vae_config.skeleton_frequency.placement == "none"


def test_actions_change_by_text_alone(tmp_path, dataset_file, tiny_settings, capsys):
    out = tmp_path / "run"
    main(["train", "--dataset", str(dataset_file), "--unseen", "1", "--out", str(out), "--config", str(tiny_settings), "--quiet"])
    capsys.readouterr()
    bundle = str(out / "bundle")
    assert main(["actions", "add", "--bundle", bundle, "--name", "jumping jacks",
                 "--ld", "arms swing up over the head while the feet jump apart, then both return",
                 "--gd", "a warm-up exercise of rhythmic jumps with arms and legs spreading"]) == 0
    assert main(["actions", "list", "--bundle", bundle]) == 0
    assert capsys.readouterr().out.splitlines()[-1].split()[:3] == ["jumping", "jacks", "added"]
    assert main(["actions", "remove", "--bundle", bundle, "--name", "jumping jacks"]) == 0
    assert main(["actions", "remove", "--bundle", bundle, "--name", "moonwalk"]) == 2


def test_customary_train_test_partitions():
    def dataset(**extra):
        return SkeletonDataset(sequences=[np.zeros((2, 1, 25, 3), np.float32)] * 4, labels=np.array([0, 0, 1, 1]),
                               class_names=["a", "b"], layout="ntu25", fps=30.0, sources=list("abcd"), **extra)

    assert train_test_partition(dataset(subjects=np.array([1, 2, 3, 4])), "utd-mhad", 0).tolist() == [True, False, True, False]
    assert train_test_partition(dataset(views=np.array([1, 3, 2, 3])), "nw-ucla", 0).tolist() == [True, False, True, False]
    half = train_test_partition(dataset(), "custom", 0)
    assert half.sum() == 2 and set(np.array([0, 0, 1, 1])[half]) == {0, 1}
    assert train_test_partition(dataset(folds=np.array([0, 1, 0, 1])), "hdm05", 0).tolist() == [True, False, True, False]
    assert train_test_partition(dataset(folds=np.array([2, 1, 3, 5])), "sbu", 0).tolist() == [True, False, True, True]


def test_a_class_the_protocol_leaves_without_training_recordings_trains_on_its_first():
    data = SkeletonDataset(sequences=[np.zeros((2, 1, 25, 3), np.float32)] * 4, labels=np.array([0, 0, 1, 1]),
                           class_names=["a", "b"], layout="ntu25", fps=30.0, sources=list("abcd"),
                           subjects=np.array([1, 3, 2, 4]))
    assert train_test_partition(data, "utd-mhad", 0).tolist() == [True, True, True, False]


def named_part(name, class_names, fps=30.0, frames=6):
    """A tiny dataset standing in for the built-in ``name``, with its real descriptions of ``class_names``."""
    texts = {d.name: d for d in load_descriptions(name)}
    labels = np.arange(len(class_names))
    data = SkeletonDataset(
        sequences=[np.random.default_rng(i).normal(size=(frames, 1, 25, 3)).astype(np.float32) for i in labels],
        labels=labels, class_names=class_names, layout="ntu25", fps=fps, sources=[f"{name}{i}" for i in labels],
    )
    return TrainingData(name, data, [texts[n] for n in class_names], np.ones(len(labels), dtype=bool))


def test_merging_makes_synonyms_one_class_and_resamples_to_the_highest_rate():
    utd = named_part("utd-mhad", ["sit to stand", "right hand wave"])
    nw = named_part("nw-ucla", ["stand up", "carry"])
    sbu = named_part("sbu", ["hug"], fps=15.0, frames=6)
    merged = merge_training_data([utd, nw, sbu])
    # NW-UCLA's "stand up" is listed first in its synonym group, so it names the merged class.
    assert [d.name for d in merged.descriptions] == ["stand up", "right hand wave", "carry", "hug"]
    assert merged.dataset.labels.tolist() == [0, 1, 0, 2, 3]
    assert merged.dataset.fps == 30.0 and merged.dataset.frame_counts.tolist() == [6, 6, 6, 6, 11]
    np.testing.assert_allclose(merged.dataset.sequences[4][::2], sbu.dataset.sequences[0], atol=1e-6)


def test_the_lead_dataset_names_and_describes_the_synonym_groups_it_is_in():
    utd = named_part("utd-mhad", ["sit to stand", "right hand wave"])
    nw = named_part("nw-ucla", ["stand up", "carry"])
    merged = merge_training_data([nw, utd], lead="utd-mhad")
    assert [d.name for d in merged.descriptions] == ["sit to stand", "carry", "right hand wave"]
    assert merged.descriptions[0] is utd.descriptions[0]
    assert merged.dataset.labels.tolist() == [0, 1, 0, 2]


def test_classes_without_recordings_are_left_out():
    labels = np.array([3, 3, 7])
    data = SkeletonDataset(sequences=[np.zeros((2, 1, 25, 3), np.float32)] * 3, labels=labels,
                           class_names=[f"A{i:03d}" for i in range(1, 11)], layout="ntu25", fps=30.0,
                           sources=list("abc"), subjects=np.array([1, 1, 3]))
    ready = training_data(data, "ntu120", 0)
    assert ready.dataset.class_names == ["A004", "A008"] and ready.dataset.labels.tolist() == [0, 0, 1]
    names = [d.name for d in load_descriptions("ntu120")]
    assert [d.name for d in ready.descriptions] == [names[3], names[7]]


def renamed_copy(path, tmp_path):
    from fsvae_core.skeleton_data import load_generic_npz

    original = load_generic_npz(path)
    copy = SkeletonDataset(
        sequences=original.sequences, labels=original.labels, class_names=[f"{n} again" for n in original.class_names],
        layout=original.layout, fps=original.fps, sources=original.sources, subjects=original.subjects,
        descriptions_ld=original.descriptions_ld, descriptions_gd=original.descriptions_gd,
    )
    save_generic_npz(copy, tmp_path / "again.npz")
    return tmp_path / "again.npz"


def test_unseen_zero_trains_a_deployment_bundle_on_every_class(tmp_path, dataset_file, tiny_settings, capsys):
    out = tmp_path / "run"
    second = renamed_copy(dataset_file, tmp_path)
    assert main(["train", "--dataset", f"{dataset_file},{second}", "--unseen", "0", "--out", str(out),
                 "--config", str(tiny_settings), "--quiet"]) == 0
    bundle = load_bundle(out / "bundle")
    assert len(bundle.classes) == 8 and all(c.seen for c in bundle.classes)
    assert "deployment bundle of 8 classes" in capsys.readouterr().out
    assert (out / "confusion_all.png").exists()
    per_dataset = json.loads((out / "metrics.json").read_text())["test_per_dataset"]
    assert set(per_dataset) == {"actions.npz", "again.npz"} and all(0 <= d["top1"] <= 1 for d in per_dataset.values())


def test_unseen_classes_of_one_dataset_are_drawn_and_tested_on_it_alone(tmp_path, dataset_file, tiny_settings):
    out = tmp_path / "run"
    second = renamed_copy(dataset_file, tmp_path)
    assert main(["train", "--dataset", f"{dataset_file},{second}", "--unseen", "again.npz:1", "--seed", "0",
                 "--out", str(out), "--config", str(tiny_settings), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    (unseen,) = metrics["unseen"].values()
    assert unseen.endswith(" again")
    test = metrics["samples"]["test_windows"]
    assert 0 < test < 32  # only the second file's test recordings are evaluated
    assert main(["train", "--dataset", str(dataset_file), "--unseen", "nowhere:1", "--out", str(tmp_path / "x"),
                 "--config", str(tiny_settings), "--quiet"]) == 2


def test_merging_datasets_with_the_same_action_name_is_refused(tmp_path, dataset_file, tiny_settings, capsys):
    other = tmp_path / "other.npz"  # another dataset whose actions bear the same names
    other.write_bytes(dataset_file.read_bytes())
    assert main(["train", "--dataset", f"{dataset_file},{other}", "--unseen", "0", "--out", str(tmp_path / "run"),
                 "--config", str(tiny_settings), "--quiet"]) == 2
    assert "both have an action named 'raise right hand'" in capsys.readouterr().err


def test_class_windows_count_crops_per_class_so_small_classes_are_not_drowned():
    from fsvae_core.pipeline import MAX_CROPS, PipelineConfig

    labels = np.array([0] * 4 + [1] * 40 + [2])
    crops = PipelineConfig(class_windows=40).crops(labels)
    assert crops[labels == 0].tolist() == [10 if 10 <= MAX_CROPS else MAX_CROPS] * 4
    assert crops[labels == 1].tolist() == [1] * 40 and crops[labels == 2].tolist() == [MAX_CROPS]
    assert PipelineConfig(train_crops=3).crops(labels).tolist() == [3] * len(labels)


def test_a_bundle_trained_on_described_body_parts_carries_the_part_rule_to_the_recognizer(
        tmp_path, tiny_settings, shared_data):
    from realtime.inference import Recognizer

    if not (shared_data / "hdm05").is_dir():
        pytest.skip(f"{shared_data / 'hdm05'} not found (see ../shared/data/README.md)")
    settings = json.loads(tiny_settings.read_text())
    settings["experiment"]["part_weights"] = [0.5, 1.0]  # no 0: the part rule is sure to be on
    tiny_settings.write_text(json.dumps(settings))
    out = tmp_path / "run"
    assert main(["train", "--dataset", "hdm05", "--unseen", "3", "--seed", "0", "--out", str(out),
                 "--config", str(tiny_settings), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    choice = metrics["parts"]
    assert set(choice["validation_zsl"]) == {"0.5", "1.0"} and choice["weight"] in (0.5, 1.0)
    bundle = load_bundle(out / "bundle")
    assert all(entry.parts is not None for entry in bundle.classes)
    assert bundle.part_weight == choice["weight"] and bundle.part_aligner() is not None
    recognizer = Recognizer.from_bundle(bundle, device="cpu")
    window = np.random.default_rng(0).normal(size=(bundle.window_frames, 1, 25, 3)).astype(np.float32)
    assert recognizer.scores([window]).shape == (1, len(bundle.classes))


def test_the_bundle_carries_the_class_text_chosen_on_validation_classes(tmp_path, dataset_file, tiny_settings):
    settings = json.loads(tiny_settings.read_text())
    settings["experiment"]["text_parts_choices"] = [["name"]]
    config = tmp_path / "choices.json"
    config.write_text(json.dumps(settings))
    out = tmp_path / "run"
    assert main(["train", "--dataset", str(dataset_file), "--unseen", "1", "--seed", "0", "--out", str(out),
                 "--config", str(config), "--quiet"]) == 0
    choice = json.loads((out / "metrics.json").read_text())["text_parts"]
    assert set(choice["validation_zsl"]) == {"name+ld+gd", "name"}
    assert (out / "validation_stage.ckpt.safetensors").exists() and (out / "validation_stage-name.ckpt.safetensors").exists()
    bundle = load_bundle(out / "bundle")
    assert bundle.text.parts == tuple(choice["chosen"])
    assert bundle.manifest["text"]["dim"] == 384 * len(choice["chosen"])
