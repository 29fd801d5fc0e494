"""The standard NTU splits as published, and reproducible random splits."""

import numpy as np
import pytest

from fsvae_core.splits import STANDARD_SPLITS, random_split, resolve_split, standard_split


def test_standard_unseen_classes_are_the_published_ones():
    assert standard_split("ntu60", "55/5").unseen == (10, 11, 19, 26, 56)
    assert standard_split("ntu60", "48/12").unseen == (3, 5, 9, 12, 15, 40, 42, 47, 51, 56, 58, 59)
    assert standard_split("ntu120", "110/10").unseen == (4, 13, 37, 43, 49, 65, 88, 95, 99, 106)
    assert len(standard_split("ntu120", "96/24").unseen) == 24


@pytest.mark.parametrize("key", list(STANDARD_SPLITS))
def test_each_standard_split_has_the_sizes_its_name_says(key):
    split = STANDARD_SPLITS[key]
    n_seen, n_unseen = (int(v) for v in key[1].split("/"))
    assert (len(split.seen), len(split.unseen)) == (n_seen, n_unseen)
    assert len(split.validation) == n_unseen
    assert not set(split.validation) & set(split.unseen)
    assert set(split.train_classes) | set(split.validation) == set(split.seen)


def test_random_split_draws_unseen_exactly_like_numpy_default_rng_choice():
    split = random_split(27, 5, seed=3)
    expected = np.random.default_rng(3).choice(27, 5, replace=False)
    assert split.unseen == tuple(sorted(expected.tolist()))
    assert len(split.validation) == 5 and not set(split.validation) & set(split.unseen)


def test_random_split_is_reproducible_and_differs_between_seeds():
    assert random_split(10, 3, 0) == random_split(10, 3, 0)
    assert random_split(10, 3, 0).unseen != random_split(10, 3, 1).unseen


def test_resolve_split_takes_a_standard_name_or_a_count():
    assert resolve_split("ntu60", "55/5", 60, 0) is STANDARD_SPLITS[("ntu60", "55/5")]
    assert len(resolve_split("utd-mhad", "5", 27, 0).unseen) == 5


def test_unknown_split_names_the_known_ones():
    with pytest.raises(ValueError, match="ntu60 55/5"):
        standard_split("ntu60", "50/10")


def test_too_many_unseen_classes_is_refused():
    with pytest.raises(ValueError, match="1..9"):
        random_split(10, 10, 0)


def test_unseen_classes_of_one_dataset_among_several_draw_as_that_dataset_alone():
    alone = random_split(27, 5, 3)
    merged = resolve_split("utd-mhad+nw-ucla", "utd-mhad:5", 40, 3,
                           {"utd-mhad": tuple(range(27)), "nw-ucla": tuple(range(27, 40))})
    assert merged.unseen == alone.unseen and merged.validation == alone.validation and merged.n_classes == 40
    shifted = resolve_split("a+b", "b:2", 12, 0, {"a": (0, 1, 2, 3), "b": (4, 5, 6, 7, 8, 9, 10, 11)})
    assert set(shifted.unseen) <= set(range(4, 12)) and set(shifted.validation) <= set(range(4, 12))
    with pytest.raises(ValueError, match="not one of the datasets"):
        resolve_split("a+b", "c:2", 12, 0, {"a": (0,), "b": (1,)})
