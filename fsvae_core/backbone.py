"""The skeleton backbone: a spatial-temporal graph-convolutional network (ST-GCN class).

It is trained on the seen classes only. The VAEs consume its pooled activations,
the 256-d feature f_s. Axis letters: N batch, M persons, T frames, V joints,
C channels, P present persons of a batch (N*M minus the absent ones).

    window (N, M, T, V, C)
      -> keep present persons only                  (P, T, V, C); absent persons are all zeros
      -> [learned DCT gains over T]                 FrequencyConfig.placement == "temporal"
      -> BatchNorm over the V*C input channels      (P, C, T, V)
      -> GCN blocks: spatial graph conv -> temporal conv (k x 1, stride 2 where channels grow)
         -> + residual -> ReLU                      (P, C_last, T', V)
      -> mean over T', V, then over each sample's present persons   (N, C_last)
      -> feature: identity, or Linear + ReLU when C_last != feature_dim   (N, feature_dim), >= 0
      -> dropout -> Linear -> logits                (N, n_classes)

Absent persons never enter the network: they would otherwise skew the batch
statistics and dilute the person mean. A window with nobody in it gets the
feature of an all-zero pooled vector.

The graph is the canonical NTU25 skeleton (:data:`calibration.layouts.NTU25_BONES`),
partitioned as in ST-GCN's "spatial configuration": the symmetrically normalised
adjacency with self loops, ``D^-1/2 (A + I) D^-1/2``, split into three matrices
by each neighbour's hop distance to the centre joint (spine shoulder): the joint
itself (root), neighbours nearer the centre (centripetal), neighbours farther
from it (centrifugal). Each block learns its own residual on those matrices
(zero at start, no weight decay), as in 2s-AGCN, so it can link joints the
bones do not, e.g. the two hands.

Training: SGD with Nesterov momentum 0.9 and a per-step schedule (linear
warm-up, then cosine to zero), label-smoothed cross-entropy, weight decay on
convolution and linear weights only. That is the recipe of the ST-GCN family
(ST-GCN, Shift-GCN, CTR-GCN). The schedule is a pure function of the step, so a
resumed run needs no scheduler state. Augmentation (:func:`augment`) runs on the
CPU with the run's generator. Under ``torch.distributed`` every rank draws the
same permutation and the same augmentation for the global batch and keeps its
own slice, so ``batch_size`` is the global batch whatever the number of processes.
BatchNorm statistics stay per rank during an epoch and are averaged over the
ranks at its end, so every rank ends with the same weights and buffers; rank 0
alone writes the checkpoint.
"""

from __future__ import annotations

import logging
import math
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from calibration.layouts import NTU25, NTU25_BODY_PARTS, NTU25_BONES, Bones
from fsvae_core.checkpoint import load_checkpoint, load_weights, read_checkpoint_info, save_checkpoint
from fsvae_core.frequency import FrequencyConfig, FrequencyEnhancer
from fsvae_core.settings import config_from_dict, config_to_dict

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class BackboneConfig:
    """Sizes of the graph network; one object goes whole into :func:`build_backbone`.

    ``channels`` lists the output channels of the GCN blocks; a block whose
    channels grow halves T (``temporal_stride``). The default is the ST-GCN
    family's pattern at 2.6x fewer operations than (64, 64, 128, 128, 256, 256),
    so that small data sets train on a CPU; its last block is already 256 wide,
    so the feature is the pooled activation itself, as in Shift-GCN. ``dropout`` acts on the feature
    before the classifier only, so :meth:`SkeletonGCN.features` is never
    random. ``frequency.placement`` is ``"none"`` or ``"temporal"`` (learned DCT
    gains over the T axis of the input window); ``"feature"`` belongs to the
    VAE and is refused here.
    """

    n_joints: int = len(NTU25)
    in_channels: int = 3
    max_persons: int = 2
    window_frames: int = 48
    channels: tuple[int, ...] = (32, 64, 64, 128, 128, 256)
    temporal_kernel: int = 9
    temporal_stride: int = 2
    dropout: float = 0.2
    feature_dim: int = 256
    # Over a window of some tens of frames: 8 bands, the lowest ~1/8 of the spectrum boosted,
    # the same proportion as the public code's 30 of 256 feature coefficients.
    frequency: FrequencyConfig = field(default_factory=lambda: FrequencyConfig(placement="none", n_bands=8, phi=4))

    def __post_init__(self) -> None:
        if self.n_joints != len(NTU25):
            raise ValueError(
                f"BackboneConfig.n_joints must be {len(NTU25)}: the graph is the canonical NTU25 skeleton "
                f"(map other layouts with calibration.to_canonical), got {self.n_joints}"
            )
        for name in ("in_channels", "max_persons", "window_frames", "feature_dim", "temporal_stride"):
            if getattr(self, name) < 1:
                raise ValueError(f"BackboneConfig.{name} must be >= 1, got {getattr(self, name)}")
        if not self.channels or any(c < 1 for c in self.channels):
            raise ValueError(f"BackboneConfig.channels must be a non-empty list of positive sizes, got {self.channels}")
        if self.temporal_kernel < 1 or self.temporal_kernel % 2 == 0:
            raise ValueError(f"BackboneConfig.temporal_kernel must be odd and positive (same padding), got {self.temporal_kernel}")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"BackboneConfig.dropout must lie in [0, 1), got {self.dropout}")
        if self.frequency.placement == "feature":
            raise ValueError(
                "BackboneConfig.frequency.placement 'feature' acts on the 256-d feature and belongs to the VAE "
                "(VAEConfig.skeleton_frequency); the backbone takes 'temporal' (over T of the window) or 'none'"
            )
        if self.frequency.placement == "temporal" and self.window_frames < self.frequency.n_bands:
            raise ValueError(
                f"BackboneConfig.frequency.n_bands ({self.frequency.n_bands}) cannot exceed "
                f"window_frames ({self.window_frames}): each band needs at least one DCT coefficient of T"
            )

    @property
    def strides(self) -> tuple[int, ...]:
        """The temporal stride of each block: ``temporal_stride`` where channels grow, else 1."""
        widths = (self.channels[0], *self.channels)
        return tuple(self.temporal_stride if widths[i + 1] > widths[i] else 1 for i in range(len(self.channels)))


# A crop reading more than this many window spans would squeeze the action into a few frames.
MAX_CROP = 3.0


@dataclass(frozen=True)
class AugmentConfig:
    """Random changes applied to each training window (:func:`augment`).

    Rotation is about the vertical y axis (uniform in +-``rotation_deg``) and,
    smaller, about x and z (+-``tilt_deg``), around the origin, which the body
    frame normalisation puts at the spine base. Scale is isotropic, drawn from
    ``scale_range``. The temporal crop reads a fraction in ``crop_range`` of the
    window's time span at a random position and resamples it linearly back to T
    frames: below 1 the motion plays slower, above 1 faster, with the first and
    last poses held where the read runs past the window's edges (as a short
    clip is held in its window).

    Three changes stand for what differs between sensors, applied in the body
    frame before the rotation: ``bone_scale_std`` draws one log-normal length
    factor per bone, shared by the left and right bone of a pair, and rebuilds
    the skeleton outwards from the spine shoulder (torsos, shoulders, hips and
    limbs of other proportions, as Kinect v1, Kinect v2, mocap and MediaPipe
    place their joints); ``depth_range`` scales the depth axis (z, the body's
    front-back axis after normalisation) by a factor drawn from it, since a
    webcam pose estimator guesses depth rather than measuring it; Gaussian
    jitter (``jitter_std``, in the window's units) reaches present persons only.

    ``onset_fraction`` of the windows show an action as a live window first
    sees it, coming out of a still pose: only the first 3 to T/2 frames of
    their crop, at the window's newest edge, the crop's first pose held before
    them.

    ``short_fraction`` of the windows show only a short stretch of their crop,
    a fraction in ``short_range`` of it at the crop's speed, centred with its
    first and last poses held on either side: a clip shorter than a window as
    the camera benchmark, ``fsvae recognize`` and live windows hold it
    (:func:`calibration.windows.window_end`). Unlike a crop above 1, it leaves
    the motion's speed alone; a window drawn for both shows its onset. Off in
    the shipped settings (docs/results.md).

    ``glitch_fraction`` of the windows carry one tracker mix-up for a stretch
    of 2 to T/2 frames, in the body frame: the two arms (elbow to hand) trade
    places, or the two legs (knee to foot), or one hand (wrist to fingers) sits
    on the other, as a Kinect v1 does in NW-UCLA's recordings (a hand leaps
    onto the other raised hand for a few frames, then the two stay traded).
    Off in the shipped settings: measured, it gained nothing (docs/results.md).
    """

    rotation_deg: float = 30.0
    tilt_deg: float = 10.0
    scale_range: tuple[float, float] = (0.9, 1.1)
    crop_range: tuple[float, float] = (0.8, 1.0)
    jitter_std: float = 0.0
    bone_scale_std: float = 0.0
    depth_range: tuple[float, float] = (1.0, 1.0)
    onset_fraction: float = 0.0
    glitch_fraction: float = 0.0
    short_fraction: float = 0.0
    short_range: tuple[float, float] = (0.25, 0.7)

    def __post_init__(self) -> None:
        for name in ("onset_fraction", "glitch_fraction", "short_fraction"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"AugmentConfig.{name} must lie in [0, 1], got {getattr(self, name)}")
        if not 0 <= self.rotation_deg <= 180:
            raise ValueError(f"AugmentConfig.rotation_deg must lie in [0, 180], got {self.rotation_deg}")
        if not 0 <= self.tilt_deg <= 90:
            raise ValueError(f"AugmentConfig.tilt_deg must lie in [0, 90], got {self.tilt_deg}")
        low, high = self.scale_range
        if not 0 < low <= high:
            raise ValueError(f"AugmentConfig.scale_range must be (low, high) with 0 < low <= high, got {self.scale_range}")
        low, high = self.crop_range
        if not 0 < low <= high <= MAX_CROP:
            raise ValueError(f"AugmentConfig.crop_range must be (low, high) with 0 < low <= high <= {MAX_CROP}, got {self.crop_range}")
        low, high = self.short_range
        if not 0 < low <= high <= 1:
            raise ValueError(f"AugmentConfig.short_range must be (low, high) with 0 < low <= high <= 1, got {self.short_range}")
        if self.jitter_std < 0:
            raise ValueError(f"AugmentConfig.jitter_std must be >= 0, got {self.jitter_std}")
        if not 0 <= self.bone_scale_std <= 1:
            raise ValueError(f"AugmentConfig.bone_scale_std must lie in [0, 1], got {self.bone_scale_std}")
        low, high = self.depth_range
        if not 0 < low <= high:
            raise ValueError(f"AugmentConfig.depth_range must be (low, high) with 0 < low <= high, got {self.depth_range}")

    @classmethod
    def off(cls) -> AugmentConfig:
        """Settings that leave every window unchanged."""
        return cls(rotation_deg=0.0, tilt_deg=0.0, scale_range=(1.0, 1.0), crop_range=(1.0, 1.0), jitter_std=0.0,
                   bone_scale_std=0.0, depth_range=(1.0, 1.0))


@dataclass(frozen=True)
class BackboneTrainConfig:
    """How the backbone is optimised (see the module docstring for the recipe).

    ``batch_size`` is the global batch: under ``torch.distributed`` each of the
    W processes takes ``batch_size / W`` windows per step. ``mixed_precision``
    means bf16 autocast and applies on CUDA only.
    """

    epochs: int = 60
    batch_size: int = 64
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    warmup_epochs: int = 5
    label_smoothing: float = 0.1
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    seed: int = 0
    device: str = "auto"
    mixed_precision: bool = True

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"BackboneTrainConfig.epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"BackboneTrainConfig.batch_size must be >= 1, got {self.batch_size}")
        if self.lr <= 0:
            raise ValueError(f"BackboneTrainConfig.lr must be positive, got {self.lr}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"BackboneTrainConfig.momentum must lie in [0, 1), got {self.momentum}")
        if self.weight_decay < 0:
            raise ValueError(f"BackboneTrainConfig.weight_decay must be >= 0, got {self.weight_decay}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"BackboneTrainConfig.warmup_epochs must lie in [0, epochs={self.epochs}), got {self.warmup_epochs}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"BackboneTrainConfig.label_smoothing must lie in [0, 1), got {self.label_smoothing}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"BackboneTrainConfig.device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")

    def resolved_device(self) -> torch.device:
        """The device this run trains on; under CUDA distributed runs, this process's GPU."""
        if self.device == "cpu" or (self.device == "auto" and not torch.cuda.is_available()):
            return torch.device("cpu")
        if not torch.cuda.is_available():
            raise RuntimeError("BackboneTrainConfig.device is 'cuda' but torch sees no CUDA device")
        return torch.device("cuda", torch.cuda.current_device())

    def lr_at(self, step: int, steps_per_epoch: int) -> float:
        """Learning rate of optimiser step ``step`` (0-based): linear warm-up, then cosine to zero."""
        total = self.epochs * steps_per_epoch
        warmup = self.warmup_epochs * steps_per_epoch
        if step < warmup:
            return self.lr * (step + 1) / warmup
        return 0.5 * self.lr * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))


# ----------------------------------------------------------------------------- graph

# Joint indices of each body part, in NTU25_BODY_PARTS order (the order of the part axis B).
_PART_JOINTS = tuple([int(j) for j in joints] for joints in NTU25_BODY_PARTS.values())


def spatial_partitions(n_joints: int = len(NTU25), bones: Bones = NTU25_BONES, centre: int = NTU25.SPINE_SHOULDER) -> torch.Tensor:
    """ST-GCN's spatial-configuration partition of a skeleton tree: (3, V, V) float32.

    Entry ``[k, i, j]`` weighs joint j's message to joint i. The three matrices
    (root, centripetal, centrifugal) sum to ``D^-1/2 (A + I) D^-1/2``.
    """
    adjacency = np.eye(n_joints)
    for child, parent in bones:
        adjacency[child, parent] = adjacency[parent, child] = 1.0
    scale = 1.0 / np.sqrt(adjacency.sum(axis=1))
    normalized = adjacency * scale[:, None] * scale[None, :]  # (V, V)

    hops = np.full(n_joints, -1)
    hops[centre], frontier = 0, [centre]
    while frontier:
        joint = frontier.pop(0)
        for neighbour in np.flatnonzero(adjacency[joint]):
            if hops[neighbour] < 0:
                hops[neighbour] = hops[joint] + 1
                frontier.append(int(neighbour))
    if (hops < 0).any():
        raise ValueError(f"the bones do not connect joints {np.flatnonzero(hops < 0).tolist()} to the centre {centre}")

    receiver_hops, sender_hops = hops[:, None], hops[None, :]  # (V, 1), (1, V)
    parts = np.stack([
        normalized * np.eye(n_joints),
        normalized * (sender_hops < receiver_hops),
        normalized * (sender_hops > receiver_hops),
    ])
    return torch.from_numpy(parts).float()


# ----------------------------------------------------------------------------- network


class SpatialGraphConv(nn.Module):
    """One 1x1 convolution per partition, summed over the (learnable) graph, then BatchNorm.

    y = BN( sum_k W_k (x A_k) + sum_k b_k rowsum(A_k) ), A_k = partition_k + residual_k.
    Messages are gathered over the graph before the channels are mixed: the
    same sum as convolving first, but the gathering runs on C_in channels
    instead of K * C_out, and one matrix product replaces a strided einsum
    (the einsum and its copies took over a quarter of the CPU time at batch 1).
    ``frames`` is the input's length T: with every size but the batch known, the
    reshapes stay constant when traced (an exported graph otherwise computes each
    one from the input's shape at run time, some twenty small operations a layer).
    """

    def __init__(self, in_channels: int, out_channels: int, partitions: torch.Tensor, frames: int):
        super().__init__()
        self.frames = frames
        self.register_buffer("partitions", partitions, persistent=False)
        self.adjacency_residual = nn.Parameter(torch.zeros_like(partitions))
        self.conv = nn.Conv2d(in_channels, partitions.shape[0] * out_channels, kernel_size=1)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(P, C_in, T, V) -> (P, C_out, T, V)."""
        # Sizes from the layer, not from x, and -1 for the batch: they stay constants when traced (ONNX export).
        K, W, V = self.partitions.shape
        C, T, C_out = self.conv.in_channels, self.frames, self.bn.num_features
        graph = (self.partitions + self.adjacency_residual).to(x.dtype)  # (K, W, V): joint v's message to w
        gathered = x.reshape(-1, V) @ graph.permute(2, 0, 1).reshape(V, K * W)  # (P*C*T, K*W)
        gathered = gathered.view(-1, C, T, K, W).permute(0, 3, 1, 2, 4).reshape(-1, K * C, T, W)  # (P, K*C, T, W)
        weight = self.conv.weight.view(K, C_out, C).permute(1, 0, 2).reshape(C_out, K * C, 1, 1)  # (C_out, K*C, 1, 1)
        bias = torch.einsum("kc,kw->cw", self.conv.bias.view(K, -1), graph.sum(dim=2))  # (C_out, W)
        return self.bn(F.conv2d(gathered, weight.to(x.dtype)) + bias[:, None, :].to(x.dtype))  # (P, C_out, T, W)


class GCNBlock(nn.Module):
    """Spatial graph conv -> ReLU -> temporal conv (k x 1) -> BatchNorm, plus a residual, then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, partitions: torch.Tensor, kernel: int, stride: int,
                 residual: bool, frames: int):
        super().__init__()
        self.spatial = SpatialGraphConv(in_channels, out_channels, partitions, frames)
        self.temporal = nn.Sequential(
            nn.Conv2d(out_channels, out_channels, (kernel, 1), stride=(stride, 1), padding=((kernel - 1) // 2, 0)),
            nn.BatchNorm2d(out_channels),
        )
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(nn.Conv2d(in_channels, out_channels, 1, stride=(stride, 1)), nn.BatchNorm2d(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.temporal(F.relu(self.spatial(x)))  # (P, C_out, T', V)
        return F.relu(y if self.residual is None else y + self.residual(x))


class SkeletonGCN(nn.Module):
    """The backbone: windows (N, M, T, V, C) -> logits (N, n_classes) or features (N, feature_dim).

    Build it with :func:`build_backbone`. Persons are processed independently
    with shared weights and averaged, so the person order does not matter and
    zero-padded (absent) persons change nothing.
    """

    def __init__(self, config: BackboneConfig, n_classes: int):
        super().__init__()
        if n_classes < 2:
            raise ValueError(f"SkeletonGCN needs at least 2 classes, got {n_classes}")
        self.config = config
        self.n_classes = n_classes
        temporal = config.frequency.placement == "temporal"
        self.frequency = FrequencyEnhancer(config.window_frames, config.frequency) if temporal else None
        self.data_bn = nn.BatchNorm1d(config.n_joints * config.in_channels)
        partitions = spatial_partitions(config.n_joints)
        widths = (config.in_channels, *config.channels)
        # The first block has no residual (as in ST-GCN): a 3-channel input is no useful shortcut.
        frames = [config.window_frames]  # each block's input length: a block of stride s divides it by s, rounding up
        for stride in config.strides:
            frames.append((frames[-1] - 1) // stride + 1)
        self.blocks = nn.ModuleList(
            GCNBlock(widths[i], widths[i + 1], partitions, config.temporal_kernel, config.strides[i], residual=i > 0,
                     frames=frames[i])
            for i in range(len(config.channels))
        )
        last = config.channels[-1]
        self.project = nn.Linear(last, config.feature_dim) if last != config.feature_dim else None
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.feature_dim, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits (N, n_classes) of windows x (N, M, T, V, C)."""
        return self.classifier(self.dropout(self.features(x)))  # (N, n_classes)

    def features(self, x: torch.Tensor, person_encoder: Callable[[torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
        """The nonnegative feature f_s (N, feature_dim) of windows x (N, M, T, V, C), M <= max_persons.

        ``person_encoder`` replaces :meth:`encode_persons` (e.g. the frozen
        trace of :func:`frozen_person_encoder`); it must compute the same thing.
        """
        self._check_window(x)
        N, M, T, V, C = x.shape
        width = self.config.channels[-1]
        persons = x.reshape(N * M, T, V, C)  # (N*M, T, V, C)
        present = persons.flatten(1).ne(0).any(dim=1)  # (N*M,)
        pooled_persons = persons.new_zeros(N * M, width)  # (N*M, C_last)
        if bool(present.any()):
            encoded = (person_encoder or self.encode_persons)(persons[present])  # (P, C_last)
            pooled_persons = pooled_persons.index_put((present,), encoded.to(pooled_persons.dtype))
        counts = present.view(N, M).sum(dim=1).clamp_min(1)  # (N,)
        pooled = pooled_persons.view(N, M, width).sum(dim=1) / counts[:, None]  # (N, C_last)
        return pooled if self.project is None else F.relu(self.project(pooled))  # (N, feature_dim)

    def features_and_parts(self, x: torch.Tensor,
                           joint_encoder: Callable[[torch.Tensor], torch.Tensor] | None = None,
                           ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`features` (N, feature_dim) and the activations pooled per body part (N, B, C_last).

        B = len(:data:`NTU25_BODY_PARTS`): each part's activations are averaged
        over time, over the part's joints and over the window's present persons.
        ``joint_encoder`` replaces :meth:`encode_joints` (e.g. the frozen trace of
        :func:`frozen_joint_encoder`); it must compute the same thing.
        """
        self._check_window(x)
        N, M, T, V, C = x.shape
        persons = x.reshape(N * M, T, V, C)  # (N*M, T, V, C)
        present = persons.flatten(1).ne(0).any(dim=1)  # (N*M,)
        per_joint = persons.new_zeros(N * M, self.config.channels[-1], V)  # (N*M, C_last, V)
        if bool(present.any()):
            encoded = (joint_encoder or self.encode_joints)(persons[present])  # (P, C_last, V)
            per_joint = per_joint.index_put((present,), encoded.to(per_joint.dtype))
        return self._pool_persons(per_joint, present, N, M)

    def features_and_parts_dense(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`features_and_parts` without branches or boolean indexing, for tracing (ONNX export).

        Every person slot is encoded and absent ones are masked out afterwards:
        the same result, at the cost of encoding the zero slots too.
        """
        self._check_window(x)
        N, M, T, V, C = x.shape
        persons = x.reshape(N * M, T, V, C)  # (N*M, T, V, C)
        present = persons.abs().flatten(1).amax(dim=1).gt(0)  # (N*M,)
        per_joint = self.encode_joints(persons) * present.to(x.dtype)[:, None, None]  # (N*M, C_last, V)
        return self._pool_persons(per_joint, present, N, M)

    def _pool_persons(self, per_joint: torch.Tensor, present: torch.Tensor, N: int, M: int,
                      ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-person joint activations (N*M, C_last, V), zero for absent persons -> features, parts."""
        width, V = per_joint.shape[1:]
        counts = present.view(N, M).sum(dim=1).clamp_min(1).to(per_joint.dtype)  # (N,)
        per_joint = per_joint.view(N, M, width, V).sum(dim=1) / counts[:, None, None]  # (N, C_last, V)
        pooled = per_joint.mean(dim=2)  # (N, C_last)
        parts = torch.stack([per_joint[:, :, joints].mean(dim=2) for joints in _PART_JOINTS], dim=1)  # (N, B, C_last)
        return (pooled if self.project is None else F.relu(self.project(pooled))), parts

    def encode_persons(self, h: torch.Tensor) -> torch.Tensor:
        """Present persons (P, T, V, C) -> their activations pooled over time and joints (P, C_last)."""
        return self._activations(h).mean(dim=(2, 3))

    def encode_joints(self, h: torch.Tensor) -> torch.Tensor:
        """Present persons (P, T, V, C) -> their activations pooled over time, per joint (P, C_last, V)."""
        return self._activations(h).mean(dim=2)

    def _activations(self, h: torch.Tensor) -> torch.Tensor:
        """Present persons (P, T, V, C) -> the last block's activations (P, C_last, T', V)."""
        T, V, C = self.config.window_frames, self.config.n_joints, self.config.in_channels  # constants when traced
        if self.frequency is not None:
            h = self.frequency(h, dim=1)  # (P, T, V, C)
        h = self.data_bn(h.permute(0, 2, 3, 1).reshape(-1, V * C, T))  # (P, V*C, T)
        h = h.view(-1, V, C, T).permute(0, 2, 3, 1).contiguous()  # (P, C, T, V)
        for block in self.blocks:
            h = block(h)  # (P, C_i, T_i, V)
        return h

    def _check_window(self, x: torch.Tensor) -> None:
        cfg = self.config
        if (
            x.ndim != 5
            or not 1 <= x.shape[1] <= cfg.max_persons
            or tuple(x.shape[2:]) != (cfg.window_frames, cfg.n_joints, cfg.in_channels)
        ):
            raise ValueError(
                f"SkeletonGCN expects windows (N, M<={cfg.max_persons}, T={cfg.window_frames}, "
                f"V={cfg.n_joints}, C={cfg.in_channels}), got shape {tuple(x.shape)}"
            )


def build_backbone(config: BackboneConfig, n_classes: int) -> SkeletonGCN:
    """A freshly initialised :class:`SkeletonGCN` for ``n_classes`` seen classes."""
    return SkeletonGCN(config, n_classes)


class _JointPath(nn.Module):
    def __init__(self, model: SkeletonGCN):
        super().__init__()
        self.model = model

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.model.encode_joints(h)


@torch.no_grad()
def frozen_joint_encoder(model: SkeletonGCN) -> torch.jit.ScriptModule:
    """:meth:`SkeletonGCN.encode_joints` of an eval-mode model as a frozen TorchScript trace.

    Freezing inlines the weights and folds each BatchNorm into the convolution
    before it, which takes about a fifth off the CPU time of one window (see
    ``benchmarks/live_latency.py``). The trace has no Python branches, so it
    holds for any number of persons P; it is for inference only and knows
    nothing of later changes to the model's weights.
    """
    if model.training:
        raise ValueError("frozen_joint_encoder needs a model in eval mode (BatchNorm statistics are folded in)")
    cfg = model.config
    device = next(model.parameters()).device
    example = torch.randn(2, cfg.window_frames, cfg.n_joints, cfg.in_channels, device=device)
    with warnings.catch_warnings():
        # torch 2.13 marks TorchScript deprecated in favour of torch.compile, which needs a C++
        # toolchain and a minute of compiling at start-up; TorchScript still does the job here.
        warnings.simplefilter("ignore", DeprecationWarning)
        return torch.jit.freeze(torch.jit.trace(_JointPath(model).eval(), example, check_trace=False))


# ----------------------------------------------------------------------------- augmentation


def augment(x: torch.Tensor, config: AugmentConfig, generator: torch.Generator) -> torch.Tensor:
    """A randomly re-proportioned, depth-squashed, rotated, scaled, time-cropped and jittered copy of windows x (N, M, T, V, 3).

    Each window gets its own draw, shared by its persons so that their relative
    positions survive. Random numbers come from ``generator`` (a CPU generator)
    in a fixed order, so the same generator state gives the same output on any device.
    """
    N, M, T, V, C = x.shape
    if C != 3:
        raise ValueError(f"augment expects 3-D joint positions (N, M, T, V, 3), got shape {tuple(x.shape)}")

    def uniform(low: float, high: float, *shape: int) -> torch.Tensor:
        return low + (high - low) * torch.rand(*shape, generator=generator, dtype=torch.float64)

    yaw = uniform(-1, 1, N) * math.radians(config.rotation_deg)  # (N,)
    pitch = uniform(-1, 1, N) * math.radians(config.tilt_deg)  # (N,)
    roll = uniform(-1, 1, N) * math.radians(config.tilt_deg)  # (N,)
    scale = uniform(*config.scale_range, N)  # (N,)
    kept = uniform(*config.crop_range, N)  # (N,) fraction of the clip kept
    offset = uniform(0, 1, N)  # (N,) where the crop starts, as a fraction of the slack
    depth = uniform(*config.depth_range, N)  # (N,)
    bone_scale = torch.exp(torch.randn(N, len(_BONE_GROUPS), generator=generator, dtype=torch.float64)
                           * config.bone_scale_std)  # (N, G)
    out = x
    if config.bone_scale_std > 0:
        out = _rescale_bones(out, bone_scale[:, _BONE_GROUP_OF].to(x.device, x.dtype))  # (N, M, T, V, 3)
    if config.glitch_fraction > 0:  # drawn only when on, so that other settings keep their random stream
        out = _tracker_glitches(out, config.glitch_fraction, generator)
    squash = torch.ones(N, 3, dtype=torch.float64)
    squash[:, 2] = depth
    linear = _rotation(yaw, pitch, roll) * scale[:, None, None] * squash[:, None, :]  # (N, 3, 3): R S diag(1, 1, d)
    out = torch.einsum("nmtvc,ndc->nmtvd", out, linear.to(x.device, x.dtype))  # (N, M, T, V, 3)

    # Sample positions in [0, T-1], so the crop never reads outside the clip.
    span = kept * (T - 1)  # (N,)
    start = offset * (T - 1 - span)  # (N,)
    along = torch.linspace(0, 1, T, dtype=torch.float64).expand(N, T)  # (N, T) where each frame reads in the crop
    if config.short_fraction > 0:  # drawn only when on, so that other settings keep their random stream
        short = torch.rand(N, generator=generator, dtype=torch.float64) < config.short_fraction  # (N,)
        stretch = uniform(*config.short_range, N)[:, None]  # (N, 1) fraction of the crop shown
        first = uniform(0, 1, N)[:, None] * (1 - stretch)  # (N, 1) where in the crop the stretch starts
        centred = (along - (1 - stretch) / 2 + first).clamp(min=first, max=first + stretch)  # (N, T) edges held
        along = torch.where(short[:, None], centred, along)
    if config.onset_fraction > 0:  # drawn only when on, so that other settings keep their random stream
        onset = torch.rand(N, generator=generator, dtype=torch.float64) < config.onset_fraction  # (N,)
        shown = torch.randint(min(3, T // 2), T // 2 + 1, (N,), generator=generator).to(torch.float64)  # (N,) frames
        frame = (torch.arange(T, dtype=torch.float64) - (T - shown)[:, None]).clamp(min=0)  # (N, T) exact zeros
        along = torch.where(onset[:, None], frame / (T - 1), along)
    position = (start[:, None] + span[:, None] * along).clamp(0, T - 1)  # (N, T)
    lower = position.floor().long().clamp(max=T - 1)  # (N, T)
    upper = (lower + 1).clamp(max=T - 1)  # (N, T)
    weight = (position - lower).to(x.device, x.dtype).view(N, 1, T, 1, 1)

    def frames(index: torch.Tensor) -> torch.Tensor:
        return out.gather(2, index.to(x.device).view(N, 1, T, 1, 1).expand(N, M, T, V, C))  # (N, M, T, V, 3)

    out = frames(lower) * (1 - weight) + frames(upper) * weight  # (N, M, T, V, 3)

    if config.jitter_std > 0:
        present = x.reshape(N, M, -1).ne(0).any(dim=2).to(x.dtype)  # (N, M)
        noise = torch.randn(N, M, T, V, C, generator=generator).to(x.device, x.dtype) * config.jitter_std
        out = out + noise * present.view(N, M, 1, 1, 1)
    return out


def _tracker_glitches(x: torch.Tensor, fraction: float, generator: torch.Generator) -> torch.Tensor:
    """x (N, M, T, V, 3) with a ``fraction`` of its windows given one side mix-up (see :class:`AugmentConfig`)."""
    N, M, T, V, C = x.shape
    hit = torch.rand(N, generator=generator) < fraction  # (N,)
    kind = torch.randint(len(_GLITCH_ORDERS), (N,), generator=generator)  # (N,)
    length = torch.randint(2, max(T // 2, 2) + 1, (N,), generator=generator)  # (N,)
    start = (torch.rand(N, generator=generator) * (T - length + 1)).long()  # (N,)
    order = _GLITCH_ORDERS[kind]  # (N, V) where each joint reads from
    frame = torch.arange(T)
    during = hit[:, None] & (frame >= start[:, None]) & (frame < (start + length)[:, None])  # (N, T)
    mixed = x.gather(3, order.to(x.device).view(N, 1, 1, V, 1).expand(N, M, T, V, C))
    return torch.where(during.to(x.device).view(N, 1, T, 1, 1), mixed, x)


def _glitch_orders() -> torch.Tensor:
    """(4, V) joint orders: arms traded, legs traded, left hand on the right, right hand on the left."""
    J = NTU25
    arms = ((J.ELBOW_LEFT, J.ELBOW_RIGHT), (J.WRIST_LEFT, J.WRIST_RIGHT), (J.HAND_LEFT, J.HAND_RIGHT),
            (J.HAND_TIP_LEFT, J.HAND_TIP_RIGHT), (J.THUMB_LEFT, J.THUMB_RIGHT))
    legs = ((J.KNEE_LEFT, J.KNEE_RIGHT), (J.ANKLE_LEFT, J.ANKLE_RIGHT), (J.FOOT_LEFT, J.FOOT_RIGHT))
    hand = arms[1:]
    orders = torch.arange(len(J)).repeat(4, 1)
    for left, right in arms:
        orders[0, left], orders[0, right] = right, left
    for left, right in legs:
        orders[1, left], orders[1, right] = right, left
    for left, right in hand:
        orders[2, left] = right
        orders[3, right] = left
    return orders


_GLITCH_ORDERS = _glitch_orders()


def _bones_from_the_root(bones: Bones, root: int) -> tuple[tuple[int, int], ...]:
    """``bones`` ordered so that every parent is placed before its children, starting at ``root``."""
    placed, ordered, pending = {root}, [], list(bones)
    while pending:
        ready = [(c, p) for c, p in pending if p in placed]
        if not ready:
            raise ValueError(f"bones do not form a tree rooted at joint {root}: {pending}")
        ordered += ready
        placed |= {c for c, _ in ready}
        pending = [b for b in pending if b not in ready]
    return tuple(ordered)


_ROOTED_BONES = _bones_from_the_root(NTU25_BONES, NTU25.SPINE_SHOULDER)
# A left bone and its right twin share a length factor, so a rescaled body stays symmetric.
_BONE_GROUPS = tuple(dict.fromkeys(NTU25(c).name.replace("LEFT", "SIDE").replace("RIGHT", "SIDE") for c, _ in _ROOTED_BONES))
_BONE_GROUP_OF = torch.tensor([_BONE_GROUPS.index(NTU25(c).name.replace("LEFT", "SIDE").replace("RIGHT", "SIDE"))
                               for c, _ in _ROOTED_BONES])  # (B,) group of each rooted bone


def _rescale_bones(x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Windows x (N, M, T, V, 3) with every bone's length times ``factors`` (N, B), rebuilt from the spine shoulder.

    Bone directions are kept; the spine shoulder stays where it was, and absent
    (all-zero) persons stay zero.
    """
    N, M, T, V, C = x.shape
    out = x.clone()
    for b, (child, parent) in enumerate(_ROOTED_BONES):
        bone = x[..., child, :] - x[..., parent, :]  # (N, M, T, 3)
        out[..., child, :] = out[..., parent, :] + factors[:, b].view(N, 1, 1, 1) * bone
    present = x.reshape(N, M, -1).ne(0).any(dim=2).to(x.dtype)  # (N, M)
    return out * present.view(N, M, 1, 1, 1)


def _rotation(yaw: torch.Tensor, pitch: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """Rz(roll) @ Rx(pitch) @ Ry(yaw) for angles (N,) in radians: (N, 3, 3)."""
    def axis_rotation(angle: torch.Tensor, a: int, b: int) -> torch.Tensor:
        r = torch.eye(3, dtype=angle.dtype).repeat(len(angle), 1, 1)
        r[:, a, a], r[:, a, b], r[:, b, a], r[:, b, b] = angle.cos(), -angle.sin(), angle.sin(), angle.cos()
        return r

    return axis_rotation(roll, 0, 1) @ axis_rotation(pitch, 1, 2) @ axis_rotation(yaw, 2, 0)


# ----------------------------------------------------------------------------- distributed


def init_distributed_from_env(init_method: str | None = None, backend: str | None = None) -> bool:
    """Join the process group that ``torchrun`` describes in RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT.

    Returns False (and does nothing) when RANK or WORLD_SIZE is absent, True once
    the group is up. The backend is nccl when CUDA is available (after selecting
    the GPU LOCAL_RANK), gloo otherwise. ``init_method`` replaces ``env://``,
    e.g. ``file:///tmp/store`` to rendezvous without a TCP store. Call
    ``torch.distributed.destroy_process_group()`` when done.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return False
    if dist.is_initialized():
        return True
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    use_cuda = torch.cuda.is_available() and backend != "gloo"
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if init_method is None and not ("MASTER_ADDR" in os.environ and "MASTER_PORT" in os.environ):
        raise ValueError("RANK and WORLD_SIZE are set but MASTER_ADDR/MASTER_PORT are not; launch with torchrun or pass init_method")
    dist.init_process_group(
        backend or ("nccl" if use_cuda else "gloo"), init_method=init_method or "env://", rank=rank, world_size=world_size
    )
    return True


def _world() -> tuple[int, int]:
    """(rank, world size) of this process; (0, 1) outside a process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _sum_over_ranks(values: torch.Tensor, device: torch.device) -> torch.Tensor:
    """Element-wise sum of a small CPU tensor over ranks, reduced on ``device`` (nccl takes GPU tensors only)."""
    on_device = values.to(device)
    dist.all_reduce(on_device)
    return on_device.cpu()


def _average_batchnorm_statistics(model: nn.Module, world_size: int) -> None:
    """Average BatchNorm running statistics over ranks: each saw different batches."""
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm) and module.running_mean is not None:
            for buffer in (module.running_mean, module.running_var):
                dist.all_reduce(buffer)
                buffer.div_(world_size)


# ----------------------------------------------------------------------------- training


def train_backbone(
    windows: np.ndarray,
    labels: np.ndarray,
    n_classes: int,
    config: BackboneConfig = BackboneConfig(),
    train_config: BackboneTrainConfig = BackboneTrainConfig(),
    checkpoint_path: Path | None = None,
    progress: bool = True,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    on_epoch: Callable[[dict], None] | None = None,
) -> SkeletonGCN:
    """Train a backbone on windows (N, M, T, V, C) float32 with class ids (N,) in 0..n_classes-1.

    With ``checkpoint_path`` the run saves after every epoch (atomically, rank 0
    only) and resumes from an existing checkpoint, refusing one saved with other
    settings. ``validation=(windows, labels)`` adds ``val_accuracy`` to each
    epoch's record; ``on_epoch(record)`` is called after each epoch's checkpoint.
    Inside a ``torch.distributed`` process group the model is wrapped in
    DistributedDataParallel and every rank returns the same weights. Returns
    the model in eval mode on the training device.
    """
    x_all, y_all = _checked_data(windows, labels, n_classes, config, "training")
    validation_data = _checked_data(*validation, n_classes, config, "validation") if validation is not None else None
    rank, world_size = _world()
    if train_config.batch_size % world_size:
        raise ValueError(f"BackboneTrainConfig.batch_size ({train_config.batch_size}) must divide evenly over {world_size} processes")
    device = train_config.resolved_device()
    amp = train_config.mixed_precision and device.type == "cuda"

    torch.manual_seed(train_config.seed)
    generator = torch.Generator().manual_seed(train_config.seed)
    model = build_backbone(config, n_classes).to(device)
    optimizer = _optimizer(model, train_config)
    settings = {
        "backbone": config_to_dict(config),
        "train": config_to_dict(train_config),
        "n_classes": n_classes,
        "n_windows": len(x_all),
    }

    history: list[dict] = []
    start_epoch = 0
    checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
    if checkpoint_path is not None and _checkpoint_to_resume(checkpoint_path, rank, world_size):
        saved = read_checkpoint_info(checkpoint_path).get("settings", {})
        differences = _differences(_shaping_settings(_with_defaults(saved)), _shaping_settings(settings))
        if differences:
            raise ValueError(
                f"{checkpoint_path}: saved with other settings ({'; '.join(differences)}); use a fresh checkpoint path"
            )
        weights, info = load_checkpoint(checkpoint_path, optimizer, generator)
        load_weights(model, weights["model"], checkpoint_path)
        start_epoch, history = info["epochs_done"], info["history"]
        log.info("resumed %s after epoch %d", checkpoint_path, start_epoch)

    trained: nn.Module = model
    if dist.is_available() and dist.is_initialized():
        # Buffers are averaged once per epoch instead of broadcast from rank 0 at every step.
        trained = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, broadcast_buffers=False
        )

    n_padded = math.ceil(len(x_all) / world_size) * world_size
    steps_per_epoch = math.ceil(n_padded / train_config.batch_size)
    for epoch in range(start_epoch, train_config.epochs):
        started = time.perf_counter()
        trained.train()
        order = torch.randperm(len(x_all), generator=generator)
        # Like DistributedSampler: repeat a few windows so every rank gets an equal share.
        order = torch.cat([order, order[: n_padded - len(order)]])
        totals = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, count
        steps = range(steps_per_epoch)
        bar = tqdm(steps, desc=f"backbone epoch {epoch + 1}/{train_config.epochs}", disable=not progress or rank != 0, leave=False)
        for step in bar:
            for group in optimizer.param_groups:
                group["lr"] = train_config.lr_at(epoch * steps_per_epoch + step, steps_per_epoch)
            batch = order[step * train_config.batch_size : (step + 1) * train_config.batch_size]
            # Every rank augments the whole global batch with the shared generator and keeps its own slice.
            x = augment(x_all[batch], train_config.augment, generator)  # (B, M, T, V, C)
            share = len(batch) // world_size
            x = x[rank * share : (rank + 1) * share].to(device, non_blocking=True)  # (B/W, M, T, V, C)
            y = y_all[batch][rank * share : (rank + 1) * share].to(device, non_blocking=True)  # (B/W,)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp):
                logits = trained(x)  # (B/W, n_classes)
                loss = F.cross_entropy(logits.float(), y, label_smoothing=train_config.label_smoothing)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"backbone loss became {loss.item()} at epoch {epoch + 1}, step {step}; lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            totals += torch.tensor([loss.item() * len(y), (logits.argmax(1) == y).sum().item(), len(y)], dtype=torch.float64)
        bar.close()

        if world_size > 1:
            totals = _sum_over_ranks(totals, device)
            _average_batchnorm_statistics(model, world_size)
        record = {
            "epoch": epoch + 1,
            "loss": float(totals[0] / totals[2]),
            "train_accuracy": float(totals[1] / totals[2]),
            "lr": optimizer.param_groups[0]["lr"],
        }
        if validation_data is not None:
            record["val_accuracy"] = _accuracy(model, *validation_data, device, rank, world_size)
        record["seconds"] = time.perf_counter() - started
        history.append(record)
        if rank == 0:
            log.info("backbone epoch %d: %s", epoch + 1, ", ".join(f"{k} {v:.4g}" for k, v in record.items() if k != "epoch"))
            if checkpoint_path is not None:
                save_checkpoint(checkpoint_path, {"model": model.state_dict()}, optimizer, generator, {
                    "epochs_done": epoch + 1, "history": history, "settings": settings, "world_size": world_size,
                })
        if world_size > 1:
            dist.barrier()
        if on_epoch is not None:
            on_epoch(record)

    model.eval()
    return model


def _checkpoint_to_resume(path: Path, rank: int, world_size: int) -> bool:
    """Whether to resume from ``path``: rank 0 decides, and every rank must then see the file."""
    exists = [path.exists()]
    if world_size > 1:
        dist.broadcast_object_list(exists, src=0)
    if exists[0] and not path.exists():
        raise FileNotFoundError(f"{path}: rank 0 resumes from this checkpoint but rank {rank} cannot see it; use a shared file system")
    return exists[0]


def _optimizer(model: nn.Module, config: BackboneTrainConfig) -> torch.optim.Optimizer:
    """SGD + Nesterov; no weight decay on BatchNorm, biases, the graph residuals or the DCT gains."""
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        plain_weight = parameter.ndim > 1 and "adjacency_residual" not in name
        (decay if plain_weight else no_decay).append(parameter)
    return torch.optim.SGD(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr, momentum=config.momentum, nesterov=config.momentum > 0,
    )


def _checked_data(windows: np.ndarray, labels: np.ndarray, n_classes: int, config: BackboneConfig, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Windows and labels as CPU tensors, after checking shapes, values and that someone is in every window."""
    windows, labels = np.asarray(windows), np.asarray(labels)
    expected = f"(N, M<={config.max_persons}, T={config.window_frames}, V={config.n_joints}, C={config.in_channels})"
    if (
        windows.ndim != 5
        or not 1 <= windows.shape[1] <= config.max_persons
        or windows.shape[2:] != (config.window_frames, config.n_joints, config.in_channels)
    ):
        raise ValueError(f"{what} windows must have shape {expected}, got {windows.shape}")
    if labels.shape != (len(windows),) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"{what} labels must be {len(windows)} integers, got {labels.dtype} array of shape {labels.shape}")
    if len(windows) == 0:
        raise ValueError(f"{what} data are empty")
    if labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"{what} labels must lie in 0..{n_classes - 1}, got {labels.min()}..{labels.max()}")
    if not np.isfinite(windows).all():
        raise ValueError(f"{what} windows contain NaN or infinite values; fill them first (calibration.fill_missing)")
    empty = ~windows.reshape(len(windows), -1).any(axis=1)
    if empty.any():
        raise ValueError(f"{what} windows {np.flatnonzero(empty)[:10].tolist()} (of {int(empty.sum())}) have nobody in them")
    return torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32)), torch.from_numpy(labels.astype(np.int64))


@torch.no_grad()
def _accuracy(model: SkeletonGCN, windows: torch.Tensor, labels: torch.Tensor, device: torch.device, rank: int, world_size: int) -> float:
    """Top-1 accuracy in eval mode; each rank scores its own slice of the windows."""
    model.eval()
    correct = torch.zeros(2, dtype=torch.float64)
    mine = torch.arange(rank, len(windows), world_size)
    for chunk in mine.split(256):
        predicted = model(windows[chunk].to(device)).argmax(1).cpu()
        correct += torch.tensor([(predicted == labels[chunk]).sum().item(), len(chunk)], dtype=torch.float64)
    if world_size > 1:
        correct = _sum_over_ranks(correct, device)
    return float(correct[0] / correct[1])


def _shaping_settings(settings: dict) -> dict:
    """The settings that shape a run: an unused frequency module's own settings do not."""
    backbone = settings.get("backbone")
    if isinstance(backbone, dict) and isinstance(backbone.get("frequency"), dict) \
            and backbone["frequency"].get("placement") == "none":
        return {**settings, "backbone": {**backbone, "frequency": {"placement": "none"}}}
    return settings


def _with_defaults(saved: dict) -> dict:
    """Saved settings read through today's setting classes: a field added since they were saved takes its
    default, which every new field keeps equal to what runs did before it existed."""
    read = dict(saved)
    for key, kind in (("backbone", BackboneConfig), ("train", BackboneTrainConfig)):
        if isinstance(saved.get(key), dict):
            try:
                read[key] = config_to_dict(config_from_dict(kind, saved[key]))
            except ValueError:  # kept as saved: the comparison then names what differs
                pass
    return read


def _differences(saved: dict, current: dict, prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two settings documents, with both values."""
    found = []
    for key in sorted(set(saved) | set(current)):
        a, b = saved.get(key), current.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            found += _differences(a, b, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key}: saved {a!r}, now {b!r}")
    return found


# ----------------------------------------------------------------------------- use


def load_backbone(checkpoint_path: Path, device: str | torch.device = "cpu") -> SkeletonGCN:
    """Rebuild a trained backbone from a :func:`train_backbone` checkpoint, in eval mode."""
    checkpoint_path = Path(checkpoint_path)
    settings = read_checkpoint_info(checkpoint_path).get("settings", {})
    if "backbone" not in settings:
        raise ValueError(f"{checkpoint_path}: not a backbone checkpoint (no backbone settings)")
    model = build_backbone(config_from_dict(BackboneConfig, settings["backbone"]), settings["n_classes"])
    # load_checkpoint restores the training run's RNG states; whoever merely reads the weights keeps its own.
    rng_state = torch.get_rng_state()
    cuda_rng_state = torch.cuda.get_rng_state() if torch.cuda.is_available() else None
    weights, _ = load_checkpoint(checkpoint_path)
    torch.set_rng_state(rng_state)
    if cuda_rng_state is not None:
        torch.cuda.set_rng_state(cuda_rng_state)
    load_weights(model, weights["model"], checkpoint_path)
    return model.to(device).eval()


@torch.no_grad()
def extract_features(
    model: SkeletonGCN, windows: np.ndarray, batch_size: int = 256, device: str | torch.device | None = None
) -> np.ndarray:
    """The backbone feature of every window (N, M, T, V, C): float32 (N, feature_dim), eval mode, no gradients.

    ``device`` defaults to the model's; the model's train/eval mode is restored afterwards.
    """
    return _extract(model, windows, batch_size, device, lambda chunk: model.features(chunk).float().cpu(),
                    (model.config.feature_dim,))


@torch.no_grad()
def extract_part_features(
    model: SkeletonGCN, windows: np.ndarray, batch_size: int = 256, device: str | torch.device | None = None
) -> np.ndarray:
    """The activations pooled per body part of every window: float32 (N, B, C_last) (see
    :meth:`SkeletonGCN.features_and_parts`), eval mode, no gradients."""
    return _extract(model, windows, batch_size, device, lambda chunk: model.features_and_parts(chunk)[1].float().cpu(),
                    (len(_PART_JOINTS), model.config.channels[-1]))


def _extract(model: SkeletonGCN, windows: np.ndarray, batch_size: int, device, compute, shape: tuple[int, ...]) -> np.ndarray:
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model_device = next(model.parameters()).device
    was_training = model.training
    model.to(device).eval()
    try:
        x = torch.from_numpy(np.ascontiguousarray(windows, dtype=np.float32))
        out = [compute(chunk.to(device)) for chunk in x.split(batch_size)]
    finally:
        model.to(model_device).train(was_training)
    if not out:
        return np.zeros((0, *shape), dtype=np.float32)
    return torch.cat(out).numpy()
