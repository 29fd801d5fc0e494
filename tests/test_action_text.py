"""What an action's name and descriptions may hold, and what is worth a note (fsvae_core/action_text.py)."""

import pytest

from fsvae_core.action_text import check_action_text, name_key, negated_phrases, negation_note, reserved_name_problem


def test_a_control_or_direction_changing_character_is_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"new action.ld holds U\+000A LINE FEED"):
        check_action_text("new action.ld", "waves\nhello", 100)
    with pytest.raises(ValueError, match="bidirectional override"):
        check_action_text("new action.name", "wave\u202e", 100)
    assert check_action_text("new action.name", "café au lait 日本", 100) == "café au lait 日本"


def test_negated_phrases_are_found_with_the_words_they_negate():
    assert negated_phrases("the left arm holds an object in front of the body, not swinging") == ["not swinging"]
    assert negated_phrases("jogs in place without moving forward; the arms don't swing") == [
        "without moving forward", "don't swing"]
    assert negated_phrases("the arms stay fixed rather than swinging") == ["rather than swinging"]


def test_saying_no_and_words_that_only_contain_not_are_no_negation():
    assert negated_phrases("shakes the head to say no") == []
    assert negated_phrases("ties a knot; nothing else moves; notices the phone") == []


def test_the_negation_note_names_each_field_and_suggests_saying_what_the_body_does():
    note = negation_note({"--ld": "walks with the arms held still", "--part left_arm": "the left arm is not raised"})
    assert note.startswith("'not raised' (--part left_arm): the text model reads a negated motion almost as")
    assert "say what the body does instead" in note
    assert negation_note({"--ld": "walks with the arms held still", "--gd": "carrying a box"}) is None


def test_names_compare_regardless_of_case_and_spacing_and_unknown_is_reserved():
    assert name_key("  Wave   Hand ") == name_key("wave hand")
    assert reserved_name_problem("unknown") and reserved_name_problem(" UNKNOWN ")
    assert reserved_name_problem("unknown object") is None and reserved_name_problem("wave") is None
