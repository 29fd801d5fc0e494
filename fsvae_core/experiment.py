"""The zero-shot protocol on skeleton features: validate, calibrate, train, evaluate.

1. Validation stage: the seen classes minus the validation classes train the
   VAEs; the validation classes play unseen. Their ZSL accuracy picks the best
   training cycle, and seen-class samples held out from training plus the
   validation samples fit the GZSL calibration (stacking constant and gate)
   and the live decision rule: the scores below which the live system says
   "unknown", one for trained classes and one for classes known by text
   (:mod:`fsvae_core.decision`; the validation classes play text-added actions).
   When classes carry body-part sentences and ``part_weights`` offers more than
   0, the part-aware rule (:mod:`fsvae_core.parts`) is fitted on the same
   training windows and its weight chosen here by validation ZSL; 0 keeps
   plain FS-VAE. ``attribute_weights`` likewise offers the attribute scores
   (:mod:`fsvae_core.attributes`), whose weight is chosen with the part weight
   as the best pair. With ``text_parts_choices`` the stage runs once per class
   text (e.g. label + local + global description, or label + local) and the
   text with the best validation ZSL is the one trained and shipped.
   ``batch_weights`` offers the transductive refinement
   (:mod:`fsvae_core.transductive`); its weight is chosen here too, with the
   validation classes' windows as the batch. ``feature_weights`` offers the
   prototypes in the backbone's feature space regressed from the class text
   (:mod:`fsvae_core.feature_prototypes`), added to the chosen rule's scores
   with the weight chosen here.
2. Final stage: all seen classes train the VAEs for the chosen number of
   cycles; ZSL is measured on the unseen test set and GZSL on the full test
   set with the calibration from stage 1. Test data decide nothing. The
   transductive result (the unseen test windows refined as one batch) is
   reported beside ZSL as ``zsl.transductive``, never in its place; the
   rule with the feature-space prototypes as ``zsl.features``, beside it too
   (measured, not adopted: a bundle does not carry that term).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from fsvae_core.attributes import AttributeMatcher
from fsvae_core.classifiers import PrototypeClassifier, fit_latent_softmax, fit_linear_softmax
from fsvae_core.decision import TEXT_BY, DecisionRule, fit_decision_rule
from fsvae_core.feature_prototypes import FEATURE_PENALTY, FeatureRegressor
from fsvae_core.features import FeatureSplit, LabelledFeatures
from fsvae_core.gzsl import CalibratedStacking, LogisticGate, accuracy, gzsl_result, per_class_accuracy, softmax
from fsvae_core.model import FSVAE, VAEConfig
from fsvae_core.parts import PartAligner
from fsvae_core.splits import ClassSplit
from fsvae_core.text import TEXT_PARTS, SentenceEncoder, TextEncoderConfig, check_text_parts, class_embeddings, text_name
from fsvae_core.train import TrainConfig, TrainResult, train_vaes
from fsvae_core.transductive import refine_with_batch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExperimentConfig:
    """Everything a run needs besides its data; written whole into ``metrics.json``.

    ``zsl_classifier`` is the rule that selects cycles and feeds the GZSL gate:
    ``"prototype"`` (cosine to text prototypes, what the live system uses) or
    ``"softmax"`` (CADA-VAE's classifier on sampled text latents).
    """

    vae: VAEConfig = field(default_factory=VAEConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    text: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    text_parts: tuple[str, ...] = TEXT_PARTS
    # Further class texts the validation stage may prefer to text_parts (ties keep text_parts).
    text_parts_choices: tuple[tuple[str, ...], ...] = ()
    zsl_classifier: str = "prototype"
    samples_per_class: int = 500
    classifier_epochs: int = 300
    prototype_scale: float = 10.0
    holdout_fraction: float = 0.2
    unknown_quantile: float = 0.05
    text_by: str = "score"  # what the text-class threshold bounds: the best score or a lead (fsvae_core.decision)
    part_weights: tuple[float, ...] = (0.0,)
    part_penalty: float = 100.0
    # Weights of the attribute scores (fsvae_core.attributes) chosen from beside the part weight; (0,) keeps them off.
    attribute_weights: tuple[float, ...] = (0.0,)
    # Weights of the transductive refinement (fsvae_core.transductive) chosen from; (0,) reports none.
    batch_weights: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0)
    # Weights of the feature-space prototypes (fsvae_core.feature_prototypes) chosen from; (0,) reports none.
    feature_weights: tuple[float, ...] = (0.0,)
    feature_penalty: float = FEATURE_PENALTY

    def __post_init__(self) -> None:
        if self.zsl_classifier not in ("prototype", "softmax"):
            raise ValueError(f"zsl_classifier must be 'prototype' or 'softmax', got {self.zsl_classifier!r}")
        if not 0 < self.holdout_fraction < 1:
            raise ValueError(f"holdout_fraction must lie in (0, 1), got {self.holdout_fraction}")
        if self.text_by not in TEXT_BY:
            raise ValueError(f"text_by must be one of {TEXT_BY}, got {self.text_by!r}")
        if not 0 <= self.unknown_quantile < 1:
            raise ValueError(f"unknown_quantile must lie in [0, 1), got {self.unknown_quantile}")
        if not self.part_weights or any(w < 0 for w in self.part_weights):
            raise ValueError(f"part_weights must be a non-empty list of weights >= 0, got {self.part_weights}")
        if not self.attribute_weights or any(w < 0 for w in self.attribute_weights):
            raise ValueError(f"attribute_weights must be a non-empty list of weights >= 0, got {self.attribute_weights}")
        if not self.batch_weights or any(w < 0 for w in self.batch_weights):
            raise ValueError(f"batch_weights must be a non-empty list of weights >= 0, got {self.batch_weights}")
        if not self.feature_weights or any(w < 0 for w in self.feature_weights):
            raise ValueError(f"feature_weights must be a non-empty list of weights >= 0, got {self.feature_weights}")
        if self.part_penalty <= 0 or self.feature_penalty <= 0:
            raise ValueError(f"part_penalty and feature_penalty must be positive, got {self.part_penalty} and "
                             f"{self.feature_penalty}")
        check_text_parts(self.text_parts, "text_parts")
        for parts in self.text_parts_choices:
            check_text_parts(parts, "text_parts_choices")

    @property
    def text_options(self) -> tuple[tuple[str, ...], ...]:
        """Every class text the validation stage tries, ``text_parts`` first."""
        return tuple(dict.fromkeys((tuple(self.text_parts), *map(tuple, self.text_parts_choices))))


@dataclass
class ZeroShotModel:
    """A trained model with its unseen-class classifiers, ready to score skeleton features."""

    model: FSVAE
    classes: np.ndarray  # the class ids the classifiers choose among (K,)
    prototypes: PrototypeClassifier
    softmax_layer: torch.nn.Linear
    config: ExperimentConfig

    def latents(self, x: np.ndarray) -> torch.Tensor:
        device = next(self.model.parameters()).device
        return self.model.embed_skeleton(torch.as_tensor(x, device=device))

    def probabilities(self, x: np.ndarray, rule: str | None = None) -> np.ndarray:
        """Class probabilities (N, K) under ``rule`` (default: the configured classifier)."""
        z = self.latents(x)
        if (rule or self.config.zsl_classifier) == "prototype":
            return softmax(self.prototypes.scores(z).cpu().numpy(), 1 / self.config.prototype_scale)
        with torch.no_grad():
            return torch.softmax(self.softmax_layer(z), dim=1).cpu().numpy()

    def predict(self, x: np.ndarray, rule: str | None = None) -> np.ndarray:
        return self.classes[self.probabilities(x, rule).argmax(1)]


def class_texts(descriptions, encoder: SentenceEncoder, config: ExperimentConfig) -> dict[tuple[str, ...], np.ndarray]:
    """The class text table (n_classes, Ct) of every text the validation stage tries (``config.text_options``)."""
    return {parts: class_embeddings(descriptions, encoder, parts) for parts in config.text_options}


def fit_zero_shot(model: FSVAE, class_text: torch.Tensor, classes, config: ExperimentConfig) -> ZeroShotModel:
    """Build both unseen-class classifiers for ``classes`` from the trained model."""
    classes = np.asarray(sorted(classes))
    device = next(model.parameters()).device
    text = class_text[torch.as_tensor(classes)].to(device)
    return ZeroShotModel(
        model=model,
        classes=classes,
        prototypes=PrototypeClassifier.from_text(model, text),
        softmax_layer=fit_latent_softmax(
            model, text, config.samples_per_class, config.classifier_epochs, seed=config.train.seed
        ),
        config=config,
    )


def _train(data: LabelledFeatures, class_text: torch.Tensor, config: ExperimentConfig, train: TrainConfig, evaluate,
           checkpoint, progress, cycles_after: int = 0):
    vae_config = replace(config.vae, skeleton_dim=data.x.shape[1], text_dim=class_text.shape[1])
    torch.manual_seed(train.seed)
    model = FSVAE(vae_config)
    return train_vaes(
        model, torch.as_tensor(data.x), torch.as_tensor(data.y), class_text, train, evaluate, checkpoint, progress,
        cycles_after,
    )


def _hold_out(data: LabelledFeatures, fraction: float, seed: int) -> tuple[LabelledFeatures, LabelledFeatures]:
    """Split each class's samples into (train, held out), keeping at least one of each per class."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(data), dtype=bool)
    for c in np.unique(data.y):
        members = rng.permutation(np.flatnonzero(data.y == c))
        n = min(max(1, round(fraction * len(members))), len(members) - 1)
        held[members[:n]] = True
    return data.subset(~held), data.subset(held)


def joint_scores(model: FSVAE, class_text: torch.Tensor, classes: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Cosine scores (N, K) of features against the prototypes of ``classes``, seen and unseen alike."""
    device = next(model.parameters()).device
    prototypes = PrototypeClassifier.from_text(model, class_text[torch.as_tensor(classes)].to(device))
    return prototypes.scores(model.embed_skeleton(torch.as_tensor(x, device=device))).cpu().numpy()


def _seen_logits(expert: torch.nn.Linear, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return expert(torch.as_tensor(x)).numpy()


def _fit_decision(scores: np.ndarray, target: np.ndarray, classes: np.ndarray, trained: np.ndarray, gamma: float,
                  config: ExperimentConfig) -> tuple[DecisionRule, dict | None]:
    """The live decision rule from held-out windows, and its open-set rates (None where it could not be fitted).

    With fewer than two validation classes there is nothing to halve: both
    thresholds fall back to a low quantile (``unknown_quantile``) of the best
    calibrated scores of correctly recognised held-out windows.
    """
    if (~trained).sum() >= 2:
        rule, rates = fit_decision_rule(scores, target, classes, trained, gamma, seed=config.train.seed,
                                        text_by=config.text_by)
        return rule, rates.as_dict()
    calibrated = scores - gamma * trained[None, :]
    correct = classes[calibrated.argmax(1)] == target
    best = calibrated.max(1)
    unknown = float(np.quantile(best[correct] if correct.any() else best, config.unknown_quantile))
    return DecisionRule(gamma, unknown, unknown), None


@dataclass(frozen=True)
class PartText:
    """Every class's body-part sentence embeddings (K, B, D), which classes have them (K,), and, for the
    attribute scores, the attribute directions (B, D, A) of the same sentence encoder."""

    table: np.ndarray
    has: np.ndarray
    attribute_directions: np.ndarray | None = None

    def of(self, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.table[classes], self.has[classes]


@dataclass(frozen=True)
class PartRule:
    """The terms added to FS-VAE's scores: ``weight`` times the part scores of ``aligner``
    (:mod:`fsvae_core.parts`) and ``attribute_weight`` times the attribute scores of ``matcher``
    (:mod:`fsvae_core.attributes`); a weight of 0 leaves its term out."""

    aligner: PartAligner | None = None
    weight: float = 0.0
    matcher: AttributeMatcher | None = None
    attribute_weight: float = 0.0

    @property
    def on(self) -> bool:
        return self.weight > 0 or self.attribute_weight > 0

    def terms(self, data: LabelledFeatures, part_text: PartText, classes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The part scores and the attribute scores (N, K) of ``data`` against ``classes`` (zeros where off)."""
        zeros = np.zeros((len(data), len(classes)), dtype=np.float32)
        part = zeros if self.aligner is None else self.aligner.scores(data.parts, *part_text.of(classes))
        attribute = zeros if self.matcher is None else self.matcher.scores(data.attributes, *part_text.of(classes))
        return part, attribute

    def scores(self, model: FSVAE, text: torch.Tensor, data: LabelledFeatures, part_text: PartText | None,
               classes: np.ndarray) -> np.ndarray:
        """The scores (N, K) of ``data`` against ``classes``: FS-VAE's (:func:`joint_scores`) with the rule's terms added."""
        scores = joint_scores(model, text, classes, data.x)
        if not self.on:
            return scores
        part, attribute = self.terms(data, part_text, classes)
        return scores + self.weight * part + self.attribute_weight * attribute


@dataclass
class ProtocolResult:
    """What a protocol run produced: the metrics (JSON-able), the final trained model and the
    part-aware rule's terms (off when validation chose FS-VAE alone)."""

    metrics: dict
    zero_shot: ZeroShotModel
    predictions: dict[str, np.ndarray]  # zsl / zsl_target / gzsl / gzsl_target, class ids
    text_parts: tuple[str, ...]  # the class text trained, chosen on validation classes among config.text_options
    class_text: np.ndarray  # its vectors (n_classes, Ct)
    part_rule: PartRule = PartRule()


@dataclass
class _Validated:
    """The validation stage for one class text: its trained VAEs, part weight and validation ZSL."""

    text: torch.Tensor
    stage: TrainResult
    part_choice: dict
    score: float


def _stage1_checkpoint(out_dir: Path | None, parts: tuple[str, ...], first: bool) -> Path | None:
    if out_dir is None:
        return None
    return out_dir / ("validation_stage.ckpt.safetensors" if first else f"validation_stage-{text_name(parts)}.ckpt.safetensors")


def run_zero_shot_protocol(
    data: FeatureSplit,
    split: ClassSplit,
    class_text: np.ndarray | dict[tuple[str, ...], np.ndarray],
    config: ExperimentConfig,
    out_dir: Path | None = None,
    progress: bool = True,
    validation_train: LabelledFeatures | None = None,
    part_text: PartText | None = None,
    validation_shifted: LabelledFeatures | None = None,
) -> ProtocolResult:
    """Run both stages on ``data`` (see module docstring).

    ``class_text`` is (n_classes, Ct), row = class id, or one such table per
    text of ``config.text_options`` (keyed by its parts), among which the
    validation stage chooses. With ``out_dir`` each stage checkpoints there and
    an interrupted run resumes.
    ``validation_train`` replaces ``data.train`` in the validation stage: the
    seen-class samples as seen by a backbone that never trained on the
    validation classes (when features come from our own backbone).
    ``part_text`` (every class's body-part sentences) and part features in the
    data let the part-aware rule take part. ``validation_shifted``, the same
    samples row for row as the validation stage's (windows through the sensor
    augmentation), is what the decision rule's thresholds are fitted on.
    """
    started = time.perf_counter()
    texts = dict(class_text) if isinstance(class_text, dict) else {tuple(config.text_parts): class_text}
    if list(texts) != list(config.text_options):
        raise ValueError(f"class texts given for {list(texts)}, but the settings ask for {list(config.text_options)}")
    seen, unseen = np.asarray(split.seen), np.asarray(split.unseen)
    validation, train_classes = np.asarray(split.validation), np.asarray(split.train_classes)
    seed = config.train.seed

    # Stage 1: seen minus validation classes train; validation classes play unseen.
    seen_data = data.train if validation_train is None else validation_train
    stage_train, seen_holdout = _hold_out(seen_data.of_classes(train_classes), config.holdout_fraction, seed)
    pseudo_unseen = seen_data.of_classes(validation)

    parts_on = (part_text is not None and bool(part_text.has.all()) and max(config.part_weights) > 0
                and data.train.parts is not None and seen_data.parts is not None)
    attributes_on = (part_text is not None and bool(part_text.has.all()) and max(config.attribute_weights) > 0
                     and part_text.attribute_directions is not None and data.train.attributes is not None
                     and seen_data.attributes is not None)
    rule1 = _fit_part_rule(stage_train, part_text, train_classes, config, parts_on, attributes_on)

    def validate(parts: tuple[str, ...], text: torch.Tensor, checkpoint: Path | None, stages_after: int) -> _Validated:
        def validation_accuracy(model: FSVAE) -> float:
            zero_shot = fit_zero_shot(model, text, validation, config)
            return accuracy(zero_shot.predict(pseudo_unseen.x), pseudo_unseen.y)

        # The later stages (other class texts, then the final stage) train at most as many cycles each.
        stage = _train(stage_train, text, config, config.train, validation_accuracy, checkpoint, progress,
                       cycles_after=config.train.cycles * stages_after)
        log.info("validation stage (class text %s): best cycle %d, validation ZSL %.3f", text_name(parts),
                 stage.best_cycle, stage.best_score)
        choice = _choose_part_weights(stage.model, text, rule1, part_text, pseudo_unseen, validation, config)
        score = stage.best_score if choice["score"] is None else choice["score"]
        return _Validated(text, stage, choice, score)

    validated = {parts: validate(parts, torch.as_tensor(table, dtype=torch.float32),
                                 _stage1_checkpoint(out_dir, parts, first=i == 0), stages_after=len(texts) - i)
                 for i, (parts, table) in enumerate(texts.items())}
    text_parts = max(validated, key=lambda parts: validated[parts].score)  # ties: the first, config.text_parts
    if len(validated) > 1:
        log.info("class texts on validation classes: %s -> %s",
                 {text_name(p): round(v.score, 4) for p, v in validated.items()}, text_name(text_parts))
    chosen = validated[text_parts]
    text, stage1, part_choice = chosen.text, chosen.stage, chosen.part_choice
    rule1 = replace(rule1, weight=part_choice["weight"], attribute_weight=part_choice["attribute_weight"])
    validation_scores = rule1.scores(stage1.model, text, pseudo_unseen, part_text, validation)
    batch_choice = _choose_batch_weight(validation_scores, pseudo_unseen, validation, config)
    feature_choice = _choose_feature_weight(validation_scores, stage_train, pseudo_unseen, texts[text_parts],
                                            validation, config)

    joint_classes = np.sort(np.concatenate([train_classes, validation]))
    trained = np.isin(joint_classes, train_classes)

    def held_out_scores(samples: LabelledFeatures) -> tuple[LabelledFeatures, np.ndarray]:
        """The held-out seen and validation-class samples of ``samples`` (rows as in seen_data), and their scores."""
        _, holdout = _hold_out(samples.of_classes(train_classes), config.holdout_fraction, seed)
        held = LabelledFeatures.concatenate([holdout, samples.of_classes(validation)])
        scores = rule1.scores(stage1.model, text, held, part_text, joint_classes)
        return held, scores

    calibration, calibration_scores = held_out_scores(seen_data)
    stacking = CalibratedStacking.fit(calibration_scores, calibration.y, joint_classes, trained)
    # A new sensor lowers every score; thresholds are fitted on windows that went through the sensor changes.
    decision_samples, decision_scores = ((calibration, calibration_scores) if validation_shifted is None
                                         else held_out_scores(validation_shifted))
    decision, open_set = _fit_decision(decision_scores, decision_samples.y, joint_classes, trained, stacking.gamma,
                                       config)
    if out_dir is not None:  # what the rule was fitted on, to study other rules without retraining
        np.savez_compressed(out_dir / "decision_windows.npz", scores=decision_scores, target=decision_samples.y,
                            clean_scores=calibration_scores, clean_target=calibration.y,
                            classes=joint_classes, trained=trained, gamma=stacking.gamma)
    seen_expert = fit_linear_softmax(torch.as_tensor(stage_train.x), torch.as_tensor(np.searchsorted(train_classes, stage_train.y)), len(train_classes), seed=seed)
    stage1_zero_shot = fit_zero_shot(stage1.model, text, validation, config)
    gate = LogisticGate.fit(
        _seen_logits(seen_expert, calibration.x), stage1_zero_shot.probabilities(calibration.x),
        calibration.y, train_classes, validation,
    )

    # Stage 2: all seen classes, as many cycles as validation chose.
    final_train = replace(config.train, cycles=max(stage1.best_cycle, 1))
    stage2 = _train(data.train, text, config, final_train, None,
                    out_dir / "final_stage.ckpt.safetensors" if out_dir else None, progress)
    part_rule = replace(_fit_part_rule(data.train, part_text, seen, config, rule1.weight > 0,
                                       rule1.attribute_weight > 0),
                        weight=rule1.weight, attribute_weight=rule1.attribute_weight)
    all_classes = np.arange(split.n_classes)
    common = {
        "parts": part_choice,
        "text_parts": {"chosen": list(text_parts),
                       "validation_zsl": {text_name(p): v.score for p, v in validated.items()}},
        "calibration": {"gzsl_gamma": stacking.gamma, "gate_threshold": gate.threshold,
                        "unknown_threshold": decision.unknown_trained, "unknown_text_threshold": decision.unknown_text,
                        "text_by": decision.text_by,
                        "open_set": open_set},
        "validation": {"best_cycle": stage1.best_cycle, "zsl_top1": stage1.best_score, "history": stage1.history},
        "transductive": batch_choice,
        "features": feature_choice,
        "final_history": stage2.history,
    }
    if len(unseen) == 0:  # deployment: every class trained, so only seen-class accuracy can be measured
        zero_shot = fit_zero_shot(stage2.model, text, seen, config)
        scores = part_rule.scores(stage2.model, text, data.gtest, part_text, seen)
        predicted = seen[scores.argmax(1)]
        metrics = {"zsl": None, "gzsl": None,
                   "seen": {"top1": accuracy(predicted, data.gtest.y),
                            "per_class": per_class_accuracy(predicted, data.gtest.y, all_classes)},
                   **common, "seconds": time.perf_counter() - started}
        return ProtocolResult(metrics, zero_shot, {"gzsl": predicted, "gzsl_target": data.gtest.y}, text_parts,
                              texts[text_parts], part_rule)

    zero_shot = fit_zero_shot(stage2.model, text, unseen, config)
    zsl = {}
    for rule in ("prototype", "softmax"):
        predicted = zero_shot.predict(data.ztest.x, rule)
        zsl[rule] = {"top1": accuracy(predicted, data.ztest.y), "per_class": per_class_accuracy(predicted, data.ztest.y, unseen)}
    zsl_predicted = zero_shot.predict(data.ztest.x)
    scores = part_rule.scores(stage2.model, text, data.ztest, part_text, unseen)
    if part_rule.on and config.zsl_classifier == "prototype":
        zsl_predicted = unseen[scores.argmax(1)]
        zsl["parts"] = {"top1": accuracy(zsl_predicted, data.ztest.y), "weight": part_rule.weight,
                        "attribute_weight": part_rule.attribute_weight,
                        "per_class": per_class_accuracy(zsl_predicted, data.ztest.y, unseen)}
    if batch_choice is not None:
        refined = unseen[refine_with_batch(scores, data.ztest.x, batch_choice["weight"]).argmax(1)]
        transductive = {"top1": accuracy(refined, data.ztest.y), "weight": batch_choice["weight"],
                        "per_class": per_class_accuracy(refined, data.ztest.y, unseen)}
    if feature_choice is not None:
        regressor = FeatureRegressor.fit(data.train.x, data.train.y, texts[text_parts], config.feature_penalty)
        term = regressor.scores(data.ztest.x, texts[text_parts][unseen])
        with_features = unseen[(scores + feature_choice["weight"] * term).argmax(1)]
        zsl["features"] = {"top1": accuracy(with_features, data.ztest.y), "weight": feature_choice["weight"],
                           "per_class": per_class_accuracy(with_features, data.ztest.y, unseen)}

    final_expert = fit_linear_softmax(torch.as_tensor(data.train.x), torch.as_tensor(np.searchsorted(seen, data.train.y)), len(seen), seed=seed)
    gtest_scores = part_rule.scores(stage2.model, text, data.gtest, part_text, all_classes)
    stacked = stacking.predict(gtest_scores, all_classes, np.isin(all_classes, seen))
    gated = gate.predict(_seen_logits(final_expert, data.gtest.x), zero_shot.probabilities(data.gtest.x), seen, unseen)

    metrics = {
        "zsl": {"top1": accuracy(zsl_predicted, data.ztest.y), "classifier": config.zsl_classifier, **zsl,
                **({"transductive": transductive} if batch_choice is not None else {})},
        "gzsl": {
            "stacking": {**gzsl_result(stacked, data.gtest.y, seen).as_dict(), "gamma": stacking.gamma,
                         "per_class": per_class_accuracy(stacked, data.gtest.y, all_classes)},
            "gate": {**gzsl_result(gated, data.gtest.y, seen).as_dict(), "threshold": gate.threshold,
                     "per_class": per_class_accuracy(gated, data.gtest.y, all_classes)},
        },
        **common,
        "seconds": time.perf_counter() - started,
    }
    predictions = {"zsl": zsl_predicted, "zsl_target": data.ztest.y, "gzsl": stacked, "gzsl_target": data.gtest.y}
    return ProtocolResult(metrics, zero_shot, predictions, text_parts, texts[text_parts], part_rule)


def _fit_part_rule(samples: LabelledFeatures, part_text: PartText | None, classes: np.ndarray,
                   config: ExperimentConfig, parts: bool, attributes: bool) -> PartRule:
    """The part maps and the attribute standardisers fitted on ``samples`` of the trained ``classes``
    (weights 0: they are chosen afterwards)."""
    aligner = PartAligner.fit(samples.parts, part_text.table[samples.y], config.part_penalty) if parts else None
    matcher = (AttributeMatcher.fit(part_text.attribute_directions, samples.attributes, part_text.table[classes])
               if attributes else None)
    return PartRule(aligner, 0.0, matcher, 0.0)


def _choose_part_weights(model: FSVAE, text: torch.Tensor, rule: PartRule, part_text: PartText | None,
                         pseudo_unseen: LabelledFeatures, validation: np.ndarray, config: ExperimentConfig) -> dict:
    """The part and attribute weights with the best validation ZSL among ``config.part_weights`` x
    ``config.attribute_weights`` (ties: the smaller part weight, then the smaller attribute weight).

    ``validation_zsl`` holds each part weight's accuracy at the chosen attribute weight, and
    ``attribute_validation_zsl`` each attribute weight's at the chosen part weight.
    """
    if rule.aligner is None and rule.matcher is None:
        return {"weight": 0.0, "attribute_weight": 0.0, "validation_zsl": None, "score": None}
    plain = joint_scores(model, text, validation, pseudo_unseen.x)
    part, attribute = rule.terms(pseudo_unseen, part_text, validation)
    part_weights = sorted(set(config.part_weights)) if rule.aligner is not None else [0.0]
    attribute_weights = sorted(set(config.attribute_weights)) if rule.matcher is not None else [0.0]
    grid = {(float(w), float(a)): accuracy(validation[(plain + w * part + a * attribute).argmax(1)], pseudo_unseen.y)
            for w in part_weights for a in attribute_weights}
    best_w, best_a = max(grid, key=lambda wa: (grid[wa], -wa[0], -wa[1]))
    log.info("part / attribute weights on validation classes: %s -> %g / %g",
             {f"{w:g}/{a:g}": round(v, 4) for (w, a), v in grid.items()}, best_w, best_a)
    return {"weight": best_w, "attribute_weight": best_a, "score": grid[best_w, best_a],
            "validation_zsl": {str(w): grid[w, best_a] for w in part_weights},
            "attribute_validation_zsl": {str(a): grid[best_w, a] for a in attribute_weights}}


def _choose_batch_weight(scores: np.ndarray, pseudo_unseen: LabelledFeatures, validation: np.ndarray,
                         config: ExperimentConfig) -> dict | None:
    """The transductive weight with the best validation ZSL among ``config.batch_weights`` (ties: the
    smaller), the validation classes' windows refined as one batch; None when only 0 is offered.

    ``scores`` (N, K) are the validation windows' scores with the part rule's terms, as the test's are.
    """
    if max(config.batch_weights) == 0:
        return None
    grid = {float(w): accuracy(validation[refine_with_batch(scores, pseudo_unseen.x, w).argmax(1)], pseudo_unseen.y)
            for w in sorted(set(config.batch_weights))}
    return _best_weight(grid, "transductive weight")


def _choose_feature_weight(scores: np.ndarray, trained: LabelledFeatures, pseudo_unseen: LabelledFeatures,
                           class_text: np.ndarray, validation: np.ndarray, config: ExperimentConfig) -> dict | None:
    """The weight of the feature-space prototypes (:mod:`fsvae_core.feature_prototypes`, fitted on ``trained``)
    with the best validation ZSL among ``config.feature_weights`` (ties: the smaller); None when only 0 is offered.

    ``scores`` (N, K) are the validation windows' scores with the part rule's terms; ``class_text`` (n_classes, Ct).
    """
    if max(config.feature_weights) == 0:
        return None
    regressor = FeatureRegressor.fit(trained.x, trained.y, class_text, config.feature_penalty)
    term = regressor.scores(pseudo_unseen.x, class_text[validation])
    grid = {float(w): accuracy(validation[(scores + w * term).argmax(1)], pseudo_unseen.y)
            for w in sorted(set(config.feature_weights))}
    return _best_weight(grid, "feature-prototype weight")


def _best_weight(grid: dict[float, float], what: str) -> dict:
    """The weight of ``grid`` (weight -> validation ZSL) that scores best, ties to the smaller, logged as ``what``."""
    best = max(grid, key=lambda w: (grid[w], -w))
    log.info("%s on validation classes: %s -> %g", what, {f"{w:g}": round(v, 4) for w, v in grid.items()}, best)
    return {"weight": best, "validation_zsl": {str(w): v for w, v in grid.items()}}
