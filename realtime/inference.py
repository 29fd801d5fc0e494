"""The inference process: skeleton windows in, action labels out.

    capture --skeleton.window.<src> / skeleton.no_person.<src>--> inference --action.label.<src>, log.*-->
                                                          control (REQ/REP) --^

Two layers, so the logic is testable without sockets:

* :class:`Recognizer` holds the bundle's backbone, FS-VAE and class prototypes;
  :meth:`Recognizer.scores` turns a batch of windows into calibrated cosine
  scores, :meth:`Recognizer.decide` smooths them per source and names an action
  (or ``unknown``), and :meth:`Recognizer.add_action` / :meth:`Recognizer.remove_action`
  change the classes by text, in memory and in the bundle on disk.
* :func:`run_inference` is the loop around it: latest window per source,
  several sources batched into one forward pass, one :class:`LabelEvent` per
  decision, control requests answered between batches. Adding or removing an
  action there never stalls the windows: :class:`ClassChanges` checks the
  request, answers ``accepted`` at once, embeds the text and rewrites the
  bundle in a worker thread, and the loop swaps the new classes in between
  two batches. An action shown live (``add`` with ``show_s``) first gathers
  the moving windows of one camera for that long (:class:`Showing`).

Axis letters: N windows, T frames, M persons, V joints, C=3 coordinates,
K classes, Z latent size.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import json
import math
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from fsvae_core import bundle as bundle_module
from fsvae_core import export
from fsvae_core.action_text import name_key, reserved_name_problem
from fsvae_core.backbone import SkeletonGCN, frozen_joint_encoder
from fsvae_core.bundle import Bundle, BundleError, ClassEntry, load_bundle, window_to_dict
from fsvae_core.decision import window_motion
from fsvae_core.descriptions import DescriptionError, description_from_fields
from fsvae_core.model import FSVAE
from fsvae_core.scorer import ClassTensors, WindowScorer
from fsvae_core.text import SentenceEncoder
from realtime.messages import (
    MAX_CLOCK_SKEW_MS,
    UNKNOWN_LABEL,
    WINDOW_ANSWERS,
    ActionInfo,
    ControlReply,
    ControlRequest,
    LabelEvent,
    LogEvent,
    NoPerson,
    RankedLabel,
    SkeletonWindow,
    now_ms,
    skeleton_topics,
)
from realtime.options import add_parent_argument, exit_with_parent, positive_seconds
from realtime.transport import (
    ControlServer,
    LatestWinsPublisher,
    LatestWinsSubscriber,
    default_endpoint,
    read_curve_key_files,
)

SOURCE = "inference"  # the LogEvent source of this process
ACTIVE_SOURCE_S = 2.0  # a source that sent a window of a person this recently can show an action
MAX_SHOWN_WINDOWS = 600  # windows one showing keeps (5 times 30 s at fsvae-live's stride take 600)
SHOW_PAUSE_S = 2.0  # between two showings of one request: time to stand ready again
READY_LINE = "inference: ready"  # on stderr once the sockets are open (fsvae-live then starts a file's capture)
RUNTIMES = ("torch", "onnx")  # what scores windows: PyTorch, or the exported graph in onnxruntime (CPU)


# ---------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class RecognizerConfig:
    """How scores become decisions.

    ``smoothing`` is the weight of the newest window in the per-source
    exponential moving average of scores (1.0: no smoothing; smaller: steadier
    labels, slower to change). A source silent for ``forget_after_ms`` starts
    afresh, so a person walking in later does not inherit old scores.
    ``top_k`` candidates go into each event.
    """

    smoothing: float = 0.5
    top_k: int = 5
    forget_after_ms: float = 3000.0

    def __post_init__(self) -> None:
        if not (0.0 < self.smoothing <= 1.0):
            raise ValueError(f"RecognizerConfig.smoothing must lie in (0, 1], got {self.smoothing}")
        if self.top_k < 1:
            raise ValueError(f"RecognizerConfig.top_k must be >= 1, got {self.top_k}")
        if not self.forget_after_ms > 0:
            raise ValueError(f"RecognizerConfig.forget_after_ms must be > 0, got {self.forget_after_ms}")


@dataclass(frozen=True)
class Decision:
    """One smoothed decision: ``label`` is a class name or ``"unknown"``; ``topk`` best first.

    ``still``: the body stood still in the window, so there is no action to name
    (label ``unknown``, score 0, no candidates: a held pose scores as the start
    of sitting down or bowing, which is no guess worth showing).
    """

    label: str
    score: float
    unknown: bool
    seen: bool | None
    topk: tuple[RankedLabel, ...]
    still: bool = False


class WindowRejected(ValueError):
    """A well-formed window this model cannot take (wrong layout, joints or channels)."""


def resolve_runtime(runtime: str, device: torch.device) -> str:
    """``auto``: onnx on the CPU (about 1.7x faster per window there), torch on CUDA."""
    if runtime != "auto":
        return runtime
    return "onnx" if device.type == "cpu" else "torch"


def resolve_device(device: str) -> torch.device:
    """``"auto"`` is CUDA where available, else CPU; ``"cuda"`` without a GPU is a ValueError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda' asked for, but torch sees no CUDA GPU (use --device cpu or auto)")
    return torch.device(device)


# ---------------------------------------------------------------------------------------------
# The recognizer: pure logic


class Recognizer:
    """Backbone + FS-VAE + class prototypes of one bundle, with per-source smoothing. NOT thread-safe.

    Build it with :meth:`from_bundle`. Every change of the classes
    (:meth:`add_action`, :meth:`remove_action`) is written to the bundle
    directory and takes effect for the very next window.
    """

    def __init__(
        self,
        bundle: Bundle,
        backbone: SkeletonGCN,
        vae: FSVAE,
        device: torch.device,
        config: RecognizerConfig = RecognizerConfig(),
        encoder: SentenceEncoder | None = None,
        runtime: str = "torch",
    ) -> None:
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if runtime == "onnx" and device.type != "cpu":
            raise ValueError("runtime 'onnx' runs on the CPU; use --device cpu (or --runtime torch on CUDA)")
        self.bundle = bundle
        self.path = Path(bundle.path)
        self.backbone = backbone
        self.vae = vae
        self.device = device
        self.config = config
        self.window_frames = bundle.window_frames
        self.max_persons = backbone.config.max_persons
        self.rule = bundle.decision_rule
        self._encoder = encoder  # the MiniLM model loads only when an action is added
        self.runtime = runtime
        self._scorer = WindowScorer.for_bundle(bundle, backbone, vae).to(device)
        # source -> (class names the vector is about, smoothed scores (K,), last update in ms)
        self._smoothed: dict[str, tuple[tuple[str, ...], np.ndarray, float]] = {}
        self._set_classes()
        # On CPU a frozen trace of the backbone's person path gives the same features, about a fifth
        # faster; onnxruntime runs the whole scorer graph faster still (benchmarks/live_latency.py).
        self._joint_encoder = frozen_joint_encoder(backbone) if device.type == "cpu" and runtime == "torch" else None
        self._onnx = None
        if runtime == "onnx":
            graph = export.onnx_graph(self._scorer, self.class_tensors, built_in=False)
            self._onnx = export.OnnxScorer(graph, threads=torch.get_num_threads())

    @classmethod
    def from_bundle(
        cls,
        bundle: Bundle,
        device: str = "auto",
        config: RecognizerConfig = RecognizerConfig(),
        encoder: SentenceEncoder | None = None,
        runtime: str = "auto",
    ) -> Recognizer:
        """Rebuild the bundle's models on ``device`` (auto: CUDA if present), in eval mode, warmed up.

        ``runtime``: ``torch``, ``onnx`` (the exported scorer graph in
        onnxruntime, CPU only) or ``auto`` (:func:`resolve_runtime`).

        Raises:
            BundleError: the bundle has no backbone (a VAE-only bundle cannot read
                skeletons) or its backbone weights do not fit its config.
        """
        torch_device = resolve_device(device)
        backbone = bundle.build_backbone().to(torch_device)
        vae = bundle.build_vae().to(torch_device).eval()
        recognizer = cls(bundle, backbone, vae, torch_device, config, encoder, resolve_runtime(runtime, torch_device))
        recognizer.warm_up()
        return recognizer

    # --- classes ---

    def _set_classes(self) -> None:
        """Score against the classes of ``self.bundle``."""
        self.classes = list(self.bundle.classes)
        self.names = tuple(entry.name for entry in self.classes)
        self.seen = np.array([entry.seen for entry in self.classes], dtype=bool)  # (K,)
        self.penalty = self.bundle.penalty_weights  # (K,) the share of gamma each class's scores paid
        self.class_tensors = ClassTensors.of_bundle(self.bundle, self.device)

    def actions(self) -> list[ActionInfo]:
        """The actions the recognizer can name, in prototype-row order."""
        return [ActionInfo(entry.name, entry.seen, entry.examples, entry.added) for entry in self.classes]

    def _text_encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            self._encoder = SentenceEncoder(self.bundle.text_config)
        return self._encoder

    def add_action(self, name: str, ld: str, gd: str, parts: Mapping[str, str] | None = None) -> ClassEntry:
        """Add an action described by text (no retraining), to memory and to the bundle on disk.

        ``ld`` says what the body parts do, ``gd`` what the action is, ``parts``
        one sentence per body part (see :func:`fsvae_core.bundle.add_action`). The
        text model loads on the first call (a few seconds); later calls reuse it.

        Raises:
            BundleError: empty text, a name already present (ignoring case), or
                the reserved name ``unknown``.
        """
        if reserved := reserved_name_problem(name):  # before the text model loads; bundle.add_action refuses it too
            raise BundleError(f"{self.path}: {reserved}")
        entry = bundle_module.add_action(self.path, name, ld, gd, encoder=self._text_encoder(), parts=parts)
        self._reload_classes()
        return entry

    def remove_action(self, name: str) -> ClassEntry:
        """Remove an action (name ignoring case), from memory and from the bundle on disk.

        Raises:
            BundleError: no such action, or it is the only one.
        """
        entry = bundle_module.remove_action(self.path, name)
        self._reload_classes()
        return entry

    def _reload_classes(self) -> None:
        # What is scored is exactly what was persisted: the rows come back from disk.
        self.use_classes_of(load_bundle(self.path, verify=False))

    def reload_classes(self) -> None:
        """Read the classes again from the bundle on disk (changed by another process meanwhile)."""
        self._reload_classes()

    def use_classes_of(self, fresh: Bundle) -> None:
        """Score against ``fresh``'s classes and prototypes from the next window on (same network)."""
        self.bundle = fresh
        self._set_classes()

    # --- scoring ---

    def prepare(self, joints: np.ndarray) -> np.ndarray:
        """One window (T, M, V, 3) as the model takes it, (M', T', V, 3) float32.

        T' = the bundle's window_frames: a longer window keeps its newest frames.
        M' = max_persons: missing persons are zeros (ignored by the backbone),
        extra ones are dropped (the capture lists the main person first).

        Raises:
            WindowRejected: fewer frames than the model needs, V != 25 or C != 3.
        """
        x = np.asarray(joints, dtype=np.float32)
        if x.ndim != 4 or x.shape[2:] != (self.backbone.config.n_joints, self.backbone.config.in_channels):
            raise WindowRejected(
                f"window must be (T, M, V={self.backbone.config.n_joints}, C={self.backbone.config.in_channels}) "
                f"in the canonical ntu25 layout, got shape {x.shape}"
            )
        T, M = x.shape[:2]
        if T < self.window_frames:
            raise WindowRejected(f"window has {T} frames, the model needs {self.window_frames}")
        x = x[T - self.window_frames :, : self.max_persons]  # (T', min(M, M'), V, C)
        if M < self.max_persons:
            pad = np.zeros((self.window_frames, self.max_persons - M, *x.shape[2:]), dtype=np.float32)
            x = np.concatenate([x, pad], axis=1)
        return np.ascontiguousarray(x.transpose(1, 0, 2, 3))  # (M', T', V, C)

    @torch.no_grad()
    def scores(self, windows: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
        """Calibrated cosine scores of a batch of windows against every class prototype.

        Args:
            windows: (N, T, M, V, 3) float32, or a sequence of N (T, M, V, 3) windows
                (each passes through :meth:`prepare`, so T and M may differ).

        Returns:
            (N, K) float32: cos(skeleton latent, prototype) minus the rule's ``gamma`` on
            seen classes, plus, for a bundle with the part-aware rule, its weights
            times the part scores (:mod:`fsvae_core.parts`) and the attribute
            scores (:mod:`fsvae_core.attributes`); columns in the order of :meth:`actions`.
        """
        return self.scores_prepared(np.stack([self.prepare(window) for window in windows]))

    @torch.no_grad()
    def scores_prepared(self, batch: np.ndarray) -> np.ndarray:
        """:meth:`scores` of windows already through :meth:`prepare`: (N, M', T', V, 3) -> (N, K)."""
        if self._onnx is not None:
            return self._onnx.scores(batch, self.class_tensors)
        x = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).to(self.device)
        features, parts = self.backbone.features_and_parts(x, self._joint_encoder)  # (N, Cs), (N, B, C_last)
        return self._scorer.score(features, parts, self.class_tensors, x).cpu().numpy()

    @torch.no_grad()
    def scores_and_motion(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores (N, K) and :func:`~fsvae_core.decision.window_motion` (N,) of windows already through
        :meth:`prepare` (N, M', T', V, 3), as :meth:`decide` takes them one by one.

        A window whose body stands still is not scored: :meth:`decide` answers it ``still`` without
        reading its row, which stays 0.
        """
        motion = window_motion(batch)  # (N,)
        scores = np.zeros((len(batch), len(self.names)), dtype=np.float32)
        moving = ~self.rule.is_still(motion)
        if moving.any():
            scores[moving] = self.scores_prepared(batch[moving])
        return scores, motion

    def warm_up(self) -> None:
        """Run one window through the models so the first real window is not slowed by lazy setup."""
        generator = np.random.default_rng(0)
        window = generator.normal(size=(self.window_frames, 1, self.backbone.config.n_joints, 3)).astype(np.float32)
        self.scores([window])
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    # --- deciding ---

    def decide(self, source_id: str, scores: np.ndarray, timestamp_ms: float | None = None,
               motion: float | None = None) -> Decision:
        """Smooth ``scores`` (K,) into ``source_id``'s running average and name the best action.

        The average is an exponential moving average with weight
        ``config.smoothing`` on the newest scores; a class added since the
        previous window enters with its fresh score, a removed one leaves.
        The label is ``unknown`` when the best smoothed score is below the
        threshold of that class's origin (:class:`fsvae_core.decision.DecisionRule`:
        one for trained classes, another for classes known only by text, which
        bounds the best score or, with ``text_by="lead"`` or ``"lead_raw"``, its standardised lead over the second).
        When the window's ``motion`` (:func:`fsvae_core.decision.window_motion`) says the body stands
        still, the decision is a ``still`` one (:class:`Decision`). A still window's scores say nothing
        of the action to come (a held pose scores as the start of sitting down or bowing), so they
        clear the average instead of entering it, as nobody in view does.
        """
        now = now_ms() if timestamp_ms is None else float(timestamp_ms)
        fresh = np.asarray(scores, dtype=np.float64).reshape(-1)
        if fresh.shape[0] != len(self.names):
            raise ValueError(f"scores must have one entry per class ({len(self.names)}), got {fresh.shape[0]}")
        if motion is not None and self.rule.is_still(motion):
            self._smoothed.pop(source_id, None)
            return Decision(UNKNOWN_LABEL, 0.0, True, None, (), still=True)
        previous = self._smoothed.get(source_id)
        if previous is None or now - previous[2] > self.config.forget_after_ms:
            smoothed = fresh
        else:
            names, values, _ = previous
            if names != self.names:
                # Align the history with the current classes by name.
                old = dict(zip(names, values))
                values = np.array([old.get(name, fresh[k]) for k, name in enumerate(self.names)])
            alpha = self.config.smoothing
            smoothed = alpha * fresh + (1.0 - alpha) * values
        self._smoothed[source_id] = (self.names, smoothed, now)
        order = np.argsort(-smoothed, kind="stable")[: self.config.top_k]
        topk = tuple(RankedLabel(self.names[k], float(smoothed[k]), bool(self.seen[k])) for k in order)
        best = int(order[0])
        score = float(smoothed[best])
        if self.rule.decide_calibrated(smoothed[None, :], self.seen, penalty=self.penalty)[0] < 0:
            return Decision(UNKNOWN_LABEL, score, True, None, topk)
        return Decision(self.names[best], score, False, bool(self.seen[best]), topk)

    def reset(self, source_id: str | None = None) -> None:
        """Forget the smoothing history of one source (e.g. nobody in view), or of all."""
        if source_id is None:
            self._smoothed.clear()
        else:
            self._smoothed.pop(source_id, None)


# ---------------------------------------------------------------------------------------------
# Counters


@dataclass
class InferenceStats:
    """What the loop did. Latency is publish time minus capture time of the window's newest frame."""

    windows: int = 0  # windows taken from the socket (stale ones included)
    no_person: int = 0
    still: int = 0  # windows whose body stood still (LabelEvents with status still)
    decisions: int = 0  # LabelEvents published with status ok
    warming_up: int = 0
    stale_dropped: int = 0  # windows superseded by a newer one of the same source before inference
    malformed: int = 0  # messages that broke the wire format
    rejected: int = 0  # well-formed windows the model cannot take (wrong layout or too short)
    errors: int = 0  # exceptions while scoring
    lost: int = 0  # seq gaps: dropped by ZeroMQ before they reached us
    implausible: int = 0  # windows whose capture time lies over MAX_CLOCK_SKEW_MS from our clock
    control_requests: int = 0
    latencies_ms: deque = field(default_factory=lambda: deque(maxlen=2000))  # of WINDOW_ANSWERS events
    batch_sizes: deque = field(default_factory=lambda: deque(maxlen=2000))

    def latency_ms(self, q: float) -> float | None:
        """The ``q``-quantile (0..1) of recent window->label latencies, None before any."""
        if not self.latencies_ms:
            return None
        return float(np.quantile(np.fromiter(self.latencies_ms, dtype=np.float64), q))

    @property
    def latency_p50_ms(self) -> float | None:
        return self.latency_ms(0.5)

    @property
    def latency_p99_ms(self) -> float | None:
        return self.latency_ms(0.99)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: every counter, latency p50/p99 and the batch sizes' mean and max."""
        sizes = list(self.batch_sizes)
        return {
            "windows": self.windows, "no_person": self.no_person, "still": self.still, "decisions": self.decisions,
            "warming_up": self.warming_up, "stale_dropped": self.stale_dropped, "malformed": self.malformed,
            "rejected": self.rejected, "errors": self.errors, "lost": self.lost, "implausible": self.implausible,
            "control_requests": self.control_requests,
            "latency_p50_ms": _rounded(self.latency_p50_ms), "latency_p99_ms": _rounded(self.latency_p99_ms),
            "batches": len(sizes), "batch_mean": _rounded(sum(sizes) / len(sizes)) if sizes else None,
            "batch_max": max(sizes) if sizes else None,
        }  # fmt: skip


def _rounded(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 3)


# ---------------------------------------------------------------------------------------------
# Actions changed while running


@dataclass(frozen=True, eq=False)
class ClassChange:
    """One accepted ``add`` or ``remove``, waiting for the worker; ``examples``: the windows of each recording
    that shows an added action, (n, M, T, V, 3) each (:func:`fsvae_core.bundle.example_prototype`)."""

    command: str
    name: str
    ld: str | None = None
    gd: str | None = None
    parts: tuple[tuple[str, str], ...] | None = None  # (part name, sentence), checked by the descriptions
    examples: tuple[np.ndarray, ...] | None = None

    def __str__(self) -> str:
        return f"{self.command} {self.name!r}"


@dataclass
class Showing:
    """An action being shown live, ``times`` times for ``seconds`` each with SHOW_PAUSE_S between: the windows of
    ``source_id`` that reach the loop within a showing (this machine's clock, from ``start_ms``) and in which the
    body moves, as :meth:`Recognizer.prepare` made them; each showing is a recording of its own.

    They are what the live recognizer scores while the person acts, so the action is placed where its
    windows will fall when it is done again (the windows' history before the start included).
    """

    change: ClassChange
    source_id: str
    start_ms: float
    seconds: float
    times: int = 1
    recordings: list[list[np.ndarray]] = field(init=False)  # per showing, windows (M, T, V, 3)
    still: int = 0  # windows of the source within a showing in which the body stood still

    def __post_init__(self) -> None:
        self.recordings = [[] for _ in range(self.times)]

    @property
    def end_ms(self) -> float:
        """When the last showing ends."""
        return self.start_ms + 1000.0 * (self.times * self.seconds + (self.times - 1) * SHOW_PAUSE_S)

    @property
    def windows(self) -> int:
        """Windows kept so far, all showings together."""
        return sum(len(windows) for windows in self.recordings)

    def showing_at(self, at_ms: float) -> int | None:
        """Which showing (from 0) ``at_ms`` falls in; None before, between and after them."""
        if at_ms < self.start_ms:
            return None
        index, into = divmod(at_ms - self.start_ms, 1000.0 * (self.seconds + SHOW_PAUSE_S))
        return int(index) if index < self.times and into <= 1000.0 * self.seconds else None

    def offer(self, source_id: str, window: np.ndarray, moving: bool, at_ms: float) -> None:
        """Keep ``window`` if it is from the shown source, within a showing, and moving."""
        index = self.showing_at(at_ms) if source_id == self.source_id else None
        if index is None:
            return
        if not moving:
            self.still += 1
        elif self.windows < MAX_SHOWN_WINDOWS:
            self.recordings[index].append(window)

    def status(self, now: float) -> dict[str, Any]:
        """What ``status`` says of it: name, source, the showing under way (from 1; None in a pause), seconds
        left in all, windows gathered."""
        index = self.showing_at(now)
        return {"name": self.change.name, "source_id": self.source_id,
                "showing": None if index is None else index + 1, "times": self.times, "seconds": self.seconds,
                "pause_s": SHOW_PAUSE_S, "seconds_left": round(max(0.0, self.end_ms - now) / 1000.0, 2),
                "windows": self.windows}  # fmt: skip


class ClassChanges:
    """Adds and removes of actions, carried out in a worker thread so that the window loop never waits.

    :meth:`submit` (in the loop's thread) checks a request against the classes
    as they will be once every change already accepted is applied, queues it
    and says ``accepted``: a duplicate name, the reserved ``unknown``, an empty
    text or an unknown name to remove fail at once. The worker embeds the text
    (loading the text model on first use, a few seconds), rewrites the bundle
    and reads the classes back; :meth:`apply_done` (in the loop's thread,
    between two batches) makes the recognizer score against them. Changes are
    applied in the order they were accepted. An action shown live
    (:meth:`show`) waits in :attr:`showing` until its period ends, fed by
    :meth:`Showing.offer`; :meth:`apply_done` then hands its windows to the
    worker with it (or fails it, when no window moved), and no other change
    is accepted meanwhile. A change that fails after it was
    accepted (the disk, the text model) is kept in ``failed`` and returned by
    :meth:`apply_done` so the loop can log it.

    Only :meth:`submit`, :meth:`show`, :meth:`apply_done`, :meth:`pending`
    and :meth:`close` may be called, all from the loop's thread.
    """

    MAX_FAILED = 20  # failures, and look-alike notes, kept for `status`

    def __init__(self, recognizer: Recognizer) -> None:
        self.recognizer = recognizer
        self.path = recognizer.path
        self._waiting: list[ClassChange] = []  # accepted, not yet applied (the worker may be on the first)
        self._todo: queue.Queue = queue.Queue()
        self._done: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self.failed: deque = deque(maxlen=self.MAX_FAILED)
        self.look_alike: deque = deque(maxlen=self.MAX_FAILED)  # "add 'X': the model reads ..." for `status`
        self.applied = 0
        self.showing: Showing | None = None

    def pending(self) -> list[str]:
        """The accepted changes not yet applied, in order, e.g. ``["add 'juggle'"]``."""
        return [str(change) for change in self._waiting]

    def _planned(self) -> list[str]:
        """The class names as they will be once every accepted change is applied."""
        names = list(self.recognizer.names)
        for change in self._waiting:
            if change.command == "add":
                names.append(change.name)
            else:
                names = [name for name in names if name_key(name) != name_key(change.name)]
        return names

    def submit(self, command: str, name: str, ld: str | None = None, gd: str | None = None,
               parts: Mapping[str, str] | None = None, examples: Sequence[np.ndarray] | None = None) -> ClassChange:
        """Check and queue one change; ``examples``, the windows of each recording that shows an added action,
        (n, M, T, V, 3) each as :meth:`Recognizer.prepare` makes them.

        Raises:
            BundleError: the change cannot be made (the text says why, as the bundle would).
        """
        change = self._checked(command, name, ld, gd, parts)
        if examples:
            change = dataclasses.replace(change, examples=tuple(examples))
        self._waiting.append(change)
        self._queue(change)
        return change

    def show(self, name: str, ld: str, gd: str, parts: Mapping[str, str] | None, source_id: str,
             seconds: float, now: float, times: int = 1) -> ClassChange:
        """Check an add shown live by ``source_id``, ``times`` times for ``seconds`` from ``now`` (ms), and start
        gathering its windows; the change is pending until they have been gathered and the worker has made it.

        Raises:
            BundleError: as :meth:`submit` says, or another showing is under way.
        """
        change = self._checked("add", name, ld, gd, parts)
        self._waiting.append(change)
        self.showing = Showing(change, source_id, now, seconds, times)
        return change

    def _checked(self, command: str, name: str, ld: str | None, gd: str | None,
                 parts: Mapping[str, str] | None) -> ClassChange:
        """The change ``command`` asks for, checked against the classes as they will be."""
        if self.showing is not None:
            raise BundleError(f"{self.path}: {self.showing.source_id} is showing {self.showing.change.name!r} "
                              "right now; send this again once it has been shown")  # fmt: skip
        planned = self._planned()
        keys = {name_key(existing): existing for existing in planned}
        if command == "add":
            try:
                fields = {"name": name, "ld": ld, "gd": gd} | ({} if parts is None else {"parts": parts})
                description = description_from_fields(fields, f"{self.path}: new action")
            except DescriptionError as error:
                raise BundleError(str(error)) from error
            if reserved := reserved_name_problem(description.name):
                raise BundleError(f"{self.path}: {reserved}")
            if name_key(description.name) in keys:
                raise BundleError(f"{self.path}: an action named {keys[name_key(description.name)]!r} is already in "
                                  "the bundle; remove it first or choose another name")  # fmt: skip
            return ClassChange("add", description.name, description.ld, description.gd, description.parts)
        if command == "remove":
            if name_key(name) not in keys:
                close = difflib.get_close_matches(name_key(name), list(keys), n=3, cutoff=0.6)
                hint = f"close names: {[keys[key] for key in close]}" if close else f"actions: {planned[:20]}"
                raise BundleError(f"{self.path}: no action named {name!r}; {hint}")
            if len(planned) == 1:
                raise BundleError(f"{self.path}: {planned[0]!r} is the bundle's only action; a bundle needs at least one")
            return ClassChange("remove", keys[name_key(name)])
        raise ValueError(f"not a change of classes: {command!r}")

    def _queue(self, change: ClassChange) -> None:
        self._todo.put(change)
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name="class-changes", daemon=True)
            self._thread.start()

    def _end_showing(self, now: float) -> list[tuple[str, str]]:
        """Once the showing's period is over: its windows go to the worker with the change, or it fails."""
        showing = self.showing
        if showing is None or now <= showing.end_ms:
            return []
        self.showing = None
        examples = tuple(np.stack(windows) for windows in showing.recordings if windows)
        if examples:
            change = dataclasses.replace(showing.change, examples=examples)
            self._waiting[self._waiting.index(showing.change)] = change
            self._queue(change)
            return [("info", f"{showing.source_id} showed {change.name!r} in {showing.windows} moving window(s) "
                             f"of {len(examples)} showing(s); adding it")]  # fmt: skip
        self._waiting.remove(showing.change)
        times = f"{showing.times} times " if showing.times > 1 else ""
        why = (f"the body stood still in all {showing.still} of its windows" if showing.still
               else "no window of a person came from it")
        text = f"{showing.change} failed: shown by {showing.source_id} {times}for {showing.seconds:g} s, but {why}"
        self.failed.append(text)
        return [("error", text)]

    def _work(self) -> None:
        while (change := self._todo.get()) is not None:
            try:
                if change.command == "add":
                    bundle_module.add_action(self.path, change.name, change.ld, change.gd,
                                             encoder=self.recognizer._text_encoder(),
                                             parts=None if change.parts is None else dict(change.parts),
                                             examples=change.examples)  # fmt: skip
                else:
                    bundle_module.remove_action(self.path, change.name)
                self._done.put((change, load_bundle(self.path, verify=False), None))
            except Exception as error:  # noqa: BLE001 - reported by the loop, never fatal
                self._done.put((change, None, error))

    def apply_done(self, now: float | None = None) -> list[tuple[str, str]]:
        """End a showing whose period is over (``now`` in ms, default the clock) and swap in the classes of every
        finished change; ``(level, text)`` for the log, one per change."""
        notes = self._end_showing(now_ms() if now is None else now)
        while True:
            try:
                change, fresh, error = self._done.get_nowait()
            except queue.Empty:
                return notes
            self._waiting.remove(change)
            if error is None:
                self.recognizer.use_classes_of(fresh)
                self.applied += 1
                notes.append(("info", f"{change.command}{'ed' if change.command == 'add' else 'd'} action {change.name!r}"))
                alike = bundle_module.look_alike_note(fresh, change.name) if change.command == "add" else None
                if alike is not None:
                    self.look_alike.append(f"{change}: {alike}")
                    notes.append(("warning", f"{change}: {alike}"))
            else:
                text = f"{change} failed: {type(error).__name__}: {error}"
                self.failed.append(text)
                notes.append(("error", text))

    def close(self, timeout_s: float = 5.0) -> None:
        """Let the worker finish the change it is on (not the queued ones) and end."""
        while True:
            try:
                self._todo.get_nowait()
            except queue.Empty:
                break
        self._todo.put(None)
        if self._thread is not None:
            self._thread.join(timeout_s)


# ---------------------------------------------------------------------------------------------
# The loop


class _Loop:
    """State of one :func:`run_inference` call."""

    def __init__(self, recognizer: Recognizer, windows_sub, labels_pub, stats: InferenceStats,
                 control_server: ControlServer | None = None):
        self.recognizer = recognizer
        self.changes = ClassChanges(recognizer)
        self.windows_sub = windows_sub
        self.labels_pub = labels_pub
        self.stats = stats
        self.label_seq: dict[str, int] = {}
        self.log_seq = 0
        self.warned: set[str] = set()
        self.last_log_ms: dict[str, float] = {}
        self.seen_malformed = windows_sub.malformed
        self.seen_implausible = windows_sub.implausible
        self.seen_lost = windows_sub.lost
        self.seen_stale = windows_sub.stale
        self.control_server = control_server  # its counters go into status
        self.person_seen_ms: dict[str, float] = {}  # source -> when its last window of a person came

    def log(self, level: str, text: str, key: str | None = None, every_ms: float = 0.0) -> None:
        """Publish a LogEvent; with ``key``, at most one per ``every_ms`` so a flood cannot swamp labels."""
        if key is not None:
            now = now_ms()
            if now - self.last_log_ms.get(key, -math.inf) < every_ms:
                return
            self.last_log_ms[key] = now
        try:
            self.labels_pub.publish(LogEvent(seq=self.log_seq, level=level, source=SOURCE, text=text[:4000]))
            self.log_seq += 1
        except Exception:  # noqa: BLE001 - logging must never take the loop down
            pass

    def publish(self, event: LabelEvent) -> None:
        # Counted first: whoever reads the stats after seeing the event finds it counted.
        if event.status in WINDOW_ANSWERS:
            self.stats.latencies_ms.append(event.latency_ms)
        if event.status == "ok":
            self.stats.decisions += 1
        elif event.status == "still":
            self.stats.still += 1
        elif event.status == "warming_up":
            self.stats.warming_up += 1
        self.labels_pub.publish(event)

    def next_seq(self, source_id: str) -> int:
        seq = self.label_seq.get(source_id, 0)
        self.label_seq[source_id] = seq + 1
        return seq

    def collect(self, timeout_ms: float, limit: int = 1000) -> dict[str, Any]:
        """The newest window or no-person notice per source; waits up to ``timeout_ms`` for the first."""
        latest: dict[str, Any] = {}
        message = self.windows_sub.receive(timeout_ms)
        while message is not None and limit > 0:
            if isinstance(message, SkeletonWindow):
                self.stats.windows += 1
            if isinstance(message, (SkeletonWindow, NoPerson)):
                # Latest wins within a source: an older window still waiting is worthless now.
                if isinstance(latest.get(message.source_id), SkeletonWindow):
                    self.stats.stale_dropped += 1
                latest[message.source_id] = message
            limit -= 1
            message = self.windows_sub.receive(0)
        self._account_socket()
        return latest

    def _account_socket(self) -> None:
        sub = self.windows_sub
        if sub.malformed > self.seen_malformed:
            new = sub.malformed - self.seen_malformed
            self.stats.malformed += new
            self.seen_malformed = sub.malformed
            self.log("warning", f"dropped {new} malformed message(s) on the windows socket: {sub.last_error}",
                     key="malformed", every_ms=1000.0)  # fmt: skip
        if sub.implausible > self.seen_implausible:
            new = sub.implausible - self.seen_implausible
            self.stats.implausible += new
            self.seen_implausible = sub.implausible
            self.log("warning", f"dropped {new} window(s) stamped over {MAX_CLOCK_SKEW_MS / 1000:g} s from this "
                                "machine's clock (a wrong clock or a forged time)", key="implausible", every_ms=1000.0)
        if sub.lost > self.seen_lost:
            self.stats.lost += sub.lost - self.seen_lost
            self.seen_lost = sub.lost
        if sub.stale > self.seen_stale:
            self.stats.stale_dropped += sub.stale - self.seen_stale
            self.seen_stale = sub.stale

    def handle(self, latest: dict[str, Any], max_batch: int) -> None:
        ready: list[tuple[SkeletonWindow, np.ndarray]] = []
        for source_id, message in latest.items():
            if isinstance(message, NoPerson):
                self.stats.no_person += 1
                self.person_seen_ms.pop(source_id, None)
                self.recognizer.reset(source_id)
                self.publish(LabelEvent.no_decision(
                    "no_person", seq=self.next_seq(source_id), source_id=source_id,
                    capture_timestamp_ms=message.capture_timestamp_ms,
                ))  # fmt: skip
                continue
            self.person_seen_ms[source_id] = now_ms()
            try:
                ready.append((message, self.recognizer.prepare(message.joints)))
            except WindowRejected as error:
                self.stats.rejected += 1
                if message.num_frames < self.recognizer.window_frames and message.joints.shape[2:] == (25, 3):
                    # A short window is one still filling: say so rather than guess.
                    self.publish(LabelEvent.no_decision(
                        "warming_up", seq=self.next_seq(source_id), source_id=source_id,
                        capture_timestamp_ms=message.capture_timestamp_ms,
                    ))  # fmt: skip
                self.log("warning", f"window from {source_id} rejected: {error}", key=f"reject.{source_id}",
                         every_ms=2000.0)  # fmt: skip
                continue
            if abs(message.fps - self.recognizer.bundle.fps) > 1e-3 and source_id not in self.warned:
                self.warned.add(source_id)
                self.log("warning", f"{source_id} sends windows at {message.fps:g} fps but the model was "
                         f"trained at {self.recognizer.bundle.fps:g} fps; labels may be off")  # fmt: skip
        for start in range(0, len(ready), max_batch):
            self._score_batch(ready[start : start + max_batch])

    def _score_batch(self, batch: list[tuple[SkeletonWindow, np.ndarray]]) -> None:
        try:
            scores, motion = self.recognizer.scores_and_motion(np.stack([x for _, x in batch]))  # (N, K), (N,)
        except Exception as error:  # noqa: BLE001 - one bad batch must not end the loop
            self.stats.errors += len(batch)
            self.log("error", f"scoring {len(batch)} window(s) failed: {type(error).__name__}: {error}",
                     key="score-error", every_ms=1000.0)  # fmt: skip
            return
        self.stats.batch_sizes.append(len(batch))
        showing, scored_ms = self.changes.showing, now_ms()
        for (window, prepared), row, moved in zip(batch, scores, motion):
            if showing is not None:
                showing.offer(window.source_id, prepared, not self.recognizer.rule.is_still(moved), scored_ms)
            try:
                decision = self.recognizer.decide(window.source_id, row, motion=moved)
                if decision.still:
                    self.publish(LabelEvent.no_decision(
                        "still", seq=self.next_seq(window.source_id), source_id=window.source_id,
                        capture_timestamp_ms=window.capture_timestamp_ms,
                    ))  # fmt: skip
                    continue
                publish_ms = now_ms()
                self.publish(LabelEvent(
                    seq=self.next_seq(window.source_id), source_id=window.source_id,
                    capture_timestamp_ms=window.capture_timestamp_ms, timestamp_ms=max(publish_ms, 0.0),
                    label=decision.label, score=decision.score, unknown=decision.unknown, seen=decision.seen,
                    topk=decision.topk, status="ok",
                ))  # fmt: skip
            except Exception as error:  # noqa: BLE001
                self.stats.errors += 1
                self.log("error", f"deciding for {window.source_id} failed: {type(error).__name__}: {error}",
                         key="decide-error", every_ms=1000.0)  # fmt: skip

    def answer(self, request: ControlRequest) -> ControlReply:
        """The control handler: list, add, remove, status."""
        self.stats.control_requests += 1
        recognizer = self.recognizer
        try:
            if request.command == "list":
                return ControlReply.success(request.seq, actions=recognizer.actions())
            if request.command == "add" and request.show_s is not None:
                return self._start_showing(request)
            if request.command in ("add", "remove"):
                # Accepted now, applied by the worker between two batches: the windows never wait.
                change = self.changes.submit(request.command, request.name, request.ld, request.gd, request.parts,
                                             self._examples(request))  # fmt: skip
                return ControlReply.success(request.seq, actions=recognizer.actions(), status={
                    "accepted": str(change), "pending": self.changes.pending(),
                    "note": "applied in the background: `list` shows the change once it is made (an add embeds "
                            "its text first; the first add also loads the text model, a few seconds)",
                })  # fmt: skip
            status = {
                "bundle": str(recognizer.path), "device": str(recognizer.device), "runtime": recognizer.runtime,
                "classes": len(recognizer.names),
                "window_frames": recognizer.window_frames, "fps": recognizer.bundle.fps,
                "window_spec": window_to_dict(recognizer.bundle.skeleton),
                "unknown_threshold": recognizer.rule.unknown_trained, "unknown_text_threshold": recognizer.rule.unknown_text,
                "unknown_text_by": recognizer.rule.text_by, "still_below": recognizer.rule.still_below,
                "smoothing": recognizer.config.smoothing,
                "pending_changes": self.changes.pending(), "failed_changes": list(self.changes.failed),
                "look_alike_changes": list(self.changes.look_alike),
                "showing": None if self.changes.showing is None else self.changes.showing.status(now_ms()),
                "control_socket": None if self.control_server is None else self.control_server.counters(),
                **self.stats.to_dict(),
            }  # fmt: skip
            return ControlReply.success(request.seq, status=status)
        except (BundleError, ValueError) as error:
            return ControlReply.failure(request.seq, f"{request.command} failed: {error}")

    def _examples(self, request: ControlRequest) -> list[np.ndarray]:
        """The windows of each recording an add is shown by, (n, M, T, V, 3) each as the model takes them.

        Raises:
            BundleError: a window the model cannot take, naming its recording (from 1).
        """
        examples = []
        for number, recording in enumerate(request.recordings(), 1):
            try:
                examples.append(np.stack([self.recognizer.prepare(window) for window in recording]))
            except WindowRejected as error:
                raise BundleError(f"example recording {number}: {error}") from error
        return examples

    def _start_showing(self, request: ControlRequest) -> ControlReply:
        """An ``add`` with ``show_s``: gather the named (or only) camera's windows for that long, then add.

        Raises:
            BundleError: the action cannot be added, or no camera (or more than one, none named) shows a person.
        """
        now = now_ms()
        active = sorted(source for source, seen in self.person_seen_ms.items() if now - seen <= 1000 * ACTIVE_SOURCE_S)
        source = request.source_id
        if source is None and len(active) > 1:
            raise BundleError(f"several cameras see a person ({', '.join(active)}); name the one that shows the "
                              "action (source_id)")  # fmt: skip
        if source is None and not active:
            raise BundleError(f"no camera has sent a window of a person in the last {ACTIVE_SOURCE_S:g} s: step "
                              "into view, then ask again")  # fmt: skip
        source = source or active[0]
        if source not in active:
            raise BundleError(f"{source} has sent no window of a person in the last {ACTIVE_SOURCE_S:g} s "
                              f"(cameras that have: {', '.join(active) or 'none'})")  # fmt: skip
        change = self.changes.show(request.name, request.ld, request.gd, request.parts, source, request.show_s, now,
                                   request.show_times or 1)  # fmt: skip
        return ControlReply.success(request.seq, actions=self.recognizer.actions(), status={
            "accepted": str(change), "pending": self.changes.pending(), "showing": self.changes.showing.status(now),
            "note": f"showing: the moving windows from {source} over the next {request.show_s:g} s "
                    f"({request.show_times or 1} time(s), {SHOW_PAUSE_S:g} s apart) place {change.name!r}; then it "
                    "is added in the background (`list` shows it once it is made)",
        })  # fmt: skip


def run_inference(
    recognizer: Recognizer,
    windows_sub: LatestWinsSubscriber,
    labels_pub: LatestWinsPublisher,
    control_server: ControlServer | None,
    duration_s: float | None = None,
    stop_event: threading.Event | None = None,
    max_batch: int = 8,
    stats: InferenceStats | None = None,
) -> InferenceStats:
    """Turn windows into labels until ``duration_s`` passes or ``stop_event`` is set.

    Each turn answers waiting control requests, takes the newest window (or
    no-person notice) of every source, scores up to ``max_batch`` windows in
    one forward pass and publishes one :class:`LabelEvent` per source. A
    malformed message, a window the model cannot take or a failing batch is
    counted and reported as a :class:`LogEvent` on ``labels_pub``; the loop
    goes on. Windows stamped further than MAX_CLOCK_SKEW_MS from this
    machine's clock are dropped and counted (``windows_sub`` is set to check
    that), so no forged time reaches the latency figures. Pass ``stats`` to
    watch the counters while it runs.

    Returns:
        The counters, also when stopped.
    """
    if max_batch < 1:
        raise ValueError(f"max_batch must be >= 1, got {max_batch}")
    stats = InferenceStats() if stats is None else stats
    if windows_sub.max_clock_skew_ms is None:
        windows_sub.max_clock_skew_ms = MAX_CLOCK_SKEW_MS
    loop = _Loop(recognizer, windows_sub, labels_pub, stats, control_server)
    deadline = None if duration_s is None else time.monotonic() + duration_s
    loop.log("info", f"inference ready on {recognizer.device} ({recognizer.runtime}) "
                     f"with {len(recognizer.names)} actions")
    try:
        _serve(loop, control_server, deadline, stop_event, max_batch)
    finally:
        loop.changes.close()
    return stats


def _serve(loop: _Loop, control_server: ControlServer | None, deadline: float | None,
           stop_event: threading.Event | None, max_batch: int) -> None:
    while not (stop_event is not None and stop_event.is_set()):
        if deadline is not None and time.monotonic() >= deadline:
            break
        for level, text in loop.changes.apply_done():  # between batches: the next window sees the new classes
            loop.log(level, text)
        if control_server is not None:
            # A few requests per turn at most, so windows keep flowing under a chatty client.
            for _ in range(4):
                if not control_server.poll(loop.answer, timeout_ms=0):
                    break
        latest = loop.collect(timeout_ms=20)
        if latest:
            loop.handle(latest, max_batch)


# ---------------------------------------------------------------------------------------------
# Entry point


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m realtime.inference --bundle DIR``: serve labels until stopped; 0 on a clean stop, 2 on bad setup."""
    parser = argparse.ArgumentParser(prog="python -m realtime.inference", description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", required=True, type=Path, help="model bundle directory")
    parser.add_argument("--windows", default=default_endpoint("windows"),
                        help="capture's PUB endpoint (connect), or with --windows-bind where captures connect")
    parser.add_argument("--windows-bind", action="store_true",
                        help="bind --windows instead of connecting to one capture: captures on other machines "
                             "connect to it (capture --connect), CURVE-protected with --curve-keys")
    parser.add_argument("--labels", default=default_endpoint("labels"), help="labels PUB endpoint (bind)")
    parser.add_argument("--control", default=default_endpoint("control"), help="control REP endpoint (bind)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--runtime", default="auto", choices=("auto", *RUNTIMES),
                        help="what scores windows: torch, or onnx (the exported scorer graph in onnxruntime, "
                             "CPU only, faster there); auto (default): onnx on the CPU, torch on CUDA")  # fmt: skip
    parser.add_argument("--duration", type=positive_seconds, default=None, help="stop after S seconds")
    parser.add_argument("--smoothing", type=float, default=RecognizerConfig.smoothing,
                        help="weight of the newest window in the score average (1: none)")  # fmt: skip
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for the model (default 1: small batches run fastest and steadiest on one, "
                             "and the capture process keeps the other core)")  # fmt: skip
    parser.add_argument("--allow-remote", action="store_true",
                        help="let --labels and --control bind to an address other than loopback")  # fmt: skip
    parser.add_argument("--curve-keys", type=Path, metavar="DIR",
                        help="encrypt and authenticate the labels and control sockets with the CURVE keys in DIR "
                             "(made by `fsvae keys DIR`)")  # fmt: skip
    parser.add_argument("--standby", action="store_true",
                        help="load the model, then wait for a line 'go' on stdin before opening the sockets "
                             "(fsvae-live keeps such a spare to replace a dead inference process at once); "
                             "end at end of input")  # fmt: skip
    add_parent_argument(parser)
    args = parser.parse_args(argv)
    if args.parent_pid is not None:
        exit_with_parent(args.parent_pid)
    # The text model, loaded when an action is added, would draw a progress bar on stderr.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    if args.threads < 1:
        print(f"inference: --threads must be at least 1, got {args.threads}", file=sys.stderr)
        return 2
    torch.set_num_threads(args.threads)
    try:
        curve = None if args.curve_keys is None else read_curve_key_files(args.curve_keys, "server")
        config = RecognizerConfig(smoothing=args.smoothing)
        recognizer = Recognizer.from_bundle(load_bundle(args.bundle), device=args.device, config=config,
                                            runtime=args.runtime)
    except (BundleError, ValueError) as error:
        print(f"inference: {error}", file=sys.stderr)
        return 2
    if args.allow_remote and curve is None:
        print("inference: warning: --allow-remote without --curve-keys: anyone who can reach these sockets "
              "can read the labels and change the actions"
              + (", and send windows" if args.windows_bind else ""), file=sys.stderr)  # fmt: skip
    if args.standby:
        print("inference: standby, model loaded", file=sys.stderr, flush=True)
        if sys.stdin.readline().strip() != "go":
            return 0  # end of input: whoever started us has gone, or does not need us
        recognizer.reload_classes()  # actions may have been added or removed while we waited
    stop = threading.Event()

    def _stop(signum, frame):  # noqa: ARG001
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    try:
        with (
            LatestWinsSubscriber(args.windows, topics=skeleton_topics(), bind=args.windows_bind,
                                 curve=curve if args.windows_bind else None,
                                 allow_remote=args.allow_remote) as windows_sub,
            LatestWinsPublisher(args.labels, curve=curve, allow_remote=args.allow_remote) as labels_pub,
            ControlServer(args.control, curve=curve, allow_remote=args.allow_remote) as control,
        ):
            print(READY_LINE, file=sys.stderr, flush=True)
            stats = run_inference(recognizer, windows_sub, labels_pub, control, args.duration, stop, args.max_batch)
    except KeyboardInterrupt:
        return 0
    except Exception as error:  # noqa: BLE001 - e.g. an endpoint already in use: one line, not a traceback
        if "zmq" in type(error).__module__ or isinstance(error, ValueError):
            print(f"inference: cannot open sockets: {error}", file=sys.stderr)
            return 2
        raise
    print(json.dumps({"inference": stats.to_dict()}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
