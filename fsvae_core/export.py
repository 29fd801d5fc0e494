"""A bundle's window -> scores computation as one ONNX graph, and that graph run by onnxruntime.

``fsvae export --onnx BUNDLE OUT.onnx`` writes :class:`fsvae_core.scorer.WindowScorer`
with the bundle's classes built in:

    input   windows  (N, M, T, V, 3) float32   N any, 1 <= M <= max_persons
    output  scores   (N, K) float32            calibrated cosine (+ part and attribute terms), classes in bundle order

The windows are what the live recognizer feeds its model: canonical ``ntu25``
joints, normalised as the bundle's ``skeleton`` section says, newest T frames,
absent persons all zeros. The model's metadata key ``fsvae`` holds JSON with the
class names and origins, the decision thresholds and the window spec, so a
device can decide ``unknown`` exactly as :mod:`fsvae_core.decision` does.

The live inference process runs the same graph on the CPU (``--runtime onnx``, the default there) with
the classes as further inputs (prototypes, penalty, part_text, has_parts), so
adding an action changes inputs, not the graph.

Two things change on the way, neither the result: the exporter has no FFT, so
each :class:`~fsvae_core.frequency.FrequencyEnhancer` becomes its fixed (L, L)
filter matrix (it is linear, so this is exact up to rounding); and the backbone
takes its dense path (every person slot encoded, absent ones masked) because
a graph cannot skip rows by value. Exporting needs the ``onnx`` package,
running the graph ``onnxruntime`` (both dependencies of the project).

Axis letters: N windows, M persons, T frames, V joints, K classes.
"""

from __future__ import annotations

import copy
import io
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from fsvae_core.bundle import Bundle, load_bundle
from fsvae_core.frequency import FrequencyEnhancer
from fsvae_core.scorer import ClassTensors, WindowScorer

METADATA_KEY = "fsvae"
ONNX_FORMAT = "fsvae-onnx-scorer"
ONNX_FORMAT_VERSION = 1
OPSET = 17
# The promise of the export check: no score further than this from PyTorch's, and the same best class.
MAX_SCORE_DIFFERENCE = 1e-4
CLASS_INPUTS = ("prototypes", "penalty", "part_text", "has_parts")


class ExportError(ValueError):
    """An export that cannot be made or that does not compute what PyTorch computes."""


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError as error:
        raise ExportError(f"ONNX needs the {module!r} package, a dependency of fsvae: pip install -e .") from error


class FixedFilter(nn.Module):
    """A frozen frequency enhancer: ``x @ matrix`` along ``dim``; same call as ``FrequencyEnhancer``."""

    def __init__(self, matrix: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("matrix", matrix.detach().clone())  # (L, L)

    def forward(self, x: torch.Tensor, dim: int = -1) -> torch.Tensor:
        # Positive axes: the exporter writes a negative movedim target into Transpose's perm, which is invalid.
        dim, last = dim % x.dim(), x.dim() - 1
        return (x.transpose(dim, last) @ self.matrix.to(x.dtype)).transpose(dim, last)


def traceable(scorer: WindowScorer) -> WindowScorer:
    """A copy of ``scorer`` (eval mode, CPU) that computes the same scores with no FFT in it."""
    copied = copy.deepcopy(scorer).cpu().eval()
    for name, module in list(copied.named_modules()):
        if isinstance(module, FrequencyEnhancer):
            parent, _, attribute = name.rpartition(".")
            setattr(copied.get_submodule(parent), attribute, FixedFilter(module.filter_matrix()))
    return copied


class _WithClasses(nn.Module):
    """A scorer with its classes built in: windows -> scores."""

    def __init__(self, scorer: WindowScorer, classes: ClassTensors) -> None:
        super().__init__()
        self.scorer = scorer
        for name, tensor in zip(CLASS_INPUTS, classes.tensors()):
            self.register_buffer(name, tensor.cpu())

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        return self.scorer(windows, *(getattr(self, name) for name in CLASS_INPUTS if hasattr(self, name)))


def onnx_graph(scorer: WindowScorer, classes: ClassTensors, built_in: bool) -> bytes:
    """The serialised ONNX model of ``scorer``, classes ``built_in`` or taken as inputs (dynamic K).

    ``classes`` gives the example (and, built in, the values); the graph has
    dynamic N and M on ``windows``.
    """
    _require("onnx")
    model = traceable(scorer)
    cfg = model.backbone.config
    example = torch.zeros(2, cfg.max_persons, cfg.window_frames, cfg.n_joints, cfg.in_channels)
    example[:, 0] = torch.randn(2, cfg.window_frames, cfg.n_joints, cfg.in_channels, generator=torch.Generator().manual_seed(0))
    tensors = tuple(t.cpu() for t in classes.tensors())
    names = CLASS_INPUTS[: len(tensors)]
    dynamic = {"windows": {0: "N", 1: "M"}, "scores": {0: "N", 1: "K"}}
    if built_in:
        module, args, inputs = _WithClasses(model, classes).eval(), (example,), ["windows"]
    else:
        module, args, inputs = model, (example, *tensors), ["windows", *names]
        dynamic.update({name: {0: "K"} for name in names})
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(module, args, buffer, dynamo=False, input_names=inputs, output_names=["scores"],
                          dynamic_axes=dynamic, opset_version=OPSET)  # fmt: skip
    return buffer.getvalue()


def scorer_of(bundle: Bundle) -> tuple[WindowScorer, ClassTensors]:
    """The bundle's scorer (CPU, eval mode) and its classes."""
    scorer = WindowScorer.for_bundle(bundle, bundle.build_backbone(), bundle.build_vae())
    return scorer.eval(), ClassTensors.of_bundle(bundle)


def metadata(bundle: Bundle) -> dict[str, Any]:
    """What a device needs besides the graph: classes, thresholds, window spec (the ``fsvae`` metadata)."""
    return {
        "format": ONNX_FORMAT, "format_version": ONNX_FORMAT_VERSION, "bundle": str(bundle.path),
        "inputs": {"windows": "(N, M, T, V, 3) float32, canonical ntu25 joints normalised as 'skeleton' says; "
                              "absent persons all zeros"},
        "outputs": {"scores": "(N, K) float32, columns in 'classes' order"},
        "classes": [{"name": entry.name, "seen": entry.seen} for entry in bundle.classes],
        "thresholds": bundle.manifest["thresholds"],
        "skeleton": bundle.manifest["skeleton"],
    }  # fmt: skip


class OnnxScorer:
    """An ONNX scorer graph in onnxruntime on the CPU: windows -> scores like :class:`WindowScorer`.

    Person slots that no window of a batch fills are cut before the call: the
    graph encodes every slot it gets, so a batch of one-person windows costs
    one person, not ``max_persons``.
    """

    def __init__(self, graph: bytes, threads: int = 1) -> None:
        ort = _require("onnxruntime")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])
        self.inputs = [entry.name for entry in self.session.get_inputs()]

    def scores(self, windows: np.ndarray, classes: ClassTensors | None = None) -> np.ndarray:
        """(N, M, T, V, 3) float32 -> (N, K) float32; ``classes`` for a graph that takes them as inputs."""
        windows = np.ascontiguousarray(windows, dtype=np.float32)
        filled = np.flatnonzero(np.abs(windows).reshape(*windows.shape[:2], -1).max(axis=(0, 2)) > 0)
        keep = int(filled[-1]) + 1 if len(filled) else 1
        feeds = {"windows": np.ascontiguousarray(windows[:, :keep])}
        if len(self.inputs) > 1:
            if classes is None:
                raise ValueError("this ONNX scorer takes the classes as inputs; pass classes")
            feeds.update({name: t.cpu().numpy() for name, t in zip(CLASS_INPUTS, classes.tensors())})
        return self.session.run(None, feeds)[0]


@dataclass(frozen=True)
class ExportCheck:
    """How the written graph compares with PyTorch on the check windows."""

    windows: int
    max_difference: float
    top1_agrees: bool

    def line(self) -> str:
        agree = "the same best class for every window" if self.top1_agrees else "a DIFFERENT best class somewhere"
        return f"checked on {self.windows} windows: max |score difference| {self.max_difference:.1e}, {agree}"


def check_graph(graph: bytes, scorer: WindowScorer, classes: ClassTensors, windows: np.ndarray) -> ExportCheck:
    """Scores of ``windows`` (N, M, T, V, 3) by onnxruntime against PyTorch's live path."""
    with torch.no_grad():
        x = torch.from_numpy(windows)
        features, parts = scorer.backbone.features_and_parts(x)
        expected = scorer.score(features, parts, classes, x).numpy()
    got = OnnxScorer(graph).scores(windows, classes)
    return ExportCheck(len(windows), float(np.abs(got - expected).max()),
                       bool((got.argmax(axis=1) == expected.argmax(axis=1)).all()))


def export_onnx(bundle_path: str | Path, out: str | Path, windows: np.ndarray) -> ExportCheck:
    """Write ``out``: the bundle's scorer with its classes built in and the ``fsvae`` metadata.

    ``windows`` (N, M, T, V, 3), prepared as the live recognizer prepares them,
    are scored by both runtimes before anything is written.

    Raises:
        ExportError: a missing package, or scores further than
            MAX_SCORE_DIFFERENCE from PyTorch's or another best class (nothing written).
        BundleError: a bundle that cannot be read or has no backbone.
    """
    onnx = _require("onnx")
    _require("onnxruntime")
    bundle = load_bundle(bundle_path)
    scorer, classes = scorer_of(bundle)
    model = onnx.load_from_string(onnx_graph(scorer, classes, built_in=True))
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, json.dumps(metadata(bundle))
    graph = model.SerializeToString()
    check = check_graph(graph, scorer, classes, np.ascontiguousarray(windows, dtype=np.float32))
    if not (check.max_difference <= MAX_SCORE_DIFFERENCE and check.top1_agrees):
        raise ExportError(f"{out}: not written, the graph does not compute what PyTorch does ({check.line()})")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".writing")
    partial.write_bytes(graph)
    partial.replace(out)
    return check


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The ``fsvae`` metadata of an exported graph (onnxruntime is enough to read it)."""
    ort = _require("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    value = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if value is None:
        raise ExportError(f"{path}: no {METADATA_KEY!r} metadata; not written by fsvae export")
    return json.loads(value)
