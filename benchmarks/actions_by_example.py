"""Actions shown by example against actions added by text, through the product's own path.

    python3 benchmarks/actions_by_example.py --runs R --dataset utd-mhad --unseen 5 --variant V [--seeds 0,...,9] [--examples 1,3]
    python3 benchmarks/actions_by_example.py --camera [--bundle B] [--show 2]

For each finished run ``R/<dataset>-u<K>-<V>-s<seed>`` of ``zero_shot_results.py``
(whose bundle holds the seen classes, trained, and the unseen ones by their
text), the unseen actions are also added the way ``fsvae actions add
--example`` adds them: removed, then added again with the windows of N
recordings of training subjects (the first N of each action, in the seed's
shuffle), read as the live recognizer reads a recording. Then every test
recording goes through ``fsvae recognize``'s path (``text_actions.evaluate``),
in two lists: the unseen actions alone (as ``zero_shot_results.py`` scores
them) and beside the bundle's trained actions (what a user who adds actions
gets). The unseen actions' test recordings are of other subjects than the
examples, and on NW-UCLA of another view too (the test view, 3, against
examples from views 1 and 2).

Prints, per seed and mean, best candidate and decided accuracy, and for the
full list the trained actions' recordings too, with paired differences
against the text (``zero_shot_results.paired_difference``).

``--camera`` does the same where users are, on the ``florence_dev`` camera
clips (``camera_florence.py``: MediaPipe poses, mirrored back, cached) and the
shipped bundle: for each of the 5 people in turn, the 9 actions are shown by
that person's first clip of each and the other people's clips are
recognised, against the same clips with the actions added by text
(``text_actions.setting_bundles``: ``text only`` and ``added``), and shown
live (``fsvae actions add --control ... --show S``): the example clip played
as a camera stream after the person stood ready for 2 s in its first pose, its
last pose held after it, and the windows kept by the live recognizer's own
``Showing`` over the S seconds from a quarter second before the clip starts
(a person reacting to the countdown), and shown by all of that person's clips
of each action (2 to 4 recordings, as ``--show S --times N`` or several
``--example`` give). The clips show the 9 actions to the bundle, never to its
training. In both benchmarks
an action shown keeps its body-part sentences, and with them its part and
attribute terms; only its prototype comes from the recordings.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

from fsvae_core.bundle import add_action, list_actions, load_bundle, remove_action
from fsvae_core.pipeline import training_data
from fsvae_core.skeleton_data import load_dataset
from realtime.capture import SequenceReplaySource
from fsvae_core.decision import window_motion
from realtime.capture import PoseSample
from realtime.inference import ClassChange, Recognizer, Showing
from realtime.recognize import live_windows
from text_actions import SETTINGS, evaluate, setting_bundles, summarise
from zero_shot_results import paired_difference

HERE = Path(__file__).resolve().parent


def samples_windows(samples, recognizer: Recognizer) -> np.ndarray:
    """The windows of one recording's pose samples as the live recognizer makes them, (n, M, T, V, 3)."""
    return np.stack([recognizer.prepare(joints) for joints in live_windows(samples, recognizer.bundle.skeleton).windows])


def live_shown_windows(samples: list[PoseSample], recognizer: Recognizer, show_s: float,
                       ready_s: float = 2.0, reaction_s: float = 0.25) -> np.ndarray:
    """The windows a live showing of ``show_s`` seconds keeps of one clip, (n, M, T, V, 3): the clip as a camera
    stream, after ``ready_s`` of its first pose and before its last pose held, the showing starting
    ``reaction_s`` before the clip (see the module's docstring)."""
    step = float(np.median(np.diff([sample.timestamp_s for sample in samples])))
    start, end = samples[0].timestamp_s, samples[-1].timestamp_s
    seen = [sample for sample in samples if sample.joints is not None]

    def held(sample: PoseSample, times) -> list[PoseSample]:
        return [PoseSample(float(t), sample.joints, sample.layout) for t in times]

    stream = (held(seen[0], start - step * np.arange(round(ready_s / step), 0, -1)) + list(samples)
              + held(seen[-1], end + step * np.arange(1, round((show_s + ready_s) / step))))
    showing = Showing(ClassChange("add", "shown"), "camera", 1000 * (start - reaction_s), show_s)
    for time_s, joints in live_windows(stream, recognizer.bundle.skeleton).events:
        if joints is not None:
            window = recognizer.prepare(joints)
            showing.offer("camera", window, not recognizer.rule.is_still(window_motion(window[None]))[0], 1000 * time_s)
    if not showing.windows:
        raise ValueError(f"no window moved in {show_s:g} s of the clip")
    return np.stack(showing.recordings[0])


def recording_windows(dataset, index: int, recognizer: Recognizer) -> np.ndarray:
    """One dataset recording's windows as the live recognizer makes them, (n, M, T, V, 3)."""
    return samples_windows(SequenceReplaySource(dataset.sequences[index], dataset.layout, dataset.fps,
                                                realtime=False), recognizer)


def shown_instead(bundle: Path, copy: Path, actions, examples: dict[str, list[np.ndarray]], encoder=None) -> Path:
    """A copy of ``bundle`` in which each of ``actions`` (name, ld, gd, parts) named in ``examples`` is removed and
    added again, shown by its examples' windows; its texts and part sentences stay."""
    shutil.copytree(bundle, copy)
    for action in actions:
        if action.name in examples:
            remove_action(copy, action.name)
            add_action(copy, action.name, action.ld, action.gd, encoder=encoder,
                       parts=None if action.parts is None else dict(action.parts), examples=examples[action.name])
    return copy


def only(bundle: Path, copy: Path, names: list[str]) -> Path:
    """A copy of ``bundle`` with only the actions ``names``."""
    shutil.copytree(bundle, copy)
    for entry in list_actions(copy):
        if entry.name not in names:
            remove_action(copy, entry.name)
    return copy


def measure(bundle: Path, clips, truth_names: list[str], unseen: list[str]) -> dict:
    """Best / decided accuracy of the unseen actions' clips among them alone, and of all clips beside the rest."""
    with tempfile.TemporaryDirectory() as work:
        alone = only(bundle, Path(work) / "alone", unseen)
        is_unseen = np.array([t in unseen for t in truth_names])
        unseen_clips = [c for c, u in zip(clips, is_unseen) if u]
        unseen_truth = [t for t, u in zip(truth_names, is_unseen) if u]
        a = summarise(evaluate(Recognizer.from_bundle(load_bundle(alone), device="cpu"), unseen_clips),
                      [c for c, _ in unseen_clips], [unseen.index(t) for t in unseen_truth], unseen)
    names = [entry.name for entry in list_actions(bundle)]
    b = summarise(evaluate(Recognizer.from_bundle(load_bundle(bundle), device="cpu"), clips),
                  [c for c, _ in clips], [names.index(t) for t in truth_names], names)
    hits = np.array([answer["best"] == answer["truth"] for answer in b["answers"]])
    return {"alone best": a["best"], "alone decided": a["decided"],
            "beside: unseen best": float(hits[is_unseen].mean()), "beside: trained best": float(hits[~is_unseen].mean()),
            "beside: unseen decided": float(np.mean([r["label"] == r["truth"] and not r["unknown"]
                                                     for r, u in zip(b["answers"], is_unseen) if u]))}


def camera(bundle: Path, show_s: float = 2.0) -> int:
    """The florence_dev clips: each person in turn shows the 9 actions once, the others are recognised."""
    from camera_florence import ACTIONS, load_clips
    from fsvae_core import paths
    from fsvae_core.descriptions import load_descriptions
    from fsvae_core.text import SentenceEncoder

    clips = load_clips(paths.data_dir() / "florence_dev", mirrored=True, use_cache=True)
    actions = load_descriptions(ACTIONS)
    names = [a.name for a in actions]
    encoder = SentenceEncoder(load_bundle(bundle).text_config)
    answers: dict[str, list] = {}
    truth: list[int] = []
    for actor in sorted({c.actor for c in clips}):
        shown = {c.category: c for c in reversed(clips) if c.actor == actor}  # each action's first clip
        every = {i: [c for c in clips if c.actor == actor and c.category == i] for i in range(len(actions))}
        test = [c for c in clips if c.actor != actor]
        truth += [c.category for c in test]
        pairs = [(c.path.name, c.samples()) for c in test]
        with tempfile.TemporaryDirectory() as work:
            copies = {f"text: {s}": p for s, p in setting_bundles(bundle, Path(work), actions, encoder).items()}
            recognizer = Recognizer.from_bundle(load_bundle(bundle), device="cpu")
            ways = {  # each action's recordings, by its index
                "shown once": lambda i: [samples_windows(shown[i].samples(), recognizer)],
                "shown by all their clips": lambda i: [samples_windows(c.samples(), recognizer) for c in every[i]],
                f"shown live {show_s:g} s": lambda i: [live_shown_windows(list(shown[i].samples()), recognizer, show_s)],
            }
            for way, recordings_of in ways.items():
                examples = {a.name: recordings_of(i) for i, a in enumerate(actions)}
                for setting in SETTINGS:  # the same lists, each added action shown instead of described
                    described = copies[f"text: {setting}"]
                    added = {e.name for e in list_actions(described) if e.origin == "user"}  # not trained namesakes
                    copies[f"{way}: {setting}"] = shown_instead(
                        described, Path(work) / f"{way}_{setting}".replace(" ", "_"), actions,
                        {name: windows for name, windows in examples.items() if name in added}, encoder)
            for setting, copy in copies.items():
                results = evaluate(Recognizer.from_bundle(load_bundle(copy), device="cpu"), pairs)
                answers.setdefault(setting, []).extend(results)
        print(f"person {actor} shown, {len(test)} clips of the others recognised", flush=True)
    summaries = {setting: summarise(results, [""] * len(results), truth, names) for setting, results in answers.items()}
    print(f"\n| florence_dev, {len(truth)} clips (each person's actions shown by another) | best candidate | decided |")
    print("| --- | --- | --- |")
    for setting, s in summaries.items():
        print(f"| {setting} | {100 * s['best']:.1f}% | {100 * s['decided']:.1f}% |")
    print("\n| action, best candidate | " + " | ".join(summaries) + " |")
    print("| --- " * (len(summaries) + 1) + "|")
    for name in names:
        print(f"| {name} | " + " | ".join(f"{100 * s['per_class'][name]['best']:.0f}%" for s in summaries.values()) + " |")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--camera", action="store_true", help="the florence_dev camera clips and --bundle")
    parser.add_argument("--bundle", type=Path, default=HERE.parent / "fsvae_core" / "default_bundle")
    parser.add_argument("--show", type=float, default=2.0, help="with --camera: seconds of a live showing")
    parser.add_argument("--runs", type=Path, default=Path("runs/bench"))
    parser.add_argument("--dataset")
    parser.add_argument("--unseen", type=int)
    parser.add_argument("--variant")
    parser.add_argument("--seeds", default="0,1,2,3,4,5,6,7,8,9")
    parser.add_argument("--examples", default="1,3", help="how many recordings show each action, comma-separated")
    args = parser.parse_args(argv)
    if args.camera:
        return camera(args.bundle, args.show)
    if not (args.dataset and args.unseen and args.variant):
        parser.error("give --dataset, --unseen and --variant (the runs of zero_shot_results.py), or --camera")
    dataset = load_dataset(args.dataset)
    settings = ["text"] + [f"{n} shown" for n in map(int, args.examples.split(","))]
    rows: dict[str, dict[int, dict]] = {s: {} for s in settings}
    for seed in map(int, args.seeds.split(",")):
        run = args.runs / f"{args.dataset}-u{args.unseen}-{args.variant}-s{seed}"
        if not (run / "metrics.json").is_file():
            print(f"{run}: no finished run, skipped", file=sys.stderr)
            continue
        metrics = json.loads((run / "metrics.json").read_text())
        data = training_data(dataset, args.dataset, seed)
        names = [d.name for d in data.descriptions]
        unseen = [metrics["unseen"][k] for k in sorted(metrics["unseen"], key=int)]
        rng = np.random.default_rng(seed)
        pools = {names[c]: rng.permutation(np.flatnonzero(data.is_train & (data.dataset.labels == c)))
                 for c in map(int, metrics["unseen"])}
        test = np.flatnonzero(~data.is_train)
        clips = [(Path(str(data.dataset.sources[i])).name,
                  list(SequenceReplaySource(data.dataset.sequences[i], data.dataset.layout, data.dataset.fps,
                                            realtime=False))) for i in test]
        truth = [names[data.dataset.labels[i]] for i in test]
        rows["text"][seed] = measure(run / "bundle", clips, truth, unseen)
        recognizer = Recognizer.from_bundle(load_bundle(run / "bundle"), device="cpu")
        entries = [entry for entry in list_actions(run / "bundle") if entry.name in unseen]
        for setting in settings[1:]:
            shots = int(setting.split()[0])
            examples = {name: [recording_windows(data.dataset, i, recognizer) for i in pools[name][:shots]]
                        for name in unseen}
            with tempfile.TemporaryDirectory() as work:
                copy = shown_instead(run / "bundle", Path(work) / "shown", entries, examples)
                rows[setting][seed] = measure(copy, clips, truth, unseen)
        print(f"seed {seed}: " + "; ".join(f"{s} " + ", ".join(f"{k} {100 * v:.1f}" for k, v in rows[s][seed].items())
                                          for s in settings), flush=True)
    seeds = sorted(rows["text"])
    if not seeds:
        raise SystemExit("no finished runs")
    measures = list(rows["text"][seeds[0]])
    print(f"\n| {args.dataset}, {args.unseen} unseen, seeds {','.join(map(str, seeds))} | "
          + " | ".join(measures) + " |")
    print("| --- " * (len(measures) + 1) + "|")
    for setting in settings:
        cells = []
        for m in measures:
            mean = 100 * np.mean([rows[setting][s][m] for s in seeds])
            cell = f"{mean:.1f}%"
            if setting != "text":
                d = paired_difference({s: 100 * rows["text"][s][m] for s in seeds},
                                      {s: 100 * rows[setting][s][m] for s in seeds})
                if d is not None:
                    cell += f" ({d['mean']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}], {d['wins']} / {d['losses']})"
            cells.append(cell)
        print(f"| {setting} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
