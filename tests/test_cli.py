"""The ``fsvae`` command: a whole run from feature files to a run folder, and clear input errors."""

import json

import numpy as np
import pytest

from fsvae_core.cli import main
from fsvae_core.splits import standard_split

SPLIT = standard_split("ntu60", "55/5")


def write_features(folder, dim=32, seed=0):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(60, dim))

    def save(stem, label_name, classes, per_class):
        y = np.repeat(np.asarray(classes), per_class)
        np.save(folder / f"{stem}.npy", (means[y] + 0.1 * rng.normal(size=(len(y), dim))).astype(np.float32))
        np.save(folder / f"{label_name}.npy", y)

    save("train", "train_label", SPLIT.seen, 6)
    save("ztest", "z_label", SPLIT.unseen, 4)
    save("gtest", "g_label", range(60), 2)
    return folder


@pytest.fixture
def quick_settings(tmp_path):
    path = tmp_path / "quick.json"
    path.write_text(json.dumps({
        "vae": {"latent_dim": 8, "skeleton_frequency": {"n_bands": 4, "phi": 4}, "text_frequency": {"n_bands": 4, "phi": 4}},
        "train": {"cycles": 2, "steps_per_cycle": 15},
        "samples_per_class": 20, "classifier_epochs": 20,
    }))
    return path


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FSVAE_CACHE_DIR", str(tmp_path / "cache"))


def run(tmp_path, settings, *extra):
    features = tmp_path / "features"
    if not features.exists():
        write_features(features.mkdir() or features)
    return main(["train-features", "--features", str(features), "--dataset", "ntu60", "--split", "55/5",
                 "--out", str(tmp_path / "run"), "--config", str(settings), "--quiet", *extra])


def test_a_run_writes_metrics_pictures_and_model(tmp_path, quick_settings, capsys):
    assert run(tmp_path, quick_settings) == 0
    out = tmp_path / "run"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == "ntu60" and metrics["seed"] == 0
    assert set(metrics["unseen_classes"]) == {str(c) for c in SPLIT.unseen}
    assert {"top1", "prototype", "softmax"} <= set(metrics["zsl"])
    assert {"seen", "unseen", "harmonic"} <= set(metrics["gzsl"]["stacking"]) and "gate" in metrics["gzsl"]
    assert metrics["settings"]["train"]["steps_per_cycle"] == 15
    for picture in ("per_class_accuracy.png", "confusion_zsl.png", "confusion_gzsl.png"):
        assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "model.safetensors").exists()
    assert "ZSL top-1" in capsys.readouterr().out


def test_running_again_resumes_instead_of_retraining(tmp_path, quick_settings):
    assert run(tmp_path, quick_settings) == 0
    first = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert run(tmp_path, quick_settings) == 0
    second = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert second["validation"]["history"] == first["validation"]["history"]
    assert second["zsl"]["top1"] == first["zsl"]["top1"]


def test_missing_feature_file_is_one_clear_line(tmp_path, quick_settings, capsys):
    write_features((tmp_path / "features").mkdir() or tmp_path / "features")
    (tmp_path / "features" / "gtest.npy").unlink()
    assert run(tmp_path, quick_settings) == 2
    assert "gtest.npy: file not found" in capsys.readouterr().err


def test_labels_outside_the_split_are_reported(tmp_path, quick_settings, capsys):
    features = write_features((tmp_path / "features").mkdir() or tmp_path / "features")
    labels = np.load(features / "train_label.npy")
    labels[0] = SPLIT.unseen[0]
    np.save(features / "train_label.npy", labels)
    assert run(tmp_path, quick_settings) == 2
    assert "train_label.npy: labels [10] do not belong" in capsys.readouterr().err


def test_bad_settings_name_the_key(tmp_path, capsys):
    settings = tmp_path / "bad.json"
    settings.write_text(json.dumps({"train": {"cyclez": 2}}))
    assert run(tmp_path, settings) == 2
    assert "unknown key(s) ['cyclez']" in capsys.readouterr().err


def test_keys_writes_a_server_and_a_client_pair_once(tmp_path, capsys):
    assert main(["keys", str(tmp_path / "keys")]) == 0
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == [
        "client.key", "client.key_secret", "server.key", "server.key_secret"]
    assert main(["keys", str(tmp_path / "keys")]) == 2
    assert "not overwriting" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# fsvae recognize (the logic is tested in tests/test_recognize.py; here: the subcommand's wiring)


@pytest.fixture(scope="module")
def small_bundle(tmp_path_factory):
    from fsvae_core.text import SentenceEncoder
    from test_inference import make_bundle

    encoder = SentenceEncoder(cache_root=tmp_path_factory.mktemp("text-cache"))
    return make_bundle(tmp_path_factory.mktemp("bundles") / "bundle", encoder)


def test_recognize_prints_a_line_per_clip_and_one_error_line_per_bad_file(tmp_path, small_bundle, capsys):
    from test_recognize import kinect_v1_clip, write_clip

    good = write_clip(tmp_path / "wave.json", kinect_v1_clip(40))
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert main(["recognize", str(good), str(bad), "--bundle", str(small_bundle), "--device", "cpu",
                 "--top-k", "2", "--stride", "0.5"]) == 1
    captured = capsys.readouterr()
    line, = captured.out.splitlines()
    assert line.startswith(f"{good}: ") and "; windows 3) top: " in line  # 0.5 s, 1.0 s, and the last frame
    assert captured.err.splitlines() == [
        f"fsvae recognize: {bad}, field 'file': expected a JSON object with 'skeletons' and 'label'"]


def test_recognize_json_lines_and_exit_statuses(tmp_path, small_bundle, capsys):
    from test_recognize import kinect_v1_clip, write_clip

    clip = write_clip(tmp_path / "wave.json", kinect_v1_clip(20))
    assert main(["recognize", str(clip), str(clip), "--bundle", str(small_bundle), "--json", "--quiet"]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first == second  # the same file twice: nothing leaks from one clip into the next
    assert first["file"] == str(clip) and first["frames"] == 20
    assert [d["time_s"] for d in first["decisions"]] == [0.5, round(19 / 30, 4)]  # at 0.5 s, and the last frame
    assert main(["recognize", str(clip), "--bundle", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("fsvae recognize: ")
    with pytest.raises(SystemExit) as stopped:
        main(["recognize"])  # no file
    assert stopped.value.code == 2
