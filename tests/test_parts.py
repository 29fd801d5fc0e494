"""Part-aware alignment: ridge maps per body part, part scores, classes without part sentences."""

import numpy as np
import pytest

from fsvae_core.descriptions import PART_NAMES, ActionDescription, load_descriptions
from fsvae_core.parts import PartAligner, part_text_embeddings
from fsvae_core.text import SentenceEncoder

B, C, D = len(PART_NAMES), 12, 8


def synthetic(n_classes=5, per_class=30, seed=0):
    """Part features that are a fixed linear image of each class's part 'sentences' plus noise."""
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(n_classes, B, D))
    text /= np.linalg.norm(text, axis=-1, keepdims=True)
    mixing = rng.normal(size=(B, D, C))
    labels = np.repeat(np.arange(n_classes), per_class)
    parts = np.einsum("nbd,bdc->nbc", text[labels], mixing) + rng.normal(0, 0.05, (len(labels), B, C))
    return parts.astype(np.float32), labels, text.astype(np.float32)


def test_part_scores_name_the_class_whose_part_sentences_the_motion_matches():
    parts, labels, text = synthetic()
    aligner = PartAligner.fit(parts, text[labels], penalty=1.0)
    scores = aligner.scores(parts, text, np.ones(len(text), dtype=bool))
    assert scores.shape == (len(labels), len(text))
    assert (scores.argmax(1) == labels).mean() > 0.95


def test_part_scores_reach_classes_never_fitted_on_through_shared_sentences():
    # Classes 3 and 4 are never fitted on; their part sentences recombine parts of classes 0-2.
    parts, labels, text = synthetic(n_classes=3)
    new = np.stack([np.concatenate([text[0, :3], text[1, 3:]]), np.concatenate([text[2, :3], text[0, 3:]])])
    all_text = np.concatenate([text, new])
    rng = np.random.default_rng(1)
    mixing_free = PartAligner.fit(parts, text[labels], penalty=1.0)
    mixed = np.concatenate([parts[labels == 0][:, :3], parts[labels == 1][:, 3:]], axis=1)  # class 3's motion
    scores = mixing_free.scores(mixed + rng.normal(0, 0.01, mixed.shape).astype(np.float32), all_text[3:],
                                np.ones(2, dtype=bool))
    assert (scores.argmax(1) == 0).mean() > 0.9


def test_a_class_without_part_sentences_gets_the_mean_part_score_of_the_others():
    parts, labels, text = synthetic()
    aligner = PartAligner.fit(parts, text[labels])
    has = np.array([True, True, False, True, True])
    scores = aligner.scores(parts, text, has)
    np.testing.assert_allclose(scores[:, 2], scores[:, has].mean(axis=1), atol=1e-6)


def test_the_aligner_round_trips_through_its_tensors_and_refuses_mismatched_ones():
    parts, labels, text = synthetic()
    aligner = PartAligner.fit(parts, text[labels])
    again = PartAligner.from_tensors(aligner.to_tensors())
    np.testing.assert_array_equal(again.weights, aligner.weights)
    with pytest.raises(ValueError, match="do not fit"):
        PartAligner.from_tensors({**aligner.to_tensors(), "scale": aligner.scale[:, :3]})
    with pytest.raises(ValueError, match=r"\(N, B, C\)"):
        PartAligner.fit(parts[:, 0], text[labels])


def test_part_text_embeddings_are_unit_rows_and_zero_for_classes_without_parts(tmp_path):
    encoder = SentenceEncoder(cache_root=tmp_path)
    descriptions = load_descriptions("utd-mhad")[:2] + [ActionDescription("jump", "both legs push off", "jumping")]
    table, has = part_text_embeddings(descriptions, encoder)
    assert table.shape == (3, B, 384) and has.tolist() == [True, True, False]
    np.testing.assert_allclose(np.linalg.norm(table[:2], axis=-1), 1.0, atol=1e-5)
    assert not table[2].any()
    np.testing.assert_allclose(table[0, PART_NAMES.index("right_arm")],
                               encoder.encode([descriptions[0].part_texts()[PART_NAMES.index("right_arm")]])[0],
                               atol=1e-6)


def test_the_skeleton_s_body_parts_are_the_descriptions_body_parts():
    from calibration.layouts import NTU25_BODY_PARTS

    assert tuple(NTU25_BODY_PARTS) == PART_NAMES
