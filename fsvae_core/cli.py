"""The ``fsvae`` command: training and evaluation from the command line.

    fsvae train-features --features DIR --dataset ntu60 --split 55/5 --out runs/ntu60-55-5
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

from fsvae_core.checkpoint import CheckpointError, save_checkpoint
from fsvae_core.descriptions import DescriptionError, load_descriptions
from fsvae_core.experiment import ExperimentConfig, run_zero_shot_protocol
from fsvae_core.features import FeatureFileError, load_feature_split
from fsvae_core.report import write_run_report
from fsvae_core.settings import SettingsError, config_to_dict, load_settings
from fsvae_core.splits import resolve_split
from fsvae_core.text import SentenceEncoder, class_embeddings

log = logging.getLogger("fsvae")

USER_ERRORS = (FeatureFileError, DescriptionError, SettingsError, CheckpointError, FileNotFoundError)


def _experiment_config(args: argparse.Namespace) -> ExperimentConfig:
    config = load_settings(ExperimentConfig, args.config) if args.config else ExperimentConfig()
    train = config.train
    if args.seed is not None:
        train = replace(train, seed=args.seed)
    if args.cycles is not None:
        train = replace(train, cycles=args.cycles)
    if args.steps_per_cycle is not None:
        train = replace(train, steps_per_cycle=args.steps_per_cycle)
    if args.device is not None:
        train = replace(train, device=args.device)
    config = replace(config, train=train)
    if args.text_model is not None:
        config = replace(config, text=replace(config.text, model=args.text_model))
    if args.text_parts is not None:
        config = replace(config, text_parts=tuple(args.text_parts.split(",")))
    return config


def train_features(args: argparse.Namespace) -> int:
    """Run the zero-shot protocol on a folder of skeleton features and write a run folder."""
    config = _experiment_config(args)
    descriptions = load_descriptions(args.descriptions or args.dataset)
    split = resolve_split(args.dataset, args.split, len(descriptions), config.train.seed)
    data = load_feature_split(args.features, split)
    log.info("%s: %d training, %d unseen-test, %d all-test samples of %d-d features",
             args.features, len(data.train), len(data.ztest), len(data.gtest), data.dim)
    encoder = SentenceEncoder(config.text)
    class_text = class_embeddings(descriptions, encoder, config.text_parts)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = run_zero_shot_protocol(data, split, class_text, config, out, progress=not args.quiet)
    names = [d.name for d in descriptions]
    metrics = {
        "dataset": args.dataset, "split": args.split, "seed": config.train.seed,
        "features": str(Path(args.features).resolve()),
        "unseen_classes": {int(c): names[c] for c in split.unseen},
        "validation_classes": {int(c): names[c] for c in split.validation},
        **result.metrics,
        "settings": config_to_dict(config),
    }
    write_run_report(out, metrics, result.predictions, names, split.seen, split.unseen)
    model = result.zero_shot.model
    save_checkpoint(out / "model.safetensors", {"model": model.state_dict()},
                    info={"vae": config_to_dict(model.config), "text_model": config.text.model,
                          "text_parts": list(config.text_parts)})
    zsl, stack, gate = metrics["zsl"], metrics["gzsl"]["stacking"], metrics["gzsl"]["gate"]
    print(f"ZSL top-1 {zsl['top1']:.1%} ({zsl['classifier']}; prototype {zsl['prototype']['top1']:.1%}, "
          f"softmax {zsl['softmax']['top1']:.1%})")
    print(f"GZSL stacking S {stack['seen']:.1%} U {stack['unseen']:.1%} H {stack['harmonic']:.1%}; "
          f"gate S {gate['seen']:.1%} U {gate['unseen']:.1%} H {gate['harmonic']:.1%}")
    print(f"run folder: {out} ({result.metrics['seconds']:.0f} s)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fsvae", description="FS-VAE zero-shot skeleton action recognition")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every training cycle")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for input errors")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train-features", help="train and evaluate on Shift-GCN-style feature files")
    p.add_argument("--features", required=True, help="folder with train.npy, train_label.npy, ztest.npy, z_label.npy, gtest.npy, g_label.npy")
    p.add_argument("--dataset", required=True, help="ntu60, ntu120, utd-mhad or nw-ucla (class names and descriptions)")
    p.add_argument("--split", required=True, help="a standard split such as 55/5, or a number K of random unseen classes")
    p.add_argument("--out", required=True, help="run folder (re-running the same command resumes)")
    p.add_argument("--seed", type=int, help="random seed (default from settings: 0)")
    p.add_argument("--config", help="JSON settings file (see README)")
    p.add_argument("--descriptions", help="JSON file of class descriptions replacing the dataset's own")
    p.add_argument("--text-model", help="sentence-transformers model: all-MiniLM-L6-v2 (default) or a local folder")
    p.add_argument("--text-parts", help="comma-separated subset of name,ld,gd (default all three)")
    p.add_argument("--cycles", type=int, help="training cycles")
    p.add_argument("--steps-per-cycle", type=int, help="optimiser steps per cycle")
    p.add_argument("--device", help="auto, cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=train_features)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("httpx", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        return args.handler(args)
    except USER_ERRORS as error:
        if args.debug:
            raise
        print(f"fsvae: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fsvae: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
