"""Settings documents: what they fill, what they keep, and errors that name the key."""

import json

import pytest

from fsvae_core.experiment import ExperimentConfig
from fsvae_core.pipeline import PipelineConfig
from fsvae_core.settings import SettingsError, config_from_dict, config_to_dict, load_settings


def test_a_document_fills_what_it_names_and_keeps_every_default_it_does_not():
    config = config_from_dict(ExperimentConfig, {"train": {"cycles": 3}, "part_weights": [0, 1, 2]})
    assert config.train.cycles == 3
    assert config.train.steps_per_cycle == ExperimentConfig().train.steps_per_cycle
    assert config.part_weights == (0.0, 1.0, 2.0) and all(type(w) is float for w in config.part_weights)


def test_a_config_survives_the_round_trip_through_json():
    config = config_from_dict(PipelineConfig, {"experiment": {"text_parts_choices": [["name", "ld"]]},
                                               "backbone_train": {"augment": {"crop_range": [0.6, 1.8]}}})
    again = config_from_dict(PipelineConfig, json.loads(json.dumps(config_to_dict(config))))
    assert again == config
    assert again.experiment.text_parts_choices == (("name", "ld"),)


@pytest.mark.parametrize("document, message", [
    ({"train": {"cyclez": 3}}, "train: unknown key(s) ['cyclez']"),
    ({"train": {"lr": "0.001"}}, "train.lr: expected a number, got '0.001'"),
    ({"train": {"cycles": 2.5}}, "train.cycles: expected int, got 2.5"),
    ({"train": {"mixed_precision": 1}}, "train.mixed_precision: expected bool, got 1"),
    ({"prototype_scale": [10]}, "prototype_scale: expected a number, got [10]"),
    ({"part_weights": 1.0}, "part_weights: expected a list, got 1.0"),
    ({"part_weights": [0, "one"]}, "part_weights[1]: expected a number, got 'one'"),
    ({"text_parts_choices": [["name", 3]]}, "text_parts_choices[0][1]: expected str, got 3"),
    ({"train": {"loss": {"reconstruction": "median"}}},
     "train.loss.reconstruction: must be one of ['sum', 'mean'], got 'median'"),
])
def test_a_wrong_value_is_refused_naming_its_dotted_path(document, message):
    with pytest.raises(SettingsError) as error:
        config_from_dict(ExperimentConfig, document)
    assert message in str(error.value)


def test_a_pair_must_have_two_items():
    with pytest.raises(SettingsError, match=r"backbone_train\.augment\.crop_range: expected a list of 2 items"):
        config_from_dict(PipelineConfig, {"backbone_train": {"augment": {"crop_range": [0.6]}}})


def test_a_value_the_config_itself_refuses_is_a_settings_error_naming_the_section():
    with pytest.raises(SettingsError, match=r"^train: TrainConfig needs cycles >= 1"):
        config_from_dict(ExperimentConfig, {"train": {"cycles": 0}})


def test_a_settings_file_names_itself_in_every_error(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text('{"train": ', encoding="utf-8")
    with pytest.raises(SettingsError, match=r"broken\.json: cannot read settings"):
        load_settings(ExperimentConfig, broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"train": {"lr": "fast"}}), encoding="utf-8")
    with pytest.raises(SettingsError, match=r"wrong\.json: train\.lr: expected a number"):
        load_settings(ExperimentConfig, wrong)
    with pytest.raises(SettingsError, match=r"absent\.json: cannot read settings"):
        load_settings(ExperimentConfig, tmp_path / "absent.json")
