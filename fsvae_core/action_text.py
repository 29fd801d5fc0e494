"""What the name and descriptions of an action may hold: one rule for bundles and the wire.

Names and descriptions are shown to people (labels, lists, terminals) and
embedded by the text model, so they must look like what they are. Refused,
wherever they enter (:class:`fsvae_core.bundle.ClassEntry`,
:func:`fsvae_core.bundle.add_action`, the control messages of
:mod:`realtime.messages`):

- control characters (Unicode category Cc: NUL, tab, newline, escape...): a
  newline is an error, not silently turned into a space;
- invisible format characters (Cf), among them the bidirectional overrides and
  isolates U+202A-U+202E and U+2066-U+2069, which make text display in another
  order than it reads, and zero-width characters;
- lone surrogates (Cs, not encodable as UTF-8) and the line and paragraph
  separators U+2028 and U+2029 (Zl, Zp);
- more than :data:`MAX_NAME_CHARS` characters in a name, or
  :data:`MAX_DESCRIPTION_CHARS` in a description.

Every visible script, accents and ordinary spaces are fine. Only the standard
library is used, so the wire format can import this without torch.

Allowed but worth a note (:func:`negation_note`): words that negate a motion
("not swinging", "without moving forward"). The sentence encoder reads such a
phrase almost as the motion it negates, so a description should say what the
body does instead ("held steady", "staying on one spot").
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_CHARS = 200
MAX_DESCRIPTION_CHARS = 4000
# What the live system answers when it decides no action (realtime.messages.LabelEvent.label): no action may be
# named so, in any case or spacing, or a subscriber could not tell the two apart.
UNKNOWN_LABEL = "unknown"

_REFUSED = {
    "Cc": "a control character",
    "Cf": "an invisible format character",
    "Cs": "a lone surrogate",
    "Zl": "a line separator",
    "Zp": "a paragraph separator",
}
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def character_name(char: str) -> str:
    """``U+202E RIGHT-TO-LEFT OVERRIDE``: the code point and, where Unicode has one, the name."""
    name = unicodedata.name(char, "")
    if not name and unicodedata.category(char) == "Cc":
        name = {"\x00": "NUL", "\t": "TAB", "\n": "LINE FEED", "\r": "CARRIAGE RETURN", "\x1b": "ESCAPE"}.get(char, "")
    return f"U+{ord(char):04X}" + (f" {name}" if name else "")


def refused_character(text: str, allow: str = "") -> tuple[int, str] | None:
    """(index, why) of the first character of ``text`` that is refused, or None; ``allow`` lists exceptions."""
    for index, char in enumerate(text):
        if char in allow:
            continue
        kind = _REFUSED.get(unicodedata.category(char))
        if kind is not None:
            if char in _BIDI:
                kind = "a bidirectional override"
            return index, f"{character_name(char)} ({kind}) at index {index}"
    return None


def text_problem(value: object, max_chars: int, allow: str = "") -> str | None:
    """Why ``value`` cannot be a name or description of at most ``max_chars`` characters; None if it can."""
    if not isinstance(value, str) or not value.strip():
        shown = repr(value)
        return f"must be a non-empty string, got {shown[:60] + '...' if len(shown) > 60 else shown}"
    if len(value) > max_chars:
        return f"must have at most {max_chars} characters, got {len(value)}"
    refused = refused_character(value, allow)
    if refused is not None:
        return (f"holds {refused[1]}; names and descriptions may not hold control, invisible or "
                "direction-changing characters")
    return None


def check_action_text(where: str, value: object, max_chars: int) -> str:
    """``value`` if it may be an action's name or description; ValueError starting with ``where`` otherwise."""
    problem = text_problem(value, max_chars)
    if problem is not None:
        raise ValueError(f"{where} {problem}")
    return value  # type: ignore[return-value]


def name_key(name: str) -> str:
    """What two action names are compared by: "Wave  Hand" and "wave hand" name the same action."""
    return " ".join(name.split()).casefold()


def reserved_name_problem(name: str) -> str | None:
    """Why ``name`` may not name an action because it is :data:`UNKNOWN_LABEL` (however written), or None."""
    if name_key(name) == UNKNOWN_LABEL:
        return f"{UNKNOWN_LABEL!r} is reserved for undecided labels; choose another name"
    return None


def escape_refused(text: str, allow: str = "") -> str:
    """``text`` with every refused character (but those in ``allow``) written as a visible escape (``\\u202e``)."""
    if refused_character(text, allow) is None:
        return text
    out = []
    for char in text:
        if char not in allow and unicodedata.category(char) in _REFUSED:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


# "no" alone is left out: "to say no" describes a gesture, not a missing motion.
_NEGATION = re.compile(r"\b(?:not|never|nor|without|rather than|instead of)\b(?:\W+\w+){0,2}|\b\w+n't\b(?:\W+\w+){0,2}",
                       re.IGNORECASE)


def negated_phrases(text: str) -> list[str]:
    """The phrases of ``text`` that negate something, each with up to two words after it: ``["not swinging"]``."""
    return [match.group(0) for match in _NEGATION.finditer(text)]


def negation_note(texts: dict[str, str]) -> str | None:
    """A note naming where ``texts`` (field -> text, e.g. ``{"--ld": ..., "--part right_arm": ...}``) negate a
    motion, or None when none does."""
    found = [f"{phrase!r} ({field})" for field, text in texts.items() for phrase in negated_phrases(text)]
    if not found:
        return None
    return (f"{', '.join(found)}: the text model reads a negated motion almost as the motion itself (\"not "
            "swinging\" as swinging); say what the body does instead (\"held steady\", \"staying on one spot\")")
