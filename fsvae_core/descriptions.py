"""Class descriptions (FS-VAE contribution 2): label, local and global description per action.

Each dataset has one JSON file in ``fsvae_core/descriptions/``::

    {"dataset": "...", "description": "...",
     "classes": [{"index": 0, "name": "drink water", "ld": "...", "gd": "...",
                  "parts": {"head": "...", "torso": "...", "left_arm": "...",
                            "right_arm": "...", "left_leg": "...", "right_leg": "..."}}, ...]}

``name`` is the action label (AL), ``ld`` the Local Description (what the body
parts do) and ``gd`` the Global Description (what the action is). ``parts``
(optional) says in one sentence per body part (:data:`PART_NAMES`, left and
right being the subject's own sides) what that part does, worded alike across
classes so that part-level motions recur between actions. Users bring their own
classes in the same format (``load_descriptions(PATH)``), with or without parts.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DESCRIPTION_DIR = Path(__file__).resolve().parent / "descriptions"

# The body parts of a class's "parts" field, in the order part_texts() returns them; sides are the subject's own.
PART_NAMES = ("head", "torso", "left_arm", "right_arm", "left_leg", "right_leg")

# Dataset names that share a file with another: NTU-60 is the first 60 classes of NTU-120.
_DATASET_FILES = {
    "ntu120": ("ntu120", None),
    "ntu60": ("ntu120", 60),
    "utd-mhad": ("utd_mhad", None),
    "utd_mhad": ("utd_mhad", None),
    "nw-ucla": ("nw_ucla", None),
    "nw_ucla": ("nw_ucla", None),
    "hdm05": ("hdm05", None),
    "sbu": ("sbu", None),
}


class DescriptionError(ValueError):
    """A description file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class ActionDescription:
    """One action in words: its label, Local Description, Global Description and, optionally, body parts.

    ``parts`` may be given as a mapping from each of :data:`PART_NAMES` to one
    sentence, or as ``(part, sentence)`` pairs; it is kept as pairs in
    :data:`PART_NAMES` order (whitespace collapsed), so descriptions stay
    hashable and compare equal however their parts were given. ``None`` means
    the class has no body-part descriptions.
    """

    name: str
    ld: str
    gd: str
    parts: tuple[tuple[str, str], ...] | None = None

    def __post_init__(self) -> None:
        if self.parts is not None:
            object.__setattr__(self, "parts", _checked_parts(self.parts, "ActionDescription", self.name))

    def texts(self, parts: tuple[str, ...]) -> list[str]:
        """The texts of ``parts`` (a tuple of "name", "ld", "gd") in that order."""
        return [getattr(self, part) for part in parts]

    def part_texts(self) -> list[str]:
        """The six body-part sentences in :data:`PART_NAMES` order; a DescriptionError if the class has none."""
        if self.parts is None:
            raise DescriptionError(f"action {self.name!r} has no body-part descriptions "
                                   f"(its entry has no 'parts' field with {', '.join(PART_NAMES)})")
        return [text for _, text in self.parts]


def _checked_parts(value: object, where: str, name: str) -> tuple[tuple[str, str], ...]:
    """``value`` (a mapping or ``(part, sentence)`` pairs) as pairs in PART_NAMES order, or a DescriptionError
    naming ``where`` (the file and entry), the class ``name`` and the key at fault."""
    needed = ", ".join(PART_NAMES)
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, (list, tuple)) and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in value):
        pairs = [tuple(p) for p in value]
    else:
        pairs = None
    if pairs is None or not all(isinstance(key, str) for key, _ in pairs):
        raise DescriptionError(f"{where}.parts (class {name!r}) must be an object with the keys {needed}, "
                               f"got {value!r}")
    given = [key for key, _ in pairs]
    if len(set(given)) != len(given):
        raise DescriptionError(f"{where}.parts (class {name!r}) names a part twice: {given}")
    # Both faults in one message: a misspelt part ("right_hand") is an unknown key and a missing one at once.
    extra = [key for key in given if key not in PART_NAMES]
    missing = [key for key in PART_NAMES if key not in given]
    faults = ([f"has unknown key(s) {', '.join(map(repr, extra))}"] if extra else []) + (
        [f"lacks {', '.join(map(repr, missing))}"] if missing else [])
    if faults:
        raise DescriptionError(f"{where}.parts (class {name!r}) {' and '.join(faults)}; it needs exactly {needed}")
    texts = dict(pairs)
    for key in PART_NAMES:
        text = texts[key]
        if not isinstance(text, str) or not text.strip():
            raise DescriptionError(f"{where}.parts.{key} (class {name!r}) must be a non-empty string, got {text!r}")
    return tuple((key, " ".join(texts[key].split())) for key in PART_NAMES)


def known_datasets() -> list[str]:
    return sorted(_DATASET_FILES)


def load_descriptions(dataset_or_path: str | Path) -> list[ActionDescription]:
    """The descriptions of a built-in dataset (``"ntu60"``, ``"utd-mhad"``...) or of a JSON file.

    Classes come back ordered by their ``index`` field, so list position = class id.
    """
    key = str(dataset_or_path).lower()
    if key in _DATASET_FILES:
        stem, limit = _DATASET_FILES[key]
        descriptions = _read_description_file(DESCRIPTION_DIR / f"{stem}.json")
        return descriptions[:limit] if limit else descriptions
    path = Path(dataset_or_path)
    if not path.exists():
        raise DescriptionError(
            f"{path}: no such description file, and not a built-in dataset ({', '.join(known_datasets())})"
        )
    return _read_description_file(path)


def _read_description_file(path: Path) -> list[ActionDescription]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DescriptionError(f"{path}: cannot read descriptions: {error}") from error
    classes = document.get("classes") if isinstance(document, dict) else None
    if not isinstance(classes, list) or not classes:
        raise DescriptionError(f"{path}: field 'classes' must be a non-empty list")
    entries: dict[int, ActionDescription] = {}
    for position, entry in enumerate(classes):
        where = f"{path}: classes[{position}]"
        if not isinstance(entry, dict):
            raise DescriptionError(f"{where} must be an object with index, name, ld, gd")
        index = entry.get("index", position)
        if not isinstance(index, int) or index < 0:
            raise DescriptionError(f"{where}.index must be a non-negative integer, got {index!r}")
        if index in entries:
            raise DescriptionError(f"{where}.index {index} appears twice")
        entries[index] = description_from_fields(entry, where)
    if sorted(entries) != list(range(len(entries))):
        raise DescriptionError(f"{path}: class indices must be 0..{len(entries) - 1} without gaps")
    return [entries[i] for i in range(len(entries))]


def description_from_fields(fields: dict, where: str) -> ActionDescription:
    """Build and check one description from a mapping with ``name``, ``ld``, ``gd`` and optionally ``parts``."""
    values = {}
    for field in ("name", "ld", "gd"):
        value = fields.get(field)
        if not isinstance(value, str) or not value.strip():
            raise DescriptionError(f"{where}.{field} must be a non-empty string, got {value!r}")
        values[field] = " ".join(value.split())
    if "parts" in fields:
        parts = fields["parts"]
        if not isinstance(parts, Mapping):  # pairs are for code; a file says parts as an object
            raise DescriptionError(f"{where}.parts (class {values['name']!r}) must be an object with the keys "
                                   f"{', '.join(PART_NAMES)}, got {parts!r}")
        values["parts"] = _checked_parts(parts, where, values["name"])
    return ActionDescription(**values)


def synonym_groups() -> list[list[tuple[str, str]]]:
    """Groups of ``(dataset, class name)`` that name one action in several datasets (``descriptions/synonyms.json``).

    Every member must be a class of a built-in dataset; a group's first member
    present names and describes the merged class.
    """
    path = DESCRIPTION_DIR / "synonyms.json"
    try:
        groups = json.loads(path.read_text(encoding="utf-8"))["groups"]
        parsed = [[(str(dataset), str(name)) for dataset, name in group] for group in groups]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DescriptionError(f"{path}: cannot read the synonym groups: {error}") from error
    for group in parsed:
        for dataset, name in group:
            if name.casefold() not in {d.name.casefold() for d in load_descriptions(dataset)}:
                raise DescriptionError(f"{path}: {dataset} has no class named {name!r}")
    return parsed


def save_descriptions(descriptions: list[ActionDescription], path: Path, dataset: str = "custom") -> None:
    """Write descriptions in the format :func:`load_descriptions` reads."""
    document = {
        "dataset": dataset,
        "description": f"{len(descriptions)} action descriptions",
        "classes": [_entry(i, d) for i, d in enumerate(descriptions)],
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _entry(index: int, description: ActionDescription) -> dict:
    entry = {"index": index, "name": description.name, "ld": description.ld, "gd": description.gd}
    if description.parts is not None:
        entry["parts"] = dict(description.parts)
    return entry
