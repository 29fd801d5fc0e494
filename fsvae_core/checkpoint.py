"""Atomic, resumable training checkpoints in safetensors: no pickle anywhere.

One file holds named groups of weights (``model.*``, ``best.*``...), the optimiser's tensors
(``optimizer.*``), the random-number states (``rng.*``) and, in the safetensors
metadata, a JSON document with everything else (step, history, settings).
Writing goes to a temporary file renamed over the old one, so a run killed
mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from fsvae_core.paths import replaced_whole


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; the message names the file."""


def save_checkpoint(
    path: Path,
    weights: dict[str, dict[str, torch.Tensor]],
    optimizer: torch.optim.Optimizer | None = None,
    generator: torch.Generator | None = None,
    info: dict | None = None,
) -> None:
    """Write state dicts by group name, optimiser, RNG states and ``info`` (JSON-able) atomically."""
    info = dict(info or {})
    tensors = {
        f"{group}.{name}": t.detach().cpu().contiguous()
        for group, state in weights.items()
        for name, t in state.items()
    }
    if optimizer is not None:
        state = optimizer.state_dict()
        for index, slots in state["state"].items():
            for slot, value in slots.items():
                tensors[f"optimizer.{index}.{slot}"] = torch.as_tensor(value).detach().cpu().contiguous()
        info["optimizer_param_groups"] = state["param_groups"]
    tensors["rng.torch"] = torch.get_rng_state()
    if generator is not None:
        tensors["rng.generator"] = generator.get_state()
    if torch.cuda.is_available():
        tensors["rng.cuda"] = torch.cuda.get_rng_state()
    with replaced_whole(path) as temporary:
        save_file(tensors, str(temporary), metadata={"info": json.dumps(info)})


def read_checkpoint_info(path: Path) -> dict:
    """The JSON document stored in a checkpoint, without loading its tensors."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return json.loads((handle.metadata() or {})["info"])
    except (OSError, KeyError, json.JSONDecodeError, SafetensorError) as error:
        raise CheckpointError(f"{path}: not a readable checkpoint ({error})") from error


def load_checkpoint(
    path: Path,
    optimizer: torch.optim.Optimizer | None = None,
    generator: torch.Generator | None = None,
) -> tuple[dict[str, dict[str, torch.Tensor]], dict]:
    """Read what :func:`save_checkpoint` wrote: returns (weights by group, info),
    restoring the optimiser and RNG states into the given objects."""
    info = read_checkpoint_info(path)
    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError) as error:
        raise CheckpointError(f"{path}: not a readable checkpoint ({error})") from error
    weights: dict[str, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        group, _, key = name.partition(".")
        if group not in ("optimizer", "rng"):
            weights.setdefault(group, {})[key] = value
    if optimizer is not None and "optimizer_param_groups" in info:
        state: dict[int, dict[str, torch.Tensor]] = {}
        for name, value in tensors.items():
            if name.startswith("optimizer."):
                _, index, slot = name.split(".", 2)
                state.setdefault(int(index), {})[slot] = value
        optimizer.load_state_dict({"state": state, "param_groups": info["optimizer_param_groups"]})
    torch.set_rng_state(tensors["rng.torch"])
    if generator is not None and "rng.generator" in tensors:
        generator.set_state(tensors["rng.generator"])
    if torch.cuda.is_available() and "rng.cuda" in tensors:
        torch.cuda.set_rng_state(tensors["rng.cuda"])
    return weights, info


def load_weights(module: torch.nn.Module, state: dict[str, torch.Tensor], source: Path) -> None:
    """``module.load_state_dict(state)`` with an error that names the file it came from."""
    try:
        module.load_state_dict(state)
    except RuntimeError as error:
        raise CheckpointError(f"{source}: weights do not fit this model: {error}") from error
