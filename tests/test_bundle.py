"""The model bundle round-trips, refuses damaged or inconsistent contents by name, and changes its
actions by text alone, atomically."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

from calibration.normalize import NormalizationConfig
from calibration.windows import WindowSpec
from fsvae_core.decision import DecisionRule
from fsvae_core import bundle as bundle_module
from fsvae_core.bundle import (
    FORMAT_VERSION, STALE_WRITE_AGE_S, BundleError, ClassEntry, TextSpec, Thresholds, add_action, list_actions,
    load_bundle, look_alike_note, look_alikes, prototype_for, remove_action, save_bundle, upgrade_bundle,
)
from fsvae_core.descriptions import PART_NAMES, ActionDescription
from fsvae_core.attributes import ATTRIBUTES, AttributeMatcher, attribute_directions
from fsvae_core.parts import PartAligner, part_text_embeddings
from fsvae_core.frequency import FrequencyConfig
from fsvae_core.model import FSVAE, VAEConfig
from fsvae_core.text import SentenceEncoder, TextEncoderConfig, class_embeddings

# text_dim 1152 = 3 parts x 384, the real MiniLM class vector, because adding embeds for real.
CONFIG = VAEConfig(skeleton_dim=16, text_dim=1152, latent_dim=8,
                   skeleton_frequency=FrequencyConfig(n_bands=4, phi=4),
                   text_frequency=FrequencyConfig(n_bands=4, phi=4))
ACTIONS = [
    ActionDescription("wave", "one hand swings side to side above the shoulder", "greeting someone from afar"),
    ActionDescription("sit down", "knees bend and the hips lower onto a seat", "taking a seat on a chair"),
    ActionDescription("jump up", "both legs push off and the body leaves the floor", "jumping in place"),
]
SKELETON = WindowSpec(frames=64, fps=30.0, max_persons=2, normalization=NormalizationConfig(fps=30.0))
THRESHOLDS = Thresholds(unknown=0.25, gzsl_gamma=0.1)
BACKBONE_CONFIG = {"kind": "tiny-gcn", "channels": [3, 4], "dropout": 0.0}


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return SentenceEncoder(cache_root=tmp_path_factory.mktemp("text-cache"))


@pytest.fixture(scope="module")
def class_text(encoder):
    return torch.from_numpy(class_embeddings(ACTIONS, encoder))  # (3, 1152)


@pytest.fixture
def vae():
    torch.manual_seed(0)
    return FSVAE(CONFIG).eval()


def _classes():
    return [ClassEntry(a.name, a.ld, a.gd, seen=i < 2, origin="trained") for i, a in enumerate(ACTIONS)]


def _save(path, vae, class_text, **overrides):
    arguments = dict(
        vae=vae, classes=_classes(), class_text=class_text, skeleton=SKELETON, text=TextSpec(),
        thresholds=THRESHOLDS, backbone_config=BACKBONE_CONFIG,
        backbone_state={"block.weight": torch.arange(12.0).reshape(4, 3), "block.bias": torch.zeros(4)},
        metrics={"zsl": {"top1": 0.5}}, provenance={"datasets": ["ntu60"], "command": "fsvae train"},
    )
    arguments.update(overrides)
    return save_bundle(path, **arguments)


@pytest.fixture
def bundle_path(tmp_path, vae, class_text):
    return _save(tmp_path / "bundle", vae, class_text)


def _edit_manifest(path, change):
    manifest = json.loads((path / "manifest.json").read_text())
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest))


def _rewrite_tables(path, **tables):
    """Replace tensors of prototypes.safetensors and fix its checksum, so that only the content check can fire."""
    file = path / "prototypes.safetensors"
    save_file({**load_file(str(file)), **tables}, str(file), metadata={"format": "fsvae-bundle"})
    _edit_manifest(path, lambda m: m["files"].update({"prototypes.safetensors": bundle_module._sha256(file)}))


def _siblings(path):
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


# ---------------------------------------------------------------------------------------------
# Round trip


def test_round_trip_keeps_everything(bundle_path, vae, class_text):
    bundle = load_bundle(bundle_path)
    assert sorted(p.name for p in bundle_path.iterdir()) == [
        "manifest.json", "prototypes.safetensors", "weights.safetensors"]
    assert _siblings(bundle_path) == []  # no staging or retired directories left behind
    assert bundle.classes == _classes()
    assert bundle.vae_config == CONFIG
    assert bundle.vae_state.keys() == vae.state_dict().keys()
    for name, tensor in vae.state_dict().items():
        torch.testing.assert_close(bundle.vae_state[name], tensor, rtol=0, atol=0)
    assert bundle.backbone_config == BACKBONE_CONFIG
    torch.testing.assert_close(bundle.backbone_state["block.weight"], torch.arange(12.0).reshape(4, 3))
    torch.testing.assert_close(bundle.class_text, class_text, rtol=0, atol=0)
    torch.testing.assert_close(bundle.prototypes, vae.embed_text(class_text), rtol=0, atol=0)
    assert bundle.prototypes.shape == (3, 8)
    assert (bundle.window_frames, bundle.fps, bundle.max_persons) == (64, 30.0, 2)
    assert bundle.normalization == NormalizationConfig(fps=30.0)
    assert bundle.skeleton == SKELETON
    assert bundle.text == TextSpec() and bundle.text_config == TextEncoderConfig()
    assert bundle.thresholds == THRESHOLDS and bundle.decision_rule == DecisionRule(0.1, 0.25, 0.25)
    assert bundle.seen_mask.tolist() == [True, True, False]
    manifest = bundle.manifest
    assert (manifest["format"], manifest["format_version"]) == ("fsvae-bundle", FORMAT_VERSION)
    assert manifest["skeleton"]["layout"] == "ntu25" and manifest["skeleton"]["n_joints"] == 25
    assert manifest["text"] == {"model": "all-MiniLM-L6-v2", "parts": ["name", "ld", "gd"], "dim": 1152}
    assert manifest["metrics"] == {"zsl": {"top1": 0.5}}
    assert manifest["provenance"]["datasets"] == ["ntu60"]
    assert set(manifest["files"]) == {"weights.safetensors", "prototypes.safetensors"}


def test_a_text_threshold_round_trips_and_old_bundles_decide_every_class_by_one(tmp_path, vae, class_text):
    two = Thresholds(unknown=0.5, gzsl_gamma=0.1, unknown_text=0.2)
    bundle = load_bundle(_save(tmp_path / "b", vae, class_text, thresholds=two))
    assert bundle.thresholds == two and bundle.decision_rule == DecisionRule(0.1, 0.5, 0.2)
    assert "unknown_text" not in THRESHOLDS.to_dict() and THRESHOLDS.rule.unknown_text == THRESHOLDS.unknown
    for text_by in ("lead", "lead_raw"):
        by_lead = Thresholds(unknown=0.5, gzsl_gamma=0.1, unknown_text=1.5, text_by=text_by)
        bundle = load_bundle(_save(tmp_path / text_by, vae, class_text, thresholds=by_lead))
        assert bundle.decision_rule == DecisionRule(0.1, 0.5, 1.5, text_by) and "text_by" not in two.to_dict()
        with pytest.raises(ValueError, match="text_by"):
            Thresholds(unknown=0.5, gzsl_gamma=0.1, text_by=text_by)  # a lead needs its own threshold


def test_a_still_threshold_round_trips_and_old_bundles_take_nobody_for_still(tmp_path, vae, class_text):
    with_still = Thresholds(unknown=0.5, gzsl_gamma=0.1, unknown_text=0.2, still_below=0.12)
    bundle = load_bundle(_save(tmp_path / "b", vae, class_text, thresholds=with_still))
    assert bundle.thresholds == with_still and bundle.decision_rule.still_below == 0.12
    assert "still_below" not in THRESHOLDS.to_dict() and THRESHOLDS.rule.still_below == 0.0
    for bad in (-0.1, float("nan")):
        with pytest.raises(ValueError, match="still_below"):
            Thresholds(unknown=0.5, gzsl_gamma=0.1, still_below=bad)


def test_bundle_is_readable_by_other_accounts(bundle_path):
    assert stat.S_IMODE(bundle_path.stat().st_mode) == 0o755
    for file in bundle_path.iterdir():
        assert stat.S_IMODE(file.stat().st_mode) == 0o644, file.name


def test_vae_only_bundle_round_trips_without_backbone(tmp_path, vae, class_text):
    path = _save(tmp_path / "vae-only", vae, class_text, backbone_config=None, backbone_state=None)
    bundle = load_bundle(path)
    assert bundle.backbone_config is None and bundle.backbone_state is None
    assert bundle.manifest["backbone"] == {"config": None}


def test_build_vae_reproduces_prototypes(bundle_path):
    bundle = load_bundle(bundle_path)
    vae = bundle.build_vae()
    assert not vae.training
    torch.testing.assert_close(vae.embed_text(bundle.class_text), bundle.prototypes, rtol=0, atol=0)


def test_saving_replaces_an_existing_bundle(bundle_path, vae, class_text):
    _save(bundle_path, vae, class_text[:2], classes=_classes()[:2])
    assert [c.name for c in list_actions(bundle_path)] == ["wave", "sit down"]
    assert _siblings(bundle_path) == []


def test_metrics_become_strict_json(tmp_path, vae, class_text):
    path = _save(tmp_path / "b", vae, class_text, metrics={"h": float("nan"), "n": np.int64(3), "p": (1, 2)})
    assert load_bundle(path).manifest["metrics"] == {"h": None, "n": 3, "p": [1, 2]}


# ---------------------------------------------------------------------------------------------
# Refusals


def _delete(name):
    return lambda path: (path / name).unlink()


def _corrupt_weights(path):
    data = bytearray((path / "weights.safetensors").read_bytes())
    data[-3] ^= 0x01  # inside the last tensor's data
    (path / "weights.safetensors").write_bytes(bytes(data))


REFUSALS = {
    "manifest missing": (_delete("manifest.json"), "manifest.json is missing"),
    "weights missing": (_delete("weights.safetensors"), "weights.safetensors is missing"),
    "prototypes missing": (_delete("prototypes.safetensors"), "prototypes.safetensors is missing"),
    "weights damaged": (_corrupt_weights, "weights.safetensors is damaged (checksum mismatch)"),
    "bad json": (lambda p: (p / "manifest.json").write_text("{not json"), "manifest.json is not readable JSON"),
    "wrong format": (lambda p: _edit_manifest(p, lambda m: m.update(format="other")), "not an fsvae bundle"),
    "newer version": (lambda p: _edit_manifest(p, lambda m: m.update(format_version=99)),
                      "format_version 99 was written by a newer fsvae"),
    "unknown version": (lambda p: _edit_manifest(p, lambda m: m.update(format_version="1")),
                        "unknown format_version"),
    "missing field": (lambda p: _edit_manifest(p, lambda m: m.pop("thresholds")), "'thresholds'"),
    "missing nested field": (lambda p: _edit_manifest(p, lambda m: m["text"].pop("dim")), "'dim'"),
    "class count": (lambda p: _edit_manifest(p, lambda m: m["classes"].pop()), "lists 2 classes"),
    "duplicate names": (lambda p: _edit_manifest(p, lambda m: m["classes"][2].update(name="WAVE")),
                        "duplicate action name"),
    "bad origin": (lambda p: _edit_manifest(p, lambda m: m["classes"][0].update(origin="magic")), "origin"),
    "text dim": (lambda p: _edit_manifest(p, lambda m: m["text"].update(dim=384)), "text dim is 384"),
    "other layout": (lambda p: _edit_manifest(p, lambda m: m["skeleton"].update(layout="coco17")), "ntu25"),
    "nan prototype": (lambda p: _rewrite_tables(p, prototypes=torch.full((3, 8), float("nan"))), "NaN"),
    "prototype width": (lambda p: _rewrite_tables(p, prototypes=torch.zeros(3, 9)), "latent is 8-d"),
    "prototype rows": (lambda p: _rewrite_tables(p, prototypes=torch.zeros(4, 8)), "4 rows of prototypes"),
    "class_text width": (lambda p: _rewrite_tables(p, class_text=torch.zeros(3, 1151)), "class_text is 1151-d"),
    "backbone without config": (lambda p: _edit_manifest(p, lambda m: m["backbone"].update(config=None)),
                                "no backbone config"),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_damaged_or_inconsistent_bundle_is_refused_by_name(bundle_path, case):
    damage, expected = REFUSALS[case]
    damage(bundle_path)
    with pytest.raises(BundleError) as caught:
        load_bundle(bundle_path)
    message = str(caught.value)
    assert message.startswith(str(bundle_path)) and expected in message, message


def test_verify_false_skips_only_the_checksum(bundle_path):
    _corrupt_weights(bundle_path)
    assert load_bundle(bundle_path, verify=False).classes == _classes()


def test_missing_bundle_points_at_an_interrupted_write(bundle_path):
    retired = bundle_path.parent / f".{bundle_path.name}.old-0000"
    os.rename(bundle_path, retired)
    with pytest.raises(BundleError, match="previous bundle at .*old-0000"):
        load_bundle(bundle_path)


def test_save_refuses_inconsistent_contents(tmp_path, vae, class_text):
    path = tmp_path / "b"
    twins = _classes()[:2] + [ClassEntry("Wave", "x", "y", seen=False, origin="trained")]
    with pytest.raises(BundleError, match="duplicate action name"):
        _save(path, vae, class_text, classes=twins)
    with pytest.raises(BundleError, match="lists 2 classes"):
        _save(path, vae, class_text, classes=_classes()[:2])
    with pytest.raises(BundleError, match="together"):
        _save(path, vae, class_text, backbone_state=None)
    assert not path.exists() and _siblings(path) == []


def test_save_refuses_to_replace_a_folder_that_is_not_a_bundle(tmp_path, vae, class_text):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(BundleError, match="not an fsvae bundle"):
        _save(tmp_path / "mine", vae, class_text)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


# ---------------------------------------------------------------------------------------------
# Changing actions


def test_add_action_appends_a_user_class_with_the_text_vae_prototype(bundle_path, encoder):
    entry = add_action(bundle_path, "clap  hands", "both palms meet in front of the chest",
                       "applauding", encoder=encoder)
    assert entry == ClassEntry("clap hands", "both palms meet in front of the chest", "applauding",
                               seen=False, origin="user")
    bundle = load_bundle(bundle_path)  # checksums of the rewritten files verify
    assert bundle.classes == _classes() + [entry]
    expected_text = class_embeddings([entry.description], encoder)[0]  # (1152,)
    torch.testing.assert_close(bundle.class_text[-1], torch.from_numpy(expected_text))
    vae = bundle.build_vae()
    torch.testing.assert_close(bundle.prototypes[-1], vae.embed_text(bundle.class_text[-1:])[0])
    torch.testing.assert_close(bundle.prototypes[:3], vae.embed_text(bundle.class_text[:3]), rtol=0, atol=0)
    assert _siblings(bundle_path) == []


def test_add_action_refuses_duplicates_empty_texts_and_a_foreign_encoder(bundle_path, encoder):
    with pytest.raises(BundleError, match="'wave' is already in the bundle") as caught:
        add_action(bundle_path, " WAVE ", "a", "b", encoder=encoder)
    assert str(caught.value).startswith(str(bundle_path))
    with pytest.raises(BundleError, match=r"new action\.ld must be a non-empty string"):
        add_action(bundle_path, "nod", "   ", "agreeing", encoder=encoder)
    with pytest.raises(BundleError, match="'unknown' is reserved for undecided labels"):  # what no decision says
        add_action(bundle_path, " Unknown", "the body does something", "anything", encoder=encoder)
    other = SentenceEncoder(TextEncoderConfig(model="/some/other/model"), cache_root=encoder._cache.parent)
    with pytest.raises(BundleError, match="embedded with 'all-MiniLM-L6-v2'"):
        add_action(bundle_path, "nod", "the head tips down and up", "agreeing", encoder=other)
    assert list_actions(bundle_path) == _classes()


def test_an_action_shown_by_example_takes_the_place_its_windows_have(tmp_path, encoder):
    from realtime.inference import Recognizer
    from test_inference import make_bundle, random_window

    fresh_bundle = make_bundle(tmp_path / "bundle", encoder)  # with a backbone: examples are windows
    recognizer = Recognizer.from_bundle(load_bundle(fresh_bundle), device="cpu", encoder=encoder)
    rng = np.random.default_rng(0)
    motion = random_window(11)

    def recording(n: int) -> np.ndarray:  # windows of one motion, each with its own tracker jitter
        return np.stack([recognizer.prepare(motion + rng.normal(0, 0.01, motion.shape).astype(np.float32))
                         for _ in range(n)])

    shown = [recording(3), recording(1)]
    entry = add_action(fresh_bundle, "stretch", "the arms reach out", "stretching", encoder=encoder, examples=shown)
    assert entry.examples == 2 and entry.origin == "user" and not entry.seen and entry.parts is None
    bundle = load_bundle(fresh_bundle)
    backbone, vae = bundle.build_backbone(), bundle.build_vae()
    with torch.no_grad():
        means = [F.normalize(F.normalize(vae.embed_skeleton(backbone.features(torch.from_numpy(w))), dim=1).mean(0),
                             dim=0) for w in shown]
    torch.testing.assert_close(bundle.prototypes[-1], F.normalize(torch.stack(means).mean(0), dim=0), atol=1e-5, rtol=0)
    assert bundle.classes[-1] == entry  # the count survives the manifest
    scores = Recognizer.from_bundle(bundle, device="cpu", encoder=encoder).scores_prepared(recording(4))
    assert (scores.argmax(1) == 3).all()
    with pytest.raises(BundleError, match="example recording 2 must be a non-empty stack"):
        add_action(fresh_bundle, "reach", "a", "b", encoder=encoder, examples=[shown[0], shown[0][:, :, :5]])
    # Its part sentences, if given, stay with it: they give its part and attribute terms.
    still = {part: "stays still" for part in PART_NAMES}
    reach = add_action(fresh_bundle, "reach", "a", "b", encoder=encoder, examples=shown, parts=still)
    assert reach.examples == 2 and dict(reach.parts) == still
    assert [c.name for c in list_actions(fresh_bundle)][-2:] == ["stretch", "reach"]


@pytest.mark.parametrize("fields, match", [
    ({"examples": -1}, "count >= 0"),
    ({"examples": 2, "origin": "trained"}, "only an action a user added"),
])
def test_only_a_users_action_is_shown_by_example(fields, match):
    with pytest.raises(ValueError, match=match):
        ClassEntry(**{"name": "stretch", "ld": "a", "gd": "b", "seen": False, "origin": "user", **fields})
    shown = ClassEntry("stretch", "a", "b", seen=False, origin="user", examples=2)
    assert ClassEntry.from_dict(shown.to_dict()) == shown
    assert "examples" not in ClassEntry("wave", "a", "b", seen=False, origin="user").to_dict()  # older readers' form


def test_remove_action_removes_one_and_refuses_unknown_or_last(bundle_path, encoder):
    before = load_bundle(bundle_path)
    removed = remove_action(bundle_path, "Sit Down")
    assert removed == _classes()[1]
    after = load_bundle(bundle_path)
    assert after.class_names == ["wave", "jump up"]
    torch.testing.assert_close(after.prototypes, before.prototypes[[0, 2]], rtol=0, atol=0)
    torch.testing.assert_close(after.class_text, before.class_text[[0, 2]], rtol=0, atol=0)

    with pytest.raises(BundleError, match=r"no action named 'jump'; close names: \['jump up'\]") as caught:
        remove_action(bundle_path, "jump")
    assert str(caught.value).startswith(str(bundle_path))
    remove_action(bundle_path, "wave")
    with pytest.raises(BundleError, match="only action"):
        remove_action(bundle_path, "jump up")
    assert load_bundle(bundle_path).class_names == ["jump up"]


def test_added_action_can_be_removed_again(bundle_path, encoder):
    add_action(bundle_path, "nod", "the head tips down and up", "agreeing", encoder=encoder)
    assert remove_action(bundle_path, "NOD").origin == "user"
    assert list_actions(bundle_path) == _classes()


def test_look_alikes_names_the_action_whose_words_differ_only_by_a_side(bundle_path, encoder):
    add_action(bundle_path, "raise the right arm", "the right arm lifts straight up above the head",
               "raising the right arm", encoder=encoder)
    add_action(bundle_path, "raise the left arm", "the left arm lifts straight up above the head",
               "raising the left arm", encoder=encoder)
    bundle = load_bundle(bundle_path)
    (other, cosine), = look_alikes(bundle, "Raise the LEFT arm")
    assert other == "raise the right arm" and 0.9 <= cosine <= 1
    assert "'raise the right arm' (0.9" in look_alike_note(bundle, "raise the left arm")
    assert look_alikes(bundle, "wave") == [] and look_alike_note(bundle, "jump up") is None
    with pytest.raises(BundleError, match="no action named 'juggle'"):
        look_alikes(bundle, "juggle")


# ---------------------------------------------------------------------------------------------
# Atomic writes


def test_failure_midway_leaves_the_old_bundle_intact(bundle_path, encoder, monkeypatch):
    before = bundle_path.joinpath("manifest.json").read_bytes()

    def fail(*args, **kwargs):
        raise OSError("disk full")

    # Tensors are already in the staging directory when the manifest write fails.
    monkeypatch.setattr(bundle_module, "_write_json", fail)
    with pytest.raises(OSError, match="disk full"):
        add_action(bundle_path, "nod", "the head tips down and up", "agreeing", encoder=encoder)
    assert bundle_path.joinpath("manifest.json").read_bytes() == before
    assert load_bundle(bundle_path).classes == _classes()
    assert _siblings(bundle_path) == []


def test_failed_swap_puts_the_old_bundle_back(bundle_path, monkeypatch):
    real_rename = os.rename

    def rename(source, target):
        if ".writing-" in str(source):
            raise OSError("rename failed")
        real_rename(source, target)

    monkeypatch.setattr(bundle_module.os, "rename", rename)
    with pytest.raises(OSError, match="rename failed"):
        remove_action(bundle_path, "wave")
    monkeypatch.undo()
    assert load_bundle(bundle_path).classes == _classes()
    assert _siblings(bundle_path) == []


# ---------------------------------------------------------------------------------------------
# In-memory helper


def test_prototype_for_is_the_text_latent_mean_of_one_row(vae, class_text):
    torch.testing.assert_close(prototype_for(vae, class_text[1]), vae.embed_text(class_text[1:2])[0])
    torch.testing.assert_close(prototype_for(vae, class_text[1].numpy()), vae.embed_text(class_text[1:2])[0])
    with pytest.raises(ValueError, match=r"\(1152,\)"):
        prototype_for(vae, class_text[:2])



# ---------------------------------------------------------------------------------------------
# What a bundle means is sealed (issue 11, item 6)

DEFAULT_BUNDLE = Path(bundle_module.__file__).parent / "default_bundle"


def _first_class(change):
    return lambda m: change(m["classes"][0])


EDITS = {
    "class name": (_first_class(lambda c: c.update(name="hello")), "classes"),
    "class description": (_first_class(lambda c: c.update(gd="something else")), "classes"),
    "seen flag": (_first_class(lambda c: c.update(seen=False)), "classes"),
    "threshold": (lambda m: m["thresholds"].update(unknown=0.01), "thresholds"),
    "text model": (lambda m: m["text"].update(model="another-model"), "text"),
    "normalisation": (lambda m: m["skeleton"]["normalization"].update(fps=25.0), "skeleton"),
    "metrics": (lambda m: m["metrics"].update(zsl={"top1": 0.99}), "metrics"),
    "new section": (lambda m: m.update(note="added by hand"), "note"),
    "created": (lambda m: m.update(created_utc="2000-01-01T00:00:00Z"), "created_utc"),
}


@pytest.mark.parametrize("case", sorted(EDITS))
def test_any_edit_of_the_manifest_is_refused_naming_what_changed(bundle_path, case):
    edit, changed = EDITS[case]
    _edit_manifest(bundle_path, edit)
    with pytest.raises(BundleError) as caught:
        load_bundle(bundle_path)
    message = str(caught.value)
    assert message.startswith(str(bundle_path)) and "changed since it was written" in message, message
    assert f"{changed}" in message.split("changed since")[1] or changed in message, message
    load_bundle(bundle_path, verify=False)  # the structural checks alone still pass


def test_new_prototypes_with_a_recomputed_file_checksum_are_refused(bundle_path):
    _rewrite_tables(bundle_path, prototypes=torch.zeros(3, 8))  # also rewrites files[...] in the manifest
    with pytest.raises(BundleError, match=r"changed since it was written.*files"):
        load_bundle(bundle_path)


def test_the_digest_itself_cannot_be_edited_away(bundle_path):
    _edit_manifest(bundle_path, lambda m: m.pop("digest"))
    with pytest.raises(BundleError, match="digest"):
        load_bundle(bundle_path)
    _edit_manifest(bundle_path, lambda m: m.update(digest={"sha256": "0" * 64}))
    with pytest.raises(BundleError, match="digest"):
        load_bundle(bundle_path)


def test_writes_keep_the_digest_right(bundle_path, encoder, vae, class_text):
    add_action(bundle_path, "nod", "the head tips down and up", "agreeing", encoder=encoder)
    load_bundle(bundle_path)
    remove_action(bundle_path, "wave")
    assert load_bundle(bundle_path).class_names == ["sit down", "jump up", "nod"]
    _save(bundle_path, vae, class_text)
    assert load_bundle(bundle_path).classes == _classes()


def _as_version_1(path):
    """What fsvae wrote before the manifest digest: format_version 1, no digest."""
    _edit_manifest(path, lambda m: (m.pop("digest"), m.update(format_version=1)))


def test_version_1_bundles_still_load_and_are_upgraded_without_touching_their_tensors(bundle_path, encoder):
    _as_version_1(bundle_path)
    weights = (bundle_path / "weights.safetensors").read_bytes()
    tables = (bundle_path / "prototypes.safetensors").read_bytes()
    old = load_bundle(bundle_path)
    assert old.manifest["format_version"] == 1 and old.classes == _classes()
    upgrade_bundle(bundle_path)
    new = load_bundle(bundle_path)
    assert new.manifest["format_version"] == FORMAT_VERSION and "digest" in new.manifest
    assert (bundle_path / "weights.safetensors").read_bytes() == weights
    assert (bundle_path / "prototypes.safetensors").read_bytes() == tables
    assert {k: v for k, v in new.manifest.items() if k not in ("digest", "format_version")} == {
        k: v for k, v in old.manifest.items() if k != "format_version"}
    assert _siblings(bundle_path) == []
    # A version-1 bundle that gains an action is written in the current format.
    _as_version_1(bundle_path)
    add_action(bundle_path, "nod", "the head tips down and up", "agreeing", encoder=encoder)
    assert load_bundle(bundle_path).manifest["format_version"] == FORMAT_VERSION


def test_the_shipped_bundle_loads_and_verifies():
    bundle = load_bundle(DEFAULT_BUNDLE)
    assert bundle.manifest["format_version"] in (1, FORMAT_VERSION) and len(bundle.classes) >= 1


# ---------------------------------------------------------------------------------------------
# Interrupted writes are cleaned up by the next one (issue 11, item 7)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_next_write_removes_stale_staging_folders_and_only_those(bundle_path, encoder):
    parent, name = bundle_path.parent, bundle_path.name
    host = bundle_module._HOST_TAG
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        folders = {
            "dead writer": parent / f".{name}.writing-{host}-{_dead_pid()}-abcd1234",
            "dead writer's old bundle": parent / f".{name}.old-{host}-{_dead_pid()}-abcd1234",
            "old, legacy name": parent / f".{name}.writing-zz81kq2",
            "live writer": parent / f".{name}.writing-{host}-{live.pid}-abcd1234",
            "this process": parent / f".{name}.writing-{host}-{os.getpid()}-abcd1234",
            "fresh, legacy name": parent / f".{name}.writing-k2j3h4",
            "another host, fresh": parent / f".{name}.writing-0badc0de-{_dead_pid()}-abcd1234",
            "another bundle": parent / f".other.writing-{host}-{_dead_pid()}-abcd1234",
        }
        for folder in folders.values():
            folder.mkdir()
            (folder / "weights.safetensors").write_bytes(b"partial")
        past = time.time() - STALE_WRITE_AGE_S - 60
        for item in (folders["old, legacy name"], folders["old, legacy name"] / "weights.safetensors"):
            os.utime(item, (past, past))
        add_action(bundle_path, "nod", "the head tips down and up", "agreeing", encoder=encoder)
        gone = {label for label, folder in folders.items() if not folder.exists()}
        assert gone == {"dead writer", "dead writer's old bundle", "old, legacy name"}
        assert load_bundle(bundle_path).class_names[-1] == "nod"
    finally:
        live.kill()
        live.wait()


def test_a_retired_bundle_is_kept_while_the_bundle_itself_is_missing(bundle_path, vae, class_text):
    retired = bundle_path.parent / f".{bundle_path.name}.old-{bundle_module._HOST_TAG}-{_dead_pid()}-abcd1234"
    os.rename(bundle_path, retired)
    _save(bundle_path, vae, class_text)  # the bundle written anew: the one copy of the old one stays
    assert retired.is_dir() and load_bundle(bundle_path).classes == _classes()


# ---------------------------------------------------------------------------------------------
# Names and descriptions (issue 11, item 10)

BAD_TEXTS = {
    "NUL in name": ("name", "wa\x00ve", "U+0000"),
    "override in name": ("name", "\u202eevaw", "U+202E"),
    "newline in name": ("name", "wave\nclap", "U+000A"),
    "isolate in ld": ("ld", "left \u2067arm", "U+2067"),
    "tab in gd": ("gd", "a\tb", "U+0009"),
    "long name": ("name", "n" * 201, "at most 200"),
    "long gd": ("gd", "g" * 4001, "at most 4000"),
}


@pytest.mark.parametrize("case", sorted(BAD_TEXTS))
def test_class_entries_refuse_control_and_invisible_characters(case):
    field, value, problem = BAD_TEXTS[case]
    texts = {"name": "wave", "ld": "a hand swings", "gd": "greeting", field: value}
    with pytest.raises(ValueError) as caught:
        ClassEntry(**texts, seen=True, origin="trained")
    assert f"ClassEntry.{field}" in str(caught.value) and problem in str(caught.value)


@pytest.mark.parametrize("case", sorted(BAD_TEXTS))
def test_add_action_refuses_control_and_invisible_characters(bundle_path, encoder, case):
    field, value, problem = BAD_TEXTS[case]
    texts = {"name": "nod", "ld": "the head tips down and up", "gd": "agreeing", field: value}
    with pytest.raises(BundleError) as caught:
        add_action(bundle_path, texts["name"], texts["ld"], texts["gd"], encoder=encoder)
    assert field in str(caught.value) and problem in str(caught.value)
    assert list_actions(bundle_path) == _classes()


def test_a_hand_edited_name_with_an_override_is_refused_on_load(bundle_path):
    _edit_manifest(bundle_path, _first_class(lambda c: c.update(name="\u202eevaw")))
    with pytest.raises(BundleError, match=r"classes\[0\].*U\+202E"):
        load_bundle(bundle_path, verify=False)


# ---------------------------------------------------------------------------------------------
# The part-aware rule


def _parts_of(i):
    return {part: f"the {part.replace('_', ' ')} does step {i}" for part in PART_NAMES}


@pytest.fixture
def parts_bundle_path(tmp_path, vae, class_text, encoder):
    descriptions = [ActionDescription(a.name, a.ld, a.gd, _parts_of(i)) for i, a in enumerate(ACTIONS)]
    part_text, _ = part_text_embeddings(descriptions, encoder)  # (3, B, 384)
    rng = np.random.default_rng(0)
    aligner = PartAligner(rng.normal(size=(len(PART_NAMES), 16)).astype(np.float32),
                          np.ones((len(PART_NAMES), 16), np.float32),
                          rng.normal(size=(len(PART_NAMES), 16, 384)).astype(np.float32))
    classes = [ClassEntry(d.name, d.ld, d.gd, seen=i < 2, origin="trained", parts=d.parts) for i, d in enumerate(descriptions)]
    return _save(tmp_path / "parts", vae, class_text, classes=classes, part_aligner=aligner, part_weight=0.5,
                 part_text=part_text)


def test_a_bundle_with_the_part_rule_round_trips_its_maps_sentences_and_weight(parts_bundle_path):
    bundle = load_bundle(parts_bundle_path)
    assert bundle.part_weight == 0.5 and bundle.has_parts.tolist() == [True, True, True]
    assert bundle.part_text.shape == (3, len(PART_NAMES), 384)
    assert bundle.part_aligner().weights.shape == (len(PART_NAMES), 16, 384)
    assert dict(bundle.classes[1].parts)["right_arm"] == "the right arm does step 1"
    plain = load_bundle(_save(parts_bundle_path.parent / "plain", bundle.build_vae(), bundle.class_text))
    assert plain.part_weight == 0.0 and plain.part_aligner() is None and plain.part_text is None


def test_actions_added_to_a_part_bundle_carry_their_part_sentences_or_a_zero_row(parts_bundle_path, encoder):
    with_parts = add_action(parts_bundle_path, "clap", "palms meet", "applauding", encoder=encoder, parts=_parts_of(9))
    add_action(parts_bundle_path, "bow", "the torso tips forward", "bowing politely", encoder=encoder)
    bundle = load_bundle(parts_bundle_path)
    assert bundle.has_parts.tolist() == [True, True, True, True, False] and bundle.classes[3] == with_parts
    expected, _ = part_text_embeddings([with_parts.description], encoder)
    np.testing.assert_allclose(bundle.part_text[3].numpy(), expected[0], atol=1e-6)
    assert not bundle.part_text[4].any()
    remove_action(parts_bundle_path, "wave")
    bundle = load_bundle(parts_bundle_path)
    assert bundle.class_names == ["sit down", "jump up", "clap", "bow"]
    np.testing.assert_allclose(bundle.part_text[2].numpy(), expected[0], atol=1e-6)
    with pytest.raises(BundleError, match="left_leg"):
        add_action(parts_bundle_path, "kick", "a leg swings", "kicking", encoder=encoder,
                   parts={k: v for k, v in _parts_of(1).items() if k != "left_leg"})


def test_a_part_bundle_whose_parts_disagree_is_refused(parts_bundle_path, vae, class_text):
    shutil.copytree(parts_bundle_path, parts_bundle_path.parent / "copy")
    copy = parts_bundle_path.parent / "copy"
    _rewrite_tables(copy, part_text=torch.zeros(2, len(PART_NAMES), 384))
    with pytest.raises(BundleError, match="part_text"):
        load_bundle(copy, verify=False)
    with pytest.raises(BundleError, match="together"):
        _save(parts_bundle_path.parent / "half", vae, class_text, part_weight=0.5,
              part_text=np.zeros((3, len(PART_NAMES), 384), np.float32))


def _matcher(encoder, part_text) -> AttributeMatcher:
    measures = np.random.default_rng(2).normal(size=(6, len(ATTRIBUTES)))
    return AttributeMatcher.fit(attribute_directions(encoder), measures, np.asarray(part_text))


def test_a_bundle_with_attribute_scores_round_trips_them_with_or_without_part_scores(parts_bundle_path, encoder):
    bundle = load_bundle(parts_bundle_path)
    matcher = _matcher(encoder, bundle.part_text)
    for part_weight in (0.5, 0.0):
        path = _save(parts_bundle_path.parent / f"attributes-{part_weight}", bundle.build_vae(), bundle.class_text,
                     classes=bundle.classes, part_aligner=bundle.part_aligner() if part_weight else None,
                     part_weight=part_weight,
                     part_text=bundle.part_text, attribute_matcher=matcher, attribute_weight=0.25)
        again = load_bundle(path)
        assert again.part_weight == part_weight and again.attribute_weight == 0.25
        for name in AttributeMatcher.FIELDS:
            np.testing.assert_array_equal(getattr(again.attribute_matcher(), name), getattr(matcher, name))
    assert bundle.attribute_weight == 0.0 and bundle.attribute_matcher() is None


def test_attribute_scores_without_their_weight_or_constants_are_refused(parts_bundle_path, encoder):
    bundle = load_bundle(parts_bundle_path)
    common = dict(classes=bundle.classes, part_aligner=bundle.part_aligner(), part_text=bundle.part_text)
    with pytest.raises(BundleError, match="attribute_weight"):
        _save(parts_bundle_path.parent / "a", bundle.build_vae(), bundle.class_text, part_weight=0.5,
              attribute_matcher=_matcher(encoder, bundle.part_text), **common)
    with pytest.raises(BundleError, match="attribute_weight"):
        _save(parts_bundle_path.parent / "b", bundle.build_vae(), bundle.class_text, part_weight=0.0, **common)
    path = _save(parts_bundle_path.parent / "c", bundle.build_vae(), bundle.class_text, part_weight=0.5,
                 attribute_matcher=_matcher(encoder, bundle.part_text), attribute_weight=0.25, **common)
    weights = path / "weights.safetensors"
    tensors = load_file(str(weights))
    save_file({k: v for k, v in tensors.items() if k != "parts.attributes_text_scale"}, str(weights),
              metadata={"format": "fsvae-bundle"})
    with pytest.raises(BundleError, match="parts"):
        load_bundle(path, verify=False)


def test_a_bundle_fitted_with_fewer_attributes_keeps_them_and_one_naming_an_unknown_attribute_is_refused(
        parts_bundle_path, encoder):
    # What an earlier version wrote: the attributes it knew, in this version's order.
    bundle = load_bundle(parts_bundle_path)
    full = _matcher(encoder, bundle.part_text)
    kept = [a.name for a in ATTRIBUTES][:-3]
    older = AttributeMatcher.from_tensors({name: array[..., :-3] for name, array in full.to_tensors().items()}, kept)
    path = _save(parts_bundle_path.parent / "older", bundle.build_vae(), bundle.class_text, classes=bundle.classes,
                 part_aligner=bundle.part_aligner(), part_weight=0.5, part_text=bundle.part_text,
                 attribute_matcher=older, attribute_weight=0.25)
    again = load_bundle(path).attribute_matcher()
    assert list(again.names) == kept and again.columns.tolist() == list(range(len(kept)))
    _edit_manifest(path, lambda m: m["parts"].update(attributes=kept[:-1] + ["hand_on_hip"]))
    with pytest.raises(BundleError, match="manifest.json parts.attributes .*hand_on_hip"):
        load_bundle(path, verify=False)
