"""The ``fsvae`` command: a whole run from feature files to a run folder, clear input errors, a fast
``--help``, and a command-line layer of its own above ``fsvae_core`` and ``realtime``."""

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fsvae_cli.main import main
from fsvae_core.splits import standard_split

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "mediapipe", "sentence_transformers", "transformers", "cv2")

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

    good = write_clip(tmp_path / "wave.json", kinect_v1_clip(20))  # 1.3 s at NW-UCLA's 15 fps
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert main(["recognize", str(good), str(bad), "--bundle", str(small_bundle), "--device", "cpu",
                 "--top-k", "2", "--stride", "0.5"]) == 1
    captured = capsys.readouterr()
    line, = captured.out.splitlines()
    assert line.startswith(f"{good}: ") and "; windows 3) top: " in line  # 0.53 s, 1.07 s, and the last frame
    assert captured.err.splitlines() == [
        f"fsvae recognize: {bad}, field 'file': expected a JSON object with 'skeletons' and 'label'"]


def test_recognize_json_lines_and_exit_statuses(tmp_path, small_bundle, capsys):
    from test_recognize import FPS, kinect_v1_clip, write_clip

    clip = write_clip(tmp_path / "wave.json", kinect_v1_clip(10))
    assert main(["recognize", str(clip), str(clip), "--bundle", str(small_bundle), "--json", "--quiet"]) == 0
    first, second = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert first == second  # the same file twice: nothing leaks from one clip into the next
    assert first["file"] == str(clip) and first["frames"] == 10
    assert [d["time_s"] for d in first["decisions"]] == [round(8 / FPS, 4), round(9 / FPS, 4)]  # first past 0.5 s, last
    assert main(["recognize", str(clip), "--bundle", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.startswith("fsvae recognize: ")
    with pytest.raises(SystemExit) as stopped:
        main(["recognize"])  # no file
    assert stopped.value.code == 2


# ---------------------------------------------------------------------------------------------
# The command-line layer: its own package, light to import


def _python(code, *args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, **(env or {})}, timeout=timeout)  # fmt: skip


def test_help_of_both_commands_imports_no_heavy_module():
    code = (
        "import sys, contextlib, io\n"
        "from fsvae_cli.main import main\n"
        "from realtime.live import main as live_main\n"
        "for run, argv in ((main, ['--help']), (main, ['train', '--help']), (main, ['actions', '--help']),\n"
        "                  (main, ['recognize', '--help']), (live_main, ['--help'])):\n"
        "    with contextlib.redirect_stdout(io.StringIO()) as out:\n"
        "        try:\n"
        "            run(argv)\n"
        "        except SystemExit as stop:\n"
        "            assert stop.code == 0, (argv, stop.code)\n"
        "    assert 'usage:' in out.getvalue(), argv\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = _python(code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_fsvae_core_never_imports_the_live_system_or_the_command_line():
    for path in sorted((ROOT / "fsvae_core").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                # fsvae_core/cli.py, the old module path, may reach the command line when it is run.
                allowed = path.name == "cli.py" and top == "fsvae_cli" and node.col_offset > 0
                assert top != "realtime" and (top != "fsvae_cli" or allowed), f"{path.name} imports {name}"


def test_the_old_module_path_still_runs_the_command():
    done = subprocess.run([sys.executable, "-m", "fsvae_core.cli", "keys", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)  # fmt: skip
    assert done.returncode == 0 and "usage: fsvae keys" in done.stdout
    done = subprocess.run([sys.executable, "-m", "fsvae_cli", "--help"], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)  # fmt: skip
    assert done.returncode == 0 and "usage: fsvae" in done.stdout


@pytest.fixture
def four_npz(tmp_path):
    from test_pipeline import ACTIONS, body

    from fsvae_core.skeleton_data import SkeletonDataset, save_generic_npz

    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 2)
    save_generic_npz(SkeletonDataset(
        sequences=[body(20, int(a), rng) for a in labels], labels=labels, class_names=[a[0] for a in ACTIONS],
        layout="ntu25", fps=30.0, sources=[f"clip{i}" for i in range(len(labels))], subjects=np.tile([1, 2], 4),
        descriptions_ld=[a[1] for a in ACTIONS], descriptions_gd=[a[2] for a in ACTIONS],
    ), tmp_path / "four.npz")  # fmt: skip
    return tmp_path / "four.npz"


def test_too_many_unseen_classes_is_one_line(four_npz, tmp_path, capsys):
    assert main(["train", "--dataset", str(four_npz), "--unseen", "99", "--out", str(tmp_path / "run"),
                 "--quiet"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fsvae: error: --unseen 99: ") and "got 99" in err


def test_a_dataset_named_twice_is_one_line(four_npz, tmp_path, capsys):
    assert main(["train", "--dataset", f"{four_npz},{four_npz}", "--unseen", "1", "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == f"fsvae: error: --dataset names {four_npz} more than once\n"


# ---------------------------------------------------------------------------------------------
# fsvae actions


def test_actions_list_says_which_were_trained_and_which_added_with_their_description(tmp_path, small_bundle, capsys):
    import shutil

    from fsvae_core.bundle import add_action
    from fsvae_core.text import SentenceEncoder

    bundle = tmp_path / "bundle"
    shutil.copytree(small_bundle, bundle)
    add_action(bundle, "clap", "both palms meet in front of the chest " * 8, "applauding",
               encoder=SentenceEncoder(cache_root=tmp_path / "text"))  # fmt: skip
    assert main(["actions", "list", "--bundle", str(bundle)]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split("  ")[0].strip(): line for line in lines[1:]}
    assert list(rows) == ["wave", "sit down", "jump up", "clap"]
    assert "trained" in rows["wave"] and "greeting someone from afar" in rows["wave"]
    assert "unseen" in rows["jump up"]  # a training class known only by its text
    assert "added" in rows["clap"] and "applauding" in rows["clap"]
    assert all(len(line) <= 100 for line in lines)


def test_actions_add_prints_one_line_and_no_progress_bar(tmp_path, small_bundle):
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(small_bundle, bundle)
    # A fresh text cache, so the text model really loads.
    done = _python("import sys; from fsvae_cli.main import main; sys.exit(main(sys.argv[1:]))",
                   "actions", "add", "--bundle", str(bundle), "--name", "juggle", "--ld", "hands toss balls",
                   "--gd", "juggling", env={"FSVAE_CACHE_DIR": str(tmp_path / "cache")}, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"added 'juggle' to {bundle}\n"
    assert done.stderr == ""


def test_actions_add_takes_part_sentences_by_option_or_file(tmp_path, small_bundle, capsys):
    import json
    import shutil

    from fsvae_core.bundle import list_actions
    from fsvae_core.descriptions import PART_NAMES

    bundle = tmp_path / "bundle"
    shutil.copytree(small_bundle, bundle)
    given = {part: f"the {part.replace('_', ' ')} stays still" for part in PART_NAMES}
    add = ["actions", "add", "--bundle", str(bundle), "--ld", "hands toss balls", "--gd", "juggling"]
    assert main([*add, "--name", "juggle", *[f"--part={p}={t}" for p, t in given.items()]]) == 0
    (tmp_path / "parts.json").write_text(json.dumps(given))
    assert main([*add, "--name", "toss", "--parts-file", str(tmp_path / "parts.json")]) == 0
    added = {entry.name: entry.parts for entry in list_actions(bundle)}
    assert dict(added["juggle"]) == given and dict(added["toss"]) == given
    capsys.readouterr()
    assert main([*add, "--name", "catch", "--part", "head"]) == 2
    assert "write PART=TEXT" in capsys.readouterr().err
    assert main([*add, "--name", "catch", "--part", "head=nods"]) == 2
    assert "lacks" in capsys.readouterr().err  # all six parts or none
    assert "catch" not in {entry.name for entry in list_actions(bundle)}


def test_actions_add_notes_words_that_negate_a_motion_and_adds_the_action_all_the_same(tmp_path, small_bundle,
                                                                                       capsys):
    import shutil

    from fsvae_core.bundle import list_actions

    bundle = tmp_path / "bundle"
    shutil.copytree(small_bundle, bundle)
    assert main(["actions", "add", "--bundle", str(bundle), "--name", "carry a box",
                 "--ld", "walks holding a box in front, the arms not swinging", "--gd", "carrying a box"]) == 0
    note, = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert note.startswith("note: 'not swinging' (--ld): the text model reads a negated motion")
    assert "carry a box" in {entry.name for entry in list_actions(bundle)}


def test_actions_add_notes_an_action_whose_words_read_like_one_already_there(tmp_path, small_bundle, capsys):
    import shutil

    bundle = tmp_path / "bundle"
    shutil.copytree(small_bundle, bundle)
    for side in ("right", "left"):
        assert main(["actions", "add", "--bundle", str(bundle), "--name", f"raise the {side} arm",
                     "--ld", f"the {side} arm lifts straight up above the head", "--gd", f"raising the {side} arm"]) == 0
        err = capsys.readouterr().err
    note, = [line for line in err.splitlines() if line.startswith("note:")]  # after the text model's loading bar
    assert note.startswith("note: the model reads 'raise the left arm' almost as it reads 'raise the right arm' (0.9")
    assert "--example FILE, or --show S" in note


def test_actions_add_by_example_reads_each_recording_and_lists_the_action_as_shown(tmp_path, small_bundle, capsys):
    import shutil

    from fsvae_core.bundle import list_actions
    from test_recognize import kinect_v1_clip, write_clip

    bundle = tmp_path / "bundle"
    shutil.copytree(small_bundle, bundle)
    shown = [str(write_clip(tmp_path / f"wave{i}.json", kinect_v1_clip(40, seed=i))) for i in range(2)]
    add = ["actions", "add", "--bundle", str(bundle), "--ld", "the right hand waves", "--gd", "waving hello"]
    assert main([*add, "--name", "wave hello", "--example", shown[0], "--example", shown[1]]) == 0
    assert capsys.readouterr().out == f"added 'wave hello' to {bundle} as 2 recordings show it\n"
    assert next(e for e in list_actions(bundle) if e.name == "wave hello").examples == 2
    assert main(["actions", "list", "--bundle", str(bundle)]) == 0
    assert "shown" in next(line for line in capsys.readouterr().out.splitlines() if line.startswith("wave hello"))
    # A wave of another seed is best matched by the action its examples showed.
    other = write_clip(tmp_path / "wave9.json", kinect_v1_clip(40, seed=9))
    assert main(["recognize", str(other), "--bundle", str(bundle), "--device", "cpu", "--json", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["topk"][0]["name"] == "wave hello"
    # A recording that cannot be read is named, and nothing is added.
    (tmp_path / "bad.json").write_text("[]")
    assert main([*add, "--name", "wave twice", "--example", shown[0], "--example", str(tmp_path / "bad.json")]) == 1
    assert f"{tmp_path / 'bad.json'}" in capsys.readouterr().err
    assert "wave twice" not in {entry.name for entry in list_actions(bundle)}


def test_actions_add_says_when_the_bundle_leaves_a_description_out_of_its_class_text(tmp_path, capsys):
    from fsvae_core.bundle import list_actions
    from fsvae_core.text import SentenceEncoder
    from test_inference import make_bundle

    encoder = SentenceEncoder(cache_root=tmp_path / "text-cache")
    bundle = make_bundle(tmp_path / "bundle", encoder, text_parts=("name", "ld"))
    assert main(["actions", "add", "--bundle", str(bundle), "--name", "juggle", "--ld", "hands toss balls",
                 "--gd", "juggling"]) == 0
    assert "class text is name+ld; --gd is kept with the action but not embedded" in capsys.readouterr().err
    assert next(e for e in list_actions(bundle) if e.name == "juggle").gd == "juggling"


def test_actions_on_a_running_recognizer_wait_until_the_change_is_made(tmp_path, small_bundle, capsys):
    import shutil

    from fsvae_core.bundle import list_actions, load_bundle
    from fsvae_core.text import SentenceEncoder
    from realtime.inference import Recognizer
    from test_inference import Harness, SlowEncoder

    bundle = tmp_path / "bundle"
    shutil.copytree(small_bundle, bundle)
    encoder = SlowEncoder(SentenceEncoder(cache_root=tmp_path / "text"), 1.0)  # the change takes a while
    recognizer = Recognizer.from_bundle(load_bundle(bundle), device="cpu", encoder=encoder)
    with Harness(recognizer) as harness:
        control = ["--control", harness.control_ep]
        assert main(["actions", "add", *control, "--name", "juggle", "--ld", "hands toss balls", "--gd", "juggling"]) == 0
        assert capsys.readouterr().out == f"added 'juggle' on {harness.control_ep}\n"
        assert "juggle" in recognizer.names  # made, not only accepted
        assert main(["actions", "add", *control, "--name", "Juggle", "--ld", "x", "--gd", "y"]) == 2
        assert "already" in capsys.readouterr().err
        assert main(["actions", "remove", *control, "--name", "wave"]) == 0
        assert main(["actions", "list", *control]) == 0
        listed = capsys.readouterr().out.splitlines()
        assert listed[-3:] == ["sit down  trained", "jump up  unseen", "juggle  added"]  # the words of --bundle
        for side in ("right", "left"):  # words that differ by a side: the recognizer's status says so
            assert main(["actions", "add", *control, "--name", f"raise the {side} arm",
                         "--ld", f"the {side} arm lifts straight up above the head", "--gd", f"raising the {side} arm"]) == 0
        note, = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
        assert note.startswith("note: the model reads 'raise the left arm' almost as it reads 'raise the right arm'")
    assert [entry.name for entry in list_actions(bundle)] == [
        "sit down", "jump up", "juggle", "raise the right arm", "raise the left arm"]


def test_actions_add_show_counts_down_and_takes_the_camera_of_a_running_recognizer(tmp_path, small_bundle, capsys):
    import shutil
    import threading
    import time

    from fsvae_core.bundle import list_actions, load_bundle
    from fsvae_core.text import SentenceEncoder
    from realtime.inference import Recognizer
    from test_inference import Harness, random_window

    bundle = tmp_path / "bundle"
    shutil.copytree(small_bundle, bundle)
    recognizer = Recognizer.from_bundle(load_bundle(bundle), device="cpu",
                                        encoder=SentenceEncoder(cache_root=tmp_path / "text"))  # fmt: skip
    add = ["actions", "add", "--name", "stretch", "--ld", "the arms reach out", "--gd", "stretching"]
    for refused, why in (([*add, "--bundle", str(bundle), "--show", "2"], "--show goes with actions add --control"),
                         ([*add, "--control", "tcp://127.0.0.1:1", "--show", "60"], "--show takes 0.5 to 30 seconds"),
                         ([*add, "--bundle", str(bundle), "--source", "cam0"], "--source, --countdown and --times go with"),
                         ([*add, "--control", "tcp://127.0.0.1:1", "--show", "2", "--times", "9"], "--times takes 1 to 5")):
        with pytest.raises(SystemExit) as stopped:
            main(refused)
        assert stopped.value.code == 2 and why in capsys.readouterr().err
    with Harness(recognizer) as harness:
        control = [*add, "--control", harness.control_ep, "--countdown", "1"]
        assert main([*control, "--show", "1"]) == 2  # nobody in view
        assert "no camera has sent a window of a person" in capsys.readouterr().err
        stop = threading.Event()

        def camera():
            while not stop.is_set():
                harness.send_window("cam0", random_window(41))
                time.sleep(0.05)

        feeder = threading.Thread(target=camera, daemon=True)
        feeder.start()
        try:
            assert harness.events(1, source="cam0")
            assert main([*control, "--show", "1"]) == 0
        finally:
            stop.set()
            feeder.join(5)
        out, err = capsys.readouterr()
        assert out == f"added 'stretch' on {harness.control_ep}, as cam0 showed it\n"
        said = [err.index(line) for line in ("showing 'stretch' in 1...\n", "now: show 'stretch' to cam0 for 1 s\n",
                                             "shown\n")]  # in this order (the text model may print too)
        assert said == sorted(said)
        assert main(["actions", "list", "--control", harness.control_ep]) == 0
        assert capsys.readouterr().out.splitlines()[-1] == "stretch  shown"
    assert list_actions(bundle)[-1].examples == 1

def test_actions_add_by_example_on_a_running_recognizer_sends_the_recordings_windows(tmp_path, small_bundle, capsys):
    import shutil

    from fsvae_core.bundle import list_actions, load_bundle
    from fsvae_core.text import SentenceEncoder
    from realtime.inference import Recognizer
    from test_inference import Harness
    from test_recognize import kinect_v1_clip, write_clip

    bundle = tmp_path / "bundle"
    shutil.copytree(small_bundle, bundle)
    recognizer = Recognizer.from_bundle(load_bundle(bundle), device="cpu",
                                        encoder=SentenceEncoder(cache_root=tmp_path / "text"))  # fmt: skip
    shown = [str(write_clip(tmp_path / f"wave{i}.json", kinect_v1_clip(40, seed=i))) for i in range(2)]
    (tmp_path / "bad.json").write_text("[]")
    with Harness(recognizer) as harness:
        add = ["actions", "add", "--control", harness.control_ep, "--ld", "the right hand waves", "--gd", "waving"]
        assert main([*add, "--name", "wave twice", "--example", shown[0], "--example", str(tmp_path / "bad.json")]) == 1
        assert f"{tmp_path / 'bad.json'}" in capsys.readouterr().err  # named, and nothing sent
        assert main([*add, "--name", "wave hello", "--example", shown[0], "--example", shown[1]]) == 0
        assert capsys.readouterr().out == f"added 'wave hello' on {harness.control_ep} as 2 recordings show it\n"
    assert [(e.name, e.examples) for e in list_actions(bundle)][-1] == ("wave hello", 2)

def test_recordings_too_long_for_one_message_send_evenly_spaced_windows_of_each():
    from fsvae_cli.actions import windows_within

    one = np.zeros((8, 1, 25, 3), np.float32)  # (T, M, V, 3): 2400 bytes, 4800 with two persons
    long = [one + i for i in range(30)]
    short = [np.zeros((8, 2, 25, 3), np.float32)] * 3
    windows, counts = windows_within([long, short], 4800 * 33)
    assert windows.shape == (33, 8, 2, 25, 3) and counts == [30, 3]  # all fit; one person padded with zeros
    assert not windows[:30, :, 1].any()
    windows, counts = windows_within([long, short], 4800 * 11)
    assert counts == [10, 1] and len(windows) <= 11  # in proportion, each recording at least one
    np.testing.assert_array_equal(windows[:10, 0, 0, 0, 0], np.linspace(0, 29, 10).round())  # evenly spaced

def test_export_writes_a_checked_onnx_graph_and_refuses_a_bad_bundle(tmp_path, small_bundle, capsys):
    from test_recognize import kinect_v1_clip, write_clip

    out = tmp_path / "out" / "scorer.onnx"
    assert main(["export", "--onnx", str(small_bundle), str(out)]) == 0
    assert out.is_file() and "checked on 32 windows" in capsys.readouterr().out
    clip = write_clip(tmp_path / "wave.json", kinect_v1_clip(20))  # 1.3 s at NW-UCLA's 15 fps
    assert main(["export", "--onnx", str(small_bundle), str(out), "--check", str(clip)]) == 0
    assert "checked on 4 windows" in capsys.readouterr().out  # every 0.25 s, and the last frame
    assert main(["export", "--onnx", str(tmp_path / "missing"), str(tmp_path / "x.onnx")]) == 2
    assert capsys.readouterr().err.startswith("fsvae: error: ") and not (tmp_path / "x.onnx").exists()
    with pytest.raises(SystemExit) as exit_:  # before any work: a folder cannot be replaced by the graph
        main(["export", "--onnx", str(small_bundle), str(tmp_path / "out")])
    assert exit_.value.code == 2 and "out: a folder; name the .onnx file to write" in capsys.readouterr().err
