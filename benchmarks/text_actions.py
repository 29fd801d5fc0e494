"""Actions added by text, recognised through the product's own path: what the benchmarks share.

A benchmark hands over a bundle, the actions to add (descriptions) and its
clips as pose-sample lists; :func:`setting_bundles` makes two copies of the
bundle with the actions added by text alone (``text only``: the bundle's own
actions removed; ``added``: beside them), :func:`evaluate` runs every clip
through ``realtime.recognize.recognize_samples`` (the window builder, scores
and smoothed decisions of ``fsvae recognize`` and ``fsvae-live``), and
:func:`summarise`, :func:`table` and :func:`confusion_picture` report clip
accuracy of the decided label and of the best candidate.

A rule that decided every clip would score best on those two numbers, so
:func:`absent_unknown` measures the other half of the decision rule on the same
clips: with one action at a time left out of the list, how many of its clips
are answered ``unknown`` (rather than named as some other action); and
:func:`still_unknown` the commonest "none of these" in front of a camera: each
clip's first pose held for 3 s with 1 cm of tracker jitter, a person standing
still, and how many of its windows are answered ``unknown``. In front of a
live camera an action comes between such spells, so :func:`between_still`
plays each clip that way (3 s still, the clip, its last pose held 3 s) and
scores what a viewer sees: the label shown for the most windows, and the
first label shown.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
from pathlib import Path

import numpy as np

from fsvae_core.bundle import BundleError, add_action, list_actions, load_bundle, remove_action
from fsvae_core.descriptions import ActionDescription
from fsvae_core.text import SentenceEncoder
from realtime.capture import PoseSample
from realtime.inference import Recognizer
from realtime.recognize import ClipResult, recognize_samples

SETTINGS = ("text only", "added")
STILL_S = 3.0  # how long the held pose stands
STILL_FPS = 30.0
STILL_JITTER_M = 0.01  # per joint, axis and frame: about what a tracker adds to a body that does not move


def setting_bundles(bundle: Path, work: Path, actions: list[ActionDescription],
                    encoder: SentenceEncoder) -> dict[str, Path]:
    """Copies of ``bundle`` (in ``work``) with ``actions`` added by text: alone, and beside the bundle's own.

    An action whose name the bundle already has cannot be added beside it: in
    ``added`` the bundle's own answers for it; in ``text only`` it is replaced
    by the text-only one.
    """
    made = {}
    for setting in SETTINGS:
        copy = work / setting.replace(" ", "_")
        shutil.copytree(bundle, copy)
        own = [entry.name for entry in list_actions(copy)]
        for action in actions:
            try:
                add_action(copy, action.name, action.ld, action.gd, encoder=encoder,
                           parts=None if action.parts is None else dict(action.parts))
            except BundleError as error:
                if "already in the bundle" not in str(error):
                    raise
                if setting == "added":
                    print(f"{action.name!r} is already one of the bundle's actions; it answers for itself",
                          file=sys.stderr)
        if setting == "text only":
            names = {a.name.casefold() for a in actions}
            for name in own:
                if name.casefold() in names:  # a trained namesake: replace it by the text-only action
                    remove_action(copy, name)
                    action = next(a for a in actions if a.name.casefold() == name.casefold())
                    add_action(copy, action.name, action.ld, action.gd, encoder=encoder,
                           parts=None if action.parts is None else dict(action.parts))
                else:
                    remove_action(copy, name)
        made[setting] = copy
    return made


def evaluate(recognizer: Recognizer, clips: list[tuple[str, list[PoseSample]]]) -> list[ClipResult | None]:
    """The product's answer for every (name, samples) clip (None where no window could be made)."""
    results = []
    for name, samples in clips:
        try:
            results.append(recognize_samples(samples, recognizer, name))
        except Exception as error:  # noqa: BLE001 - a clip without a person is a miss, not a crash
            print(f"{name}: {error}", file=sys.stderr)
            results.append(None)
    return results


def absent_unknown(copy: Path, work: Path, actions: list[ActionDescription],
                   clips: list[tuple[str, list[PoseSample]]], truth: list[int]) -> dict:
    """With each action of ``actions`` removed in turn from the bundle ``copy``, the share of its clips answered unknown.

    Returns ``{"unknown": share over all clips, "per_class": {name: share}}``; a clip without any window counts
    as unknown, as :func:`summarise` counts it.
    """
    truth = np.asarray(truth)
    per_class, unknown = {}, 0
    for index, action in enumerate(actions):
        without = work / f"without_{index}"
        shutil.copytree(copy, without)
        remove_action(without, action.name)
        recognizer = Recognizer.from_bundle(load_bundle(without), device="cpu")
        own = [clips[i] for i in np.flatnonzero(truth == index)]
        answered = [r is None or r.unknown for r in evaluate(recognizer, own)]
        per_class[action.name] = float(np.mean(answered)) if answered else float("nan")
        unknown += sum(answered)
        shutil.rmtree(without)
    return {"unknown": unknown / len(truth), "per_class": per_class}


def held_still(samples: list[PoseSample], seed: int = 0) -> list[PoseSample]:
    """A person standing still: the first pose with a person in ``samples`` held for STILL_S, jittering."""
    first = next(sample for sample in samples if sample.joints is not None)
    rng = np.random.default_rng(seed)
    return [dataclasses.replace(first, timestamp_s=first.timestamp_s + k / STILL_FPS, frame=None,
                                joints=(first.joints + rng.normal(0.0, STILL_JITTER_M, first.joints.shape)).astype(np.float32))
            for k in range(int(STILL_S * STILL_FPS))]  # fmt: skip


def still_unknown(recognizer: Recognizer, clips: list[tuple[str, list[PoseSample]]], truth: list[int],
                  names: list[str]) -> dict:
    """Each clip's :func:`held_still`: the share of its windows answered unknown, over all clips and per action."""
    truth = np.asarray(truth)
    shares = []
    for (name, samples), result in zip(clips, evaluate(recognizer, [(name, held_still(samples)) for name, samples in clips])):
        shares.append(float("nan") if result is None else float(np.mean([d.unknown for d in result.decisions])))
    shares = np.array(shares)
    return {"unknown": float(np.nanmean(shares)),
            "per_class": {n: float(np.nanmean(shares[truth == c])) if (truth == c).any() else float("nan")
                          for c, n in enumerate(names)}}


def between_still(recognizer: Recognizer, clips: list[tuple[str, list[PoseSample]]], truth: list[int],
                  names: list[str]) -> dict:
    """Each clip played between two still spells (:func:`held_still` before it, its last pose held after it):
    the share of clips whose label shown for the most windows is right, and whose first label shown is."""
    def episode(samples: list[PoseSample]) -> list[PoseSample]:
        before = held_still(samples)
        act = _shifted(samples, before[-1].timestamp_s + 1 / STILL_FPS)
        return before + act + _shifted(held_still(act[::-1]), act[-1].timestamp_s + 1 / STILL_FPS)

    longest = first = 0
    for (name, samples), t, result in zip(clips, truth, evaluate(recognizer, [(n, episode(s)) for n, s in clips])):
        shown = [] if result is None else [d.label for d in result.decisions if not d.unknown]
        if shown:
            labels, counts = np.unique(shown, return_counts=True)
            longest += labels[counts.argmax()] == names[t]
            first += shown[0] == names[t]
    return {"longest": longest / len(clips), "first": first / len(clips)}


def _shifted(samples: list[PoseSample], start_s: float) -> list[PoseSample]:
    """``samples`` with their times moved so that the first comes at ``start_s``."""
    shift = start_s - samples[0].timestamp_s
    return [dataclasses.replace(sample, timestamp_s=sample.timestamp_s + shift) for sample in samples]


def summarise(results: list[ClipResult | None], clip_names: list[str], truth: list[int], names: list[str]) -> dict:
    """Clip accuracy of the decided label and of the best candidate, overall and per action (``names``)."""
    truth = np.asarray(truth)
    decided = np.array([-1 if r is None or r.unknown or r.label not in names else names.index(r.label) for r in results])
    best = np.array([-1 if r is None or not r.topk or r.topk[0].label not in names else names.index(r.topk[0].label)
                     for r in results])  # a recording ending still lists no candidate
    unknown = np.array([r is None or r.unknown for r in results])
    per_class = {names[c]: {"clips": int((truth == c).sum()),
                            "decided": float((decided[truth == c] == c).mean()),
                            "best": float((best[truth == c] == c).mean()),
                            "unknown": float(unknown[truth == c].mean())} for c in range(len(names))}
    return {"clips": len(truth), "decided": float((decided == truth).mean()), "best": float((best == truth).mean()),
            "unknown": float(unknown.mean()), "per_class": per_class,
            "answers": [{"clip": clip, "truth": names[t],
                         "label": None if r is None else r.label, "unknown": bool(u),
                         "best": None if r is None or not r.topk else r.topk[0].label,
                         "topk": [] if r is None else [[k.label, round(k.score, 4)] for k in r.topk]}
                        for clip, t, r, u in zip(clip_names, truth, results, unknown)]}


def confusion_picture(summary: dict, names: list[str], title: str, path: Path) -> None:
    """Confusion of the decided label (unknown in its own column) and of the best candidate, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = names + ["unknown / other"]
    fig, axes = plt.subplots(1, 2, figsize=(14, 6))
    for ax, field, heading in ((axes[0], "label", "decided label"), (axes[1], "best", "best candidate")):
        counts = np.zeros((len(names), len(columns)))
        for answer in summary["answers"]:
            said = answer[field]
            column = names.index(said) if said in names and not (field == "label" and answer["unknown"]) else len(names)
            counts[names.index(answer["truth"]), column] += 1
        ax.imshow(counts / counts.sum(1, keepdims=True), cmap="Blues", vmin=0, vmax=1)
        for (i, j), n in np.ndenumerate(counts):
            if n:
                ax.text(j, i, int(n), ha="center", va="center", fontsize=8)
        ax.set_xticks(range(len(columns)), columns, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_title(f"{title}: {heading} ({summary[field if field == 'best' else 'decided']:.0%})")
        ax.set_xlabel("answer")
    axes[0].set_ylabel("action performed")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def table(summaries: dict[str, dict], names: list[str]) -> str:
    """A markdown table: per action and overall, decided and best-candidate accuracy in every setting, the
    share of clips answered unknown when their action is left out of the list, and the share of windows
    answered unknown when the clip's first pose stands still."""
    settings = list(summaries)
    head = "| action | clips | " + " | ".join(f"{s}: decided | {s}: best | {s}: left out, unknown | {s}: still, unknown"
                                             for s in settings) + " |"
    rows = [head, "|" + " --- |" * (2 + 4 * len(settings))]
    for name in names:
        cells = [f"{v:.0%}" for s in settings for v in (summaries[s]["per_class"][name]["decided"],
                 summaries[s]["per_class"][name]["best"], summaries[s]["absent"]["per_class"][name],
                 summaries[s]["still"]["per_class"][name])]
        rows.append(f"| {name} | {summaries[settings[0]]['per_class'][name]['clips']} | " + " | ".join(cells) + " |")
    cells = [f"**{v:.1%}**" for s in settings
             for v in (summaries[s]["decided"], summaries[s]["best"], summaries[s]["absent"]["unknown"],
                       summaries[s]["still"]["unknown"])]
    rows.append(f"| all | {summaries[settings[0]]['clips']} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def run_settings(bundle: Path, actions: list[ActionDescription], clips: list[tuple[str, list[PoseSample]]],
                 truth: list[int], out: Path, work: Path) -> dict[str, dict]:
    """Every setting end to end: bundles, answers, summaries, the absent check and pictures (in ``out``); prints a
    line per setting."""
    names = [a.name for a in actions]
    encoder = SentenceEncoder(load_bundle(bundle).text_config)
    out.mkdir(parents=True, exist_ok=True)
    summaries = {}
    for setting, copy in setting_bundles(bundle, work, actions, encoder).items():
        recognizer = Recognizer.from_bundle(load_bundle(copy), device="cpu")
        summaries[setting] = summarise(evaluate(recognizer, clips), [c for c, _ in clips], truth, names)
        summaries[setting]["absent"] = absent_unknown(copy, work, actions, clips, truth)
        summaries[setting]["still"] = still_unknown(recognizer, clips, truth, names)
        summaries[setting]["between_still"] = between_still(recognizer, clips, truth, names)
        confusion_picture(summaries[setting], names, setting, out / f"confusion_{setting.replace(' ', '_')}.png")
        s = summaries[setting]
        print(f"{setting}: decided {s['decided']:.1%}, best candidate {s['best']:.1%}, unknown {s['unknown']:.1%} "
              f"of {s['clips']} clips; its action left out of the list: unknown {s['absent']['unknown']:.1%}; "
              f"standing still: unknown {s['still']['unknown']:.1%} of windows; between still spells, right: "
              f"{s['between_still']['longest']:.1%} shown longest, {s['between_still']['first']:.1%} first shown",
              flush=True)
    return summaries
