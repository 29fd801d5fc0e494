"""End to end on generated features whose class structure comes from real text.

Class means are a fixed linear map of the real MiniLM vectors of the real NTU-60
descriptions, plus Gaussian noise: the only route to an unseen class is through
its description, so zero-shot accuracy far above chance means the text and
skeleton sides were really aligned.
"""


import dataclasses

import numpy as np
import pytest
import torch

from fsvae_core import experiment
from fsvae_core.attributes import attribute_directions, class_attributes
from fsvae_core.descriptions import load_descriptions
from fsvae_core.experiment import ExperimentConfig, PartText, run_zero_shot_protocol
from fsvae_core.features import FeatureSplit, LabelledFeatures, text_structured_features
from fsvae_core.parts import part_text_embeddings
from fsvae_core.frequency import FrequencyConfig
from fsvae_core.losses import LossWeights
from fsvae_core.model import VAEConfig
from fsvae_core.splits import standard_split
from fsvae_core.text import SentenceEncoder, class_embeddings
from fsvae_core.train import TrainConfig

SPLIT = standard_split("ntu60", "48/12")
FEATURE_DIM = 64


@pytest.fixture(scope="module")
def class_text(tmp_path_factory):
    encoder = SentenceEncoder(cache_root=tmp_path_factory.mktemp("text-cache"))
    return class_embeddings(load_descriptions("ntu60"), encoder)


def generated_features(class_text: np.ndarray) -> FeatureSplit:
    return text_structured_features(class_text, SPLIT, dim=FEATURE_DIM, noise=0.1)


def small_config(**loss) -> ExperimentConfig:
    bands = FrequencyConfig(n_bands=8, phi=8)
    return ExperimentConfig(
        vae=VAEConfig(latent_dim=32, skeleton_frequency=bands, text_frequency=bands),
        train=TrainConfig(cycles=2, steps_per_cycle=400, loss=LossWeights(**loss)),
        samples_per_class=100, classifier_epochs=150,
    )


@pytest.fixture(scope="module")
def full_method(class_text):
    return run_zero_shot_protocol(generated_features(class_text), SPLIT, class_text, small_config(), progress=False)


def test_zero_shot_accuracy_on_unseen_classes_is_far_above_chance(full_method):
    chance = 1 / len(SPLIT.unseen)
    assert full_method.metrics["zsl"]["top1"] > 4 * chance


def test_removing_the_alignment_term_measurably_hurts(full_method, class_text):
    without = run_zero_shot_protocol(generated_features(class_text), SPLIT, class_text, small_config(alpha=0.0), progress=False)
    assert without.metrics["zsl"]["top1"] < full_method.metrics["zsl"]["top1"] - 0.2


def test_gzsl_recognises_both_seen_and_unseen_classes(full_method):
    stacking = full_method.metrics["gzsl"]["stacking"]
    assert stacking["seen"] > 0.3 and stacking["unseen"] > 0.3
    assert stacking["harmonic"] == pytest.approx(2 * stacking["seen"] * stacking["unseen"] / (stacking["seen"] + stacking["unseen"]))


def test_model_selection_never_sees_test_classes(full_method):
    validation = full_method.metrics["validation"]
    assert validation["best_cycle"] in (1, 2)
    assert 0 <= validation["zsl_top1"] <= 1
    assert not set(SPLIT.validation) & set(SPLIT.unseen)


def test_metrics_cover_every_unseen_class(full_method):
    for rule in ("prototype", "softmax"):
        assert set(full_method.metrics["zsl"][rule]["per_class"]) == set(SPLIT.unseen)


def test_the_transductive_result_is_reported_beside_zsl_with_its_weight_chosen_on_validation_classes(full_method):
    choice = full_method.metrics["transductive"]
    offered = ExperimentConfig().batch_weights
    assert set(choice["validation_zsl"]) == {str(float(w)) for w in offered}
    assert choice["validation_zsl"][str(choice["weight"])] == max(choice["validation_zsl"].values())
    zsl = full_method.metrics["zsl"]
    assert zsl["transductive"]["weight"] == choice["weight"]
    assert set(zsl["transductive"]["per_class"]) == set(SPLIT.unseen)
    assert zsl["transductive"]["top1"] > 4 / len(SPLIT.unseen)
    if choice["weight"] == 0:
        assert zsl["transductive"]["top1"] == zsl["top1"]


def test_feature_prototypes_are_reported_beside_zsl_never_in_its_place(full_method, class_text):
    assert full_method.metrics["features"] is None and "features" not in full_method.metrics["zsl"]
    offered = (0.0, 1.0, 4.0)
    config = dataclasses.replace(small_config(), feature_weights=offered)
    result = run_zero_shot_protocol(generated_features(class_text), SPLIT, class_text, config, progress=False)
    choice, zsl = result.metrics["features"], result.metrics["zsl"]
    assert set(choice["validation_zsl"]) == {str(w) for w in offered}
    assert choice["validation_zsl"][str(choice["weight"])] == max(choice["validation_zsl"].values())
    assert zsl["features"]["weight"] == choice["weight"]
    assert set(zsl["features"]["per_class"]) == set(SPLIT.unseen)
    assert zsl["features"]["top1"] > 4 / len(SPLIT.unseen)
    assert zsl["top1"] == full_method.metrics["zsl"]["top1"]  # the zero-shot result itself is untouched


def test_offered_weights_must_not_be_negative_and_penalties_must_be_positive():
    with pytest.raises(ValueError, match="batch_weights"):
        ExperimentConfig(batch_weights=(0.0, -1.0))
    with pytest.raises(ValueError, match="feature_weights"):
        ExperimentConfig(feature_weights=(-0.5,))
    with pytest.raises(ValueError, match="feature_penalty"):
        ExperimentConfig(feature_penalty=0.0)


def test_the_live_decision_rule_is_fitted_on_validation_classes_playing_text_added_actions(full_method):
    calibration = full_method.metrics["calibration"]
    rates = calibration["open_set"]
    assert set(rates) == {"trained_right", "text_right", "absent_unknown", "mean"}
    # Far better than deciding everything (absent 0) or nothing (right 0): mean 1/3 either way.
    assert rates["mean"] > 0.5 and rates["text_right"] > 0.2 and rates["absent_unknown"] > 0.2
    # Text-only classes score lower than trained ones, so they get the lower threshold.
    assert calibration["unknown_text_threshold"] < calibration["unknown_threshold"]


def with_part_features(data: FeatureSplit, part_table: np.ndarray, width: int = 24, noise: float = 0.3, seed: int = 0):
    """The same split with part features (N, B, width) that are a linear image of each class's part sentences."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(part_table.shape[1], part_table.shape[2], width))  # (B, D, width)

    def attach(part):
        parts = np.einsum("nbd,bdw->nbw", part_table[part.y], mixing) + noise * rng.normal(size=(len(part.y), part_table.shape[1], width))
        return LabelledFeatures(part.x, part.y, parts.astype(np.float32))

    return FeatureSplit(train=attach(data.train), ztest=attach(data.ztest), gtest=attach(data.gtest))


def test_the_part_rule_is_chosen_on_validation_classes_when_the_parts_carry_the_signal(tmp_path_factory, class_text):
    encoder = SentenceEncoder(cache_root=tmp_path_factory.mktemp("part-cache"))
    table, has = part_text_embeddings(load_descriptions("ntu60"), encoder)
    weak_global = text_structured_features(class_text, SPLIT, dim=FEATURE_DIM, noise=2.0)  # a poor global match
    data = with_part_features(weak_global, table)
    config = dataclasses.replace(small_config(), part_weights=(0.0, 1.0, 4.0))
    result = run_zero_shot_protocol(data, SPLIT, class_text, config, progress=False, part_text=PartText(table, has))
    choice = result.metrics["parts"]
    assert choice["weight"] > 0 and result.part_rule.weight == choice["weight"] and result.part_rule.aligner is not None
    assert set(choice["validation_zsl"]) == {"0.0", "1.0", "4.0"}
    zsl = result.metrics["zsl"]
    assert zsl["parts"]["top1"] > zsl["prototype"]["top1"] + 0.1 and zsl["top1"] == zsl["parts"]["top1"]
    # Off by default: the same data without part weights to choose from decides by FS-VAE alone.
    plain = run_zero_shot_protocol(data, SPLIT, class_text, small_config(), progress=False, part_text=PartText(table, has))
    assert plain.part_rule.aligner is None and plain.metrics["parts"]["weight"] == 0.0 and "parts" not in plain.metrics["zsl"]


def test_attribute_scores_are_chosen_when_the_measures_follow_the_part_sentences(tmp_path_factory, class_text):
    encoder = SentenceEncoder(cache_root=tmp_path_factory.mktemp("attribute-cache"))
    table, has = part_text_embeddings(load_descriptions("ntu60"), encoder)
    directions = attribute_directions(encoder)
    values = class_attributes(torch.from_numpy(table), torch.from_numpy(directions)).numpy()  # (K, A)
    values = (values - values.mean(0)) / values.std(0)
    weak_global = text_structured_features(class_text, SPLIT, dim=FEATURE_DIM, noise=2.0)
    data = with_part_features(weak_global, table, noise=30.0)  # part features that say next to nothing
    rng = np.random.default_rng(1)

    def measured(part):  # window measures that follow the class's part sentences, with noise
        return dataclasses.replace(part, attributes=(values[part.y] + 0.5 * rng.normal(size=(len(part.y), values.shape[1]))).astype(np.float32))

    data = FeatureSplit(train=measured(data.train), ztest=measured(data.ztest), gtest=measured(data.gtest))
    config = dataclasses.replace(small_config(), part_weights=(0.0, 1.0), attribute_weights=(0.0, 1.0, 4.0))
    result = run_zero_shot_protocol(data, SPLIT, class_text, config, progress=False,
                                    part_text=PartText(table, has, directions))
    choice = result.metrics["parts"]
    assert choice["attribute_weight"] > 0 and result.part_rule.attribute_weight == choice["attribute_weight"]
    assert set(choice["attribute_validation_zsl"]) == {"0.0", "1.0", "4.0"}
    assert result.part_rule.matcher is not None and (result.part_rule.aligner is not None) == (choice["weight"] > 0)
    zsl = result.metrics["zsl"]
    assert zsl["parts"]["top1"] > zsl["prototype"]["top1"] + 0.1 and zsl["top1"] == zsl["parts"]["top1"]


def test_the_validation_stage_trains_the_class_text_that_matches_best(class_text, monkeypatch):
    data = generated_features(class_text)  # the features follow class_text
    scrambled = class_text[np.random.default_rng(0).permutation(len(class_text))]  # each class given another's text
    config = dataclasses.replace(small_config(), text_parts_choices=(("name", "ld"),))
    estimated = []  # the cycles each stage's time estimate says are still to come
    train_vaes = experiment.train_vaes
    monkeypatch.setattr(experiment, "train_vaes", lambda *args: estimated.append(args[-1]) or train_vaes(*args))
    result = run_zero_shot_protocol(data, SPLIT, {("name", "ld", "gd"): scrambled, ("name", "ld"): class_text}, config,
                                    progress=False)
    # Two cycles a stage: the first text's estimate covers the second text and the final stage, the second's the final.
    assert estimated == [4, 2, 0]
    chosen = result.metrics["text_parts"]
    assert result.text_parts == ("name", "ld") and chosen["chosen"] == ["name", "ld"]
    assert chosen["validation_zsl"]["name+ld"] > chosen["validation_zsl"]["name+ld+gd"] + 0.2
    assert result.class_text is class_text
    assert result.metrics["validation"]["zsl_top1"] == chosen["validation_zsl"]["name+ld"]
    assert result.metrics["zsl"]["top1"] > 4 / len(SPLIT.unseen)


def test_class_texts_must_be_the_ones_the_settings_ask_for(class_text):
    config = dataclasses.replace(small_config(), text_parts_choices=(("name", "ld"),))
    with pytest.raises(ValueError, match="settings ask for"):
        run_zero_shot_protocol(generated_features(class_text), SPLIT, class_text, config, progress=False)
