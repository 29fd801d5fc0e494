"""Every built-in dataset has a description per class; users bring their own in one format."""

import json
from collections import Counter
from pathlib import Path

import pytest

from fsvae_core.descriptions import (
    PART_NAMES,
    ActionDescription,
    DescriptionError,
    load_descriptions,
    save_descriptions,
    synonym_groups,
)

FLORENCE = Path(__file__).resolve().parents[1] / "benchmarks" / "florence_actions.json"
# Every file that carries body-part descriptions, and its class count.
WITH_PARTS = [("ntu120", 120), ("utd-mhad", 27), ("nw-ucla", 10), ("hdm05", 11), ("sbu", 8), (FLORENCE, 9)]


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


# --- body parts -------------------------------------------------------------------------------------------

WAVE_PARTS = {
    "head": "the head faces forward and stays level",
    "torso": "the torso stays upright and still",
    "left_arm": "the left arm stays still at the side",
    "right_arm": "the right arm rises above the shoulder and the forearm swings side to side",
    "left_leg": "the left leg stands still, weight on both feet",
    "right_leg": "the right leg stands still, weight on both feet",
}


def _all_with_parts() -> list[ActionDescription]:
    return [d for source, _ in WITH_PARTS for d in load_descriptions(source)]


@pytest.mark.parametrize("source, count", WITH_PARTS, ids=[Path(str(source)).stem for source, _ in WITH_PARTS])
def test_every_class_describes_six_body_parts_in_short_sentences(source, count):
    descriptions = load_descriptions(source)
    assert len(descriptions) == count
    for d in descriptions:
        assert d.parts is not None and [part for part, _ in d.parts] == list(PART_NAMES), d.name
        texts = d.part_texts()
        assert len(texts) == 6
        for part, text in zip(PART_NAMES, texts):
            assert 3 <= len(text.split()) <= 25, (d.name, part, text)


def test_each_sentence_names_its_own_body_part():
    """A sentence read alone still says which part moves: "head" in the head's, "left" in the left arm's..."""
    words = {"head": ("head",), "torso": ("torso",), "left_arm": ("left",), "right_arm": ("right",),
             "left_leg": ("left",), "right_leg": ("right",)}
    for d in _all_with_parts():
        for part, text in d.parts:
            assert any(word in text for word in words[part]), (d.name, part, text)


def test_our_descriptions_say_what_the_body_does_never_what_it_does_not():
    """The text model reads "not swinging" almost as swinging (fsvae_core.action_text.negation_note)."""
    from fsvae_core.action_text import negated_phrases

    for d in _all_with_parts():
        for field, text in [("ld", d.ld), ("gd", d.gd), *d.parts]:
            assert negated_phrases(text) == [], (d.name, field, text)


def test_part_vocabulary_is_shared_across_classes():
    """The convention: an idle part is always worded the same, so shared part-level motions can recombine.

    Idle head "the head faces forward and stays level", idle torso "the torso stays upright and still",
    idle arm "the <side> arm stays still at the side", idle leg "the <side> leg stands still, weight on
    both feet"; moving parts reuse one phrase per motion (walking legs, arm raised to the mouth...).
    """
    counts = Counter((part, text) for d in _all_with_parts() for part, text in d.parts)
    assert counts[("left_arm", "the left arm stays still at the side")] >= 30
    assert counts[("right_arm", "the right arm stays still at the side")] >= 10
    assert counts[("head", "the head faces forward and stays level")] >= 30
    assert counts[("torso", "the torso stays upright and still")] >= 30
    for side in ("left", "right"):
        assert counts[(f"{side}_leg", f"the {side} leg stands still, weight on both feet")] >= 30
        assert counts[(f"{side}_leg", f"the {side} leg steps forward in turn with the other leg, walking")] >= 5
    # One-handed actions of unspecified side are described right-handed: the left arm idles there.
    drink = load_descriptions("ntu120")[0]
    assert drink.name == "drink water" and dict(drink.parts)["left_arm"] == "the left arm stays still at the side"
    # Where the label names the side, the parts follow it.
    kick = next(d for d in load_descriptions("hdm05") if d.name == "kick forward (left foot)")
    assert "kick" in dict(kick.parts)["left_leg"] and "kick" not in dict(kick.parts)["right_leg"]


def test_parts_round_trip_through_a_user_file(tmp_path):
    mine = [
        ActionDescription("wave", "one hand swings side to side above the shoulder", "greeting someone", WAVE_PARTS),
        ActionDescription("jump up", "both legs push off and the body leaves the floor", "jumping in place"),
    ]
    save_descriptions(mine, tmp_path / "mine.json")
    written = json.loads((tmp_path / "mine.json").read_text())["classes"]
    assert written[0]["parts"] == WAVE_PARTS and "parts" not in written[1]
    loaded = load_descriptions(tmp_path / "mine.json")
    assert loaded == mine
    assert loaded[0].part_texts() == [WAVE_PARTS[part] for part in PART_NAMES]


def test_builtin_parts_round_trip(tmp_path):
    ntu = load_descriptions("ntu120")
    save_descriptions(ntu, tmp_path / "ntu.json")
    assert load_descriptions(tmp_path / "ntu.json") == ntu


def test_parts_are_kept_in_part_order_whitespace_collapsed_and_hashable():
    shuffled = dict(reversed(list(WAVE_PARTS.items())))
    shuffled["head"] = "  the head   faces forward\nand stays level "
    a = ActionDescription("wave", "ld", "gd", shuffled)
    b = ActionDescription("wave", "ld", "gd", tuple(WAVE_PARTS.items()))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert [part for part, _ in a.parts] == list(PART_NAMES)
    assert a != ActionDescription("wave", "ld", "gd")  # parts count in equality
    assert ActionDescription("wave", "ld", "gd") == ActionDescription("wave", "ld", "gd", None)


def _write_one(tmp_path, parts) -> Path:
    path = tmp_path / "parts.json"
    path.write_text(json.dumps({"classes": [{"index": 0, "name": "wave", "ld": "a hand moves", "gd": "greeting",
                                             "parts": parts}]}))
    return path


def test_a_missing_part_is_refused_by_file_class_and_key(tmp_path):
    parts = {k: v for k, v in WAVE_PARTS.items() if k != "left_leg"}
    with pytest.raises(DescriptionError, match=r"parts\.json: classes\[0\]\.parts \(class 'wave'\) lacks 'left_leg'"):
        load_descriptions(_write_one(tmp_path, parts))


def test_an_extra_part_is_refused_by_file_class_and_key(tmp_path):
    parts = {**WAVE_PARTS, "tail": "the tail wags"}
    message = r"parts\.json: classes\[0\]\.parts \(class 'wave'\) has unknown key\(s\) 'tail'"
    with pytest.raises(DescriptionError, match=message):
        load_descriptions(_write_one(tmp_path, parts))


def test_a_misspelt_part_is_named_as_unknown_and_its_part_as_missing(tmp_path):
    parts = {("right_hand" if k == "right_arm" else k): v for k, v in WAVE_PARTS.items()}
    message = r"\(class 'wave'\) has unknown key\(s\) 'right_hand' and lacks 'right_arm'"
    with pytest.raises(DescriptionError, match=message):
        load_descriptions(_write_one(tmp_path, parts))


@pytest.mark.parametrize("empty", ["", "   ", None, 3])
def test_an_empty_part_sentence_is_refused_by_file_class_and_key(tmp_path, empty):
    parts = {**WAVE_PARTS, "torso": empty}
    message = r"parts\.json: classes\[0\]\.parts\.torso \(class 'wave'\) must be a non-empty string"
    with pytest.raises(DescriptionError, match=message):
        load_descriptions(_write_one(tmp_path, parts))


@pytest.mark.parametrize("not_an_object", [None, "the head nods", [["head", "the head nods"]]])
def test_parts_that_are_not_an_object_are_refused(tmp_path, not_an_object):
    with pytest.raises(DescriptionError, match=r"parts\.json: classes\[0\]\.parts \(class 'wave'\) must be an object"):
        load_descriptions(_write_one(tmp_path, not_an_object))


def test_bad_parts_in_code_are_refused_at_construction():
    with pytest.raises(DescriptionError, match=r"class 'wave'.*lacks 'head'"):
        ActionDescription("wave", "ld", "gd", {k: v for k, v in WAVE_PARTS.items() if k != "head"})


def test_classes_without_parts_still_load_and_say_so(tmp_path):
    path = tmp_path / "plain.json"
    path.write_text(json.dumps({"classes": [{"index": 0, "name": "wave", "ld": "a hand moves", "gd": "greeting"}]}))
    (plain,) = load_descriptions(path)
    assert plain == ActionDescription("wave", "a hand moves", "greeting") and plain.parts is None
    assert plain.texts(("name", "ld", "gd")) == ["wave", "a hand moves", "greeting"]
    with pytest.raises(DescriptionError, match=r"'wave' has no body-part descriptions"):
        plain.part_texts()
