"""Prototypes in feature space regressed from class text: fitted on trained classes, placed for new ones."""

import numpy as np
import pytest

from fsvae_core.feature_prototypes import FeatureRegressor


def linear_world(n_classes=12, text_dim=40, feature_dim=16, per_class=30, noise=0.05, seed=0):
    """Class texts (n, T) and windows whose class means are one linear map of the text, in a shifted, scaled
    feature space: the only route from an unseen class's text to its windows is that map."""
    rng = np.random.default_rng(seed)
    text = rng.normal(size=(n_classes, text_dim))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    law = rng.normal(size=(text_dim, feature_dim))
    labels = np.repeat(np.arange(n_classes), per_class)
    features = (text @ law)[labels] + noise * rng.normal(size=(len(labels), feature_dim))
    return text.astype(np.float32), (3.0 + 5.0 * features).astype(np.float32), labels


def test_unseen_classes_are_recognised_through_their_text_alone():
    text, features, labels = linear_world(n_classes=30, text_dim=20)
    trained = labels < 25
    regressor = FeatureRegressor.fit(features[trained], labels[trained], text, penalty=0.01)
    unseen = np.arange(25, 30)
    scores = regressor.scores(features[~trained], text[unseen])  # (N, 5)
    assert (unseen[scores.argmax(1)] == labels[~trained]).mean() > 0.9


def test_a_trained_class_text_maps_near_its_own_windows_centroid():
    text, features, labels = linear_world()
    regressor = FeatureRegressor.fit(features, labels, text, penalty=1e-3)
    standardised = (features - regressor.feature_mean) / regressor.feature_scale
    centroids = np.stack([standardised[labels == k].mean(0) for k in range(len(text))])
    np.testing.assert_allclose(regressor.prototypes(text), centroids, atol=1e-2)


def test_a_larger_penalty_pulls_every_prototype_toward_the_mean_centroid():
    text, features, labels = linear_world()
    loose = FeatureRegressor.fit(features, labels, text, penalty=1e-3).prototypes(text)
    tight = FeatureRegressor.fit(features, labels, text, penalty=1e3).prototypes(text)
    spread = lambda p: np.linalg.norm(p - p.mean(0), axis=1).mean()
    assert spread(tight) < 0.1 * spread(loose)


def test_scores_are_cosines_of_each_window_with_each_prototype():
    text, features, labels = linear_world()
    scores = FeatureRegressor.fit(features, labels, text).scores(features[:7], text)
    assert scores.shape == (7, len(text))
    assert np.all(np.abs(scores) <= 1 + 1e-5)


@pytest.mark.parametrize("labels, match", [(np.zeros(60, int), "at least 2 classes"), (np.zeros(5, int), "labels")])
def test_fitting_refuses_what_it_cannot_learn_from(labels, match):
    text, features, _ = linear_world(per_class=5)
    with pytest.raises(ValueError, match=match):
        FeatureRegressor.fit(features, labels, text)


def test_fitting_refuses_a_penalty_that_is_not_positive():
    text, features, labels = linear_world()
    with pytest.raises(ValueError, match="penalty > 0"):
        FeatureRegressor.fit(features, labels, text, penalty=0.0)
