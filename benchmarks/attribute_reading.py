"""How well the attribute scores alone name unseen classes, by how each class's attribute values are read.

    python3 benchmarks/attribute_reading.py [--dataset utd-mhad] [--unseen 5] [--seeds 0,...,9]
        [--config camera_cpu.json] [--ridge 0.1]

The splits are ``zero_shot_results.py``'s (the same seed draws the same unseen
and validation classes). Per seed, the attribute scores
(:mod:`fsvae_core.attributes`) with nothing else pick one class among the
unseen ones for each of their test windows, the values of each class read

- ``phrases``: from its body-part sentences by the fixed phrases (the
  shipped reading);
- ``phrases + learned``: beside a ridge map from a class's part sentences
  (flattened) to its windows' mean standardised measures, fitted on the seen
  classes, each reading scaled by its spread over them. The product tried it
  (commit 39e0203, reverted; docs/results.md says why); it lives on here as a
  probe;
- ``own windows``: as the mean measures of the class's own training-subject
  windows. No zero-shot result: it is how well the measures tell the unseen
  classes apart when read perfectly, an upper bound for any reading of text.

``validation`` rows do the same with the seen classes' validation classes
playing unseen (read from the other seen classes, scored on their test
windows): what a reading may be chosen on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from fsvae_core.attributes import CLIP, AttributeMatcher, attribute_directions, measure_windows
from fsvae_core.parts import part_text_embeddings
from fsvae_core.pipeline import PipelineConfig, make_windows, training_data
from fsvae_core.settings import load_settings
from fsvae_core.skeleton_data import load_dataset
from fsvae_core.splits import resolve_split
from fsvae_core.text import SentenceEncoder

HERE = Path(__file__).resolve().parent
READINGS = ("phrases", "phrases + learned", "own windows")


def accuracies(held: np.ndarray, trained: np.ndarray, measures: tuple[np.ndarray, np.ndarray],
               labels: tuple[np.ndarray, np.ndarray], table: np.ndarray, directions: np.ndarray,
               ridge: float) -> dict[str, float]:
    """Attributes-alone accuracy (%) on the test windows of ``held`` classes, read from ``trained`` ones.

    measures, labels: training and test windows' measures (N, A) and class ids (N,) of every class.
    """
    (m_train, m_test), (y_train, y_test) = measures, labels
    fitted_on = np.isin(y_train, trained)
    rows = np.searchsorted(trained, y_train[fitted_on])
    scored = np.isin(y_test, held)
    target = np.searchsorted(held, y_test[scored])
    has = np.ones(len(held), dtype=bool)
    reference = m_train[fitted_on]
    phrases = AttributeMatcher.fit(directions, reference, table[trained])
    learned = AttributeMatcher.fit(learned_directions(directions, reference, rows, table[trained], ridge),
                                   reference, table[trained])
    out = {"phrases": phrases.scores(m_test[scored], table[held], has),
           "phrases + learned": learned.scores(m_test[scored], table[held], has)}
    # The ceiling: the matcher's correlation, each class's values being its own windows' mean standardised measures.
    own = np.stack([standardised(m_train[y_train == c], reference).mean(0) for c in np.concatenate([trained, held])])
    own = (own - own[: len(trained)].mean(0)) / (own[: len(trained)].std(0) + 1e-9)
    out["own windows"] = standardised(m_test[scored], reference) @ own[len(trained):].T
    return {name: float((scores.argmax(1) == target).mean() * 100) for name, scores in out.items()}


def standardised(measures: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Measures (N, A) standardised over ``reference`` windows' measures and clipped, as the matcher does."""
    return np.clip((measures - reference.mean(0)) / (reference.std(0) + 1e-6), -CLIP, CLIP)


def learned_directions(directions: np.ndarray, measures: np.ndarray, labels: np.ndarray,
                       trained_part_text: np.ndarray, ridge: float) -> np.ndarray:
    """Directions (B, D, A) reading each attribute by its phrase plus a ridge map fitted on trained classes.

    measures (N, A) and labels (N,) (rows of ``trained_part_text`` (K, B, D)) are the trained classes'
    windows. Both readings are linear in a class's part sentences, so their sum is one set of directions.
    """
    _, B, D = trained_part_text.shape
    present = np.unique(labels)
    z = standardised(measures, measures)
    targets = np.stack([z[labels == k].mean(0) for k in present])  # (K', A)
    x = trained_part_text[present].reshape(len(present), B * D).astype(np.float64)
    x, targets = x - x.mean(0), targets - targets.mean(0)
    learned = x.T @ np.linalg.solve(x @ x.T + ridge * np.eye(len(x)), targets)  # (B D, A), the dual form
    phrase = directions.reshape(B * D, -1).astype(np.float64)
    spread = lambda reading: reading.std(0) + 1e-9  # noqa: E731
    return (phrase / spread(x @ phrase) + learned / spread(x @ learned)).reshape(B, D, -1).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="utd-mhad")
    parser.add_argument("--unseen", default="5")
    parser.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--config", default="camera_cpu.json", help="a file in benchmarks/configs/ or a path")
    parser.add_argument("--ridge", type=float, default=0.1, help="penalty of the learned reading")
    args = parser.parse_args()

    path = Path(args.config) if Path(args.config).exists() else HERE / "configs" / args.config
    config = load_settings(PipelineConfig, path).resolved()
    data = training_data(load_dataset(args.dataset), args.dataset, 0)
    train, test = np.flatnonzero(data.is_train), np.flatnonzero(~data.is_train)
    w_train, y_train = make_windows(data.dataset, train, config.window, config.crops(data.dataset.labels[train]))
    w_test, y_test = make_windows(data.dataset, test, config.window, 1)
    measures = measure_windows(w_train), measure_windows(w_test)
    encoder = SentenceEncoder(config.experiment.text)
    table, has = part_text_embeddings(data.descriptions, encoder)
    if not has.all():
        raise SystemExit(f"{args.dataset}: every class needs body-part sentences to be read")
    directions = attribute_directions(encoder)

    rows: dict[tuple[str, str], list[float]] = {}
    seeds = [int(s) for s in args.seeds.split(",")]
    for seed in seeds:
        split = resolve_split(args.dataset, args.unseen, data.dataset.num_classes, seed)
        seen, unseen = np.asarray(split.seen), np.asarray(split.unseen)
        validation, train_classes = np.asarray(split.validation), np.asarray(split.train_classes)
        for on, held, trained in (("test", unseen, seen), ("validation", validation, train_classes)):
            for name, value in accuracies(held, trained, measures, (y_train, y_test), table, directions,
                                          args.ridge).items():
                rows.setdefault((on, name), []).append(value)
        print(f"seed {seed}: " + ", ".join(f"{name} {rows['test', name][-1]:.1f}" for name in READINGS), flush=True)

    print(f"\n{args.dataset}, {args.unseen} unseen, attributes alone (%), learned reading's ridge {args.ridge}\n")
    print("| classes | reading | mean | " + " | ".join(f"seed {s}" for s in seeds) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in seeds) + " |")
    for on in ("test", "validation"):
        for name in READINGS:
            values = rows[on, name]
            print(f"| {on} | {name} | {np.mean(values):.1f} | " + " | ".join(f"{v:.1f}" for v in values) + " |")
    print(json.dumps({f"{on}/{name}": round(float(np.mean(v)), 2) for (on, name), v in rows.items()}))


if __name__ == "__main__":
    main()
