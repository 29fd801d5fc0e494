"""ONNX export (fsvae_core.export): the graph scores windows as PyTorch does, and says what it scores."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from test_inference import BACKBONE, make_bundle, make_parts_bundle, random_window

from fsvae_core import export
from fsvae_core.bundle import load_bundle
from fsvae_core.frequency import FrequencyConfig
from fsvae_core.text import SentenceEncoder
from realtime.inference import Recognizer
from realtime.recognize import default_bundle, model_windows

# A backbone with the temporal frequency module too, so both enhancers become fixed filters.
TEMPORAL = dataclasses.replace(BACKBONE, frequency=FrequencyConfig(placement="temporal", n_bands=4, phi=2))


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return SentenceEncoder(cache_root=tmp_path_factory.mktemp("text-cache"))


@pytest.fixture(scope="module")
def parts_bundle(tmp_path_factory, encoder):
    path, _, _ = make_parts_bundle(tmp_path_factory.mktemp("bundles") / "parts", encoder, backbone=TEMPORAL,
                                   attribute_weight=0.3)
    return path


def windows(recognizer, seeds, persons=1):
    return np.stack([recognizer.prepare(random_window(seed, persons=persons)) for seed in seeds])


def test_the_graph_scores_windows_as_pytorch_does(parts_bundle, encoder, tmp_path):
    recognizer = Recognizer.from_bundle(load_bundle(parts_bundle), device="cpu", encoder=encoder)
    check = export.export_onnx(parts_bundle, tmp_path / "scorer.onnx", windows(recognizer, range(4)))
    assert check.windows == 4 and check.max_difference <= export.MAX_SCORE_DIFFERENCE and check.top1_agrees
    graph = export.OnnxScorer((tmp_path / "scorer.onnx").read_bytes())
    assert graph.inputs == ["windows"]
    # Any batch size, one or two persons (the second slot empty or filled), as the live recognizer scores them.
    for batch in (windows(recognizer, [7]), windows(recognizer, range(10, 15), persons=2),
                  np.concatenate([windows(recognizer, [20]), windows(recognizer, [21], persons=2)])):
        np.testing.assert_allclose(graph.scores(batch), recognizer.scores_prepared(batch), atol=1e-5)


def test_the_metadata_says_which_classes_and_how_to_decide(parts_bundle, encoder, tmp_path):
    recognizer = Recognizer.from_bundle(load_bundle(parts_bundle), device="cpu", encoder=encoder)
    export.export_onnx(parts_bundle, tmp_path / "scorer.onnx", windows(recognizer, range(2)))
    meta = export.read_metadata(tmp_path / "scorer.onnx")
    bundle = load_bundle(parts_bundle)
    assert meta["format"] == export.ONNX_FORMAT and meta["format_version"] == export.ONNX_FORMAT_VERSION
    assert meta["classes"] == [{"name": c.name, "seen": c.seen} for c in bundle.classes]
    assert meta["thresholds"] == bundle.manifest["thresholds"] and meta["skeleton"] == bundle.manifest["skeleton"]


def test_nothing_is_written_when_the_graph_disagrees_with_pytorch(parts_bundle, encoder, tmp_path, monkeypatch):
    recognizer = Recognizer.from_bundle(load_bundle(parts_bundle), device="cpu", encoder=encoder)
    monkeypatch.setattr(export, "MAX_SCORE_DIFFERENCE", -1.0)  # no graph can be that close
    with pytest.raises(export.ExportError, match="not written"):
        export.export_onnx(parts_bundle, tmp_path / "scorer.onnx", windows(recognizer, range(2)))
    assert list(tmp_path.iterdir()) == []


def test_the_graphs_layers_take_their_sizes_as_constants(parts_bundle):
    onnx = pytest.importorskip("onnx")
    scorer, classes = export.scorer_of(load_bundle(parts_bundle))
    graph = onnx.load_from_string(export.onnx_graph(scorer, classes, built_in=False))
    # Only the batch is free; a layer that read its input's shape would make onnxruntime compute its sizes every call.
    assert not [node.name for node in graph.graph.node if node.op_type == "Shape" and "/blocks." in node.name]


def test_the_onnx_runtime_scores_as_torch_and_follows_added_actions(tmp_path, encoder):
    path = make_bundle(tmp_path / "bundle", encoder)
    on_torch = Recognizer.from_bundle(load_bundle(path), device="cpu", encoder=encoder, runtime="torch")
    on_onnx = Recognizer.from_bundle(load_bundle(path), device="cpu", encoder=encoder)
    assert (on_torch.runtime, on_onnx.runtime) == ("torch", "onnx")  # auto means onnx on the CPU
    batch = [random_window(1), random_window(2, persons=2)]
    np.testing.assert_allclose(on_onnx.scores(batch), on_torch.scores(batch), atol=1e-5)
    on_onnx.add_action("clap hands", "both palms meet in front of the chest", "clapping")
    on_torch.reload_classes()
    assert on_onnx.scores(batch).shape == (2, 4)
    np.testing.assert_allclose(on_onnx.scores(batch), on_torch.scores(batch), atol=1e-5)


def test_the_onnx_runtime_is_refused_off_the_cpu(tmp_path, encoder):
    bundle = load_bundle(make_bundle(tmp_path / "bundle", encoder))
    recognizer = Recognizer.from_bundle(bundle, device="cpu", encoder=encoder)
    with pytest.raises(ValueError, match="runs on the CPU"):
        Recognizer(bundle, recognizer.backbone, recognizer.vae, torch.device("meta"), runtime="onnx")
    with pytest.raises(ValueError, match="runtime must be"):
        Recognizer(bundle, recognizer.backbone, recognizer.vae, torch.device("cpu"), runtime="tensorrt")


def test_the_shipped_bundle_exports_and_scores_real_windows_alike(shared_data, tmp_path):
    clip = next((shared_data / "ntu_samples").glob("*.skeleton"), None)
    if clip is None:
        pytest.skip(f"no NTU .skeleton sample in {shared_data / 'ntu_samples'}")
    recognizer = Recognizer.from_bundle(load_bundle(default_bundle()), device="cpu")
    real = model_windows(clip, recognizer)
    check = export.export_onnx(default_bundle(), tmp_path / "shipped.onnx", real)
    assert check.windows == len(real) >= 1 and check.max_difference <= 1e-4 and check.top1_agrees
