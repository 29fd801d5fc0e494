"""Training the two VAEs in cycles, with KL warm-up, alignment and resumable checkpoints.

Training runs in cycles of ``steps_per_cycle`` optimiser steps; each cycle
re-anneals the KL weight from 0 and switches the alignment term on late in the
cycle (the public code's schedule). After each cycle a caller-supplied
``evaluate`` scores the model (on validation classes), the best cycle's
weights are kept, and a checkpoint is written so an interrupted run resumes.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm import tqdm

from fsvae_core.checkpoint import load_checkpoint, load_weights, save_checkpoint
from fsvae_core.losses import LossWeights, fsvae_loss
from fsvae_core.model import FSVAE
from fsvae_core.settings import config_to_dict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """How the VAEs are optimised.

    Within a cycle the KL weight rises linearly from 0 at ``kl_warmup_start``
    to ``loss.beta`` at the cycle's end, and the alignment term is on from
    ``align_start`` (both fractions of the cycle).
    """

    cycles: int = 10
    steps_per_cycle: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    loss: LossWeights = field(default_factory=LossWeights)
    kl_warmup_start: float = 0.55
    align_start: float = 0.0
    seed: int = 0
    device: str = "auto"
    mixed_precision: bool = True

    def __post_init__(self) -> None:
        if self.cycles < 1 or self.steps_per_cycle < 1 or self.batch_size < 2:
            raise ValueError("TrainConfig needs cycles >= 1, steps_per_cycle >= 1 and batch_size >= 2")
        for name in ("kl_warmup_start", "align_start"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"TrainConfig.{name} is a fraction of a cycle and must lie in [0, 1]")

    def resolved_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    def kl_weight(self, step_in_cycle: int) -> float:
        start = self.kl_warmup_start * self.steps_per_cycle
        ramp = max(self.steps_per_cycle - start, 1.0)
        return self.loss.beta * min(max((step_in_cycle - start) / ramp, 0.0), 1.0)

    def alignment_on(self, step_in_cycle: int) -> bool:
        return step_in_cycle >= self.align_start * self.steps_per_cycle


@dataclass
class TrainResult:
    """The model at its best cycle and the per-cycle record."""

    model: FSVAE
    best_cycle: int
    best_score: float
    history: list[dict]


def seed_everything(seed: int) -> None:
    """Make a run repeatable: same seed, same data, same result (on one device type)."""
    torch.manual_seed(seed)
    np.random.seed(seed)


def train_vaes(
    model: FSVAE,
    features: torch.Tensor,
    labels: torch.Tensor,
    class_text: torch.Tensor,
    config: TrainConfig,
    evaluate: Callable[[FSVAE], float] | None = None,
    checkpoint_path: Path | None = None,
    progress: bool = True,
    cycles_after: int = 0,
) -> TrainResult:
    """Train ``model`` on skeleton features (N, Cs) with class ids (N,) and text vectors (K, Ct).

    ``class_text[labels[i]]`` is sample i's text vector. ``evaluate(model)``
    returns a score to maximise after each cycle (e.g. validation ZSL
    accuracy); without it the last cycle is kept. With ``checkpoint_path`` the
    run saves after each cycle and resumes from an existing checkpoint.
    ``cycles_after``: the most cycles a later stage will train (for the time estimate in the log).
    """
    if len(features) != len(labels):
        raise ValueError(f"{len(features)} feature rows but {len(labels)} labels")
    if int(labels.max()) >= len(class_text) or int(labels.min()) < 0:
        raise ValueError(f"labels must index the {len(class_text)} class text vectors")
    device = config.resolved_device()
    seed_everything(config.seed)
    model.to(device)
    features, labels, class_text = features.to(device), labels.to(device), class_text.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)
    amp = config.mixed_precision and device.type == "cuda"

    history: list[dict] = []
    start_cycle, best_score, best_cycle = 0, -math.inf, -1
    best_state = copy.deepcopy(model.state_dict())
    if checkpoint_path is not None and checkpoint_path.exists():
        weights, info = load_checkpoint(checkpoint_path, optimizer, generator)
        if info.get("train_config") != config_to_dict(config):
            raise ValueError(f"{checkpoint_path}: saved with other training settings; use a fresh output folder")
        # The class text is recomputed by every run (and may differ in the last bits between machines): compare
        # it with a tolerance. Checkpoints written before it was kept are taken as they are.
        saved_text = weights.get("inputs", {}).get("class_text")
        if saved_text is not None and (saved_text.shape != class_text.shape
                                       or not torch.allclose(saved_text, class_text.cpu(), atol=1e-4)):
            raise ValueError(f"{checkpoint_path}: saved while training with another class text (settings that "
                             "choose it changed?); use a fresh output folder")
        # After the checks: a class text of another width would otherwise fail here, saying less.
        load_weights(model, weights["model"], checkpoint_path)
        start_cycle, history = info["cycles_done"], info["history"]
        best_score, best_cycle = info["best_score"], info["best_cycle"]
        best_state = weights.get("best", best_state)
        log.info("resumed %s after cycle %d", checkpoint_path, start_cycle)

    for cycle in range(start_cycle, config.cycles):
        started = time.perf_counter()
        model.train()
        totals: dict[str, float] = {}
        steps = range(config.steps_per_cycle)
        for step in tqdm(steps, desc=f"cycle {cycle + 1}/{config.cycles}", disable=not progress, leave=False):
            batch = torch.randint(len(features), (config.batch_size,), generator=generator).to(device)
            skeleton, label = features[batch], labels[batch]
            weights = config.loss if config.alignment_on(step) else _without_alignment(config.loss)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                out = model(skeleton, class_text[label])
                terms = fsvae_loss(out, skeleton, class_text[label], label, weights, config.kl_weight(step), generator)
            if not torch.isfinite(terms["total"]):
                raise FloatingPointError(f"loss became {terms['total'].item()} at cycle {cycle + 1}, step {step}; lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            terms["total"].backward()
            optimizer.step()
            for name, value in terms.items():
                totals[name] = totals.get(name, 0.0) + float(value.detach())
        record = {"cycle": cycle + 1, **{name: total / config.steps_per_cycle for name, total in totals.items()}}
        score = evaluate(model) if evaluate is not None else float(cycle)
        record["score"] = score
        history.append(record)
        # A tie goes to the later, more trained cycle: with a few validation classes the score moves in
        # coarse steps, and an earlier tie once kept cycle 1 (loss 5.5 against 1.2 at cycle 3), so the
        # final stage trained a single cycle and scored 15% where the same split had scored 41%.
        if score >= best_score:
            best_score, best_cycle, best_state = score, cycle + 1, copy.deepcopy(model.state_dict())
        seconds = time.perf_counter() - started
        left = seconds * (config.cycles - cycle - 1)
        later = f", at most {seconds * cycles_after:.0f} s more in later stages" if cycles_after else ""
        log.info("cycle %d/%d: loss %.4f score %.4f (%.0f s; about %.0f s left in this stage%s)", cycle + 1,
                 config.cycles, record["total"], score, seconds, left, later)
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, {"model": model.state_dict(), "best": best_state,
                                              "inputs": {"class_text": class_text}}, optimizer, generator, {
                "cycles_done": cycle + 1, "history": history, "best_score": best_score,
                "best_cycle": best_cycle, "train_config": config_to_dict(config),
            })

    model.load_state_dict(best_state)
    model.eval()
    return TrainResult(model, best_cycle, best_score, history)


def _without_alignment(weights: LossWeights) -> LossWeights:
    return replace(weights, alpha=0.0)

