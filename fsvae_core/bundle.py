"""The deployable model bundle: one directory that training writes and the live recognizer loads.

    BUNDLE/
      manifest.json           what the bundle is: skeleton input, configs, classes, thresholds, checksums, digest
      weights.safetensors     vae.* (FSVAE state dict) and, optionally, backbone.* (opaque state dict)
      prototypes.safetensors  prototypes (K, Z) and class_text (K, Ct), float32, rows in manifest order

Axis letters: K classes, Z latent size, Ct class-vector width (len(parts) x sentence dim).
JSON and safetensors only: loading a bundle never unpickles anything.

Actions change without training (:func:`add_action`, :func:`remove_action`):
a class's prototype is the frozen text VAE's latent mean of its class vector
``f_t``, or, for an action a user shows in recordings (format version 4: its
entry counts them), the mean of where the frozen backbone and skeleton VAE
put their windows (:func:`example_prototype`). Only
``prototypes.safetensors`` and ``manifest.json`` change;
``weights.safetensors`` is carried over untouched.

Every write builds the complete new bundle in a hidden sibling directory
(``.NAME.writing-<host>-<pid>-*``) and swaps it in with two renames: the old
bundle to ``.NAME.old-<host>-<pid>-*``, the new one to ``NAME``; then the old
one is deleted. A reader sees the old bundle or the new one, never a mix (for
the instant between the two renames, none). A crash between the renames
leaves the old bundle in ``.NAME.old-*`` and :func:`load_bundle` says so. One
writer at a time: two concurrent :func:`add_action` calls on one bundle can
lose one addition. Each write first removes what interrupted writes of the
same bundle left behind (:func:`remove_stale_writes`): folders of writers on
this host that are no longer running, and any older than
:data:`STALE_WRITE_AGE_S`; a retired ``.NAME.old-*`` only while ``NAME``
itself exists. A running writer's folders are never touched.

What a bundle means is sealed (format version 2): the manifest's ``digest``
holds the SHA-256 of everything else in the manifest (canonical JSON), and
the manifest holds the SHA-256 of each tensor file, so a change to a class
name, a description, a threshold, a setting or a tensor, made anywhere but
through this module, makes :func:`load_bundle` (``verify=True``) refuse the
bundle, naming the parts that changed. This detects edits and damage; it is
not a signature (whoever can write the folder can also recompute the digest).
Version-1 bundles (no digest) still load, their files checked as before;
:func:`upgrade_bundle` (or any write) seals them.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Literal, Mapping, Sequence

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import safe_open, save_file

import fsvae_core
from calibration.normalize import NormalizationConfig
from calibration.windows import WindowSpec
from fsvae_core.action_text import (
    MAX_DESCRIPTION_CHARS, MAX_NAME_CHARS, check_action_text, name_key, reserved_name_problem,
)
from fsvae_core.attributes import ATTRIBUTES, AttributeMatcher
from fsvae_core.backbone import BackboneConfig, SkeletonGCN, build_backbone, extract_features
from fsvae_core.decision import TEXT_BY, DecisionRule
from fsvae_core.descriptions import PART_NAMES, ActionDescription, DescriptionError, description_from_fields
from fsvae_core.model import FSVAE, VAEConfig
from fsvae_core.parts import PartAligner, part_text_embeddings
from fsvae_core.settings import SettingsError, config_from_dict, config_to_dict
from fsvae_core.text import (DEFAULT_TEXT_MODEL, TEXT_PARTS, SentenceEncoder, TextEncoderConfig, check_text_parts,
                             class_embeddings)

FORMAT = "fsvae-bundle"
# 4: a class entry may count the recordings that showed it (its prototype is theirs, not its text's);
# 3: the parts section may carry attribute scores (a reader of 2 would score without them, so it must refuse);
# 2: the manifest carries a digest of itself; 1: checksums of the files only. All four are read.
FORMAT_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"
PROTOTYPES = "prototypes.safetensors"
LAYOUT = "ntu25"
N_JOINTS = 25

Origin = Literal["trained", "user"]
_ORIGINS = ("trained", "user")
# A shown action's prototype is fitted to real windows, as a trained class's is, but to one person's few: it pays
# half the trained classes' gamma. Its own windows and the trained ones are then named about equally often (paying
# none, 76 / 45% on UTD-MHAD's splits; all, 45 / 80%; half, 67 / 66%); docs/results.md, "A shown action pays half".
SHOWN_PENALTY = 0.5
# Prototypes this alike are told apart by little but the text model's feel for a side, a direction or a number of
# hands, which is weak: in the shipped bundle the four pairs above it are clockwise / counter clockwise circles
# (0.996), swipes to the left / right, picking up with one / two hands and donning / doffing; the next pairs (0.89)
# are different drawings. docs/results.md, "Mirrored classes, and words that differ only by a side".
LOOK_ALIKE_COSINE = 0.9
_METADATA = {"format": FORMAT}
_GROUPS = ("vae", "backbone", "parts")
DIGEST = "digest"  # the manifest key holding the digest of the rest
# A staging or retired folder of an interrupted write is removed by the next write once its
# writer is gone (same host, process not running) or, whoever wrote it, once it is this old.
STALE_WRITE_AGE_S = 30 * 60
_HOST_TAG = hashlib.sha256(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


class BundleError(ValueError):
    """A bundle that cannot be read, written or changed; the message starts with its path."""


# ---------------------------------------------------------------------------------------------
# What a bundle records


@dataclass(frozen=True)
class ClassEntry:
    """One action of a bundle: its texts, whether training saw skeletons of it, where it came from.

    ``seen`` classes get ``gzsl_gamma`` subtracted from their scores (calibrated
    stacking); ``origin`` is ``"trained"`` for classes written by training and
    ``"user"`` for classes added later by :func:`add_action`. ``examples`` is
    the number of recordings a user showed of the action, whose windows its
    prototype was taken from instead of its text (0: from its text); its part
    sentences, if any, still give its part and attribute terms.
    """

    name: str
    ld: str
    gd: str
    seen: bool
    origin: Origin
    parts: tuple[tuple[str, str], ...] | None = None  # body-part sentences, as ActionDescription.parts
    examples: int = 0

    def __post_init__(self) -> None:
        # No control, invisible or direction-changing characters; at most 200 / 4000 characters.
        for part in ("name", "ld", "gd"):
            check_action_text(f"ClassEntry.{part}", getattr(self, part),
                              MAX_NAME_CHARS if part == "name" else MAX_DESCRIPTION_CHARS)
        if not isinstance(self.seen, bool):
            raise ValueError(f"ClassEntry.seen must be True or False, got {self.seen!r}")
        if self.origin not in _ORIGINS:
            raise ValueError(f"ClassEntry.origin must be one of {list(_ORIGINS)}, got {self.origin!r}")
        if self.parts is not None:
            # The same checks and order as a description's body-part sentences.
            checked = ActionDescription(self.name, self.ld, self.gd, dict(self.parts)).parts
            for part, sentence in checked:
                check_action_text(f"ClassEntry.parts.{part}", sentence, MAX_DESCRIPTION_CHARS)
            object.__setattr__(self, "parts", checked)
        if not _is_int(self.examples) or self.examples < 0:
            raise ValueError(f"ClassEntry.examples must be a count >= 0, got {self.examples!r}")
        if self.examples and self.origin != "user":
            raise ValueError(f"ClassEntry {self.name!r}: only an action a user added can be shown by example")

    @property
    def added(self) -> bool:
        """Whether a user added this action (by text, recordings or live) rather than training."""
        return self.origin == "user"

    @property
    def description(self) -> ActionDescription:
        return ActionDescription(self.name, self.ld, self.gd, None if self.parts is None else dict(self.parts))

    def to_dict(self) -> dict[str, Any]:
        data = {"name": self.name, "ld": self.ld, "gd": self.gd, "seen": self.seen, "origin": self.origin}
        if self.parts is not None:
            data["parts"] = dict(self.parts)
        if self.examples:
            data["examples"] = self.examples
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClassEntry:
        """Rebuild from :meth:`to_dict` output; a missing or unknown key is a ValueError."""
        if not isinstance(data, Mapping):
            raise ValueError(f"expected an object with name, ld, gd, seen, origin, got {data!r}")
        keys = {"name", "ld", "gd", "seen", "origin"}
        if not keys <= set(data) <= keys | {"parts", "examples"}:
            raise ValueError(f"keys must be {sorted(keys)} and optionally 'parts' and 'examples', got {sorted(data)}")
        parts = data.get("parts")
        if parts is not None and not isinstance(parts, Mapping):
            raise ValueError(f"parts must be an object of body-part sentences, got {parts!r}")
        return cls(**{**data, "parts": None if parts is None else tuple(parts.items())})


def window_to_dict(spec: WindowSpec) -> dict[str, Any]:
    """The manifest's "skeleton" section: what windows the model expects."""
    return {
        "layout": LAYOUT, "n_joints": N_JOINTS, "max_persons": spec.max_persons,
        "window_frames": spec.frames, "fps": float(spec.fps),
        "normalization": spec.normalization.to_dict(),
    }


def window_from_dict(data: Mapping[str, Any]) -> WindowSpec:
    """Rebuild a :class:`WindowSpec` from :func:`window_to_dict`; anything but NTU25 is a ValueError."""
    _require_keys(data, {"layout": str, "n_joints": int, "max_persons": int, "window_frames": int,
                         "fps": float, "normalization": dict}, "skeleton")
    if data["layout"] != LAYOUT or data["n_joints"] != N_JOINTS:
        raise ValueError(f"skeleton: layout must be {LAYOUT!r} with {N_JOINTS} joints, "
                         f"got {data['layout']!r} with {data['n_joints']}")
    return WindowSpec(frames=data["window_frames"], fps=float(data["fps"]), max_persons=data["max_persons"],
                      normalization=NormalizationConfig.from_dict(data["normalization"]))


@dataclass(frozen=True)
class TextSpec:
    """Which sentence model embedded the class texts, and which texts (in order) make ``f_t``."""

    model: str = DEFAULT_TEXT_MODEL
    parts: tuple[str, ...] = TEXT_PARTS

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model:
            raise ValueError(f"TextSpec.model must be a non-empty string, got {self.model!r}")
        # a JSON list becomes the documented tuple
        object.__setattr__(self, "parts", check_text_parts(self.parts, "TextSpec.parts"))


@dataclass(frozen=True)
class Thresholds:
    """Decision constants fitted by training (the rule is :class:`fsvae_core.decision.DecisionRule`).

    ``unknown``: a best calibrated score on a trained (``seen``) class below it makes the live system say "unknown".
    ``gzsl_gamma``: calibrated-stacking constant subtracted from seen classes' cosine scores.
    ``unknown_text``: the same for classes known only by their text (unseen and user-added);
    bundles written before it existed hold none and use ``unknown`` for every class.
    ``text_by``: ``"score"`` (``unknown_text`` bounds the best score), ``"lead"`` or ``"lead_raw"``
    (it bounds the best score's standardised lead over the second best; :mod:`fsvae_core.decision`).
    ``still_below``: a window whose body moves less is "unknown" whatever it scores
    (:func:`fsvae_core.decision.window_motion`); bundles written before it existed hold none and never do that.
    """

    unknown: float
    gzsl_gamma: float
    unknown_text: float | None = None
    text_by: str = "score"
    still_below: float | None = None

    def __post_init__(self) -> None:
        if self.text_by not in TEXT_BY or (self.text_by != "score" and self.unknown_text is None):
            raise ValueError(f"Thresholds.text_by must be one of {TEXT_BY} (a lead only with unknown_text), "
                             f"got {self.text_by!r}")  # fmt: skip
        for name in ("unknown", "gzsl_gamma", "unknown_text", "still_below"):
            value = getattr(self, name)
            if name in ("unknown_text", "still_below") and value is None:
                continue
            if not _is_number(value) or not math.isfinite(value):
                raise ValueError(f"Thresholds.{name} must be a finite number, got {value!r}")
        if self.still_below is not None and self.still_below < 0:
            raise ValueError(f"Thresholds.still_below must be >= 0, got {self.still_below!r}")

    def to_dict(self) -> dict[str, float]:
        values = {"unknown": float(self.unknown), "gzsl_gamma": float(self.gzsl_gamma)}
        if self.unknown_text is not None:
            values["unknown_text"] = float(self.unknown_text)
        if self.text_by != "score":  # bundles of the score rule stay as they were written
            values["text_by"] = self.text_by
        if self.still_below is not None:
            values["still_below"] = float(self.still_below)
        return values

    @property
    def rule(self) -> DecisionRule:
        """The live decision rule these constants make."""
        text = self.unknown if self.unknown_text is None else self.unknown_text
        return DecisionRule(float(self.gzsl_gamma), float(self.unknown), float(text), self.text_by,
                            float(self.still_below or 0.0))


@dataclass(frozen=True)
class ClassTables:
    """The per-class tensors of ``prototypes.safetensors``, rows in ``classes`` order.

    ``prototypes`` (K, Z), ``class_text`` (K, Ct) and, for a bundle with the
    part-aware rule, ``part_text`` (K, B, D): each class's body-part sentence
    embeddings, zero rows for a class without them.
    """

    prototypes: torch.Tensor
    class_text: torch.Tensor
    part_text: torch.Tensor | None = None

    def rows(self, index: Sequence[int]) -> ClassTables:
        index = list(index)
        return ClassTables(self.prototypes[index], self.class_text[index],
                           None if self.part_text is None else self.part_text[index])

    def appended(self, other: ClassTables) -> ClassTables:
        part_text = None if self.part_text is None else torch.cat([self.part_text, other.part_text])
        return ClassTables(torch.cat([self.prototypes, other.prototypes]), torch.cat([self.class_text, other.class_text]),
                           part_text)

    def tensors(self) -> dict[str, torch.Tensor]:
        tensors = {"prototypes": _cpu(self.prototypes), "class_text": _cpu(self.class_text)}
        if self.part_text is not None:
            tensors["part_text"] = _cpu(self.part_text)
        return tensors


@dataclass
class Bundle:
    """A loaded bundle. Tensors are on the CPU; ``prototypes`` (K, Z), ``class_text`` (K, Ct)
    and, with the part-aware rule, ``part_text`` (K, B, D) have one row per entry of
    ``classes``, in that order."""

    path: Path
    manifest: dict
    vae_config: VAEConfig
    vae_state: dict[str, torch.Tensor]
    backbone_config: dict | None
    backbone_state: dict[str, torch.Tensor] | None
    classes: list[ClassEntry]
    prototypes: torch.Tensor
    class_text: torch.Tensor
    part_state: dict[str, torch.Tensor] | None = None
    part_text: torch.Tensor | None = None

    @property
    def part_weight(self) -> float:
        """The weight of the part scores (:mod:`fsvae_core.parts`); 0 when the bundle decides by FS-VAE alone."""
        section = self.manifest.get("parts")
        return 0.0 if not section else float(section["weight"])

    @property
    def attribute_weight(self) -> float:
        """The weight of the attribute scores (:mod:`fsvae_core.attributes`); 0 without them."""
        section = self.manifest.get("parts")
        return 0.0 if not section else float(section.get("attribute_weight", 0.0))

    def part_aligner(self) -> PartAligner | None:
        """The part-aware rule's ridge maps, or None without one."""
        return None if self.part_weight == 0 else PartAligner.from_tensors(
            {name: tensor.numpy() for name, tensor in self.part_state.items()})

    def attribute_matcher(self) -> AttributeMatcher | None:
        """The attribute scores' constants, or None without them."""
        return None if self.attribute_weight == 0 else _attribute_matcher(self.part_state, self.manifest["parts"])

    @property
    def has_parts(self) -> np.ndarray:
        """(K,) bool: the classes described per body part."""
        return np.array([entry.parts is not None for entry in self.classes], dtype=bool)

    @property
    def tables(self) -> ClassTables:
        return ClassTables(self.prototypes, self.class_text, self.part_text)

    @property
    def skeleton(self) -> WindowSpec:
        return window_from_dict(self.manifest["skeleton"])

    @property
    def window_frames(self) -> int:
        return self.skeleton.frames

    @property
    def fps(self) -> float:
        return self.skeleton.fps

    @property
    def max_persons(self) -> int:
        return self.skeleton.max_persons

    @property
    def normalization(self) -> NormalizationConfig:
        return self.skeleton.normalization

    @property
    def text(self) -> TextSpec:
        return TextSpec(self.manifest["text"]["model"], tuple(self.manifest["text"]["parts"]))

    @property
    def text_config(self) -> TextEncoderConfig:
        """Encoder settings for embedding new class texts exactly as the bundle's were."""
        return TextEncoderConfig(model=self.text.model)

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(**self.manifest["thresholds"])

    @property
    def decision_rule(self) -> DecisionRule:
        return self.thresholds.rule

    @property
    def class_names(self) -> list[str]:
        return [entry.name for entry in self.classes]

    @property
    def penalty_weights(self) -> np.ndarray:
        """(K,) float32: the share of ``gzsl_gamma`` each class's scores pay: 1 for a trained class,
        SHOWN_PENALTY for an action shown by recordings, 0 for one known by its text."""
        return np.array([1.0 if entry.seen else SHOWN_PENALTY if entry.examples else 0.0 for entry in self.classes],
                        dtype=np.float32)  # fmt: skip

    @property
    def seen_mask(self) -> torch.Tensor:
        """(K,) bool, True for trained classes, which pay ``gzsl_gamma`` in full (:attr:`penalty_weights` gives
        every class's share)."""
        return torch.tensor([entry.seen for entry in self.classes], dtype=torch.bool)

    def build_vae(self) -> FSVAE:
        """The bundle's FSVAE on the CPU, weights loaded, in eval mode."""
        vae = FSVAE(self.vae_config)
        try:
            vae.load_state_dict(self.vae_state)
        except RuntimeError as error:
            raise BundleError(f"{self.path}: {WEIGHTS} vae.* does not fit vae.config: {error}") from error
        return vae.eval()

    def build_backbone(self) -> SkeletonGCN:
        """The bundle's backbone on the CPU, weights loaded, in eval mode.

        Raises:
            BundleError: no backbone (a bundle trained on feature files cannot
                read skeletons), or weights, feature size or window length that
                do not fit the rest of the bundle.
        """
        if self.backbone_config is None or self.backbone_state is None:
            raise BundleError(
                f"{self.path}: the bundle has no backbone (trained on feature files), so it cannot "
                "read live skeletons; train one with `fsvae train` on skeleton windows"
            )
        try:
            config = config_from_dict(BackboneConfig, dict(self.backbone_config), "backbone.config")
        except SettingsError as error:
            raise BundleError(f"{self.path}: {error}") from error
        head = self.backbone_state.get("classifier.weight")
        if head is None:
            raise BundleError(f"{self.path}: backbone weights lack classifier.weight")
        backbone = build_backbone(config, n_classes=int(head.shape[0]))
        try:
            backbone.load_state_dict(self.backbone_state)
        except RuntimeError as error:
            raise BundleError(f"{self.path}: backbone weights do not fit backbone.config: {error}") from error
        if config.feature_dim != self.vae_config.skeleton_dim:
            raise BundleError(
                f"{self.path}: backbone features are {config.feature_dim}-d but the VAE takes "
                f"{self.vae_config.skeleton_dim}-d"
            )
        if config.window_frames != self.window_frames:
            raise BundleError(
                f"{self.path}: backbone windows are {config.window_frames} frames but the "
                f"manifest says {self.window_frames}"
            )
        return backbone.eval()


# ---------------------------------------------------------------------------------------------
# Writing and reading


def prototype_for(vae: FSVAE, class_text_row: torch.Tensor | np.ndarray) -> torch.Tensor:
    """The prototype of one class: text-VAE latent mean of its class vector.

    Args:
        vae: any FSVAE (its mode does not matter: the latent mean is deterministic).
        class_text_row: (Ct,) class vector ``f_t``, Ct = ``vae.config.text_dim``.

    Returns:
        (Z,) float32 on the CPU.
    """
    row = torch.as_tensor(class_text_row, dtype=torch.float32)
    if row.ndim != 1 or row.shape[0] != vae.config.text_dim:
        raise ValueError(f"prototype_for expects one class vector of shape ({vae.config.text_dim},), "
                         f"got {tuple(row.shape)}")
    return _embed_text(vae, row[None])[0]


def example_prototype(bundle: Bundle, recordings: Sequence[np.ndarray]) -> torch.Tensor:
    """The prototype of an action shown in recordings: where the skeleton VAE puts their windows.

    Each recording's windows, (n, M, T, V, 3) as the model takes them (``Recognizer.prepare``; what
    ``realtime.recognize.model_windows`` reads from a file), give the unit mean of their windows' unit latent
    means; the prototype is the unit mean of those, so a long recording counts no more than a short one.

    Returns:
        (Z,) float32 on the CPU.

    Raises:
        BundleError: no recording, or one (named by its place, from 1) that is not a non-empty stack of the
            bundle's windows.
    """
    if len(recordings) == 0:
        raise BundleError(f"{bundle.path}: an action shown by example needs at least one recording")
    backbone, vae = bundle.build_backbone(), bundle.build_vae()
    shape = (bundle.max_persons, bundle.window_frames, backbone.config.n_joints, 3)
    means = []
    for number, windows in enumerate(recordings, 1):
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 5 or len(windows) == 0 or windows.shape[1:] != shape or not np.isfinite(windows).all():
            raise BundleError(f"{bundle.path}: example recording {number} must be a non-empty stack of finite "
                              f"windows (n, {', '.join(map(str, shape))}), got {windows.shape}")
        with torch.no_grad():
            latents = vae.embed_skeleton(torch.from_numpy(extract_features(backbone, windows))).float()
        means.append(torch.nn.functional.normalize(torch.nn.functional.normalize(latents, dim=1).mean(0), dim=0))
    return torch.nn.functional.normalize(torch.stack(means).mean(0), dim=0)


def save_bundle(
    path: str | Path,
    *,
    vae: FSVAE,
    classes: Sequence[ClassEntry],
    class_text: torch.Tensor | np.ndarray,
    skeleton: WindowSpec,
    text: TextSpec,
    thresholds: Thresholds,
    backbone_config: dict | None = None,
    backbone_state: Mapping[str, torch.Tensor] | None = None,
    metrics: dict | None = None,
    provenance: dict | None = None,
    part_aligner: PartAligner | None = None,
    part_weight: float = 0.0,
    part_text: torch.Tensor | np.ndarray | None = None,
    attribute_matcher: AttributeMatcher | None = None,
    attribute_weight: float = 0.0,
) -> Path:
    """Write a complete bundle to ``path``, atomically replacing any bundle already there.

    Prototypes are computed here, ``vae.embed_text(class_text)`` (K, Z).

    Args:
        path: the bundle directory; its parent is created if needed.
        vae: the trained FSVAE (any device; tensors are written from the CPU).
        classes: K entries, names distinct ignoring case.
        class_text: (K, Ct) class vectors ``f_t`` in the order of ``classes``, Ct = ``vae.config.text_dim``.
        skeleton, text, thresholds: recorded in the manifest (see their classes).
        backbone_config, backbone_state: both or neither; None for a VAE-only bundle
            (training on feature files). The config must be JSON; it is stored as is.
        metrics, provenance: free JSON (numpy scalars become numbers, NaN and
            infinities become null so that the manifest stays strict JSON).
        part_aligner, part_weight: the part scores (:mod:`fsvae_core.parts`),
            both or neither: the ridge maps and their weight (> 0).
        attribute_matcher, attribute_weight: the attribute scores
            (:mod:`fsvae_core.attributes`), both or neither: the constants and their weight (> 0).
        part_text: every class's body-part sentence embeddings (K, B, D), zero
            rows for classes without them; with either scores, and only then.

    Returns:
        ``path`` as a Path.

    Raises:
        BundleError: inconsistent contents (the same checks as :func:`load_bundle`),
            or ``path`` is something other than a bundle or an empty directory.
    """
    path = Path(path)
    if (backbone_config is None) != (backbone_state is None):
        raise BundleError(f"{path}: give backbone_config and backbone_state together, or neither")
    if (part_aligner is None) != (part_weight == 0) or (attribute_matcher is None) != (attribute_weight == 0):
        raise BundleError(f"{path}: give part_aligner with a part_weight > 0 and attribute_matcher with an "
                          "attribute_weight > 0, each together or not at all")
    if (part_text is None) != (part_aligner is None and attribute_matcher is None):
        raise BundleError(f"{path}: part_text goes together with the part or the attribute scores")
    rows = _as_matrix(class_text)  # (K, Ct)
    tables = ClassTables(_embed_text(vae, rows), rows,  # prototypes (K, Z)
                         None if part_text is None else torch.as_tensor(np.asarray(part_text, dtype=np.float32)))
    weights = {f"vae.{name}": _cpu(t) for name, t in vae.state_dict().items()}
    weights.update({f"backbone.{name}": _cpu(t) for name, t in (backbone_state or {}).items()})
    if part_aligner is not None:
        weights.update({f"parts.{name}": torch.from_numpy(np.ascontiguousarray(array))
                        for name, array in part_aligner.to_tensors().items()})
    if attribute_matcher is not None:
        weights.update({f"parts.attributes_{name}": torch.from_numpy(np.ascontiguousarray(array))
                        for name, array in attribute_matcher.to_tensors().items()})
    try:
        backbone_json = None if backbone_config is None else json.loads(json.dumps(backbone_config, allow_nan=False))
    except (TypeError, ValueError) as error:
        raise BundleError(f"{path}: backbone_config is not plain JSON: {error}") from error
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fsvae_version": fsvae_core.__version__,
        "skeleton": window_to_dict(skeleton),
        "backbone": {"config": backbone_json},
        "vae": {"config": config_to_dict(vae.config)},
        "text": {"model": text.model, "parts": list(text.parts), "dim": int(rows.shape[1])},
        "classes": [entry.to_dict() for entry in classes],
        "thresholds": thresholds.to_dict(),
        "parts": None if part_text is None else {
            "weight": float(part_weight), "names": list(PART_NAMES), "dim": int(tables.part_text.shape[2]),
            **({} if attribute_matcher is None else {"attribute_weight": float(attribute_weight),
                                                     "attributes": list(attribute_matcher.names)})},
        "metrics": _plain_json(metrics or {}, path, "metrics"),
        "provenance": _plain_json(provenance or {}, path, "provenance"),
        "files": {},  # filled with checksums once the files exist
    }
    _check_contents(path, manifest, weights, tables)
    _write_bundle(path, manifest, weights, tables)
    return path


def load_bundle(path: str | Path, verify: bool = True) -> Bundle:
    """Read and check a bundle.

    ``verify`` compares each safetensors file with its SHA-256 in the manifest
    and the manifest with its digest (format version 2), so that any change
    since the bundle was written, to a tensor or to what the manifest says, is
    refused; ``verify=False`` skips only that hashing, never the structural checks.

    Raises:
        BundleError: missing file, unreadable JSON, wrong format, newer or unknown
            format_version, checksum mismatch, a manifest changed since it was
            written (naming the changed parts), missing manifest field, duplicate
            class names, a name or description with control characters, shapes
            that disagree with the manifest or the VAE config, NaN or infinite prototypes.
    """
    path = Path(path)
    manifest = _read_manifest(path)
    _check_manifest(path, manifest)
    for name in (WEIGHTS, PROTOTYPES):
        file = path / name
        if not file.is_file():
            raise BundleError(f"{path}: {name} is missing")
        if verify and _sha256(file) != manifest["files"][name]:
            raise BundleError(f"{path}: {name} is damaged (checksum mismatch)")
    weights = _read_tensors(path, WEIGHTS)
    tables = _read_tensors(path, PROTOTYPES)
    missing = sorted({"prototypes", "class_text"} - set(tables))
    if missing:
        raise BundleError(f"{path}: {PROTOTYPES} lacks tensor(s) {missing}")
    class_tables = ClassTables(tables["prototypes"], tables["class_text"], tables.get("part_text"))
    vae_config, classes = _check_contents(path, manifest, weights, class_tables)
    if verify and manifest["format_version"] >= 2:
        _check_digest(path, manifest)
    groups = _split_weights(weights)
    return Bundle(
        path=path, manifest=manifest, vae_config=vae_config, vae_state=groups["vae"],
        backbone_config=manifest["backbone"]["config"], backbone_state=groups.get("backbone"),
        classes=classes, prototypes=class_tables.prototypes, class_text=class_tables.class_text,
        part_state=groups.get("parts"), part_text=class_tables.part_text,
    )


# ---------------------------------------------------------------------------------------------
# Changing the actions of a bundle


def list_actions(path: str | Path) -> list[ClassEntry]:
    """The bundle's actions, in prototype-row order."""
    return load_bundle(path).classes


def look_alikes(bundle: Bundle, name: str, min_cosine: float = LOOK_ALIKE_COSINE) -> list[tuple[str, float]]:
    """The bundle's other actions whose prototype is at least ``min_cosine`` alike ``name``'s: (name, cosine),
    most alike first. By text alone, an action added beside one of these is hard to tell from it.

    Raises:
        BundleError: no action called ``name`` (ignoring case).
    """
    index = _find(bundle.classes, name)
    if index is None:
        raise BundleError(f"{bundle.path}: no action named {name!r}")
    prototypes = torch.nn.functional.normalize(bundle.prototypes.float(), dim=1)  # (K, Z)
    cosines = (prototypes @ prototypes[index]).tolist()
    alike = [(entry.name, cosine) for k, (entry, cosine) in enumerate(zip(bundle.classes, cosines))
             if k != index and cosine >= min_cosine]
    return sorted(alike, key=lambda pair: -pair[1])


def look_alike_note(bundle: Bundle, name: str) -> str | None:
    """What to tell a user who added ``name`` by text beside actions it looks alike (:func:`look_alikes`), or None;
    None too for an action shown by recordings, whose prototype its words did not place."""
    index = _find(bundle.classes, name)
    if index is not None and bundle.classes[index].examples:
        return None
    alike = look_alikes(bundle, name)
    if not alike:
        return None
    others = ", ".join(f"{other!r} ({cosine:.2f})" for other, cosine in alike)
    return (f"the model reads {name!r} almost as it reads {others}: by their words alone it can hardly tell them "
            "apart; show the action instead (--example FILE, or --show S on a running recognizer)")


def add_action(
    path: str | Path, name: str, ld: str, gd: str, encoder: SentenceEncoder | None = None,
    parts: Mapping[str, str] | None = None, examples: Sequence[np.ndarray] | None = None,
) -> ClassEntry:
    """Add an action described by text, or shown in recordings; no retraining.

    The three texts are embedded with the bundle's text model and parts
    (:func:`class_embeddings`), the bundle's text VAE encoder turns that class
    vector into the prototype, and the class is appended with ``seen=False``,
    ``origin="user"``. Whitespace in the texts is collapsed. ``parts`` gives
    one sentence per body part (all of ``descriptions.PART_NAMES``); a bundle
    with the part-aware rule scores an action without them by FS-VAE alone,
    its part and attribute terms being the mean of the other classes'
    (:mod:`fsvae_core.parts`, :mod:`fsvae_core.attributes`).
    ``examples``, the windows of each recording of a person doing the action
    (:func:`example_prototype`), give the prototype instead of the text, which
    is still embedded and kept; the part sentences keep their part and
    attribute terms.

    Args:
        encoder: a sentence encoder for the bundle's text model (to share its
            cache or loaded model); by default one is made from
            ``bundle.text_config``, loading the model only if the texts are not cached.

    Returns:
        The new entry (also the last row of the bundle).

    Raises:
        BundleError: an empty text, a name or description holding a control,
            invisible or direction-changing character (a newline is an error,
            not a space) or longer than 200 / 4000 characters
            (:mod:`fsvae_core.action_text`), a name already present (ignoring
            case), an encoder for another model, an example that is not a
            stack of the bundle's windows, or a bundle that does not load.
    """
    path = Path(path)
    bundle = load_bundle(path)
    try:
        check_action_text(f"{path}: new action.name", name, MAX_NAME_CHARS)
        check_action_text(f"{path}: new action.ld", ld, MAX_DESCRIPTION_CHARS)
        check_action_text(f"{path}: new action.gd", gd, MAX_DESCRIPTION_CHARS)
        fields = {"name": name, "ld": ld, "gd": gd, **({} if parts is None else {"parts": dict(parts)})}
        description = description_from_fields(fields, f"{path}: new action")
        for part, sentence in description.parts or ():
            check_action_text(f"{path}: new action.parts.{part}", sentence, MAX_DESCRIPTION_CHARS)
    except (DescriptionError, ValueError) as error:
        raise BundleError(str(error)) from error
    if reserved := reserved_name_problem(description.name):
        raise BundleError(f"{path}: {reserved}")
    index = _find(bundle.classes, description.name)
    if index is not None:
        raise BundleError(f"{path}: an action named {bundle.classes[index].name!r} is already in the bundle; "
                          "remove it first or choose another name")
    text = bundle.text
    if encoder is None:
        encoder = SentenceEncoder(bundle.text_config)
    elif encoder.model_id != text.model:
        raise BundleError(f"{path}: the bundle's classes were embedded with {text.model!r}, "
                          f"but the encoder given is {encoder.model_id!r}")
    row = torch.from_numpy(class_embeddings([description], encoder, text.parts))  # (1, Ct)
    if row.shape[1] != bundle.class_text.shape[1]:
        raise BundleError(f"{path}: text model {text.model!r} gives {row.shape[1]}-d class vectors "
                          f"but the bundle's are {bundle.class_text.shape[1]}-d")
    prototype = prototype_for(bundle.build_vae(), row[0]) if examples is None else example_prototype(bundle, examples)
    part_row = None
    if bundle.part_text is not None:
        part_row = torch.from_numpy(part_text_embeddings([description], encoder)[0])  # (1, B, D)
        if part_row.shape[1:] != bundle.part_text.shape[1:]:
            raise BundleError(f"{path}: text model {text.model!r} gives body-part embeddings of shape "
                              f"{tuple(part_row.shape[1:])} but the bundle's are {tuple(bundle.part_text.shape[1:])}")
    entry = ClassEntry(description.name, description.ld, description.gd, seen=False, origin="user",
                       parts=description.parts, examples=0 if examples is None else len(examples))
    _rewrite_classes(bundle, bundle.classes + [entry], bundle.tables.appended(ClassTables(prototype[None], row, part_row)))
    return entry


def remove_action(path: str | Path, name: str) -> ClassEntry:
    """Remove the action called ``name`` (ignoring case); returns the removed entry.

    Raises:
        BundleError: no such action (the message lists close names), or it is
            the bundle's only action.
    """
    path = Path(path)
    bundle = load_bundle(path)
    index = _find(bundle.classes, name)
    if index is None:
        names = bundle.class_names
        by_key = {name_key(n): n for n in names}
        close = [by_key[key] for key in difflib.get_close_matches(name_key(name), list(by_key), n=3, cutoff=0.6)]
        hint = f"close names: {close}" if close else f"actions: {names[:20]}" + (" ..." if len(names) > 20 else "")
        raise BundleError(f"{path}: no action named {name!r}; {hint}")
    if len(bundle.classes) == 1:
        raise BundleError(f"{path}: {bundle.classes[index].name!r} is the bundle's only action; "
                          "a bundle needs at least one")
    keep = [i for i in range(len(bundle.classes)) if i != index]
    _rewrite_classes(bundle, [bundle.classes[i] for i in keep], bundle.tables.rows(keep))
    return bundle.classes[index]


def _rewrite_classes(bundle: Bundle, classes: list[ClassEntry], tables: ClassTables) -> None:
    manifest = _current_format({**bundle.manifest, "classes": [entry.to_dict() for entry in classes]})
    _check_contents(bundle.path, manifest, None, tables)
    _write_bundle(bundle.path, manifest, bundle.path / WEIGHTS, tables)


def upgrade_bundle(path: str | Path) -> Path:
    """Rewrite the bundle at ``path`` in the current format, changing nothing it holds.

    The bundle is loaded and verified as it is (a version-1 bundle by its file
    checksums); the new manifest is the old one with ``format_version`` and a
    digest; both tensor files are carried over byte for byte (hard-linked
    where possible). A bundle already in the current format is rewritten the
    same way (a no-op but for the write). Returns ``path`` as a Path.

    One-off, for the shipped bundle::

        python3 -c "from fsvae_core.bundle import upgrade_bundle; upgrade_bundle('fsvae_core/default_bundle')"
    """
    path = Path(path)
    bundle = load_bundle(path, verify=True)
    manifest = _current_format(bundle.manifest)
    _check_contents(path, manifest, None, bundle.tables)
    _write_bundle(path, manifest, path / WEIGHTS, path / PROTOTYPES)
    return path


def _current_format(manifest: dict) -> dict:
    """``manifest`` as this version writes it: current format_version, no (stale) digest."""
    return {**{key: value for key, value in manifest.items() if key != DIGEST}, "format_version": FORMAT_VERSION}


def _find(classes: Sequence[ClassEntry], name: str) -> int | None:
    key = name_key(name)
    return next((i for i, entry in enumerate(classes) if name_key(entry.name) == key), None)


# ---------------------------------------------------------------------------------------------
# Checks


# Required manifest fields by section; float accepts int, and neither accepts bool.
_MANIFEST_FIELDS: dict[str, dict[str, Any]] = {
    "": {"created_utc": str, "fsvae_version": str, "skeleton": dict, "backbone": dict, "vae": dict,
         "text": dict, "classes": list, "thresholds": dict, "metrics": dict, "provenance": dict, "files": dict},
    "backbone": {"config": (dict, type(None))},
    "vae": {"config": dict},
    "text": {"model": str, "parts": list, "dim": int},
    "thresholds": {"unknown": float, "gzsl_gamma": float},
    "files": {WEIGHTS: str, PROTOTYPES: str},
}


def _check_manifest(path: Path, manifest: Any, with_files: bool = True) -> None:
    """Format, version and required fields; ``with_files=False`` for a manifest whose
    checksums are not written yet."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise BundleError(f"{path}: {MANIFEST} is not an fsvae bundle manifest (format {found!r}, expected {FORMAT!r})")
    version = manifest.get("format_version")
    readable = ", ".join(map(str, READABLE_VERSIONS))
    if _is_int(version) and version > FORMAT_VERSION:
        raise BundleError(f"{path}: format_version {version} was written by a newer fsvae; "
                          f"this one (fsvae {fsvae_core.__version__}) reads format_version {readable}")
    if version not in READABLE_VERSIONS or not _is_int(version):
        raise BundleError(f"{path}: unknown format_version {version!r}; this fsvae reads {readable}")
    for section, fields in _MANIFEST_FIELDS.items():
        if section == "files" and not with_files:
            continue
        try:
            _require_keys(manifest[section] if section else manifest, fields, section or MANIFEST)
        except ValueError as error:
            raise BundleError(f"{path}: {error}") from error
    if with_files and version >= 2:
        digest = manifest.get(DIGEST)
        if not isinstance(digest, dict) or not isinstance(digest.get("sha256"), str):
            raise BundleError(f"{path}: {MANIFEST} lacks its digest (format_version {version} bundles carry "
                              f'"{DIGEST}": {{"sha256": ..., "parts": ...}}); was it edited by hand?')


def _canonical(value: Any) -> bytes:
    """One byte string per JSON value, whatever its key order or formatting in the file."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False,
                      separators=(",", ":")).encode("utf-8")


def _manifest_digest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """``{"sha256": digest of the manifest but its digest, "parts": {top-level key: digest}}``.

    The parts let a mismatch name what changed; the whole decides.
    """
    body = {key: value for key, value in manifest.items() if key != DIGEST}
    return {
        "sha256": hashlib.sha256(_canonical(body)).hexdigest(),
        "parts": {key: hashlib.sha256(_canonical(value)).hexdigest()[:16] for key, value in sorted(body.items())},
    }


def _check_digest(path: Path, manifest: Mapping[str, Any]) -> None:
    """BundleError naming the manifest's parts that changed since its digest was written."""
    recorded = manifest[DIGEST]
    actual = _manifest_digest(manifest)
    if actual["sha256"] == recorded.get("sha256"):
        return
    parts = recorded.get("parts")
    changed = [] if not isinstance(parts, dict) else sorted(
        key for key in set(parts) | set(actual["parts"]) if parts.get(key) != actual["parts"].get(key))
    detail = ", ".join(_describe_part(key, parts, actual["parts"]) for key in changed) or f"its {DIGEST!r} field"
    raise BundleError(f"{path}: {MANIFEST} has changed since it was written ({detail}); its digest no longer "
                      "matches. Bundles change only through fsvae (fsvae actions add/remove, fsvae train); "
                      "restore the bundle or train/save it again")


def _describe_part(key: str, recorded: Mapping[str, str], actual: Mapping[str, str]) -> str:
    if key not in recorded:
        return f"{key} (added)"
    if key not in actual:
        return f"{key} (removed)"
    return key


def _check_contents(
    path: Path,
    manifest: dict,
    weights: Mapping[str, torch.Tensor] | None,
    tables: ClassTables,
) -> tuple[VAEConfig, list[ClassEntry]]:
    """Everything that must agree inside a bundle; ``weights`` None skips the weight groups.

    Returns the parsed VAE config and class entries.
    """
    prototypes, class_text = tables.prototypes, tables.class_text
    _check_manifest(path, manifest, with_files=False)  # load_bundle has checked the files already
    try:
        vae_config = config_from_dict(VAEConfig, manifest["vae"]["config"], "vae.config")
        window_from_dict(manifest["skeleton"])
        text = TextSpec(manifest["text"]["model"], tuple(manifest["text"]["parts"]))
        Thresholds(**manifest["thresholds"])
    except (SettingsError, ValueError, TypeError) as error:
        raise BundleError(f"{path}: {MANIFEST}: {error}") from error

    classes = []
    for position, data in enumerate(manifest["classes"]):
        try:
            classes.append(ClassEntry.from_dict(data))
        except (ValueError, TypeError) as error:
            raise BundleError(f"{path}: {MANIFEST} classes[{position}]: {error}") from error
    if not classes:
        raise BundleError(f"{path}: the bundle has no actions")
    first_of: dict[str, str] = {}
    for entry in classes:
        key = name_key(entry.name)
        if key in first_of:
            raise BundleError(f"{path}: duplicate action name {entry.name!r} (also {first_of[key]!r})")
        first_of[key] = entry.name
    _check_part_text(path, manifest, tables.part_text, len(manifest["classes"]))

    if weights is not None:
        stray = sorted(k for k in weights if k.partition(".")[0] not in _GROUPS)
        if stray:
            raise BundleError(f"{path}: {WEIGHTS} holds tensors outside vae.* and backbone.*: {stray[:5]}")
        if not any(k.startswith("vae.") for k in weights):
            raise BundleError(f"{path}: {WEIGHTS} holds no vae.* tensors")
        has_backbone = any(k.startswith("backbone.") for k in weights)
        if has_backbone and manifest["backbone"]["config"] is None:
            raise BundleError(f"{path}: {WEIGHTS} holds backbone.* tensors but {MANIFEST} has no backbone config")
        if not has_backbone and manifest["backbone"]["config"] is not None:
            raise BundleError(f"{path}: {MANIFEST} has a backbone config but {WEIGHTS} holds no backbone.* tensors")
        state = {k.partition(".")[2]: v for k, v in weights.items() if k.startswith("parts.")}
        section = manifest.get("parts") or {}
        if state and not section:
            raise BundleError(f"{path}: {WEIGHTS} holds parts.* tensors but {MANIFEST} has no parts section")
        try:
            if section.get("weight", 0.0):
                PartAligner.from_tensors({k: v.numpy() for k, v in state.items()})
            if section.get("attribute_weight", 0.0):
                _attribute_matcher(state, section)
        except (KeyError, ValueError) as error:
            raise BundleError(f"{path}: {WEIGHTS} parts.*: {error}") from error

    dim, k = manifest["text"]["dim"], len(classes)
    for name, table in (("prototypes", prototypes), ("class_text", class_text)):
        if table.ndim != 2 or table.dtype != torch.float32:
            raise BundleError(f"{path}: {PROTOTYPES} {name} must be a float32 matrix, "
                              f"got {table.dtype} of shape {tuple(table.shape)}")
        if table.shape[0] != k:
            raise BundleError(f"{path}: {MANIFEST} lists {k} classes but {PROTOTYPES} has "
                              f"{table.shape[0]} rows of {name}")
        if not torch.isfinite(table).all():
            raise BundleError(f"{path}: {PROTOTYPES} {name} contains NaN or infinite values")
    if prototypes.shape[1] != vae_config.latent_dim:
        raise BundleError(f"{path}: prototypes are {prototypes.shape[1]}-d but the VAE latent is "
                          f"{vae_config.latent_dim}-d")
    if class_text.shape[1] != dim:
        raise BundleError(f"{path}: class_text is {class_text.shape[1]}-d but the manifest's text dim is {dim}")
    if dim != vae_config.text_dim or dim % len(text.parts):
        raise BundleError(f"{path}: text dim {dim} must equal vae.config.text_dim ({vae_config.text_dim}) "
                          f"and divide into {len(text.parts)} parts")
    return vae_config, classes


def _check_part_text(path: Path, manifest: dict, part_text: torch.Tensor | None, k: int) -> None:
    """The parts section and the body-part sentence table agree (both present, or neither)."""
    section = manifest.get("parts")
    if not section:
        if part_text is not None:
            raise BundleError(f"{path}: {PROTOTYPES} holds part_text but {MANIFEST} has no parts section")
        return
    try:
        _require_keys(section, {"weight": float, "names": list, "dim": int}, "parts")
        if "attribute_weight" in section:
            _require_keys(section, {"attribute_weight": float, "attributes": list}, "parts")
    except ValueError as error:
        raise BundleError(f"{path}: {MANIFEST} {error}") from error
    attribute_weight = section.get("attribute_weight", 0.0)
    if (section["weight"] < 0 or attribute_weight < 0 or not (section["weight"] > 0 or attribute_weight > 0)
            or tuple(section["names"]) != PART_NAMES):
        raise BundleError(f"{path}: {MANIFEST} parts needs a weight or an attribute_weight > 0 (neither below 0) "
                          f"and names {list(PART_NAMES)}, got {section['weight']!r}, {attribute_weight!r} and "
                          f"{section['names']!r}")
    measured = [a.name for a in ATTRIBUTES]
    if "attributes" in section and not set(section["attributes"]) <= set(measured):
        raise BundleError(f"{path}: {MANIFEST} parts.attributes lists {section['attributes']!r}, but this version "
                          f"measures only {measured}")
    expected = (k, len(PART_NAMES), section["dim"])
    if part_text is None or tuple(part_text.shape) != expected or part_text.dtype != torch.float32:
        found = None if part_text is None else f"{part_text.dtype} {tuple(part_text.shape)}"
        raise BundleError(f"{path}: {PROTOTYPES} part_text must be float32 {expected}, got {found}")
    if not torch.isfinite(part_text).all():
        raise BundleError(f"{path}: {PROTOTYPES} part_text contains NaN or infinite values")


def _attribute_matcher(state: Mapping[str, torch.Tensor], section: Mapping[str, Any]) -> AttributeMatcher:
    """The attribute constants among the ``parts.*`` weights (stored as ``attributes_<field>``), for the
    attributes the manifest's parts ``section`` names."""
    prefix = "attributes_"
    return AttributeMatcher.from_tensors({k[len(prefix):]: v.numpy() for k, v in state.items() if k.startswith(prefix)},
                                         section["attributes"])


def _require_keys(data: Any, fields: Mapping[str, Any], where: str) -> None:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where} must be an object, got {type(data).__name__}")
    for key, kind in fields.items():
        if key not in data:
            raise ValueError(f"{where} lacks the required field {key!r}")
        kinds = kind if isinstance(kind, tuple) else (kind,)
        value = data[key]
        fits = any(_is_number(value) if k is float else _is_int(value) if k is int else isinstance(value, k)
                   for k in kinds)
        if not fits:
            wanted = " or ".join("null" if k is type(None) else k.__name__ for k in kinds)
            raise ValueError(f"{where}.{key} must be {wanted}, got {value!r}"[:300])


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Files


def _read_manifest(path: Path) -> Any:
    if not path.is_dir():
        retired = sorted(path.parent.glob(f".{path.name}.old-*"))
        hint = (f"; an interrupted write left the previous bundle at {retired[-1]}: rename it to {path.name}"
                if retired else "")
        raise BundleError(f"{path}: no bundle directory here{hint}")
    file = path / MANIFEST
    if not file.is_file():
        raise BundleError(f"{path}: {MANIFEST} is missing (is this an fsvae bundle?)")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{path}: {MANIFEST} is not readable JSON ({error})") from error


def _read_tensors(path: Path, name: str) -> dict[str, torch.Tensor]:
    try:
        with safe_open(str(path / name), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except (OSError, SafetensorError) as error:
        raise BundleError(f"{path}: {name} is not a readable safetensors file ({error})") from error
    if metadata.get("format") != FORMAT:
        raise BundleError(f"{path}: {name} is not an fsvae bundle file (metadata format {metadata.get('format')!r})")
    return tensors


def _split_weights(weights: Mapping[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    """The weights by group (``vae``, ``backbone``, ``parts``), each without its prefix."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, tensor in weights.items():
        group, _, name = key.partition(".")
        groups.setdefault(group, {})[name] = tensor
    return groups


def _write_bundle(path: Path, manifest: dict, weights: Mapping[str, torch.Tensor] | Path,
                  tables: ClassTables | Path) -> None:
    """Write all three files into a staging directory, then swap it in. ``weights`` may be an
    existing weights file to carry over (hard-linked where possible, else copied), and
    ``tables`` an existing prototypes file; the manifest gets the files' checksums and its digest."""

    def fill(staging: Path) -> None:
        if isinstance(weights, Path):
            _link_or_copy(weights, staging / WEIGHTS)
        else:
            save_file(dict(weights), str(staging / WEIGHTS), metadata=_METADATA)
        if isinstance(tables, Path):
            _link_or_copy(tables, staging / PROTOTYPES)
        else:
            save_file(tables.tensors(), str(staging / PROTOTYPES), metadata=_METADATA)
        files = {name: _sha256(staging / name) for name in (WEIGHTS, PROTOTYPES)}
        sealed = {**_current_format(manifest), "files": files}
        _write_json(staging / MANIFEST, {**sealed, DIGEST: _manifest_digest(sealed)})
        for name in (WEIGHTS, PROTOTYPES, MANIFEST):
            (staging / name).chmod(0o644)  # shareable between accounts; safetensors writes 0600
            _fsync(staging / name)

    _replace_directory(path, fill)


def _replace_directory(path: Path, fill: Callable[[Path], None]) -> None:
    """Run ``fill`` on a fresh sibling directory, then put it at ``path``; ``path`` keeps its
    old contents unless everything succeeded."""
    if path.exists() and not path.is_dir():
        raise BundleError(f"{path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()) and not (path / MANIFEST).is_file():
        raise BundleError(f"{path}: refusing to replace a non-empty directory that is not an fsvae bundle")
    parent = path.parent
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale_writes(path)
    writer = f"{_HOST_TAG}-{os.getpid()}"  # lets the next writer tell whether this one still runs
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.writing-{writer}-", dir=parent))
    staging.chmod(0o755)  # mkdtemp's 0700 would hide the bundle from another account running it
    try:
        fill(staging)
        _fsync(staging)
        if path.exists():
            # Directories cannot be renamed over non-empty ones, so the old one steps aside first.
            retired = parent / f".{path.name}.old-{writer}-{secrets.token_hex(4)}"
            os.rename(path, retired)
            try:
                os.rename(staging, path)
            except BaseException:
                os.rename(retired, path)
                raise
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.rename(staging, path)
        _fsync(parent)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def remove_stale_writes(path: str | Path, now: float | None = None) -> list[Path]:
    """Remove what interrupted writes of the bundle at ``path`` left beside it; returns what was removed.

    A staging folder ``.NAME.writing-*`` is stale when its writer ran on this
    host and is no longer running, or when nothing in it changed for
    :data:`STALE_WRITE_AGE_S` (writers on other hosts sharing the folder,
    folders named before writers were recorded). A retired bundle
    ``.NAME.old-*`` is stale by the same rules, but only while ``NAME``
    itself is a bundle: otherwise it is the one copy left (see
    :func:`load_bundle`'s hint). A folder of a running writer, this process
    included, is never removed.
    """
    path = Path(path)
    now = time.time() if now is None else now
    pattern = re.compile(rf"\.{re.escape(path.name)}\.(writing|old)-(?:([0-9a-f]{{8}})-(\d+)-)?.+", re.ASCII)
    removed = []
    try:
        siblings = list(path.parent.iterdir())
    except OSError:
        return removed
    bundle_there = (path / MANIFEST).is_file()
    for folder in siblings:
        match = pattern.fullmatch(folder.name)
        if match is None or not folder.is_dir() or folder.is_symlink():
            continue
        kind, host, pid = match.group(1), match.group(2), match.group(3)
        if kind == "old" and not bundle_there:
            continue
        if host == _HOST_TAG and pid is not None:
            if int(pid) == os.getpid() or _process_running(int(pid)):
                continue  # a running writer's: never touched, however old
            stale = True
        else:
            stale = now - _newest_mtime(folder) > STALE_WRITE_AGE_S
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
    return removed


def _process_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # another account's process, or cannot tell: assume it runs
    return True


def _newest_mtime(folder: Path) -> float:
    """When anything in ``folder`` last changed (now, if it cannot be read: never stale by age)."""
    try:
        newest = folder.stat().st_mtime
        for item in folder.iterdir():
            newest = max(newest, item.lstat().st_mtime)
    except OSError:
        return time.time()
    return newest


def _link_or_copy(source: Path, target: Path) -> None:
    # A hard link is safe: bundle files are never modified in place, only replaced.
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _write_json(file: Path, document: dict) -> None:
    file.write_text(json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")


def _fsync(path: Path) -> None:
    """Flush a file or directory to disk; a no-op where the platform cannot (directories on Windows)."""
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with open(file, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# ---------------------------------------------------------------------------------------------
# Small conversions


def _cpu(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().cpu().contiguous()


def _as_matrix(values: torch.Tensor | np.ndarray) -> torch.Tensor:
    """(K, C) float32 CPU copy of a tensor or array."""
    return torch.as_tensor(values).detach().to("cpu", torch.float32).contiguous().clone()


def _embed_text(vae: FSVAE, class_text: torch.Tensor) -> torch.Tensor:
    """(K, Ct) -> (K, Z) float32 CPU latent means, on the VAE's own device."""
    device = next(vae.parameters()).device
    return _cpu(vae.embed_text(class_text.to(device, torch.float32)).float())


def _plain_json(value: Any, path: Path, where: str) -> Any:
    """``value`` as strict JSON: numpy scalars and arrays to numbers and lists, tuples to
    lists, NaN and infinities to None (training metrics may hold e.g. a 0/0 mean)."""
    if isinstance(value, Mapping):
        return {str(key): _plain_json(item, path, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain_json(item, path, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _plain_json(value.tolist(), path, where)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise BundleError(f"{path}: {where} is not JSON ({type(value).__name__})")
