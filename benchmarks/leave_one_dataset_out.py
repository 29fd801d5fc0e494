"""Leave one dataset out: train on every other dataset, then meet the held-out one's actions by text alone.

    python3 benchmarks/leave_one_dataset_out.py --held-out hdm05 [--seeds 0] [--config default_bundle.json]
    python3 benchmarks/leave_one_dataset_out.py --held-out nw-ucla

The held-out dataset's sensor is new too (HDM05: optical motion capture, which
nothing else here is; NW-UCLA: its own Kinect v1 setups and three views), so
this measures what a user adding actions by text gets on recordings unlike
any seen in training. For each seed:

1. ``fsvae train`` on every dataset of ``DATASETS`` but the held-out one, with
   ``--unseen 0`` (a deployment bundle of all their classes), into
   ``RUNS/lodo-<held-out>-s<seed>/`` (a finished run is reused, an interrupted
   one resumes);
2. the held-out dataset's classes, described by its built-in descriptions,
   are added by text to copies of that bundle, alone (``text only``: ZSL
   among its classes) and beside the bundle's own (``added``);
3. every recording of the held-out dataset (it was never trained on, so all
   of them count) is replayed through ``fsvae recognize``'s path: the live
   window builder, scores and smoothed decisions; the recording's answer is
   the decision at its last window; with each action left out of the list
   in turn, and with each recording's first pose held still, how often the
   answer is ``unknown`` (``benchmarks/text_actions.py``).

The report, ``RUNS/lodo-<held-out>.json``, keeps the seeds of earlier runs
that this one was not asked for.

Some held-out actions have a namesake among the trained ones (listed in
``fsvae_core/descriptions/synonyms.json``, e.g. NW-UCLA's "sit down" and
UTD-MHAD's "stand to sit"); the report names them, since for those the
motion itself was trained, only not under this text.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from fsvae_core.descriptions import load_descriptions, synonym_groups
from fsvae_core.skeleton_data import load_dataset
from realtime.capture import SequenceReplaySource
from text_actions import run_settings, table

HERE = Path(__file__).resolve().parent
DATASETS = ("utd-mhad", "nw-ucla", "hdm05", "sbu", "ntu120")


def train(held_out: str, seed: int, config: Path, runs: Path) -> Path:
    """The deployment bundle of every dataset but ``held_out`` (trained once, then reused)."""
    out = runs / f"lodo-{held_out}-s{seed}"
    if not (out / "bundle" / "manifest.json").exists():
        others = ",".join(d for d in DATASETS if d != held_out)
        command = [sys.executable, "-m", "fsvae_core.cli", "train", "--dataset", others, "--unseen", "0",
                   "--seed", str(seed), "--out", str(out), "--config", str(config), "--quiet"]
        print(" ".join(command), flush=True)
        subprocess.run(command, check=True)
    return out / "bundle"


def trained_namesakes(held_out: str) -> list[str]:
    """Held-out actions whose motion a training dataset records under another name."""
    return [name for group in synonym_groups() for dataset, name in group
            if dataset == held_out and any(d != held_out and d in DATASETS for d, _ in group)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held-out", required=True, choices=DATASETS)
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--config", default="default_bundle.json", help="a file in benchmarks/configs/ or a path")
    parser.add_argument("--runs", type=Path, default=Path("runs/lodo"))
    args = parser.parse_args(argv)
    config = HERE / "configs" / args.config if (HERE / "configs" / args.config).is_file() else Path(args.config)
    dataset = load_dataset(args.held_out)
    actions = load_descriptions(args.held_out)[: dataset.num_classes]
    names = [a.name for a in actions]
    clips = [(Path(source).name, list(SequenceReplaySource(seq, dataset.layout, dataset.fps, realtime=False)))
             for source, seq in zip(dataset.sources, dataset.sequences)]
    truth = dataset.labels.tolist()
    report_file = args.runs / f"lodo-{args.held_out}.json"
    # Seeds measured before and not asked for now stay in the report.
    earlier = json.loads(report_file.read_text())["seeds"] if report_file.is_file() else {}
    report = {"held_out": args.held_out, "trained_namesakes": trained_namesakes(args.held_out), "seeds": earlier}
    for seed in (int(s) for s in args.seeds.split(",")):
        bundle = train(args.held_out, seed, config, args.runs)
        out = args.runs / f"lodo-{args.held_out}-s{seed}" / "held_out"
        with tempfile.TemporaryDirectory() as work:
            summaries = run_settings(bundle, actions, clips, truth, out, Path(work))
        (out / "table.md").write_text(table(summaries, names) + "\n")
        print(table(summaries, names))
        report["seeds"][str(seed)] = summaries
    report["seeds"] = dict(sorted(report["seeds"].items(), key=lambda item: int(item[0])))
    report_file.write_text(json.dumps(report, indent=1))
    print(f"held-out actions trained under another name: {report['trained_namesakes'] or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
