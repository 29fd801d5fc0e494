"""Which classes are unseen, which seen classes serve as validation, per dataset and split.

The four standard NTU splits are the ones every paper reports (0-based NTU
class indices). Validation classes are carved out of the seen classes and act
as pseudo-unseen classes for model selection and GZSL calibration, so test
classes are never looked at before the final evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DATASET_CLASS_COUNTS = {"ntu60": 60, "ntu120": 120, "utd-mhad": 27, "nw-ucla": 10}


@dataclass(frozen=True)
class ClassSplit:
    """A zero-shot split of ``n_classes`` classes into seen and unseen, with validation classes.

    ``validation`` is a subset of the seen classes, held out as pseudo-unseen.
    """

    n_classes: int
    unseen: tuple[int, ...]
    validation: tuple[int, ...]
    name: str = ""

    def __post_init__(self) -> None:
        everything = set(range(self.n_classes))
        if not set(self.unseen) <= everything:
            raise ValueError(f"split {self.name!r}: unseen classes must be a subset of 0..{self.n_classes - 1}")
        if not self.validation:
            raise ValueError(f"split {self.name!r}: needs at least one validation class")
        if len(set(self.unseen)) != len(self.unseen):
            raise ValueError(f"split {self.name!r}: unseen classes repeat")
        if set(self.validation) & set(self.unseen) or not set(self.validation) <= everything:
            raise ValueError(f"split {self.name!r}: validation classes must be seen classes")
        if len(self.seen) - len(self.validation) < 1:
            raise ValueError(f"split {self.name!r}: no seen class is left for training once validation is carved out")

    @property
    def seen(self) -> tuple[int, ...]:
        return tuple(c for c in range(self.n_classes) if c not in set(self.unseen))

    @property
    def train_classes(self) -> tuple[int, ...]:
        """Seen classes minus validation: what the validation stage trains on."""
        held = set(self.validation)
        return tuple(c for c in self.seen if c not in held)


STANDARD_SPLITS: dict[tuple[str, str], ClassSplit] = {
    ("ntu60", "55/5"): ClassSplit(60, (10, 11, 19, 26, 56), (16, 21, 25, 31, 48), "ntu60 55/5"),
    ("ntu60", "48/12"): ClassSplit(
        60, (3, 5, 9, 12, 15, 40, 42, 47, 51, 56, 58, 59), (4, 8, 10, 13, 17, 22, 30, 33, 39, 46, 50, 54), "ntu60 48/12"
    ),
    ("ntu120", "110/10"): ClassSplit(
        120, (4, 13, 37, 43, 49, 65, 88, 95, 99, 106), (5, 10, 32, 61, 72, 74, 76, 77, 83, 96), "ntu120 110/10"
    ),
    ("ntu120", "96/24"): ClassSplit(
        120,
        (5, 9, 11, 16, 18, 20, 22, 29, 35, 39, 45, 49, 59, 68, 70, 81, 84, 87, 93, 94, 104, 113, 114, 119),
        (1, 3, 4, 10, 17, 19, 27, 47, 48, 53, 58, 63, 66, 79, 83, 86, 89, 92, 97, 98, 100, 103, 105, 108),
        "ntu120 96/24",
    ),
}


def standard_split(dataset: str, split: str) -> ClassSplit:
    """One of the four standard NTU splits, e.g. ``standard_split("ntu60", "55/5")``."""
    key = (dataset.lower(), split)
    if key not in STANDARD_SPLITS:
        known = ", ".join(f"{d} {s}" for d, s in STANDARD_SPLITS)
        raise ValueError(f"no standard split {split!r} for dataset {dataset!r}; known: {known}")
    return STANDARD_SPLITS[key]


def random_split(n_classes: int, n_unseen: int, seed: int, n_validation: int | None = None,
                 among: tuple[int, ...] | None = None) -> ClassSplit:
    """K random unseen classes: ``numpy.random.default_rng(seed).choice(C, K, replace=False)``.

    The unseen draw matches that expression exactly so results compare across
    tools; validation classes (as many as unseen unless given) are then drawn
    from the seen classes by the same generator. With ``among`` (the C class
    ids of one dataset inside a larger merged set) both draws pick from those
    ids alone, by the same expressions, so the split is that dataset's own and
    every other class is seen.
    """
    pool = np.arange(n_classes) if among is None else np.asarray(among)
    if not 0 < n_unseen < len(pool):
        raise ValueError(f"the number of unseen classes must lie in 1..{len(pool) - 1}, got {n_unseen}")
    rng = np.random.default_rng(seed)
    unseen = pool[rng.choice(len(pool), n_unseen, replace=False)]
    seen = np.setdiff1d(pool, unseen)
    n_validation = min(n_unseen, len(seen) - 2) if n_validation is None else n_validation
    if not 0 < n_validation < len(seen):
        raise ValueError(f"{len(pool)} classes with {n_unseen} unseen leave too few seen classes for validation")
    validation = rng.choice(seen, n_validation, replace=False)
    where = "" if among is None else f" of those {len(pool)} ids"
    return ClassSplit(
        n_classes,
        tuple(sorted(int(c) for c in unseen)),
        tuple(sorted(int(c) for c in validation)),
        f"random {n_unseen}{where} of {n_classes}, seed {seed}",
    )


def deployment_split(n_classes: int, seed: int, n_validation: int | None = None) -> ClassSplit:
    """Every class seen; about one class in eight held out for validation in the first stage."""
    n_validation = n_validation or max(1, min(n_classes - 2, round(n_classes / 8)))
    if n_classes < 3:
        raise ValueError(f"a deployment split needs at least 3 classes, got {n_classes}")
    validation = np.random.default_rng(seed).choice(n_classes, n_validation, replace=False)
    return ClassSplit(n_classes, (), tuple(sorted(int(c) for c in validation)), f"deployment, {n_classes} classes, seed {seed}")


def resolve_split(dataset: str, split: str, n_classes: int, seed: int,
                  dataset_classes: dict[str, tuple[int, ...]] | None = None) -> ClassSplit:
    """A split by name: a standard one ("55/5"), a count of random unseen classes ("5"),
    "0" for a deployment split with every class seen, or "NAME:K", K random unseen
    classes of the dataset NAME among several trained together (``dataset_classes``
    maps each one's name to its class ids), every other class seen."""
    if split == "0":
        return deployment_split(n_classes, seed)
    if split.isdigit():
        return random_split(n_classes, int(split), seed)
    name, colon, count = split.rpartition(":")
    if colon and count.isdigit():
        known = dataset_classes or {}
        if name not in known:
            raise ValueError(f"split {split!r}: {name!r} is not one of the datasets trained: {', '.join(known) or 'none'}")
        return random_split(n_classes, int(count), seed, among=known[name])
    return standard_split(dataset, split)
