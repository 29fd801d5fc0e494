"""The text side embeds with the real offline MiniLM, caches on disk, and builds f_t."""

import numpy as np
import pytest

from fsvae_core.descriptions import ActionDescription
from fsvae_core.text import SentenceEncoder, TextEncoderConfig, class_embeddings


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return SentenceEncoder(cache_root=tmp_path_factory.mktemp("text-cache"))


def test_default_model_embeds_offline_into_384_unit_vectors(encoder):
    vectors = encoder.encode(["drink water", "brushing teeth"])
    assert vectors.shape == (2, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_related_texts_lie_closer_than_unrelated_ones(encoder):
    drink, sip, kick = encoder.encode(["drink water", "take a sip from a cup", "kick a ball with the foot"])
    assert drink @ sip > drink @ kick


def test_cached_embeddings_are_reused_without_loading_the_model(encoder, tmp_path):
    first = SentenceEncoder(cache_root=tmp_path)
    vector = first.encode(["wave a hand"])
    second = SentenceEncoder(cache_root=tmp_path)
    np.testing.assert_array_equal(second.encode(["wave a hand"]), vector)
    assert second._model is None  # served from disk alone


def test_cache_is_keyed_by_model(tmp_path):
    a = SentenceEncoder(TextEncoderConfig(model="all-MiniLM-L6-v2"), cache_root=tmp_path)
    b = SentenceEncoder(TextEncoderConfig(model="/some/other/model"), cache_root=tmp_path)
    assert a._path("x") != b._path("x")


def test_damaged_cache_entry_is_recomputed(encoder, tmp_path):
    fresh = SentenceEncoder(cache_root=tmp_path)
    vector = fresh.encode(["clap hands"])
    fresh._path("clap hands").write_bytes(b"not an array")
    np.testing.assert_allclose(SentenceEncoder(cache_root=tmp_path).encode(["clap hands"]), vector, atol=1e-6)


def test_class_vector_concatenates_label_ld_gd_and_is_unit_norm(encoder):
    actions = [ActionDescription("sit down", "knees bend and hips lower onto a seat", "taking a seat on a chair"),
               ActionDescription("stand up", "hips rise from a seat as the knees straighten", "getting up from a chair")]
    f_t = class_embeddings(actions, encoder)
    assert f_t.shape == (2, 3 * 384)
    np.testing.assert_allclose(np.linalg.norm(f_t, axis=1), 1.0, atol=1e-5)
    label_part = encoder.encode(["sit down"])[0]
    # Each part is a unit vector, so before the joint normalisation each third has norm 1: f_t = parts / sqrt(3).
    np.testing.assert_allclose(f_t[0, :384], label_part / np.sqrt(3), atol=1e-5)


def test_label_only_vectors_have_one_part(encoder):
    actions = [ActionDescription("wave", "hand moves side to side", "greeting someone")]
    assert class_embeddings(actions, encoder, parts=("name",)).shape == (1, 384)


def test_unknown_text_part_is_refused(encoder):
    with pytest.raises(ValueError, match="subset"):
        class_embeddings([ActionDescription("a", "b", "c")], encoder, parts=("title",))


def test_a_model_that_is_not_on_disk_fails_clearly_without_downloading(tmp_path):
    missing = SentenceEncoder(TextEncoderConfig(model="no-such-org/no-such-model"), cache_root=tmp_path)
    with pytest.raises(RuntimeError, match="cannot load text model 'no-such-org/no-such-model'"):
        missing.encode(["anything"])
