"""``fsvae train`` (raw recordings to a bundle) and ``fsvae train-features`` (feature files to a run folder)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

log = logging.getLogger("fsvae")


def add_parsers(commands: argparse._SubParsersAction) -> None:
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

    p = commands.add_parser("train", help="train on raw skeleton recordings and write a deployable bundle")
    p.add_argument("--dataset", required=True, help="ntu60, ntu120, utd-mhad, nw-ucla, hdm05, sbu, a generic .npz file, or several joined by commas")
    p.add_argument("--data-dir", help="folder of recordings (default $FSVAE_DATA_DIR, else ../shared/data)")
    p.add_argument("--unseen", required=True, help="a standard split name (55/5...), a number K of random unseen classes, "
                   "NAME:K for K random unseen classes of one of several datasets (e.g. utd-mhad:5 with --dataset "
                   "utd-mhad,nw-ucla: the others' classes are all seen and only NAME's test recordings are evaluated), "
                   "or 0 to train a deployment bundle on every class")
    p.add_argument("--seed", type=int, help="random seed: also picks the K unseen classes")
    p.add_argument("--out", required=True, help="run folder; the bundle goes to OUT/bundle")
    p.add_argument("--config", help="JSON settings file for PipelineConfig (replaces the preset)")
    p.add_argument("--preset", choices=("auto", "cpu", "full"), default="auto",
                   help="settings without --config: full (the paper-sized run), cpu (about a quarter of the work, "
                        "for a machine without a GPU), auto (default): full with a CUDA GPU, else cpu")
    p.add_argument("--frequency", choices=("feature", "temporal", "none"), help="where the frequency module sits")
    p.add_argument("--backbone-epochs", type=int, help="backbone training epochs")
    p.add_argument("--skip-bad-files", action="store_true", help="skip corrupt recordings with a warning")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=train)


RUN_LOG = "train.log"


@contextlib.contextmanager
def run_log(out: Path) -> Iterator[None]:
    """Append every INFO record of the run (stages, epochs, cycles, estimates) to ``out/train.log``.

    The terminal keeps its own level (warnings, or everything with -v).
    """
    out.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    handler = logging.FileHandler(out / RUN_LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s", datefmt="%Y-%m-%d %H:%M:%S"))
    level, terminals = root.level, {h: h.level for h in root.handlers}
    for terminal, own in terminals.items():
        terminal.setLevel(max(own, level))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(level)
        for terminal, own in terminals.items():
            terminal.setLevel(own)


def _experiment_config(args: argparse.Namespace):
    from fsvae_core.experiment import ExperimentConfig
    from fsvae_core.settings import load_settings

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
    from fsvae_core.checkpoint import save_checkpoint
    from fsvae_core.descriptions import load_descriptions
    from fsvae_core.experiment import class_texts, run_zero_shot_protocol
    from fsvae_core.features import load_feature_split
    from fsvae_core.report import plot_loss_curves, write_run_report
    from fsvae_core.settings import SettingsError, config_to_dict
    from fsvae_core.splits import resolve_split
    from fsvae_core.text import SentenceEncoder

    config = _experiment_config(args)
    descriptions = load_descriptions(args.descriptions or args.dataset)
    try:
        split = resolve_split(args.dataset, args.split, len(descriptions), config.train.seed)
    except ValueError as error:
        raise SettingsError(f"--split {args.split}: {error}") from error
    data = load_feature_split(args.features, split)
    log.info("%s: %d training, %d unseen-test, %d all-test samples of %d-d features",
             args.features, len(data.train), len(data.ztest), len(data.gtest), data.dim)
    encoder = SentenceEncoder(config.text)
    class_text = class_texts(descriptions, encoder, config)

    out = Path(args.out)
    with run_log(out):
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
    plot_loss_curves(out)
    model = result.zero_shot.model
    save_checkpoint(out / "model.safetensors", {"model": model.state_dict()},
                    info={"vae": config_to_dict(model.config), "text_model": config.text.model,
                          "text_parts": list(result.text_parts)})
    zsl, stack, gate = metrics["zsl"], metrics["gzsl"]["stacking"], metrics["gzsl"]["gate"]
    print(f"ZSL top-1 {zsl['top1']:.1%} ({zsl['classifier']}; prototype {zsl['prototype']['top1']:.1%}, "
          f"softmax {zsl['softmax']['top1']:.1%})")
    print(f"GZSL stacking S {stack['seen']:.1%} U {stack['unseen']:.1%} H {stack['harmonic']:.1%}; "
          f"gate S {gate['seen']:.1%} U {gate['unseen']:.1%} H {gate['harmonic']:.1%}")
    print(f"run folder: {out} ({result.metrics['seconds']:.0f} s)")
    return 0


def train(args: argparse.Namespace) -> int:
    """Raw recordings to a bundle: backbone, features, VAEs, evaluation (fsvae_core.pipeline)."""
    from fsvae_core.pipeline import (PipelineConfig, auto_preset, merge_training_data, preset_config, train_pipeline,
                                     training_data)
    from fsvae_core.settings import SettingsError, load_settings
    from fsvae_core.skeleton_data import load_dataset
    from fsvae_core.splits import resolve_split

    if args.config:
        config, settings = load_settings(PipelineConfig, args.config), f"settings from {args.config}"
    else:
        preset = auto_preset() if args.preset == "auto" else args.preset
        config, settings = preset_config(preset), f"preset {preset}" + (
            " (no CUDA GPU; --preset full for the full settings)" if args.preset == "auto" and preset == "cpu" else "")
    experiment = config.experiment
    if args.seed is not None:
        experiment = replace(experiment, train=replace(experiment.train, seed=args.seed))
    config = replace(config, experiment=experiment)
    if args.frequency is not None:
        config = replace(config, frequency=args.frequency)
    if args.backbone_epochs is not None:
        config = replace(config, backbone_train=replace(config.backbone_train, epochs=args.backbone_epochs))
    seed = config.experiment.train.seed
    names = args.dataset.split(",")
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise SettingsError(f"--dataset names {', '.join(twice)} more than once")
    parts = []
    for name in names:
        dataset = load_dataset(name, data_dir=args.data_dir, skip_bad_files=args.skip_bad_files)
        # A file is named by its file name ("actions.npz"), which no built-in dataset name can be.
        parts.append(training_data(dataset, Path(name).name if name.endswith(".npz") else name.lower(), seed))
    named, colon, _ = args.unseen.rpartition(":")
    evaluated = named if colon else None  # "NAME:K": NAME's unseen classes, met by NAME's own text where merged
    data = merge_training_data(parts, lead=evaluated)
    try:
        split = resolve_split(data.name, args.unseen, data.dataset.num_classes, seed, data.part_classes)
    except ValueError as error:
        raise SettingsError(f"--unseen {args.unseen}: {error}") from error
    with run_log(Path(args.out)):
        log.info("fsvae train --dataset %s --unseen %s --out %s: %s", args.dataset, args.unseen, args.out, settings)
        print(f"fsvae train: {settings}; progress in {Path(args.out) / RUN_LOG}", file=sys.stderr)
        result = train_pipeline(data, split, config, Path(args.out), progress=not args.quiet,
                                evaluate_on=evaluated)
    m = result.metrics
    if m["zsl"] is None:
        print(f"deployment bundle of {data.dataset.num_classes} classes: test accuracy {m['seen']['top1']:.1%}, "
              f"validation ZSL {m['validation']['zsl_top1']:.1%}")
    else:
        print(f"ZSL top-1 {m['zsl']['top1']:.1%} on {len(split.unseen)} unseen classes "
              f"({', '.join(m['unseen'].values())})")
        stack = m["gzsl"]["stacking"]
        print(f"GZSL S {stack['seen']:.1%} U {stack['unseen']:.1%} H {stack['harmonic']:.1%}")
    print(f"bundle: {result.bundle_path}")
    return 0
