"""``fsvae train``: raw skeleton recordings to a deployable bundle, in one run.

    recordings ─► calibration (canonical NTU25, body frame, fixed-time windows)
               ─► backbone trained on seen classes only ─► 256-d features
               ─► FS-VAE protocol (validation stage, final stage, evaluation)
               ─► bundle (backbone + VAEs + prototypes + thresholds + metrics)

Two backbones are trained: one on the seen classes minus the validation
classes, whose features drive the validation stage (validation classes must
be as new to the backbone as unseen classes will be), and one on all seen
classes for the final model.

Seen-class samples are split into train and test by the dataset's customary
protocol: UTD-MHAD odd subjects train, even test; NW-UCLA views 1-2 train,
view 3 test; NTU cross-subject; HDM05 the split of its source (subjects bd, bk,
dg train, mm, tr test); SBU the first of its five actor-pair folds tests;
other data half the subjects (or half the samples, stratified, when subjects
are unknown). A class the protocol leaves without a training recording trains
on its first one.

Several datasets train together as one (:func:`merge_training_data`): each is
mapped to the canonical skeleton and resampled to the highest frame rate among
them, and actions that two datasets record under their own names
(``descriptions/synonyms.json``) become one class.
"""

from __future__ import annotations

import logging
import resource
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from calibration import resample, to_canonical
from calibration.windows import WindowSpec, clip_windows
from fsvae_core.attributes import attribute_directions, measure_windows
from fsvae_core.backbone import (
    BackboneConfig, BackboneTrainConfig, augment, extract_features, extract_part_features, train_backbone,
)
from fsvae_core.bundle import ClassEntry, TextSpec, Thresholds, save_bundle
from fsvae_core.decision import fit_still_threshold, window_motion
from fsvae_core.descriptions import ActionDescription, DescriptionError, known_datasets, load_descriptions, synonym_groups
from fsvae_core.experiment import ExperimentConfig, PartText, class_texts, run_zero_shot_protocol
from fsvae_core.features import FeatureSplit, LabelledFeatures
from fsvae_core.report import plot_loss_curves, write_run_report
from fsvae_core.settings import SettingsError, config_from_dict, config_to_dict
from fsvae_core.skeleton_data import DatasetError, SkeletonDataset
from fsvae_core.splits import ClassSplit
from fsvae_core.parts import part_text_embeddings
from fsvae_core.text import SentenceEncoder

log = logging.getLogger(__name__)

MAX_CROPS = 8  # windows from one recording at most (PipelineConfig.class_windows)

# NTU RGB+D cross-subject training subjects (NTU-60; NTU-120 adds its own).
NTU60_TRAIN_SUBJECTS = (1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38)
NTU120_TRAIN_SUBJECTS = NTU60_TRAIN_SUBJECTS + (
    45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92, 93,
    94, 95, 97, 98, 100, 103,
)


@dataclass(frozen=True)
class PipelineConfig:
    """Everything ``fsvae train`` needs besides its data.

    ``frequency`` places the frequency module: ``"feature"`` in the skeleton
    VAE's encoder (public code), ``"temporal"`` on the backbone's input window
    (the paper's text), or ``"none"``.

    Each training recording gives ``train_crops`` windows; with
    ``class_windows`` > 0 the crops are counted per class instead, so that
    every class gets about that many windows (from 1 to ``MAX_CROPS`` per
    recording): merged datasets hold 10 to 100 recordings a class, and a class
    with few should not be drowned by one with many.

    With ``decision_shift`` the decision rule's thresholds are fitted on the
    held-out windows passed once more through the backbone's training
    augmentation (``backbone_train.augment``: viewpoint, body proportions,
    squashed depth, speed, jitter), a stand-in for a sensor the model never saw:
    such a sensor lowers every score, and thresholds fitted on clean windows of
    the training sensors then leave almost everything ``unknown``.
    """

    window: WindowSpec = field(default_factory=WindowSpec)
    train_crops: int = 3
    class_windows: int = 0
    frequency: str = "feature"
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    backbone_train: BackboneTrainConfig = field(default_factory=BackboneTrainConfig)
    experiment: ExperimentConfig = field(default_factory=ExperimentConfig)
    decision_shift: bool = False

    def __post_init__(self) -> None:
        if self.frequency not in ("feature", "temporal", "none"):
            raise ValueError(f"PipelineConfig.frequency must be 'feature', 'temporal' or 'none', got {self.frequency!r}")
        if self.train_crops < 1:
            raise ValueError("PipelineConfig.train_crops must be at least 1")
        if self.class_windows < 0:
            raise ValueError("PipelineConfig.class_windows must be 0 (off) or a number of windows per class")

    def crops(self, labels: np.ndarray) -> np.ndarray:
        """Windows (N,) to cut from each training recording of these class ``labels`` (N,)."""
        if self.class_windows == 0:
            return np.full(len(labels), self.train_crops)
        counts = np.bincount(labels)[labels]  # (N,) recordings of each one's class
        return np.clip(np.round(self.class_windows / counts), 1, MAX_CROPS).astype(int)

    def resolved(self) -> "PipelineConfig":
        """Make backbone and VAE settings agree with the window and the frequency placement."""
        temporal = replace(self.backbone.frequency, placement="temporal" if self.frequency == "temporal" else "none")
        backbone = replace(self.backbone, window_frames=self.window.frames, max_persons=self.window.max_persons,
                           frequency=temporal)
        vae = self.experiment.vae
        skeleton = replace(vae.skeleton_frequency, placement="feature" if self.frequency == "feature" else "none")
        vae = replace(vae, skeleton_dim=backbone.feature_dim, skeleton_frequency=skeleton)
        return replace(self, backbone=backbone, experiment=replace(self.experiment, vae=vae))


def train_test_partition(dataset: SkeletonDataset, name: str, seed: int) -> np.ndarray:
    """A boolean mask (N,) of training samples, by the dataset's customary protocol (module docstring)."""
    train = _protocol_partition(dataset, name, seed)
    for c in np.unique(dataset.labels):
        members = np.flatnonzero(dataset.labels == c)
        if not train[members].any():
            train[members[0]] = True
    return train


def _protocol_partition(dataset: SkeletonDataset, name: str, seed: int) -> np.ndarray:
    if name == "utd-mhad" and dataset.subjects is not None:
        return dataset.subjects % 2 == 1
    if name == "nw-ucla" and dataset.views is not None:
        return np.isin(dataset.views, (1, 2))
    if name in ("ntu60", "ntu120") and dataset.subjects is not None:
        return np.isin(dataset.subjects, NTU60_TRAIN_SUBJECTS if name == "ntu60" else NTU120_TRAIN_SUBJECTS)
    if name in ("hdm05", "sbu") and dataset.folds is not None:
        return dataset.folds != 1  # HDM05: 1 marks its source's test clips; SBU: fold 1 of five tests
    rng = np.random.default_rng(seed)
    if dataset.subjects is not None and len(np.unique(dataset.subjects)) > 1:
        subjects = rng.permutation(np.unique(dataset.subjects))
        return np.isin(dataset.subjects, subjects[: len(subjects) // 2 or 1])
    train = np.zeros(len(dataset), dtype=bool)
    for c in np.unique(dataset.labels):
        members = rng.permutation(np.flatnonzero(dataset.labels == c))
        train[members[: max(1, len(members) // 2)]] = True
    return train


def dataset_descriptions(dataset: SkeletonDataset, name: str) -> list[ActionDescription]:
    """The built-in descriptions of a named dataset, or those a generic file carries."""
    if name in known_datasets():
        return load_descriptions(name)[: dataset.num_classes]
    for key in ("descriptions_ld", "descriptions_gd"):
        if getattr(dataset, key) is None:
            raise DatasetError(name, key, "is missing; training needs a local and a global description of every "
                                          "class (see docs/training.md, 'A dataset of your own')")
    return [ActionDescription(n, ld, gd) for n, ld, gd in zip(dataset.class_names, dataset.descriptions_ld, dataset.descriptions_gd)]


@dataclass
class TrainingData:
    """Recordings ready for the pipeline: one dataset, its class texts and its train/test mask.

    ``parts`` says, for each dataset merged into this one (just itself when
    alone), which samples (N,) bool and which class ids came from it.
    """

    name: str
    dataset: SkeletonDataset
    descriptions: list[ActionDescription]
    is_train: np.ndarray  # (N,) bool
    parts: dict[str, tuple[np.ndarray, tuple[int, ...]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.parts:
            self.parts = {self.name: (np.ones(len(self.dataset), dtype=bool), tuple(range(self.dataset.num_classes)))}

    @property
    def part_classes(self) -> dict[str, tuple[int, ...]]:
        return {name: classes for name, (_, classes) in self.parts.items()}


def training_data(dataset: SkeletonDataset, name: str, seed: int) -> TrainingData:
    """A named dataset ready for the pipeline; classes without any recording are left out.

    (The NTU samples folder holds 5 of NTU's 120 classes: the other 115 have
    nothing to train or test on.)
    """
    descriptions = dataset_descriptions(dataset, name)
    present = np.unique(dataset.labels)
    if len(present) < dataset.num_classes:
        renumber = np.full(dataset.num_classes, -1, dtype=np.int64)
        renumber[present] = np.arange(len(present))
        dataset = replace(dataset, labels=renumber[dataset.labels], class_names=[dataset.class_names[c] for c in present],
                          descriptions_ld=None, descriptions_gd=None)
        descriptions = [descriptions[c] for c in present]
    return TrainingData(name, dataset, descriptions, train_test_partition(dataset, name, seed))


def merge_training_data(parts: list[TrainingData], lead: str | None = None) -> TrainingData:
    """Several datasets as one: skeletons mapped to NTU25, classes of each appended in turn.

    Each part keeps its own train/test protocol. Sequences are resampled to the
    highest frame rate among the parts; synonyms (:func:`synonym_groups`) become
    one class, named and described by the group's first member present, or by
    the member of the part named ``lead``: a split whose unseen classes are that
    dataset's must meet them by their own text. Two classes of the same name
    that are not listed as synonyms are an error: they might not be the same action.
    """
    if len(parts) == 1:
        return parts[0]
    descriptions, class_ids = _merged_classes(parts, lead)
    fps = max(p.dataset.fps for p in parts)
    sequences, labels, sources, subjects = [], [], [], []
    for part, ids in zip(parts, class_ids):
        d = part.dataset
        for seq in d.sequences:
            seq = to_canonical(seq, d.layout)
            if d.fps != fps:
                seq = resample(seq, np.arange(len(seq)) / d.fps, fps)
            sequences.append(seq)
        labels.append(ids[d.labels])
        sources += d.sources
        subjects.append(d.subjects if d.subjects is not None else np.zeros(len(d), np.int64))
    merged = SkeletonDataset(
        sequences=sequences, labels=np.concatenate(labels), class_names=[c.name for c in descriptions],
        layout="ntu25", fps=fps, sources=sources, subjects=np.concatenate(subjects),
    )
    owner = np.concatenate([np.full(len(p.dataset), i) for i, p in enumerate(parts)])  # (N,) part of each sample
    by_part = {p.name: (owner == i, tuple(sorted(set(ids.tolist())))) for i, (p, ids) in enumerate(zip(parts, class_ids))}
    return TrainingData("+".join(p.name for p in parts), merged, descriptions, np.concatenate([p.is_train for p in parts]),
                        by_part)


def _merged_classes(parts: list[TrainingData], lead: str | None) -> tuple[list[ActionDescription], list[np.ndarray]]:
    """The merged class list and, per part, the merged id of each of its class ids."""
    # Classes are keyed by (part position, name): two parts may carry the same dataset name (one file given twice).
    present = {(i, c.name.casefold()): c for i, p in enumerate(parts) for c in p.descriptions}
    leader: dict[tuple[int, str], tuple[int, str]] = {}
    for group in synonym_groups():
        members = [(i, name.casefold()) for dataset, name in group for i, p in enumerate(parts)
                   if p.name == dataset and (i, name.casefold()) in present]
        members.sort(key=lambda member: parts[member[0]].name != lead)  # stable: the lead part's member first
        for member in members:
            leader[member] = members[0]
    merged: list[ActionDescription] = []
    index: dict[tuple[int, str], int] = {}
    owner: dict[str, str] = {}
    class_ids = []
    for i, part in enumerate(parts):
        ids = []
        for description in part.descriptions:
            key = leader.get((i, description.name.casefold()), (i, description.name.casefold()))
            if key not in index:
                name = present[key].name
                if name.casefold() in owner:
                    raise DescriptionError(f"cannot merge {owner[name.casefold()]} and {parts[key[0]].name}: both have "
                                           f"an action named {name!r} (list them in descriptions/synonyms.json if they are one)")
                owner[name.casefold()] = parts[key[0]].name
                index[key] = len(merged)
                merged.append(present[key])
            ids.append(index[key])
        class_ids.append(np.array(ids, dtype=np.int64))
    return merged, class_ids


def make_windows(dataset: SkeletonDataset, indices: np.ndarray, spec: WindowSpec,
                 crops: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Canonical model windows of the given samples, ``crops`` of each (one count, or one per sample):
    (sum of crops, M, T, V, C) and their labels."""
    crops = np.broadcast_to(np.asarray(crops), (len(indices),))
    windows = [clip_windows(to_canonical(dataset.sequences[i], dataset.layout), dataset.fps, spec, int(n))
               for i, n in zip(indices, crops)]
    labels = np.repeat(dataset.labels[indices], crops)
    return np.concatenate(windows).astype(np.float32), labels


def _fit_backbone(windows, labels, classes, config: PipelineConfig, checkpoint: Path | None, progress: bool,
                  stage: str, windows_later: int = 0):
    """Train one backbone; ``windows_later``: the windows of the backbone stage still to come (for the estimate)."""
    index = np.searchsorted(np.asarray(classes), labels)  # class ids -> 0..K-1
    epochs = config.backbone_train.epochs
    log.info("stage: %s (%d classes, %d windows, %d epochs)", stage, len(classes), len(windows), epochs)

    def on_epoch(record: dict) -> None:
        # An epoch's time grows with its windows: the next backbone's is this one's, scaled.
        left = record["seconds"] * (epochs - record["epoch"] + epochs * windows_later / len(windows))
        log.info("%s: epoch %d/%d done, about %s left for the backbones (then features and the VAE stages)",
                 stage, record["epoch"], epochs, _duration(left))

    return train_backbone(windows, index, len(classes), config.backbone, config.backbone_train,
                          checkpoint_path=checkpoint, progress=progress, on_epoch=on_epoch)


def _duration(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 90 else f"{seconds:.0f} s"


def _peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# Named settings for `fsvae train` without --config. "full" is PipelineConfig's defaults (60 backbone
# epochs on 48-frame windows, 10 VAE cycles): 40 minutes to over 2 hours for one UTD-MHAD split on a
# 2-core CPU. "cpu" is the setting of the camera and leave-one-dataset-out runs
# (benchmarks/configs/camera_cpu.json): 32-frame windows at 15 fps, a narrower backbone with a 5-frame
# temporal kernel, 20 epochs with the sensor augmentation, about 32 windows a class, 6 VAE cycles.
PRESETS: dict[str, dict] = {
    "full": {},
    "cpu": {
        "window": {"frames": 32, "fps": 15.0, "normalization": {"scale_by": "limbs", "upright": True}},
        "class_windows": 32,
        "backbone": {"channels": [32, 32, 64, 64, 128, 128], "feature_dim": 256, "temporal_kernel": 5},
        "backbone_train": {
            "epochs": 20, "batch_size": 32, "warmup_epochs": 2,
            "augment": {"rotation_deg": 30.0, "tilt_deg": 15.0, "crop_range": [0.6, 1.8], "jitter_std": 0.02,
                        "bone_scale_std": 0.15, "depth_range": [0.5, 1.3]},
        },
        "experiment": {"train": {"cycles": 6, "steps_per_cycle": 1000}},
    },
}


def preset_config(name: str) -> PipelineConfig:
    """The :data:`PRESETS` entry ``name`` as a PipelineConfig."""
    if name not in PRESETS:
        raise SettingsError(f"preset must be one of {', '.join(PRESETS)}, got {name!r}")
    return config_from_dict(PipelineConfig, PRESETS[name], f"preset {name}")


def auto_preset() -> str:
    """``full`` where torch sees a CUDA GPU, else ``cpu``."""
    return "full" if torch.cuda.is_available() else "cpu"


@dataclass
class PipelineResult:
    metrics: dict
    bundle_path: Path


def train_pipeline(data: TrainingData, split: ClassSplit, config: PipelineConfig,
                   out_dir: Path, progress: bool = True, evaluate_on: str | None = None) -> PipelineResult:
    """Run the whole pipeline and write the run folder and its bundle (``out_dir/bundle``).

    A split without unseen classes trains a deployment bundle on every class.
    ``evaluate_on`` names one of ``data.parts``: only its test recordings are
    evaluated (the others' test recordings are neither trained nor tested on).
    """
    started = time.perf_counter()
    config = config.resolved()
    seed = config.experiment.train.seed
    out_dir.mkdir(parents=True, exist_ok=True)
    dataset, name, descriptions, is_train, parts = data.dataset, data.name, data.descriptions, data.is_train, data.parts
    seen, unseen = np.asarray(split.seen), np.asarray(split.unseen)
    train_idx = np.flatnonzero(is_train & np.isin(dataset.labels, seen))
    evaluated = parts[evaluate_on][0] if evaluate_on is not None else np.ones(len(dataset), dtype=bool)
    test_idx = np.flatnonzero(~is_train & evaluated)

    timings = {}
    t0 = time.perf_counter()
    log.info("stage: windows")
    train_windows, train_labels = make_windows(dataset, train_idx, config.window, config.crops(dataset.labels[train_idx]))
    test_windows, test_labels = make_windows(dataset, test_idx, config.window, 1)
    timings["windows_s"] = time.perf_counter() - t0
    timings["peak_rss_mb_after_windows"] = _peak_rss_mb()
    log.info("%d training windows of %d seen classes, %d test windows", len(train_windows), len(seen), len(test_windows))

    t0 = time.perf_counter()
    in_stage1 = np.isin(train_labels, split.train_classes)
    backbone_validation = _fit_backbone(train_windows[in_stage1], train_labels[in_stage1], split.train_classes, config,
                                        out_dir / "backbone_validation.ckpt.safetensors", progress,
                                        "backbone 1/2 (without the validation classes)", len(train_windows))
    backbone = _fit_backbone(train_windows, train_labels, seen, config, out_dir / "backbone.ckpt.safetensors", progress,
                             "backbone 2/2 (every seen class)")
    timings["backbones_s"] = time.perf_counter() - t0
    timings["peak_rss_mb_after_backbones"] = _peak_rss_mb()

    t0 = time.perf_counter()
    log.info("stage: features (backbone activations of every window)")
    # Body-part features only when the part-aware rule may be chosen (and every class has part sentences).
    with_parts = max(config.experiment.part_weights) > 0 and all(d.parts is not None for d in descriptions)
    if max(config.experiment.part_weights) > 0 and not with_parts:
        bare = [d.name for d in descriptions if d.parts is None]
        log.warning("part-aware rule off: %d classes have no body-part sentences (%s); deciding by FS-VAE alone",
                    len(bare), ", ".join(bare[:5]) + (" ..." if len(bare) > 5 else ""))

    with_attributes = with_parts and max(config.experiment.attribute_weights) > 0

    def labelled(model, windows, labels, measures=None) -> LabelledFeatures:
        part_features = extract_part_features(model, windows) if with_parts else None
        if with_attributes and measures is None:
            measures = measure_windows(windows)
        return LabelledFeatures(extract_features(model, windows), labels, part_features, measures)

    test = labelled(backbone, test_windows, test_labels)
    train = labelled(backbone, train_windows, train_labels)
    data = FeatureSplit(train=train, ztest=test.of_classes(unseen), gtest=test)
    # The measures read the windows, not a backbone: both passes over the training windows share them.
    validation_train = labelled(backbone_validation, train_windows, train_labels, train.attributes)
    validation_shifted = None
    if config.decision_shift:
        generator = torch.Generator().manual_seed(seed)
        shifted = augment(torch.from_numpy(train_windows), config.backbone_train.augment, generator).numpy()
        validation_shifted = labelled(backbone_validation, shifted, train_labels)
    timings["features_s"] = time.perf_counter() - t0
    timings["peak_rss_mb_after_features"] = _peak_rss_mb()

    t0 = time.perf_counter()
    log.info("stage: VAEs (validation stage, then final stage, then evaluation)")
    encoder = SentenceEncoder(config.experiment.text)
    class_text = class_texts(descriptions, encoder, config.experiment)
    part_text = (PartText(*part_text_embeddings(descriptions, encoder),
                          attribute_directions(encoder) if with_attributes else None) if with_parts else None)
    result = run_zero_shot_protocol(data, split, class_text, config.experiment, out_dir, progress, validation_train,
                                    part_text, validation_shifted)
    timings["vaes_s"] = time.perf_counter() - t0
    timings["peak_rss_mb_after_vaes"] = _peak_rss_mb()

    names = [d.name for d in descriptions]
    zero_shot = result.zero_shot
    calibration = result.metrics["calibration"]
    calibration["still_below"] = fit_still_threshold(window_motion(train_windows))
    log.info("a window moving less than %.3f is a body standing still: unknown", calibration["still_below"])

    if len(parts) > 1:  # how each dataset's own test recordings fared, all classes competing
        predicted, target = result.predictions["gzsl"], result.predictions["gzsl_target"]
        result.metrics["test_per_dataset"] = {
            part: {"windows": int(mask[test_idx].sum()), "top1": float((predicted == target)[mask[test_idx]].mean())}
            for part, (mask, _) in parts.items() if mask[test_idx].any()}
    metrics = {
        "dataset": name, "unseen": {int(c): names[c] for c in unseen}, "split": split.name,
        "validation_classes": {int(c): names[c] for c in split.validation}, "seed": seed,
        "samples": {"train_windows": int(len(train_windows)), "test_windows": int(len(test_windows))},
        **result.metrics,
        "timings_s": {**timings, "total_s": time.perf_counter() - started},
        "settings": config_to_dict(config),
    }
    write_run_report(out_dir, metrics, result.predictions, names, split.seen, split.unseen)
    plot_loss_curves(out_dir)
    bundle_path = save_bundle(
        out_dir / "bundle",
        vae=zero_shot.model,
        backbone_config=config_to_dict(config.backbone),
        backbone_state=backbone.state_dict(),
        classes=[ClassEntry(d.name, d.ld, d.gd, seen=bool(c in set(split.seen)), origin="trained", parts=d.parts)
                 for c, d in enumerate(descriptions)],
        class_text=torch.as_tensor(result.class_text),
        skeleton=config.window,
        text=TextSpec(config.experiment.text.model, result.text_parts),
        thresholds=Thresholds(unknown=calibration["unknown_threshold"], gzsl_gamma=calibration["gzsl_gamma"],
                              unknown_text=calibration["unknown_text_threshold"],
                              text_by=calibration.get("text_by", "score"), still_below=calibration["still_below"]),
        metrics={k: metrics[k] for k in ("zsl", "gzsl", "seen", "validation", "calibration", "parts") if metrics.get(k) is not None},
        provenance={"datasets": name, "samples": len(dataset), "seed": seed, "split": split.name},
        part_aligner=result.part_rule.aligner, part_weight=result.part_rule.weight,
        attribute_matcher=result.part_rule.matcher, attribute_weight=result.part_rule.attribute_weight,
        part_text=part_text.table if result.part_rule.on else None,
    )
    return PipelineResult(metrics, bundle_path)
