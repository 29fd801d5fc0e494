"""Every built-in dataset has a description per class; users bring their own in one format."""

import json

import pytest

from fsvae_core.descriptions import ActionDescription, DescriptionError, load_descriptions, save_descriptions, synonym_groups


@pytest.mark.parametrize("dataset, count", [("ntu120", 120), ("ntu60", 60), ("utd-mhad", 27), ("nw-ucla", 10)])
def test_each_dataset_describes_every_class_in_three_parts(dataset, count):
    descriptions = load_descriptions(dataset)
    assert len(descriptions) == count
    for d in descriptions:
        assert d.name and len(d.ld.split()) >= 5 and len(d.gd.split()) >= 5
    assert len({d.ld for d in descriptions}) == count and len({d.gd for d in descriptions}) == count


def test_class_order_follows_the_official_ids():
    ntu = load_descriptions("ntu120")
    assert [ntu[i].name for i in (0, 2, 10, 16, 33, 57)] == [
        "drink water", "brushing teeth", "reading", "take off a shoe", "rub two hands together", "handshaking",
    ]
    assert load_descriptions("utd-mhad")[26].name == "squat"
    assert load_descriptions("nw-ucla")[9].name == "carry"


def test_user_file_round_trips(tmp_path):
    mine = [ActionDescription("jumping jacks", "both arms swing up over the head while the feet jump apart, then back", "a warm-up exercise jumping with arms and legs spread")]
    save_descriptions(mine, tmp_path / "mine.json")
    assert load_descriptions(tmp_path / "mine.json") == mine


def test_missing_field_names_the_file_and_entry(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"classes": [{"index": 0, "name": "wave", "ld": "hand moves"}]}))
    with pytest.raises(DescriptionError, match=r"bad\.json: classes\[0\]\.gd must be a non-empty string"):
        load_descriptions(path)


def test_gaps_in_indices_are_refused(tmp_path):
    path = tmp_path / "gap.json"
    entry = {"name": "a", "ld": "b", "gd": "c"}
    path.write_text(json.dumps({"classes": [{"index": 0, **entry}, {"index": 2, **entry}]}))
    with pytest.raises(DescriptionError, match="without gaps"):
        load_descriptions(path)


def test_unknown_name_lists_the_builtin_datasets():
    with pytest.raises(DescriptionError, match="ntu60"):
        load_descriptions("kinetics")


def test_broken_json_is_reported_with_the_file(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    with pytest.raises(DescriptionError, match=r"broken\.json: cannot read"):
        load_descriptions(path)


def test_every_synonym_names_a_real_class_of_its_dataset():
    groups = synonym_groups()
    assert groups and all(len(group) >= 2 for group in groups)
    members = [member for group in groups for member in group]
    assert len(members) == len(set(members))  # no class in two groups
