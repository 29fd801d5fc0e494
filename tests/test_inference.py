"""The inference side of the live recognizer: scores, decisions, smoothing, actions changed by text,
and the socket loop surviving bad input.

The bundle is small but real: a random-initialised NTU25 graph network and
FS-VAE, and three classes whose class vectors are real MiniLM embeddings, so
adding an action by text runs the real text path. Helpers here are reused by
tests/test_live.py.
"""

from __future__ import annotations

import dataclasses

import json
import os
import shutil
import threading
import time

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from calibration.normalize import NormalizationConfig
from calibration.windows import WindowSpec
from fsvae_core.backbone import BackboneConfig, build_backbone
from fsvae_core.bundle import BundleError, ClassEntry, TextSpec, Thresholds, list_actions, load_bundle, save_bundle
from fsvae_core.decision import window_motion
from fsvae_core.descriptions import ActionDescription
from fsvae_core.frequency import FrequencyConfig
from fsvae_core.model import FSVAE, VAEConfig
from fsvae_core.settings import config_to_dict
from fsvae_core.text import TEXT_PARTS, SentenceEncoder, class_embeddings
from realtime.inference import InferenceStats, Recognizer, RecognizerConfig, WindowRejected, run_inference
from realtime.inference import main as inference_main
from realtime.messages import LabelEvent, LogEvent, NoPerson, SkeletonWindow, now_ms, skeleton_topics
from realtime.transport import ControlClient, ControlServer, LatestWinsPublisher, LatestWinsSubscriber
from ports import free_endpoint as endpoint
from ports import free_port

WINDOW_FRAMES = 16
FPS = 10.0
BACKBONE = BackboneConfig(max_persons=2, window_frames=WINDOW_FRAMES, channels=(8, 16), temporal_kernel=3,
                          dropout=0.0, feature_dim=16)  # fmt: skip
VAE = VAEConfig(skeleton_dim=16, text_dim=1152, latent_dim=8,
                skeleton_frequency=FrequencyConfig(n_bands=4, phi=4),
                text_frequency=FrequencyConfig(n_bands=4, phi=4))  # fmt: skip
ACTIONS = [
    ActionDescription("wave", "one hand swings side to side above the shoulder", "greeting someone from afar"),
    ActionDescription("sit down", "knees bend and the hips lower onto a seat", "taking a seat on a chair"),
    ActionDescription("jump up", "both legs push off and the body leaves the floor", "jumping in place"),
]


def make_bundle(path: Path, encoder: SentenceEncoder, unknown: float = -1.0, gamma: float = 0.05,
                backbone: BackboneConfig = BACKBONE, vae_config: VAEConfig = VAE,
                unknown_text: float | None = None, text_parts: tuple[str, ...] = TEXT_PARTS) -> Path:  # fmt: skip
    """Save a bundle with random weights at ``path``; ``unknown`` (``unknown_text``) is the unknown threshold
    of trained (text-only) classes. The first two of ACTIONS are trained, the third is text-only."""
    torch.manual_seed(0)
    gcn = build_backbone(backbone, n_classes=2).eval()
    class_text = torch.from_numpy(class_embeddings(ACTIONS, encoder, text_parts))  # (3, 384 per text part)
    vae = FSVAE(dataclasses.replace(vae_config, text_dim=class_text.shape[1])).eval()
    classes = [ClassEntry(a.name, a.ld, a.gd, seen=i < 2, origin="trained") for i, a in enumerate(ACTIONS)]
    return save_bundle(
        path, vae=vae, classes=classes, class_text=class_text,
        skeleton=WindowSpec(frames=backbone.window_frames, fps=FPS, max_persons=backbone.max_persons,
                            normalization=NormalizationConfig(fps=FPS)),
        text=TextSpec(parts=text_parts), thresholds=Thresholds(unknown=unknown, gzsl_gamma=gamma, unknown_text=unknown_text),
        backbone_config=config_to_dict(backbone), backbone_state=gcn.state_dict(),
    )  # fmt: skip


def random_window(seed: int, frames: int = WINDOW_FRAMES, persons: int = 1) -> np.ndarray:
    """A (T, M, 25, 3) float32 window of smooth random motion."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(1, persons, 25, 3))
    drift = np.cumsum(rng.normal(scale=0.05, size=(frames, persons, 25, 3)), axis=0)
    return (base + drift).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return SentenceEncoder(cache_root=tmp_path_factory.mktemp("text-cache"))


@pytest.fixture(scope="module")
def bundle_dir(tmp_path_factory, encoder):
    return make_bundle(tmp_path_factory.mktemp("bundles") / "bundle", encoder)


@pytest.fixture(scope="module")
def recognizer(bundle_dir, encoder):
    return Recognizer.from_bundle(load_bundle(bundle_dir), device="cpu", encoder=encoder)


@pytest.fixture
def fresh_bundle(tmp_path, bundle_dir):
    """A private copy of the bundle, for tests that change its actions."""
    target = tmp_path / "bundle"
    shutil.copytree(bundle_dir, target)
    return target


# ---------------------------------------------------------------------------------------------
# Recognizer: pure logic


def test_the_shipped_scorer_runs_wholly_on_the_windows_device():
    # The meta device stands in for CUDA here: any tensor the scorer makes on the CPU is an error there.
    from fsvae_core.scorer import ClassTensors, WindowScorer

    bundle = load_bundle(Path(__file__).resolve().parents[1] / "fsvae_core" / "default_bundle")
    scorer = WindowScorer.for_bundle(bundle, bundle.build_backbone(), bundle.build_vae()).to("meta")
    assert scorer.has_parts and scorer.has_attributes
    windows = torch.zeros(3, scorer.backbone.config.max_persons, bundle.window_frames, 25, 3, device="meta")
    scores = scorer(windows, *ClassTensors.of_bundle(bundle, torch.device("meta")).tensors())
    assert scores.device.type == "meta" and scores.shape == (3, len(bundle.classes))


def test_scores_shape_and_topk_order(recognizer):
    windows = np.stack([random_window(seed) for seed in range(4)])  # (N, T, M, V, 3)
    scores = recognizer.scores(windows)
    assert scores.shape == (4, 3) and scores.dtype == np.float32
    assert np.all(scores <= 1.0 + 1e-5) and np.all(scores >= -1.0 - recognizer.rule.gamma - 1e-5)
    recognizer.reset()
    decision = recognizer.decide("cam0", scores[0])
    assert [entry.label for entry in decision.topk] == [recognizer.names[k] for k in np.argsort(-scores[0])]
    assert decision.label == decision.topk[0].label and decision.score == pytest.approx(float(scores[0].max()))
    assert decision.seen == recognizer.seen[int(np.argmax(scores[0]))]


def test_seen_classes_pay_gzsl_gamma(recognizer):
    # The same window scored with gamma 0 differs by exactly gamma on seen classes.
    window = random_window(3)
    with_gamma = recognizer.scores([window])[0]
    classes = recognizer.class_tensors
    recognizer.class_tensors = dataclasses.replace(classes, penalty=classes.penalty * 0)
    try:
        without = recognizer.scores([window])[0]
    finally:
        recognizer.class_tensors = classes
    np.testing.assert_allclose(without - with_gamma, recognizer.seen * recognizer.rule.gamma, atol=1e-6)


def test_a_shown_action_pays_half_the_trained_penalty_and_a_text_one_none(fresh_bundle, encoder):
    from fsvae_core.bundle import SHOWN_PENALTY, add_action

    shown = np.stack([Recognizer.from_bundle(load_bundle(fresh_bundle), device="cpu").prepare(random_window(71))])
    add_action(fresh_bundle, "stretch", "the arms reach out", "stretching", encoder=encoder, examples=[shown])
    recognizer = Recognizer.from_bundle(load_bundle(fresh_bundle), device="cpu", encoder=encoder)
    assert SHOWN_PENALTY == 0.5 and recognizer.penalty.tolist() == [1.0, 1.0, 0.0, 0.5]  # trained, trained, text, shown
    np.testing.assert_allclose(recognizer.class_tensors.penalty.numpy(), recognizer.penalty * recognizer.rule.gamma)


def make_parts_bundle(path: Path, encoder: SentenceEncoder, part_weight: float = 0.7,
                      backbone: BackboneConfig = BACKBONE, attribute_weight: float = 0.0,
                      attributes: int | None = None) -> tuple[Path, object, np.ndarray]:
    """:func:`make_bundle` with the part-aware rule: random part maps, part sentences for every class,
    and with ``attribute_weight`` > 0 the attribute scores, standardised on random windows (only the
    first ``attributes`` of them, as an earlier version fitted, when given).

    Returns the bundle path, its PartAligner and its part_text (K, B, D)."""
    from fsvae_core.attributes import AttributeMatcher, attribute_directions, measure_windows
    from fsvae_core.descriptions import PART_NAMES
    from fsvae_core.parts import PartAligner, part_text_embeddings

    plain = load_bundle(make_bundle(path.with_name(path.name + "-plain"), encoder, backbone=backbone))
    described = [ActionDescription(a.name, a.ld, a.gd, {p: f"the {p} moves like {a.name}" for p in PART_NAMES})
                 for a in ACTIONS]
    part_text, _ = part_text_embeddings(described, encoder)
    rng = np.random.default_rng(0)
    width = backbone.channels[-1]
    aligner = PartAligner(rng.normal(size=(len(PART_NAMES), width)).astype(np.float32),
                          np.ones((len(PART_NAMES), width), np.float32),
                          rng.normal(size=(len(PART_NAMES), width, 384)).astype(np.float32))
    classes = [ClassEntry(a.name, a.ld, a.gd, seen=c.seen, origin="trained", parts=a.parts)
               for a, c in zip(described, plain.classes)]
    matcher = None
    if attribute_weight > 0:
        reference = np.stack([random_window(i).transpose(1, 0, 2, 3) for i in range(8)])  # (N, M, T, V, 3)
        matcher = AttributeMatcher.fit(attribute_directions(encoder), measure_windows(reference), part_text)
        if attributes is not None:
            matcher = AttributeMatcher.from_tensors({k: v[..., :attributes] for k, v in matcher.to_tensors().items()},
                                                    matcher.names[:attributes])
    save_bundle(
        path, vae=plain.build_vae(), classes=classes, class_text=plain.class_text, skeleton=plain.skeleton,
        text=plain.text, thresholds=plain.thresholds, backbone_config=plain.backbone_config,
        backbone_state=plain.backbone_state, part_aligner=aligner if part_weight > 0 else None,
        part_weight=part_weight, part_text=part_text,
        attribute_matcher=matcher, attribute_weight=attribute_weight,
    )  # fmt: skip
    return path, aligner, part_text


def test_a_bundle_with_the_part_rule_adds_its_weighted_part_scores(encoder, tmp_path):
    parts_path, aligner, part_text = make_parts_bundle(tmp_path / "parts", encoder, part_weight=0.7)
    plain = load_bundle(tmp_path / "parts-plain")
    with_parts = Recognizer.from_bundle(load_bundle(parts_path), device="cpu", encoder=encoder)
    without = Recognizer.from_bundle(plain, device="cpu", encoder=encoder)
    window = random_window(4)
    batch = np.stack([with_parts.prepare(window)])
    with torch.no_grad():
        _, parts = with_parts.backbone.features_and_parts(torch.from_numpy(batch))
    expected = without.scores_prepared(batch) + 0.7 * aligner.scores(parts.numpy(), part_text, np.ones(3, bool))
    np.testing.assert_allclose(with_parts.scores_prepared(batch), expected, atol=1e-4)


@pytest.mark.parametrize("attributes", [None, 21], ids=["all", "an earlier version's 21"])
def test_a_bundle_with_attribute_scores_adds_them_weighted_even_without_part_scores(encoder, tmp_path, attributes):
    from fsvae_core.attributes import ATTRIBUTES, measure

    path, _, part_text = make_parts_bundle(tmp_path / "attributes", encoder, part_weight=0.0, attribute_weight=0.4,
                                           attributes=attributes)
    bundle = load_bundle(path)
    assert len(bundle.manifest["parts"]["attributes"]) == (attributes or len(ATTRIBUTES))
    with_attributes = Recognizer.from_bundle(bundle, device="cpu", encoder=encoder)
    without = Recognizer.from_bundle(load_bundle(tmp_path / "attributes-plain"), device="cpu", encoder=encoder)
    batch = np.stack([with_attributes.prepare(random_window(i)) for i in (4, 5)])
    attribute = bundle.attribute_matcher().scores(measure(torch.from_numpy(batch)).numpy(), part_text, np.ones(3, bool))
    expected = without.scores_prepared(batch) + 0.4 * attribute
    np.testing.assert_allclose(with_attributes.scores_prepared(batch), expected, atol=1e-4)
    assert np.abs(attribute).max() > 0.01  # the term is not vanishing


def test_windows_of_other_lengths_and_person_counts(recognizer):
    long_two = random_window(1, frames=WINDOW_FRAMES + 9, persons=2)
    three = random_window(2, persons=3)
    scores = recognizer.scores([long_two, three, random_window(4)])
    assert scores.shape == (3, 3)
    # A longer window is scored on its newest frames.
    np.testing.assert_allclose(recognizer.scores([long_two])[0], recognizer.scores([long_two[-WINDOW_FRAMES:]])[0],
                               atol=1e-5)  # fmt: skip
    with pytest.raises(WindowRejected, match="frames"):
        recognizer.prepare(random_window(5, frames=WINDOW_FRAMES - 1))
    with pytest.raises(WindowRejected, match="V=25"):
        recognizer.prepare(np.zeros((WINDOW_FRAMES, 1, 20, 3), dtype=np.float32))


def test_unknown_below_threshold(bundle_dir, encoder, tmp_path):
    path = make_bundle(tmp_path / "strict", encoder, unknown=1.5)  # no cosine reaches 1.5
    strict = Recognizer.from_bundle(load_bundle(path), device="cpu", encoder=encoder)
    decision = strict.decide("cam0", strict.scores([random_window(0)])[0])
    assert decision.unknown and decision.label == "unknown" and decision.seen is None
    assert len(decision.topk) == 3 and decision.score == decision.topk[0].score


def test_text_only_classes_are_decided_at_their_own_lower_threshold(encoder, tmp_path):
    path = make_bundle(tmp_path / "two-thresholds", encoder, unknown=0.6, gamma=0.0, unknown_text=0.3)
    recognizer = Recognizer.from_bundle(load_bundle(path), device="cpu", encoder=encoder)
    text_best = recognizer.decide("a", np.array([0.2, 0.1, 0.4]))  # "jump up" is text-only
    assert not text_best.unknown and text_best.label == "jump up" and text_best.seen is False
    trained_best = recognizer.decide("b", np.array([0.5, 0.1, 0.4]))  # trained "wave" below 0.6
    assert trained_best.unknown
    added = recognizer.add_action("clap", "both palms meet in front of the chest", "applauding")
    assert added.seen is False
    clap = recognizer.decide("c", np.array([0.1, 0.1, 0.1, 0.35]))
    assert clap.label == "clap" and not clap.unknown


def test_a_lead_bundle_decides_text_classes_by_their_lead(encoder, tmp_path):
    path = save_bundle_with(make_bundle(tmp_path / "plain", encoder, unknown=0.6, gamma=0.0, unknown_text=0.3),
                            tmp_path / "lead", Thresholds(unknown=0.6, gzsl_gamma=0.0, unknown_text=1.0, text_by="lead"))
    recognizer = Recognizer.from_bundle(load_bundle(path), device="cpu", encoder=encoder)
    assert recognizer.decide("a", np.array([0.0, 0.05, 0.2])).label == "jump up"  # low, but 1.7 deviations ahead
    assert recognizer.decide("b", np.array([0.0, 0.55, 0.6])).unknown  # high, but 0.18 deviations ahead
    assert recognizer.decide("c", np.array([0.65, 0.1, 0.6])).label == "wave"  # trained: its own threshold


def save_bundle_with(source: Path, path: Path, thresholds: Thresholds) -> Path:
    """A copy of the bundle at ``source`` with other decision constants."""
    bundle = load_bundle(source)
    return save_bundle(path, vae=bundle.build_vae(), classes=bundle.classes, class_text=bundle.class_text,
                       skeleton=bundle.skeleton, text=bundle.text, thresholds=thresholds,
                       backbone_config=bundle.backbone_config, backbone_state=bundle.backbone_state)


def test_smoothing_damps_a_one_window_flip(recognizer):
    recognizer.reset()
    steady = np.array([0.8, 0.1, 0.1])
    flip = np.array([0.1, 0.7, 0.1])
    for i in range(5):
        assert recognizer.decide("cam0", steady, timestamp_ms=1000.0 + 100 * i).label == "wave"
    assert recognizer.decide("cam0", flip, timestamp_ms=1500.0).label == "wave"  # one odd window: held
    # Other sources have their own history, and a flip that persists wins.
    assert recognizer.decide("cam1", flip, timestamp_ms=1500.0).label == "sit down"
    labels = [recognizer.decide("cam0", flip, timestamp_ms=1600.0 + 100 * i).label for i in range(4)]
    assert labels[-1] == "sit down"
    # A long silence forgets the history.
    assert recognizer.decide("cam0", steady, timestamp_ms=1e7).label == "wave"
    recognizer.reset()


def test_a_still_window_clears_the_smoothing_instead_of_entering_it(bundle_dir, encoder, tmp_path):
    path = save_bundle_with(bundle_dir, tmp_path / "still", Thresholds(unknown=-1.0, gzsl_gamma=0.05, still_below=0.1))
    recognizer = Recognizer.from_bundle(load_bundle(path), device="cpu", encoder=encoder)
    held = np.array([1.0, 0.0, 0.0])  # a held pose scores as the start of some action ("wave" here)
    for i in range(3):
        standing = recognizer.decide("cam0", held, timestamp_ms=1000.0 + 250 * i, motion=0.02)
        assert standing.still and standing.unknown and standing.topk == () and standing.score == 0
    moving = recognizer.decide("cam0", np.array([0.0, 0.6, 0.0]), timestamp_ms=1750.0, motion=0.5)
    assert moving.label == "sit down" and moving.score == pytest.approx(0.6)  # nothing of the held pose in it
    # Without the check (no motion given) the same windows average as before.
    for i in range(3):
        recognizer.decide("cam1", held, timestamp_ms=1000.0 + 250 * i)
    assert recognizer.decide("cam1", np.array([0.0, 0.6, 0.0]), timestamp_ms=1750.0).label == "wave"


def test_smoothing_off_follows_every_window(bundle_dir, encoder):
    instant = Recognizer.from_bundle(load_bundle(bundle_dir), device="cpu", encoder=encoder,
                                     config=RecognizerConfig(smoothing=1.0))  # fmt: skip
    instant.decide("cam0", np.array([0.8, 0.1, 0.1]))
    assert instant.decide("cam0", np.array([0.1, 0.7, 0.1])).label == "sit down"
    with pytest.raises(ValueError, match="smoothing"):
        RecognizerConfig(smoothing=0.0)


def test_added_action_is_scored_next_window_and_persisted(fresh_bundle, encoder):
    recognizer = Recognizer.from_bundle(load_bundle(fresh_bundle), device="cpu", encoder=encoder,
                                        config=RecognizerConfig(top_k=10))  # fmt: skip
    window = random_window(7)
    recognizer.decide("cam0", recognizer.scores([window])[0])  # history before the change
    entry = recognizer.add_action("clap hands", "both palms meet in front of the chest repeatedly", "applauding")
    assert entry.name == "clap hands" and not entry.seen
    scores = recognizer.scores([window])[0]
    assert scores.shape == (4,)
    decision = recognizer.decide("cam0", scores)
    ranked = {item.label: item for item in decision.topk}
    assert "clap hands" in ranked and ranked["clap hands"].seen is False
    assert ranked["clap hands"].score == pytest.approx(float(scores[3]))  # a new class enters with its fresh score
    assert [(a.name, a.added) for a in recognizer.actions()][-2:] == [("jump up", False), ("clap hands", True)]
    assert [c.name for c in list_actions(fresh_bundle)] == ["wave", "sit down", "jump up", "clap hands"]
    # The prototype in memory is the one on disk.
    reloaded = load_bundle(fresh_bundle)
    torch.testing.assert_close(recognizer.class_tensors.prototypes.cpu(), torch.nn.functional.normalize(reloaded.prototypes, dim=1))
    with pytest.raises(BundleError, match="already"):
        recognizer.add_action("Clap Hands", "x", "y")

    removed = recognizer.remove_action("wave")
    assert removed.name == "wave"
    assert [a.name for a in recognizer.actions()] == ["sit down", "jump up", "clap hands"]
    assert recognizer.scores([window]).shape == (1, 3)
    assert "wave" not in {item.label for item in recognizer.decide("cam0", recognizer.scores([window])[0]).topk}
    assert [c.name for c in list_actions(fresh_bundle)] == ["sit down", "jump up", "clap hands"]
    with pytest.raises(BundleError, match="no action"):
        recognizer.remove_action("wave")


def test_vae_only_bundle_is_refused_by_name(tmp_path, bundle_dir):
    bundle = load_bundle(bundle_dir)
    bundle.backbone_config = None
    bundle.backbone_state = None
    with pytest.raises(BundleError, match="no backbone"):
        Recognizer.from_bundle(bundle, device="cpu")


def test_stats_quantiles():
    stats = InferenceStats()
    assert stats.latency_p50_ms is None and stats.to_dict()["latency_p99_ms"] is None
    stats.latencies_ms.extend(range(1, 101))
    stats.batch_sizes.extend([1, 3])
    assert stats.latency_p50_ms == pytest.approx(50.5)
    assert stats.latency_p99_ms == pytest.approx(99.01)
    assert stats.to_dict()["batch_mean"] == 2 and json.dumps(stats.to_dict())


# ---------------------------------------------------------------------------------------------
# run_inference over real sockets


class Harness:
    """run_inference in a thread, with a capture-like publisher and a label subscriber."""

    def __init__(self, recognizer, max_batch=8):
        self.windows_ep, self.labels_ep, self.control_ep = endpoint(), endpoint(), endpoint()
        self.windows_pub = LatestWinsPublisher(self.windows_ep, hwm=1000)
        self.stats = InferenceStats()
        self.stop = threading.Event()
        self.ready = threading.Event()
        self.recognizer = recognizer
        self.max_batch = max_batch
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.labels = LatestWinsSubscriber(self.labels_ep, topics=("action.label", "log."), hwm=1000)
        self.seq: dict[str, int] = {}

    def _run(self):
        try:
            with (
                LatestWinsSubscriber(self.windows_ep, topics=skeleton_topics()) as sub,
                LatestWinsPublisher(self.labels_ep, hwm=1000) as pub,
                ControlServer(self.control_ep) as control,
            ):
                self.ready.set()
                run_inference(self.recognizer, sub, pub, control, stop_event=self.stop, max_batch=self.max_batch,
                              stats=self.stats)  # fmt: skip
        except BaseException as error:  # noqa: BLE001
            self.error = error
            self.ready.set()

    def __enter__(self):
        self.thread.start()
        assert self.ready.wait(10)
        self._handshake()
        return self

    def _handshake(self):
        # PUB/SUB joins take a moment; probe with no-person notices until a label comes back.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            self.send_no_person("probe")
            event = self.labels.receive(timeout_ms=100)
            if isinstance(event, LabelEvent):
                while self.labels.receive(timeout_ms=100) is not None:
                    pass
                return
        raise AssertionError(f"the inference loop never answered (error: {self.error})")

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(10)
        self.windows_pub.close()
        self.labels.close()
        assert self.error is None, self.error

    def _next(self, source):
        seq = self.seq.get(source, 0)
        self.seq[source] = seq + 1
        return seq

    def send_window(self, source, joints, capture_ms=None):
        message = SkeletonWindow(seq=self._next(source), source_id=source, fps=FPS, joints=joints,
                                 capture_timestamp_ms=now_ms() if capture_ms is None else capture_ms)  # fmt: skip
        assert self.windows_pub.publish(message)
        return message

    def send_no_person(self, source):
        self.windows_pub.publish(NoPerson(seq=self._next(source), source_id=source, capture_timestamp_ms=now_ms()))

    def events(self, count, timeout_s=10.0, kind=LabelEvent, source=None):
        found = []
        deadline = time.monotonic() + timeout_s
        while len(found) < count and time.monotonic() < deadline:
            event = self.labels.receive(timeout_ms=100)
            if isinstance(event, kind) and (source is None or getattr(event, "source_id", None) == source):
                found.append(event)
        return found


def test_windows_become_label_events(recognizer):
    recognizer.reset()
    with Harness(recognizer) as harness:
        sent = []
        for i in range(3):
            sent.append(harness.send_window("cam0", random_window(i)))
            time.sleep(0.15)  # slower than inference, so none is stale
        events = harness.events(3, source="cam0")
    assert len(events) == 3
    for event in events:
        assert event.status == "ok" and event.source_id == "cam0"
        assert event.label in recognizer.names and not event.unknown and event.seen is not None
        assert 1 <= len(event.topk) <= 3 and event.topk[0].label == event.label
        assert event.capture_timestamp_ms in [m.capture_timestamp_ms for m in sent]
        assert 0 <= event.latency_ms < 5000
        assert event.latency_ms == pytest.approx(event.publish_timestamp_ms - event.capture_timestamp_ms)
    assert [e.seq for e in events] == [0, 1, 2]
    assert harness.stats.decisions >= 3 and harness.stats.latency_p50_ms is not None


def test_no_person_and_short_window_get_no_decision(recognizer):
    with Harness(recognizer) as harness:
        harness.send_no_person("cam0")
        (nobody,) = harness.events(1, source="cam0")
        harness.send_window("cam0", random_window(0, frames=WINDOW_FRAMES - 4))
        (filling,) = harness.events(1, source="cam0")
    assert nobody.status == "no_person" and nobody.label == "unknown" and nobody.score == 0 and nobody.topk == ()
    assert filling.status == "warming_up" and filling.topk == ()


def still_check_recognizer(encoder, tmp_path) -> tuple[Recognizer, np.ndarray]:
    """A recognizer whose bundle takes a window moving less than 0.1 for still, and a held pose (T, 1, 25, 3)
    with 1 cm of jitter."""
    path = save_bundle_with(make_bundle(tmp_path / "plain", encoder), tmp_path / "still",
                            Thresholds(unknown=-1.0, gzsl_gamma=0.05, still_below=0.1))
    rng = np.random.default_rng(0)
    still = (rng.normal(size=(1, 1, 25, 3)) + rng.normal(scale=0.01, size=(WINDOW_FRAMES, 1, 25, 3))).astype(np.float32)
    return Recognizer.from_bundle(load_bundle(path), device="cpu", encoder=encoder), still


def test_a_body_standing_still_is_answered_still_and_a_moving_one_is_named(encoder, tmp_path):
    recognizer, still = still_check_recognizer(encoder, tmp_path)
    moving = random_window(1)
    assert window_motion(recognizer.prepare(still)[None])[0] < 0.1 < window_motion(recognizer.prepare(moving)[None])[0]
    with Harness(recognizer) as harness:
        harness.send_window("cam0", still)
        (standing,) = harness.events(1, source="cam0")
        time.sleep(0.15)
        harness.send_window("cam0", moving)
        (acting,) = harness.events(1, source="cam0")
    assert standing.status == "still" and standing.unknown and standing.topk == () and standing.score == 0
    assert acting.status == "ok" and not acting.unknown and acting.label in recognizer.names
    assert harness.stats.still == 1 and harness.stats.decisions == 1 and len(harness.stats.latencies_ms) == 2


def test_a_still_window_is_not_scored_and_a_moving_one_scores_as_alone(encoder, tmp_path):
    recognizer, still = still_check_recognizer(encoder, tmp_path)
    batch = np.stack([recognizer.prepare(still), recognizer.prepare(random_window(1))])
    scores, motion = recognizer.scores_and_motion(batch)
    np.testing.assert_array_equal(motion, window_motion(batch))
    assert not scores[0].any()  # decide answers it still without reading it
    np.testing.assert_allclose(scores[1], recognizer.scores_prepared(batch[1:])[0], atol=1e-5)


def test_bad_input_is_counted_and_the_loop_lives_on(recognizer):
    with Harness(recognizer) as harness:
        sock = harness.windows_pub.socket
        sock.send_multipart([b"skeleton.window.cam0", os.urandom(64)])  # random bytes as a header
        sock.send_multipart([os.urandom(32)])
        good = SkeletonWindow(seq=0, source_id="cam0", fps=FPS, joints=random_window(1), capture_timestamp_ms=now_ms())
        topic, header, data = good.to_frames()
        sock.send_multipart([topic, header, data[:-12]])  # the header's shape disagrees with the buffer
        # Well-formed but the wrong layout for this model: 20 joints.
        harness.windows_pub.publish(SkeletonWindow(seq=1, source_id="cam9", fps=FPS, layout="kinect_v1",
                                                   joints=np.ones((WINDOW_FRAMES, 1, 20, 3), np.float32),
                                                   capture_timestamp_ms=now_ms()))  # fmt: skip
        logs = harness.events(2, kind=LogEvent, timeout_s=5)
        time.sleep(0.2)
        harness.send_window("cam0", random_window(2))
        (after,) = harness.events(1, source="cam0")
    assert after.status == "ok"
    assert harness.stats.malformed == 2  # one-frame message and truncated array; the random header is malformed too
    assert harness.stats.rejected == 1
    assert any("malformed" in log.text for log in logs) and any("rejected" in log.text for log in logs)


def test_several_sources_are_batched(recognizer, monkeypatch):
    # Windows of several sources that wait while a forward pass runs go through the next one together.
    original = Recognizer.scores_prepared

    def slow(self, batch):
        time.sleep(0.2)
        return original(self, batch)

    monkeypatch.setattr(Recognizer, "scores_prepared", slow)
    with Harness(recognizer) as harness:
        for i, source in enumerate(("camA", "camB", "camC")):
            harness.send_window(source, random_window(i))
        events = harness.events(3)
    assert {e.source_id for e in events} == {"camA", "camB", "camC"}
    assert max(harness.stats.batch_sizes) >= 2


def _wait_for_actions(control, predicate, timeout_s=60.0):
    """The action names once ``predicate(names)`` holds (changes are applied in the background)."""
    deadline = time.monotonic() + timeout_s
    while True:
        names = [a.name for a in control.call("list").actions]
        if predicate(names) or time.monotonic() > deadline:
            return names
        time.sleep(0.05)


def test_control_list_add_remove_status(fresh_bundle, encoder):
    recognizer = Recognizer.from_bundle(load_bundle(fresh_bundle), device="cpu", encoder=encoder,
                                        config=RecognizerConfig(top_k=10))  # fmt: skip
    with Harness(recognizer) as harness, ControlClient(harness.control_ep) as control:
        assert [a.name for a in control.call("list").actions] == ["wave", "sit down", "jump up"]
        reply = control.call("add", name="juggle", ld="hands toss and catch balls in turn", gd="juggling")
        assert reply.ok and reply.status["accepted"] == "add 'juggle'"
        duplicate = control.call("add", name="Juggle", ld="x", gd="y")  # already accepted, maybe not yet applied
        assert not duplicate.ok and "already" in duplicate.error
        reserved = control.call("add", name="Unknown", ld="x", gd="y")  # the label of no decision
        assert not reserved.ok and "'unknown' is reserved for undecided labels" in reserved.error
        assert _wait_for_actions(control, lambda names: "juggle" in names)[-1] == "juggle"
        harness.send_window("cam0", random_window(3))
        (event,) = harness.events(1, source="cam0")
        assert "juggle" in {item.label for item in event.topk}
        assert control.call("remove", name="sit down").ok
        missing = control.call("remove", name="no such thing")
        assert not missing.ok and "no action" in missing.error
        assert _wait_for_actions(control, lambda names: "sit down" not in names) == ["wave", "jump up", "juggle"]
        status = control.call("status").status
        assert status["classes"] == 3 and status["device"] == "cpu" and status["decisions"] >= 1
        assert status["pending_changes"] == [] and status["failed_changes"] == []
        assert status["control_socket"]["served"] >= 1 and status["control_socket"]["malformed"] == 0
    assert [c.name for c in list_actions(fresh_bundle)] == ["wave", "jump up", "juggle"]


def test_control_add_carries_the_part_sentences_into_the_bundle(fresh_bundle, encoder):
    from fsvae_core.descriptions import PART_NAMES

    recognizer = Recognizer.from_bundle(load_bundle(fresh_bundle), device="cpu", encoder=encoder)
    parts = {part: f"the {part} keeps time" for part in PART_NAMES}
    with Harness(recognizer) as harness, ControlClient(harness.control_ep) as control:
        assert control.call("add", name="march", ld="knees lift in turn", gd="marching", parts=parts).ok
        refused = control.call("add", name="stomp", ld="a foot stamps", gd="stomping", parts={"head": "still"})
        assert not refused.ok and "lacks" in refused.error  # all six or none, said at once
        _wait_for_actions(control, lambda names: "march" in names)
    assert dict(list_actions(fresh_bundle)[-1].parts) == parts


def test_windows_with_a_forged_capture_time_are_dropped_and_kept_out_of_the_latency(recognizer):
    with Harness(recognizer) as harness:
        harness.send_window("cam0", random_window(1), capture_ms=now_ms() - 1e12)  # 1970
        harness.send_window("cam0", random_window(2), capture_ms=now_ms() + 1e9)  # weeks ahead
        harness.send_window("cam0", random_window(3))
        (event,) = harness.events(1, source="cam0")
        assert event.status == "ok" and event.latency_ms < 60_000
        assert harness.stats.implausible == 2 and harness.stats.latency_p99_ms < 60_000


class SlowEncoder(SentenceEncoder):
    """The real encoder, taking ``delay_s`` longer per call, as a text model loading or a busy CPU would."""

    def __init__(self, encoder, delay_s):
        super().__init__(encoder.config, cache_root=encoder._cache.parent)
        self._model = encoder._model
        self.delay_s = delay_s

    def encode(self, texts):
        time.sleep(self.delay_s)
        return super().encode(texts)


def test_adding_an_action_never_stalls_the_windows_and_is_answered_at_once(fresh_bundle, encoder):
    recognizer = Recognizer.from_bundle(load_bundle(fresh_bundle), device="cpu", encoder=SlowEncoder(encoder, 3.0),
                                        config=RecognizerConfig(top_k=10))  # fmt: skip
    with Harness(recognizer) as harness, ControlClient(harness.control_ep) as control:  # the default timeout
        stop = threading.Event()

        def feed():
            seed = 0
            while not stop.is_set():
                harness.send_window("cam0", random_window(seed % 7))
                seed += 1
                time.sleep(0.1)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            assert harness.events(1, source="cam0")
            reply = control.call("add", name="juggle", ld="hands toss and catch balls in turn", gd="juggling")
            assert reply.ok and reply.status["pending"] == ["add 'juggle'"]
            before = []  # labels published while the text was being embedded
            while True:
                events = harness.events(1, source="cam0", timeout_s=30)
                assert events, "labels stopped"
                if "juggle" in {item.label for item in events[0].topk}:
                    break
                before.append(events[0])
        finally:
            stop.set()
            feeder.join(5)
    assert len(before) >= 5  # windows went on being labelled for the 3 s the add took
    assert [c.name for c in list_actions(fresh_bundle)][-1] == "juggle"


def test_a_burst_of_concurrent_adds_is_answered_within_the_default_timeout(fresh_bundle, encoder):
    recognizer = Recognizer.from_bundle(load_bundle(fresh_bundle), device="cpu", encoder=SlowEncoder(encoder, 0.3))
    names = [f"action {i}" for i in range(12)]
    with Harness(recognizer) as harness:
        replies = {}

        def add(name):
            with ControlClient(harness.control_ep) as control:  # the default timeout
                try:
                    replies[name] = control.call("add", name=name, ld=f"the body does {name}", gd=name)
                except TimeoutError as error:
                    replies[name] = error

        threads = [threading.Thread(target=add, args=(name,)) for name in names]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert all(getattr(reply, "ok", False) for reply in replies.values()), replies
        with ControlClient(harness.control_ep) as control:
            final = _wait_for_actions(control, lambda now: set(names) <= set(now), timeout_s=120)
            assert set(names) <= set(final)
            assert control.call("status").status["pending_changes"] == []
    assert set(names) <= {c.name for c in list_actions(fresh_bundle)}


def test_a_change_that_fails_after_it_was_accepted_is_logged_and_listed(fresh_bundle, encoder, monkeypatch):
    from fsvae_core import bundle as bundle_module

    def broken(*args, **kwargs):
        raise OSError("disk full")

    recognizer = Recognizer.from_bundle(load_bundle(fresh_bundle), device="cpu", encoder=encoder)
    monkeypatch.setattr(bundle_module, "add_action", broken)
    with Harness(recognizer) as harness, ControlClient(harness.control_ep) as control:
        assert control.call("add", name="juggle", ld="hands toss balls", gd="juggling").ok
        logs = [log for log in harness.events(3, kind=LogEvent, timeout_s=10) if log.level == "error"]
        assert logs and "add 'juggle' failed" in logs[0].text and "disk full" in logs[0].text
        status = control.call("status").status
        assert status["failed_changes"] and status["pending_changes"] == []
        assert "juggle" not in [a.name for a in control.call("list").actions]


def test_an_add_by_text_that_reads_like_an_action_already_there_is_made_with_a_warning(fresh_bundle, encoder):
    from realtime.inference import ClassChanges

    changes = ClassChanges(Recognizer.from_bundle(load_bundle(fresh_bundle), device="cpu", encoder=encoder))
    for side in ("right", "left"):
        changes.submit("add", f"raise the {side} arm", f"the {side} arm lifts straight up above the head",
                       f"raising the {side} arm")
    notes = _apply_all(changes, 0.0)
    changes.close()
    assert [level for level, _ in notes] == ["info", "info", "warning"]
    assert notes[2][1].startswith("add 'raise the left arm': the model reads 'raise the left arm' almost as it reads "
                                  "'raise the right arm' (0.9")  # fmt: skip
    assert list(changes.look_alike) == [notes[2][1]]
    assert changes.recognizer.names[-2:] == ("raise the right arm", "raise the left arm")


# ---------------------------------------------------------------------------------------------
# Actions shown live


def _apply_all(changes, now, timeout_s=60.0):
    """Every note of ``changes.apply_done(now)`` until nothing is pending (the worker makes the changes)."""
    notes, deadline = [], time.monotonic() + timeout_s
    while True:
        notes += changes.apply_done(now)
        if not changes.pending() or time.monotonic() > deadline:
            return notes
        time.sleep(0.02)


def test_a_shown_action_is_placed_by_the_moving_windows_of_its_camera_within_the_period(encoder, tmp_path):
    from fsvae_core.bundle import example_prototype
    from realtime.inference import ClassChanges

    recognizer, still = still_check_recognizer(encoder, tmp_path)
    changes = ClassChanges(recognizer)
    shown = [recognizer.prepare(random_window(seed)) for seed in (21, 22)]
    changes.show("stretch", "the arms reach out", "stretching", None, "cam0", seconds=2.0, now=1000.0)
    assert changes.pending() == ["add 'stretch'"] and changes.showing.status(1500.0)["seconds_left"] == 1.5
    with pytest.raises(BundleError, match="cam0 is showing 'stretch'"):
        changes.submit("remove", "wave")  # nothing else changes while a person is showing
    for window, moving, source, at_ms in [
        (shown[0], True, "cam0", 1200.0), (recognizer.prepare(still), False, "cam0", 1400.0),  # kept; still
        (recognizer.prepare(random_window(5)), True, "cam1", 1500.0),  # another camera
        (shown[1], True, "cam0", 2900.0), (recognizer.prepare(random_window(6)), True, "cam0", 3100.0),  # late
    ]:
        changes.showing.offer(source, window, moving, at_ms)
    assert changes.apply_done(2999.0) == [] and changes.showing is not None  # not over yet
    notes = _apply_all(changes, 3001.0)
    assert notes == [("info", "cam0 showed 'stretch' in 2 moving window(s) of 1 showing(s); adding it"),
                     ("info", "added action 'stretch'")]  # fmt: skip
    assert changes.showing is None and recognizer.names[-1] == "stretch"
    bundle = load_bundle(recognizer.path)
    assert bundle.classes[-1].examples == 1 and recognizer.actions()[-1].examples == 1
    torch.testing.assert_close(bundle.prototypes[-1], example_prototype(bundle, [np.stack(shown)]), atol=1e-5, rtol=0)
    changes.close()


def test_an_action_shown_several_times_gets_one_recording_per_showing_and_nothing_from_the_pauses(encoder, tmp_path):
    from fsvae_core.bundle import example_prototype
    from realtime.inference import SHOW_PAUSE_S, ClassChanges

    recognizer, _ = still_check_recognizer(encoder, tmp_path)
    changes = ClassChanges(recognizer)
    changes.show("stretch", "the arms reach out", "stretching", None, "cam0", seconds=1.0, now=0.0, times=2)
    pause_ms = 1000 * SHOW_PAUSE_S
    first, second, between = (recognizer.prepare(random_window(seed)) for seed in (61, 62, 63))
    changes.showing.offer("cam0", first, True, 500.0)
    changes.showing.offer("cam0", between, True, 1000.0 + pause_ms / 2)
    assert changes.showing.status(1000.0 + pause_ms / 2)["showing"] is None  # in the pause
    changes.showing.offer("cam0", second, True, 1000.0 + pause_ms + 500.0)
    assert changes.showing.status(1000.0 + pause_ms + 500.0)["showing"] == 2
    assert changes.showing.end_ms == 2000.0 + pause_ms
    _apply_all(changes, 2001.0 + pause_ms)
    bundle = load_bundle(recognizer.path)
    assert bundle.classes[-1].examples == 2
    expected = example_prototype(bundle, [first[None], second[None]])
    torch.testing.assert_close(bundle.prototypes[-1], expected, atol=1e-5, rtol=0)
    changes.close()

def test_a_showing_in_which_the_body_never_moves_fails_and_says_why(encoder, tmp_path):
    from realtime.inference import ClassChanges

    recognizer, still = still_check_recognizer(encoder, tmp_path)
    changes = ClassChanges(recognizer)
    changes.show("stretch", "the arms reach out", "stretching", None, "cam0", seconds=1.0, now=0.0)
    changes.showing.offer("cam0", recognizer.prepare(still), False, 500.0)
    (note,) = changes.apply_done(1001.0)
    assert note == ("error", "add 'stretch' failed: shown by cam0 for 1 s, but the body stood still in all 1 of its "
                             "windows")  # fmt: skip
    assert changes.pending() == [] and list(changes.failed) == [note[1]] and "stretch" not in recognizer.names
    changes.show("stretch", "the arms reach out", "stretching", None, "cam0", seconds=1.0, now=2000.0)
    assert "no window of a person came from it" in changes.apply_done(3001.0)[0][1]


def test_an_action_shown_over_the_control_socket_is_named_when_done_again(fresh_bundle, encoder):
    recognizer = Recognizer.from_bundle(load_bundle(fresh_bundle), device="cpu", encoder=encoder,
                                        config=RecognizerConfig(smoothing=1.0))  # fmt: skip
    shown = random_window(31)
    with Harness(recognizer) as harness, ControlClient(harness.control_ep) as control:
        refused = control.call("add", name="stretch", ld="the arms reach out", gd="stretching", show_s=0.5)
        assert not refused.ok and "no camera has sent a window of a person" in refused.error
        stop = threading.Event()

        other = random_window(32)

        def feed():  # one thread: a ZeroMQ socket must not be used from two at once
            while not stop.is_set():
                for source, window in (("cam0", shown), ("cam1", other)):
                    harness.send_window(source, window)
                time.sleep(0.05)

        feeder = threading.Thread(target=feed, daemon=True)
        feeder.start()
        try:
            assert harness.events(1, source="cam1")
            several = control.call("add", name="stretch", ld="the arms reach out", gd="stretching", show_s=0.5)
            assert not several.ok and "several cameras see a person (cam0, cam1)" in several.error
            absent = control.call("add", name="stretch", ld="a", gd="b", show_s=0.5, source_id="cam7")
            assert not absent.ok and "cam7 has sent no window of a person" in absent.error
            reply = control.call("add", name="stretch", ld="the arms reach out", gd="stretching", show_s=1.0,
                                 source_id="cam0")  # fmt: skip
            assert reply.ok and reply.status["showing"]["source_id"] == "cam0"
            assert control.call("status").status["pending_changes"] == ["add 'stretch'"]
            actions = _wait_for_actions(control, lambda names: "stretch" in names)
            assert actions[-1] == "stretch" and control.call("list").actions[-1].examples == 1
            status = control.call("status").status
            assert status["showing"] is None and status["failed_changes"] == []
            while True:  # the next label of cam0 after the change: the action it showed
                (event,) = harness.events(1, source="cam0")
                if "stretch" in {item.label for item in event.topk}:
                    break
        finally:
            stop.set()
            feeder.join(5)
    from fsvae_core.bundle import SHOWN_PENALTY

    # The cosine of the window it was shown by, less its share of the trained classes' penalty.
    assert event.label == "stretch" and event.score == pytest.approx(1.0 - SHOWN_PENALTY * recognizer.rule.gamma, abs=1e-4)
    assert list_actions(fresh_bundle)[-1].examples == 1


def test_an_action_shown_by_recordings_over_the_control_socket_takes_their_windows(fresh_bundle, encoder):
    from fsvae_core.bundle import example_prototype

    recognizer = Recognizer.from_bundle(load_bundle(fresh_bundle), device="cpu", encoder=encoder)
    recordings = [np.stack([random_window(seed) for seed in seeds]) for seeds in ((51, 52), (53,))]  # (n, T, M, V, 3)
    with Harness(recognizer) as harness, ControlClient(harness.control_ep) as control:
        assert control.call("status").status["window_spec"]["window_frames"] == WINDOW_FRAMES  # what clients cut
        short = control.call("add", name="stretch", ld="a", gd="b", examples=np.concatenate([recordings[0][:, :5]]),
                             example_windows=[2])  # fmt: skip
        assert not short.ok and "example recording 1: window has 5 frames, the model needs 16" in short.error
        reply = control.call("add", name="stretch", ld="the arms reach out", gd="stretching",
                             examples=np.concatenate(recordings), example_windows=[2, 1])  # fmt: skip
        assert reply.ok and reply.status["accepted"] == "add 'stretch'"
        _wait_for_actions(control, lambda names: "stretch" in names)
        assert control.call("list").actions[-1].examples == 2
    bundle = load_bundle(fresh_bundle)
    prepared = [np.stack([recognizer.prepare(window) for window in recording]) for recording in recordings]
    torch.testing.assert_close(bundle.prototypes[-1], example_prototype(bundle, prepared), atol=1e-5, rtol=0)

def test_stale_windows_are_dropped_when_inference_is_slow(recognizer, monkeypatch):
    original = Recognizer.scores_prepared

    def slow(self, batch):
        time.sleep(0.05)
        return original(self, batch)

    monkeypatch.setattr(Recognizer, "scores_prepared", slow)
    with Harness(recognizer) as harness:
        published = 60
        for i in range(published):
            harness.send_window("cam0", random_window(i % 5))
        last = harness.send_window("cam0", random_window(9))
        events = []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            events += harness.events(1, timeout_s=0.5, source="cam0")
            if events and events[-1].capture_timestamp_ms == last.capture_timestamp_ms:
                break
    assert events and events[-1].capture_timestamp_ms == last.capture_timestamp_ms  # the newest always gets through
    assert harness.stats.decisions < published + 1
    assert harness.stats.stale_dropped + harness.stats.lost > 0


# ---------------------------------------------------------------------------------------------
# The process entry point


def test_main_with_windows_bind_takes_windows_only_from_captures_holding_the_keys(bundle_dir, tmp_path):
    from realtime.transport import read_curve_key_files, write_curve_key_files

    write_curve_key_files(tmp_path / "keys")
    capture_side = read_curve_key_files(tmp_path / "keys", "client")  # server.key and client.key_secret
    windows_ep, labels_ep, control_ep = endpoint(), endpoint(), endpoint()
    process = subprocess.Popen([
        sys.executable, "-m", "realtime.inference", "--bundle", str(bundle_dir), "--windows", windows_ep,
        "--windows-bind", "--labels", labels_ep, "--control", control_ep, "--curve-keys", str(tmp_path / "keys"),
        "--duration", "60",
    ], stderr=subprocess.PIPE, text=True)  # fmt: skip
    local = read_curve_key_files(tmp_path / "keys", "local")
    try:
        with (
            LatestWinsSubscriber(labels_ep, topics=("action.label",), curve=local) as labels,
            LatestWinsPublisher(windows_ep, bind=False) as stranger,
            LatestWinsPublisher(windows_ep, bind=False, curve=capture_side) as capture,
        ):
            def first_label(publisher, source, seconds):
                end = time.monotonic() + seconds
                for seq in range(10**6):
                    if time.monotonic() > end:
                        return None
                    publisher.publish(SkeletonWindow(seq=seq, source_id=source, capture_timestamp_ms=now_ms(),
                                                     fps=FPS, joints=random_window(seq)))
                    event = labels.receive(timeout_ms=50)
                    if isinstance(event, LabelEvent) and event.source_id == source:
                        return event

            assert first_label(capture, "far", 45) is not None
            assert first_label(stranger, "stranger", 2) is None
    finally:
        process.terminate()
        process.wait(10)


def test_main_with_a_bad_bundle_says_so_in_one_line(tmp_path, capsys):
    assert inference_main(["--bundle", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "missing" in err and "no bundle" in err
