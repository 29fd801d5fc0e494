"""Real zero-shot results on UTD-MHAD and NW-UCLA: runs ``fsvae train`` and tabulates metrics.json.

    python3 benchmarks/zero_shot_results.py run --dataset utd-mhad --unseen 5 --seeds 0,1,2,3,4 --variant full
    python3 benchmarks/zero_shot_results.py run --dataset utd-mhad --extra nw-ucla,hdm05,sbu,ntu120 --unseen 5 ...
    python3 benchmarks/zero_shot_results.py table [--runs runs/bench]
    python3 benchmarks/zero_shot_results.py paired [--runs runs/bench]

``--extra`` trains the other datasets' classes as further seen classes: the
K unseen classes are still drawn from ``--dataset`` alone, by the same draw as
without them (``fsvae train --unseen NAME:K``), and only its test recordings
are evaluated, so a run with extra data pairs seed by seed with one without.
Such runs are named ``<dataset>+extra-u<K>-<variant>-s<seed>``.

``--text-model FOLDER`` embeds every text with another sentence-transformers
model (a local folder) instead of MiniLM; the run is named
``<variant>@<folder name>`` and, the backbone being text-free, starts from the
``full`` run's backbones like its variant, so ``paired --baseline <variant>``
compares the two text models on the same backbones, seed by seed.

Variants (the ablation): ``full`` (FS-VAE, feature-axis DCT), ``temporal``
(DCT over time on the backbone input instead), ``no-frequency``,
``label-only`` (text = action label only), ``no-local`` / ``no-global``
(the label and one of the two descriptions), ``no-alignment`` (CADA-VAE:
cross-reconstruction and distribution alignment instead of the calibrated
alignment), ``parts`` (the part-aware rule, ``fsvae_core/parts.py``, its
weight chosen on validation classes among 0, 0.5, 1 and 2), ``parts-no-global``
(the part rule with the label and local description as the class text),
``parts-text-choice`` (the part rule; validation classes choose between those
two class texts), ``parts-text-choice-w4`` (the same, with part weight 4 to
choose from too). Every run uses ``benchmarks/configs/utd_cpu.json`` (sized for a
2-core CPU) and writes ``RUNS/<dataset>-u<K>-<variant>-s<seed>/``; a finished
run is skipped, an interrupted one resumes. Variants whose backbone settings
equal ``full``'s (``no-frequency``, ``label-only``, ``no-alignment``) start
from copies of the ``full`` run's finished backbone checkpoints when they
exist: training is deterministic, so this is the backbone they would train
themselves (``train_backbone`` refuses a checkpoint saved with other
settings), and an ablation costs minutes instead of a backbone run.
``table`` prints the markdown table
the README shows: mean and standard deviation over seeds of ZSL top-1 and GZSL
S/U/H, with wall time and peak memory, then ZSL top-1 seed by seed, with a
``<variant>, transductive`` row for runs that report ``zsl.transductive``
(the test windows recognised together, ``fsvae_core/transductive.py``) and a
``<variant>, features`` row for runs that report ``zsl.features`` (variant
``parts-text-choice-attr-features``: prototypes in the backbone's feature
space regressed from text, ``fsvae_core/feature_prototypes.py``); ``paired``
also sets each such result against its own runs' zero-shot one.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RUN_NAME = re.compile(r"^(?P<data>.+)-u(?P<k>\d+)-(?P<variant>.+)-s(?P<seed>\d+)$")
VARIANTS = {
    "full": {},
    "temporal": {"frequency": "temporal"},
    "no-frequency": {"frequency": "none"},
    "label-only": {"experiment": {"text_parts": ["name"]}},
    "no-local": {"experiment": {"text_parts": ["name", "gd"]}},
    "no-global": {"experiment": {"text_parts": ["name", "ld"]}},
    "no-alignment": {"experiment": {"train": {"loss": {"alpha": 0.0, "cross_reconstruction": 1.0,
                                                        "distribution_alignment": 1.0}}}},
    "parts": {"experiment": {"part_weights": [0.0, 0.5, 1.0, 2.0]}},
    "parts-no-global": {"experiment": {"part_weights": [0.0, 0.5, 1.0, 2.0], "text_parts": ["name", "ld"]}},
    # The validation classes choose between the full class text and label + local description.
    "parts-text-choice": {"experiment": {"part_weights": [0.0, 0.5, 1.0, 2.0], "text_parts_choices": [["name", "ld"]]}},
    # The same, with a larger part weight to choose from: validation classes often still rise at 2.
    "parts-text-choice-w4": {"experiment": {"part_weights": [0.0, 0.5, 1.0, 2.0, 4.0],
                                            "text_parts_choices": [["name", "ld"]]}},
    # The same, with the attribute scores (fsvae_core.attributes) to choose from beside the part scores.
    "parts-text-choice-attr": {"experiment": {"part_weights": [0.0, 0.5, 1.0, 2.0], "text_parts_choices": [["name", "ld"]],
                                              "attribute_weights": [0.0, 0.25, 0.5, 1.0]}},
    # The same, with the prototypes in the backbone's feature space regressed from text (fsvae_core.feature_prototypes)
    # added at a weight the validation classes choose; reported beside as zsl.features.
    "parts-text-choice-attr-features": {"experiment": {"part_weights": [0.0, 0.5, 1.0, 2.0],
                                                       "text_parts_choices": [["name", "ld"]],
                                                       "attribute_weights": [0.0, 0.25, 0.5, 1.0],
                                                       "feature_weights": [0.0, 0.5, 1.0, 2.0, 4.0, 8.0]}},
    # The same number of VAE steps in cycles half as long: validation often keeps the first cycle.
    "parts-short-cycles": {"experiment": {"part_weights": [0.0, 0.5, 1.0, 2.0],
                                          "train": {"cycles": 12, "steps_per_cycle": 500}}},
    # The same samples per cycle in a quarter of the steps: fewer, larger steps for a CPU.
    "parts-big-batch": {"experiment": {"part_weights": [0.0, 0.5, 1.0, 2.0],
                                       "train": {"batch_size": 256, "steps_per_cycle": 250}}},
}
SHARES_FULL_BACKBONE = ("no-frequency", "label-only", "no-local", "no-global", "no-alignment", "parts",
                        "parts-no-global", "parts-text-choice", "parts-text-choice-w4", "parts-text-choice-attr",
                        "parts-text-choice-attr-features",
                        "parts-short-cycles", "parts-big-batch")
# Results a run reports beside its zero-shot one (metrics.json zsl.<key>), each on its own row: the unseen test
# windows refined as one batch (fsvae_core/transductive.py), and with the feature-space prototypes.
BESIDE = ("transductive", "features")
BACKBONE_CHECKPOINTS = ("backbone_validation.ckpt.safetensors", "backbone.ckpt.safetensors")


def shares_full_backbone(label: str) -> bool:
    """Whether runs of ``label`` (a variant, or ``<variant>@<text model>``) train the ``full`` run's backbone."""
    variant, _, text_model = label.partition("@")
    return variant in SHARES_FULL_BACKBONE or (bool(text_model) and variant == "full")


def merged(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merged(out.get(key, {}), value) if isinstance(value, dict) else value
    return out


def run(args: argparse.Namespace) -> None:
    base = json.loads((HERE / "configs" / args.config).read_text())
    for variant in args.variant.split(","):
        settings = merged(base, VARIANTS[variant])
        label = variant
        if args.text_model:
            folder = Path(args.text_model).expanduser().resolve()
            settings = merged(settings, {"experiment": {"text": {"model": str(folder)}}})
            label = f"{variant}@{folder.name}"
        data = f"{args.dataset}+extra" if args.extra else args.dataset
        for seed in (int(s) for s in args.seeds.split(",")):
            out = Path(args.runs) / f"{data}-u{args.unseen}-{label}-s{seed}"
            if (out / "bundle" / "manifest.json").exists():
                print(f"{out}: done", flush=True)
                continue
            out.mkdir(parents=True, exist_ok=True)
            full = Path(args.runs) / f"{data}-u{args.unseen}-full-s{seed}"
            if shares_full_backbone(label) and (full / "bundle" / "manifest.json").exists():
                for name in BACKBONE_CHECKPOINTS:
                    if not (out / name).exists():
                        shutil.copyfile(full / name, out / name)
            (out / "settings.json").write_text(json.dumps(settings, indent=2))
            datasets, unseen = args.dataset, str(args.unseen)
            if args.extra:
                datasets, unseen = f"{args.dataset},{args.extra}", f"{args.dataset}:{args.unseen}"
            command = [sys.executable, "-m", "fsvae_core.cli", "train", "--dataset", datasets, "--unseen", unseen,
                       "--seed", str(seed), "--out", str(out), "--config", str(out / "settings.json"), "--quiet"]
            print(" ".join(command), flush=True)
            subprocess.run(command, check=True)


def table(args: argparse.Namespace) -> None:
    rows: dict[tuple[str, str], list[dict]] = {}
    for metrics_file in sorted(Path(args.runs).glob("*/metrics.json")):
        m = json.loads(metrics_file.read_text())
        parts = RUN_NAME.match(metrics_file.parent.name)
        if parts is None or m.get("zsl") is None:
            continue
        rows.setdefault((f"{parts['data']}, {parts['k']} unseen", parts["variant"]), []).append(m)
    print("| data | variant | seeds | ZSL top-1 | GZSL S | GZSL U | GZSL H | wall time | peak memory |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")

    def cell(values):
        v = 100 * np.asarray(values)
        return f"{v.mean():.1f} ± {v.std():.1f}" if len(v) > 1 else f"{v.mean():.1f}"

    for (data, variant), runs in sorted(rows.items()):
        seeds = ",".join(str(r["seed"]) for r in runs)
        stack = [r["gzsl"]["stacking"] for r in runs]
        wall = np.mean([r["timings_s"]["total_s"] for r in runs]) / 60
        shared = " (backbones from full)" if shares_full_backbone(variant) else ""
        peaks = [r["timings_s"]["peak_rss_mb_after_vaes"] for r in runs if "peak_rss_mb_after_vaes" in r["timings_s"]]
        print(f"| {data} | {variant} | {seeds} | {cell([r['zsl']['top1'] for r in runs])} | "
              f"{cell([s['seen'] for s in stack])} | {cell([s['unseen'] for s in stack])} | "
              f"{cell([s['harmonic'] for s in stack])} | {wall:.1f} min{shared} | "
              f"{f'{max(peaks):.0f} MB' if peaks else 'not recorded'} |")

    # Seeds differ far more than variants do, so compare variants seed by seed too.
    seeds = sorted({r["seed"] for runs in rows.values() for r in runs})
    print()
    print("| data | variant | " + " | ".join(f"seed {s}" for s in seeds) + " |")
    print("| --- | --- | " + " | ".join("---" for _ in seeds) + " |")
    for (data, variant), runs in sorted(rows.items()):
        by_seed = {r["seed"]: f"{100 * r['zsl']['top1']:.1f}" for r in runs}
        print(f"| {data} | {variant} | " + " | ".join(by_seed.get(s, "") for s in seeds) + " |")
        for key in BESIDE:
            by_seed = {r["seed"]: f"{100 * r['zsl'][key]['top1']:.1f}" for r in runs if key in r["zsl"]}
            if by_seed:
                print(f"| {data} | {variant}, {key} | " + " | ".join(by_seed.get(s, "") for s in seeds) + " |")


def paired_difference(a: dict[int, float], b: dict[int, float], draws: int = 10000, seed: int = 0) -> dict | None:
    """Mean of b - a over the seeds both have, with a 95% bootstrap interval and a two-sided sign test p."""
    seeds = sorted(set(a) & set(b))
    if len(seeds) < 2:
        return None
    diff = np.array([b[s] - a[s] for s in seeds])
    rng = np.random.default_rng(seed)
    means = diff[rng.integers(0, len(diff), (draws, len(diff)))].mean(1)
    wins, losses = int((diff > 0).sum()), int((diff < 0).sum())
    n = wins + losses
    tail = sum(math.comb(n, k) for k in range(0, min(wins, losses) + 1)) / 2 ** n if n else 1.0
    return {"seeds": seeds, "mean": float(diff.mean()), "low": float(np.quantile(means, 0.025)),
            "high": float(np.quantile(means, 0.975)), "wins": wins, "losses": losses, "sign_p": min(1.0, 2 * tail)}


def paired(args: argparse.Namespace) -> None:
    """Each variant against ``--baseline`` (``full``), and each dataset with ``--extra`` data against without,
    seed by seed."""
    zsl: dict[tuple[str, str, str], dict[int, float]] = {}
    beside: dict[tuple[str, str, str, str], dict[int, float]] = {}
    for metrics_file in sorted(Path(args.runs).glob("*/metrics.json")):
        m = json.loads(metrics_file.read_text())
        parts = RUN_NAME.match(metrics_file.parent.name)
        if parts is None or m.get("zsl") is None:
            continue
        key, seed = (parts["data"], parts["k"], parts["variant"]), int(parts["seed"])
        zsl.setdefault(key, {})[seed] = 100 * m["zsl"]["top1"]
        for name in BESIDE:
            if name in m["zsl"]:
                beside.setdefault((*key, name), {})[seed] = 100 * m["zsl"][name]["top1"]
    print("| comparison | seeds | mean difference (points) | 95% interval | better / worse | sign test p |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (data, k, variant), values in sorted(zsl.items()):
        if variant != args.baseline:
            pairs = [((data, k, args.baseline), f"{data}, {k} unseen: {variant} - {args.baseline}")]
        elif data.endswith("+extra"):
            pairs = [((data[: -len("+extra")], k, variant), f"{data[: -len('+extra')]}, {k} unseen: with extra seen data - without")]
        else:
            continue
        for base, name in pairs:
            _print_pair(name, paired_difference(zsl.get(base, {}), values))
    for (data, k, variant, name), values in sorted(beside.items()):
        _print_pair(f"{data}, {k} unseen, {variant}: {name} - zero-shot",
                    paired_difference(zsl[data, k, variant], values))


def _print_pair(name: str, result: dict | None) -> None:
    if result is not None:
        print(f"| {name} | {','.join(map(str, result['seeds']))} | {result['mean']:+.1f} | "
              f"[{result['low']:+.1f}, {result['high']:+.1f}] | {result['wins']} / {result['losses']} | {result['sign_p']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("run")
    p.add_argument("--dataset", required=True)
    p.add_argument("--extra", default="", help="comma-separated datasets whose classes are all seen, e.g. nw-ucla,hdm05")
    p.add_argument("--unseen", type=int, required=True)
    p.add_argument("--seeds", default="0,1,2,3,4")
    p.add_argument("--variant", default="full", help=f"comma-separated: {', '.join(VARIANTS)}")
    p.add_argument("--config", default="utd_cpu.json")
    p.add_argument("--text-model", default="", help="a local sentence-transformers folder instead of MiniLM")
    p.add_argument("--runs", default="runs/bench")
    p.set_defaults(handler=run)
    p = commands.add_parser("table")
    p.add_argument("--runs", default="runs/bench")
    p.set_defaults(handler=table)
    p = commands.add_parser("paired", help="paired per-seed differences with a bootstrap interval and a sign test")
    p.add_argument("--runs", default="runs/bench")
    p.add_argument("--baseline", default="full", help="the variant every other one is compared with")
    p.set_defaults(handler=paired)
    args = parser.parse_args()
    args.handler(args)


if __name__ == "__main__":
    main()
