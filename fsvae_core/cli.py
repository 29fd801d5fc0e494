"""The ``fsvae`` command: training and evaluation from the command line.

    fsvae train --dataset utd-mhad --unseen 5 --seed 0 --out runs/utd-0
    fsvae train-features --features DIR --dataset ntu60 --split 55/5 --out runs/ntu60-55-5
    fsvae actions list --bundle runs/utd-0/bundle
    fsvae actions add --bundle B --name "jumping jacks" --ld "..." --gd "..."
    fsvae recognize clip.mp4 S001C001P001R001A011.skeleton a1_s1_t1_skeleton.mat [--bundle B] [--json]
"""

from __future__ import annotations

import argparse
import logging
import sys
from dataclasses import replace
from pathlib import Path

from fsvae_core.bundle import BundleError, add_action, list_actions, remove_action
from fsvae_core.checkpoint import CheckpointError, save_checkpoint
from fsvae_core.descriptions import DescriptionError, load_descriptions
from fsvae_core.experiment import ExperimentConfig, run_zero_shot_protocol
from fsvae_core.features import FeatureFileError, load_feature_split
from fsvae_core.report import write_run_report
from fsvae_core.settings import SettingsError, config_to_dict, load_settings
from fsvae_core.skeleton_data import DatasetError
from fsvae_core.splits import resolve_split
from fsvae_core.text import SentenceEncoder, class_embeddings

log = logging.getLogger("fsvae")

USER_ERRORS = (FeatureFileError, DescriptionError, SettingsError, CheckpointError, BundleError, DatasetError,
               FileNotFoundError, FileExistsError)


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
    try:
        split = resolve_split(args.dataset, args.split, len(descriptions), config.train.seed)
    except ValueError as error:
        raise SettingsError(f"--split {args.split}: {error}") from error
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


def train(args: argparse.Namespace) -> int:
    """Raw recordings to a bundle: backbone, features, VAEs, evaluation (fsvae_core.pipeline)."""
    from fsvae_core.pipeline import PipelineConfig, merge_training_data, train_pipeline, training_data
    from fsvae_core.skeleton_data import load_dataset

    config = load_settings(PipelineConfig, args.config) if args.config else PipelineConfig()
    experiment = config.experiment
    if args.seed is not None:
        experiment = replace(experiment, train=replace(experiment.train, seed=args.seed))
    config = replace(config, experiment=experiment)
    if args.frequency is not None:
        config = replace(config, frequency=args.frequency)
    if args.backbone_epochs is not None:
        config = replace(config, backbone_train=replace(config.backbone_train, epochs=args.backbone_epochs))
    seed = config.experiment.train.seed
    parts = []
    for name in args.dataset.split(","):
        dataset = load_dataset(name, data_dir=args.data_dir, skip_bad_files=args.skip_bad_files)
        # A file is named by its file name ("actions.npz"), which no built-in dataset name can be.
        parts.append(training_data(dataset, Path(name).name if name.endswith(".npz") else name.lower(), seed))
    data = merge_training_data(parts)
    try:
        split = resolve_split(data.name, args.unseen, data.dataset.num_classes, seed, data.part_classes)
    except ValueError as error:
        raise SettingsError(f"--unseen {args.unseen}: {error}") from error
    named, colon, _ = args.unseen.rpartition(":")
    result = train_pipeline(data, split, config, Path(args.out), progress=not args.quiet,
                            evaluate_on=named if colon else None)
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


def actions(args: argparse.Namespace) -> int:
    """List, add or remove a bundle's actions by text alone."""
    if args.action == "list":
        for entry in list_actions(args.bundle):
            print(entry.name)
    elif args.action == "add":
        entry = add_action(args.bundle, args.name, args.ld, args.gd)
        print(f"added {entry.name!r} to {args.bundle}")
    else:
        entry = remove_action(args.bundle, args.name)
        print(f"removed {entry.name!r} from {args.bundle}")
    return 0


def listen(args: argparse.Namespace) -> int:
    """Print the live label stream, one line per decision."""
    from realtime.listen import listen_main

    return listen_main(args.endpoint, count=args.count, timeout_s=args.timeout, curve_keys=args.curve_keys)


def recognize(args: argparse.Namespace) -> int:
    """Recognise recorded clips offline, with the live recognizer's code path."""
    from realtime.recognize import recognize_main

    return recognize_main(args.files, bundle=args.bundle, as_json=args.json, top_k=args.top_k, stride_s=args.stride,
                          device=args.device, pose_model=args.pose_model, mirrored=args.mirrored, quiet=args.quiet)


def keys(args: argparse.Namespace) -> int:
    """Write a CURVE server and client key pair for remote label streams."""
    from realtime.transport import write_curve_key_files

    for path in write_curve_key_files(args.folder):
        print(path)
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

    p = commands.add_parser("train", help="train on raw skeleton recordings and write a deployable bundle")
    p.add_argument("--dataset", required=True, help="ntu60, ntu120, utd-mhad, nw-ucla, hdm05, sbu, a generic .npz file, or several joined by commas")
    p.add_argument("--data-dir", help="folder of recordings (default $FSVAE_DATA_DIR, else ../shared/data)")
    p.add_argument("--unseen", required=True, help="a standard split name (55/5...), a number K of random unseen classes, "
                   "NAME:K for K random unseen classes of one of several datasets (e.g. utd-mhad:5 with --dataset "
                   "utd-mhad,nw-ucla: the others' classes are all seen and only NAME's test recordings are evaluated), "
                   "or 0 to train a deployment bundle on every class")
    p.add_argument("--seed", type=int, help="random seed: also picks the K unseen classes")
    p.add_argument("--out", required=True, help="run folder; the bundle goes to OUT/bundle")
    p.add_argument("--config", help="JSON settings file for PipelineConfig")
    p.add_argument("--frequency", choices=("feature", "temporal", "none"), help="where the frequency module sits")
    p.add_argument("--backbone-epochs", type=int, help="backbone training epochs")
    p.add_argument("--skip-bad-files", action="store_true", help="skip corrupt recordings with a warning")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=train)

    p = commands.add_parser("actions", help="list, add or remove a bundle's actions without retraining")
    p.add_argument("action", choices=("list", "add", "remove"))
    p.add_argument("--bundle", required=True, help="bundle folder")
    p.add_argument("--name", help="action name (add, remove)")
    p.add_argument("--ld", help="local description: what the body parts do (add)")
    p.add_argument("--gd", help="global description: what the action is (add)")
    p.set_defaults(handler=actions)

    p = commands.add_parser("listen", help="print the label stream of a running fsvae-live")
    p.add_argument("endpoint", nargs="?", default="tcp://127.0.0.1:5561", help="label endpoint (default tcp://127.0.0.1:5561)")
    p.add_argument("--count", type=int, help="stop after this many label events")
    p.add_argument("--timeout", type=float, help="give up after this many seconds")
    p.add_argument("--curve-keys", metavar="DIR", help="folder holding server.key and client.key_secret (see `fsvae keys`)")
    p.set_defaults(handler=listen)

    p = commands.add_parser("recognize", help="name the action in recorded clips, as fsvae-live would")
    p.add_argument("files", nargs="+", metavar="FILE",
                   help="videos (any format OpenCV reads), NTU .skeleton, UTD-MHAD .mat, NW-UCLA .json, "
                        "HDM05 .amc (with the subject's .asf beside it) or SBU skeleton_pos.txt files")
    p.add_argument("--bundle", help="model bundle (default: the shipped one, as fsvae-live uses it)")
    p.add_argument("--json", action="store_true", help="one JSON object per file (JSON Lines), with every window")
    p.add_argument("--top-k", type=int, default=5, metavar="K", help="candidates to show (default 5)")
    p.add_argument("--stride", type=float, default=0.25, metavar="S", help="seconds between windows (default 0.25, as live)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="where the model runs (default auto)")
    p.add_argument("--pose-model", metavar="PATH", help="videos: a MediaPipe Tasks pose landmarker .task file")
    p.add_argument("--mirrored", action="store_true",
                   help="videos: recorded as a mirror image (Kinect colour streams, many webcams); flipped back before pose estimation")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=recognize)

    p = commands.add_parser("keys", help="create CURVE keys for an encrypted, authenticated remote label stream")
    p.add_argument("folder", help="where to write server.key, server.key_secret, client.key, client.key_secret")
    p.set_defaults(handler=keys)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "actions":
        needed = {"list": (), "add": ("name", "ld", "gd"), "remove": ("name",)}[args.action]
        missing = [f"--{n}" for n in needed if not getattr(args, n)]
        if missing:
            parser.error(f"actions {args.action} needs {' '.join(missing)}")
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
