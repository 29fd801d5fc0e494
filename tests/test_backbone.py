"""The skeleton backbone: graph, shapes, absent persons, temporal DCT gains, augmentation, training."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from calibration.layouts import NTU25, NTU25_BODY_PARTS, NTU25_BONES
from fsvae_core.backbone import (
    AugmentConfig,
    BackboneConfig,
    BackboneTrainConfig,
    SkeletonGCN,
    SpatialGraphConv,
    augment,
    build_backbone,
    extract_features,
    extract_part_features,
    frozen_joint_encoder,
    init_distributed_from_env,
    load_backbone,
    spatial_partitions,
    train_backbone,
)
from fsvae_core.frequency import FrequencyConfig

T = 16
SMALL = BackboneConfig(window_frames=T, channels=(8, 16), temporal_kernel=3, feature_dim=16, dropout=0.0)
QUICK = BackboneTrainConfig(
    epochs=2, batch_size=12, lr=0.05, warmup_epochs=0, label_smoothing=0.0, device="cpu", mixed_precision=False
)


def windows(n: int, persons: int = 1, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, persons, T, len(NTU25), 3, generator=torch.Generator().manual_seed(seed))


def synthetic_actions(per_class: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three classes, each a different body part swinging along its own axis at its own rate.

    Person 1 only; person 2 is absent (zeros), as in most NTU clips. Every
    seed shares one body; the seed draws phases and noise.
    """
    pose = np.random.default_rng(0).normal(0.0, 0.3, (len(NTU25), 3))
    rng = np.random.default_rng(seed + 1)
    movers = (
        [NTU25.ELBOW_RIGHT, NTU25.WRIST_RIGHT, NTU25.HAND_RIGHT, NTU25.HAND_TIP_RIGHT, NTU25.THUMB_RIGHT],
        [NTU25.ELBOW_LEFT, NTU25.WRIST_LEFT, NTU25.HAND_LEFT, NTU25.HAND_TIP_LEFT, NTU25.THUMB_LEFT],
        [NTU25.KNEE_LEFT, NTU25.ANKLE_LEFT, NTU25.FOOT_LEFT, NTU25.KNEE_RIGHT, NTU25.ANKLE_RIGHT, NTU25.FOOT_RIGHT],
    )
    t = np.arange(T) / T
    out, labels = [], []
    for label, joints in enumerate(movers):
        for _ in range(per_class):
            clip = np.repeat(pose[None], T, axis=0) + rng.normal(0.0, 0.01, (T, len(NTU25), 3))
            swing = 0.4 * np.sin(2 * np.pi * (label + 1) * t + rng.uniform(0, 2 * np.pi))  # (T,)
            clip[:, joints, label] += swing[:, None]
            both = np.zeros((2, T, len(NTU25), 3))
            both[0] = clip
            out.append(both)
            labels.append(label)
    return np.asarray(out, dtype=np.float32), np.asarray(labels, dtype=np.int64)


def state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same_state(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


# ---------------------------------------------------------------- settings and graph


def test_feature_placement_is_refused_with_a_message_pointing_to_the_vae():
    with pytest.raises(ValueError, match="frequency.placement 'feature'.*VAE"):
        BackboneConfig(frequency=FrequencyConfig(placement="feature"))


@pytest.mark.parametrize("change, field", [
    ({"channels": ()}, "channels"),
    ({"temporal_kernel": 4}, "temporal_kernel"),
    ({"dropout": 1.0}, "dropout"),
    ({"n_joints": 20}, "n_joints"),
    ({"window_frames": 16, "frequency": FrequencyConfig(placement="temporal", n_bands=30)}, "n_bands"),
])
def test_backbone_config_names_the_bad_field(change, field):
    with pytest.raises(ValueError, match=field):
        BackboneConfig(**change)


@pytest.mark.parametrize("cls, change, field", [
    (AugmentConfig, {"scale_range": (1.1, 0.9)}, "scale_range"),
    (AugmentConfig, {"crop_range": (0.8, 3.5)}, "crop_range"),
    (AugmentConfig, {"crop_range": (0.0, 1.0)}, "crop_range"),
    (AugmentConfig, {"bone_scale_std": -0.1}, "bone_scale_std"),
    (AugmentConfig, {"depth_range": (0.0, 1.0)}, "depth_range"),
    (AugmentConfig, {"jitter_std": -0.1}, "jitter_std"),
    (BackboneTrainConfig, {"device": "tpu"}, "device"),
    (BackboneTrainConfig, {"epochs": 3, "warmup_epochs": 3}, "warmup_epochs"),
])
def test_training_configs_name_the_bad_field(cls, change, field):
    with pytest.raises(ValueError, match=field):
        cls(**change)


def test_strides_halve_time_where_channels_grow():
    assert BackboneConfig(channels=(32, 64, 64, 128, 128, 256)).strides == (1, 2, 1, 2, 1, 2)
    assert BackboneConfig(channels=(64, 64, 128, 128, 256, 256)).strides == (1, 1, 2, 1, 2, 1)


def test_partitions_split_the_normalised_adjacency_into_root_centripetal_centrifugal():
    parts = spatial_partitions()  # (3, V, V)
    adjacency = torch.eye(25)
    for child, parent in NTU25_BONES:
        adjacency[child, parent] = adjacency[parent, child] = 1
    degree = adjacency.sum(1)
    assert torch.allclose(parts.sum(0), adjacency / torch.sqrt(degree[:, None] * degree[None, :]))
    assert torch.equal(parts[0], torch.diag(torch.diagonal(parts[0])))
    for child, parent in NTU25_BONES:  # NTU25_BONES are (child, parent), parents nearer the centre
        assert parts[1, child, parent] > 0 and parts[2, child, parent] == 0
        assert parts[2, parent, child] > 0 and parts[1, parent, child] == 0
    assert parts[1, NTU25.SPINE_SHOULDER].sum() == 0  # the centre has nothing nearer than itself


# ---------------------------------------------------------------- the network


def test_graph_conv_is_one_convolution_per_partition_summed_over_the_learned_graph():
    torch.manual_seed(0)
    layer = SpatialGraphConv(5, 7, spatial_partitions(), frames=4).eval()
    torch.nn.init.normal_(layer.adjacency_residual, std=0.1)
    torch.nn.init.normal_(layer.conv.bias)
    x = torch.randn(2, 5, 4, 25)  # (P, C_in, T, V)
    graph = layer.partitions + layer.adjacency_residual  # (K, W, V)
    messages = layer.conv(x).view(2, 3, 7, 4, 25)  # (P, K, C_out, T, V): convolve each partition first
    expected = layer.bn(torch.einsum("pkctv,kwv->pctw", messages, graph))
    assert torch.allclose(layer(x), expected, atol=1e-5)


@pytest.mark.parametrize("feature_dim", [16, 24])  # 16: the pooled activation itself; 24: Linear + ReLU
def test_forward_and_features_have_the_documented_shapes_and_features_are_nonnegative(feature_dim):
    model = build_backbone(dataclasses.replace(SMALL, feature_dim=feature_dim), n_classes=5)
    x = windows(4, persons=2)
    assert model(x).shape == (4, 5)
    features = model.features(x)
    assert features.shape == (4, feature_dim) and features.dtype == torch.float32
    assert (features >= 0).all()
    assert (model.project is None) == (feature_dim == 16)


def test_default_backbone_gives_256_d_features_of_48_frame_two_person_windows():
    model = build_backbone(BackboneConfig(), n_classes=3).eval()
    x = torch.randn(2, 2, 48, 25, 3)
    assert model(x).shape == (2, 3) and model.features(x).shape == (2, 256)


def test_the_frozen_joint_encoder_gives_the_same_features_and_parts_for_any_number_of_persons():
    torch.manual_seed(0)
    model = build_backbone(BackboneConfig(window_frames=T, channels=(8, 16), feature_dim=16), n_classes=3).eval()
    frozen = frozen_joint_encoder(model)
    for n in (1, 3):
        windows = torch.randn(n, 2, T, 25, 3)
        windows[0, 1] = 0  # one absent person
        with torch.no_grad():
            features, parts = model.features_and_parts(windows, frozen)
            expected_features, expected_parts = model.features_and_parts(windows)
        assert torch.allclose(features, expected_features, atol=1e-5) and torch.allclose(parts, expected_parts, atol=1e-5)
    with pytest.raises(ValueError, match="eval mode"):
        frozen_joint_encoder(model.train())


def test_the_dense_path_gives_the_same_features_and_parts_as_skipping_absent_persons():
    torch.manual_seed(0)
    config = BackboneConfig(window_frames=T, channels=(8, 16), feature_dim=16,
                            frequency=FrequencyConfig(placement="temporal", n_bands=4, phi=2))
    model = build_backbone(config, n_classes=3).eval()
    windows = torch.randn(3, 2, T, 25, 3)
    windows[0, 1] = 0  # one absent person
    windows[2] = 0  # nobody at all
    with torch.no_grad():
        dense, sparse = model.features_and_parts_dense(windows), model.features_and_parts(windows)
    for got, expected in zip(dense, sparse):
        assert torch.allclose(got, expected, atol=1e-5)


def test_part_features_pool_each_body_part_over_its_joints_and_the_present_persons():
    torch.manual_seed(0)
    model = build_backbone(BackboneConfig(window_frames=T, channels=(8, 16), feature_dim=16), n_classes=3).eval()
    windows = torch.randn(2, 2, T, 25, 3)
    windows[1, 1] = 0  # the second window has one person
    with torch.no_grad():
        features, parts = model.features_and_parts(windows)
        assert torch.allclose(features, model.features(windows), atol=1e-5)
        assert parts.shape == (2, len(NTU25_BODY_PARTS), 16)
        per_joint = model.encode_joints(windows[1, :1].reshape(1, T, 25, 3))[0]  # (C, V) of the one person
        head = [int(j) for j in NTU25_BODY_PARTS["head"]]
        assert torch.allclose(parts[1, 0], per_joint[:, head].mean(dim=1), atol=1e-5)
        assert np.allclose(extract_part_features(model, windows.numpy(), batch_size=1), parts.numpy(), atol=1e-5)


def test_windows_of_the_wrong_shape_are_refused():
    model = build_backbone(SMALL, n_classes=3)
    with pytest.raises(ValueError, match="V=25"):
        model(torch.randn(2, 1, T, 20, 3))
    with pytest.raises(ValueError, match="M<=2"):
        model(torch.randn(2, 3, T, 25, 3))


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_a_zero_padded_person_leaves_features_unchanged(mode):
    torch.manual_seed(0)
    model = build_backbone(SMALL, n_classes=3).train(mode == "train")
    one = windows(3, persons=1)
    padded = torch.cat([one, torch.zeros_like(one)], dim=1)  # (N, 2, T, V, C)
    swapped = torch.cat([torch.zeros_like(one), one], dim=1)
    reference = model.features(one)
    assert torch.allclose(model.features(padded), reference, atol=1e-6)
    assert torch.allclose(model.features(swapped), reference, atol=1e-6)


def test_two_present_persons_are_averaged_and_a_window_with_nobody_is_finite():
    model = build_backbone(dataclasses.replace(SMALL, feature_dim=16), n_classes=3).eval()
    a, b = windows(2, seed=1), windows(2, seed=2)
    both = model.features(torch.cat([a, b], dim=1))
    assert torch.allclose(both, (model.features(a) + model.features(b)) / 2, atol=1e-6)
    empty = model.features(torch.zeros(2, 2, T, 25, 3))
    assert torch.isfinite(empty).all() and torch.equal(empty, torch.zeros_like(empty))


def test_temporal_placement_applies_the_dct_gains_over_the_frame_axis_of_the_input():
    frequency = FrequencyConfig(placement="temporal", n_bands=4, phi=4)
    torch.manual_seed(0)
    enhanced = build_backbone(dataclasses.replace(SMALL, frequency=frequency), n_classes=3).eval()
    plain = build_backbone(SMALL, n_classes=3).eval()
    plain.load_state_dict({k: v for k, v in enhanced.state_dict().items() if not k.startswith("frequency.")})
    assert enhanced.frequency.length == T and plain.frequency is None
    x = windows(3)
    with torch.no_grad():
        enhanced.frequency.w.uniform_(0.0, 3.0)  # distinct band gains, so the axis matters
        by_hand = enhanced.frequency(x, dim=2)  # (N, M, T, V, C): gains along T
    assert not torch.allclose(by_hand, x, atol=1e-3)
    assert torch.allclose(enhanced.features(x), plain.features(by_hand), atol=1e-5)


def test_gradients_reach_the_temporal_band_weights():
    frequency = FrequencyConfig(placement="temporal", n_bands=4, phi=4)
    model = build_backbone(dataclasses.replace(SMALL, frequency=frequency), n_classes=3)
    torch.nn.functional.cross_entropy(model(windows(4)), torch.tensor([0, 1, 2, 0])).backward()
    assert model.frequency.w.grad is not None and torch.all(model.frequency.w.grad != 0)
    assert model.frequency.k.grad is not None and model.frequency.k.grad != 0


# ---------------------------------------------------------------- augmentation


def bone_lengths(x: torch.Tensor) -> torch.Tensor:
    child = torch.tensor([c for c, _ in NTU25_BONES])
    parent = torch.tensor([p for _, p in NTU25_BONES])
    return (x[..., child, :] - x[..., parent, :]).norm(dim=-1)  # (N, M, T, bones)


def test_augmentation_keeps_shapes_and_repeats_exactly_for_the_same_generator_state():
    x = windows(5, persons=2)
    config = AugmentConfig(jitter_std=0.01)
    a = augment(x, config, torch.Generator().manual_seed(3))
    b = augment(x, config, torch.Generator().manual_seed(3))
    c = augment(x, config, torch.Generator().manual_seed(4))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.allclose(a, c)


def test_augmentation_off_is_the_identity():
    x = windows(3)
    assert torch.allclose(augment(x, AugmentConfig.off(), torch.Generator().manual_seed(0)), x, atol=1e-6)


def test_rotation_preserves_bone_lengths_and_yaw_alone_keeps_heights():
    x = windows(6, persons=2)
    rotate = dataclasses.replace(AugmentConfig.off(), rotation_deg=30.0, tilt_deg=10.0)
    rotated = augment(x, rotate, torch.Generator().manual_seed(0))
    assert not torch.allclose(rotated, x, atol=1e-3)
    assert torch.allclose(bone_lengths(rotated), bone_lengths(x), atol=1e-5)
    yaw = augment(x, dataclasses.replace(rotate, tilt_deg=0.0), torch.Generator().manual_seed(0))
    assert torch.allclose(yaw[..., 1], x[..., 1], atol=1e-6)  # y is up: a turn about it keeps heights


def test_scale_stays_within_its_range():
    x = windows(20)
    scaled = augment(x, dataclasses.replace(AugmentConfig.off(), scale_range=(0.9, 1.1)), torch.Generator().manual_seed(0))
    ratio = bone_lengths(scaled) / bone_lengths(x)  # one factor per window
    assert torch.allclose(ratio, ratio[:, :1, :1, :1].expand_as(ratio), atol=1e-4)
    assert ratio.min() >= 0.9 - 1e-5 and ratio.max() <= 1.1 + 1e-5 and ratio.std() > 0


def test_temporal_crop_reads_inside_the_clip_and_resamples_linearly():
    # Every coordinate of frame t is t, so the output shows which time each frame was read from.
    x = torch.arange(T, dtype=torch.float32).view(1, 1, T, 1, 1).expand(50, 2, T, 25, 3).contiguous()
    crop = dataclasses.replace(AugmentConfig.off(), crop_range=(0.8, 1.0))
    time_read = augment(x, crop, torch.Generator().manual_seed(0))[:, 0, :, 0, 0]  # (N, T)
    assert time_read.min() >= 0 and time_read.max() <= T - 1 + 1e-5
    steps = time_read.diff(dim=1)  # (N, T-1): even spacing is a linear resampling
    assert torch.allclose(steps, steps[:, :1].expand_as(steps), atol=1e-4)
    span = time_read[:, -1] - time_read[:, 0]
    assert span.min() >= 0.8 * (T - 1) - 1e-4 and span.max() <= T - 1 + 1e-5 and span.std() > 0


def test_a_crop_longer_than_the_window_plays_faster_and_holds_the_edge_poses():
    x = torch.arange(T, dtype=torch.float32).view(1, 1, T, 1, 1).expand(50, 1, T, 25, 3).contiguous()
    fast = dataclasses.replace(AugmentConfig.off(), crop_range=(2.0, 2.0))
    time_read = augment(x, fast, torch.Generator().manual_seed(0))[:, 0, :, 0, 0]  # (N, T)
    assert time_read.min() >= 0 and time_read.max() <= T - 1 + 1e-5
    assert (time_read == 0).any(dim=1).all() and (time_read == T - 1).any(dim=1).all()  # both edges held
    inside = (time_read[:, :-1] > 0) & (time_read[:, 1:] < T - 1)  # steps between two unclamped reads
    steps = time_read.diff(dim=1)[inside]
    assert steps.numel() > 0 and torch.allclose(steps, torch.full_like(steps, 2.0), atol=1e-4)


def test_onset_windows_hold_the_crops_first_pose_then_show_its_first_frames_at_the_newest_edge():
    x = torch.arange(T, dtype=torch.float32).view(1, 1, T, 1, 1).expand(200, 1, T, 25, 3).contiguous()
    onset = dataclasses.replace(AugmentConfig.off(), onset_fraction=0.5)
    time_read = augment(x, onset, torch.Generator().manual_seed(0))[:, 0, :, 0, 0]  # (N, T)
    held = (time_read == 0).sum(dim=1)  # frames showing the first pose
    late = held > 1
    assert 0.35 < late.float().mean() < 0.65  # about half the windows
    assert torch.equal(time_read[~late], torch.arange(T, dtype=torch.float32).expand(int((~late).sum()), T))
    shown = T - held[late] + 1  # the held pose's last frame is the first of the motion shown
    assert shown.min() >= 3 and shown.max() <= T // 2 + 1
    for row, n in zip(time_read[late], held[late]):  # then the crop plays from its start, one frame a frame
        assert torch.equal(row[n - 1 :], torch.arange(T - n + 1, dtype=torch.float32))


def test_onset_off_leaves_the_random_stream_of_other_settings_alone():
    x = windows(4)
    config = AugmentConfig(jitter_std=0.01)
    a = augment(x, config, torch.Generator().manual_seed(7))
    b = augment(x, dataclasses.replace(config, onset_fraction=0.0), torch.Generator().manual_seed(7))
    assert torch.equal(a, b)
    with pytest.raises(ValueError, match="onset_fraction"):
        AugmentConfig(onset_fraction=1.5)


def test_short_windows_show_a_stretch_at_its_own_speed_centred_with_its_edge_poses_held():
    x = torch.arange(T, dtype=torch.float32).view(1, 1, T, 1, 1).expand(200, 1, T, 25, 3).contiguous()
    short = dataclasses.replace(AugmentConfig.off(), short_fraction=0.5, short_range=(0.25, 0.5))
    time_read = augment(x, short, torch.Generator().manual_seed(0))[:, 0, :, 0, 0]  # (N, T)
    cut = (time_read != torch.arange(T, dtype=torch.float32)).any(dim=1)
    assert 0.35 < cut.float().mean() < 0.65  # about half the windows
    for row in time_read[cut]:
        first, last = row[0], row[-1]
        held_before, held_after = int((row == first).sum()), int((row == last).sum())
        assert held_before > 1 and held_after > 1 and abs(held_before - held_after) <= 2  # centred
        inside = (row[:-1] > first) & (row[1:] < last)  # steps between two reads of the moving stretch
        steps = row.diff()[inside]
        assert steps.numel() > 0 and torch.allclose(steps, torch.ones_like(steps), atol=1e-4)  # one frame a frame
        assert 0.25 * (T - 1) - 1e-4 <= last - first <= 0.5 * (T - 1) + 1e-4
    with pytest.raises(ValueError, match="short_range"):
        AugmentConfig(short_range=(0.5, 1.2))


def test_short_windows_off_leave_the_random_stream_of_other_settings_alone():
    x = windows(4)
    config = AugmentConfig(jitter_std=0.01, onset_fraction=0.5)
    a = augment(x, config, torch.Generator().manual_seed(7))
    b = augment(x, dataclasses.replace(config, short_fraction=0.0, short_range=(0.1, 0.2)), torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_a_tracker_glitch_mixes_up_the_sides_for_one_stretch_of_frames():
    # Every joint's coordinates are its own index, so the output shows which joint each position was read from.
    x = torch.arange(25, dtype=torch.float32).view(1, 1, 1, 25, 1).expand(300, 1, T, 25, 3).contiguous()
    glitch = dataclasses.replace(AugmentConfig.off(), glitch_fraction=0.5)
    read = augment(x, glitch, torch.Generator().manual_seed(0))[:, 0, :, :, 0].long()  # (N, T, V)
    mixed = (read != torch.arange(25)).any(dim=2)  # (N, T) frames with a mix-up
    hit = mixed.any(dim=1)
    assert 0.35 < hit.float().mean() < 0.65  # about half the windows
    for frames, joints in zip(mixed[hit], read[hit]):
        where = frames.nonzero().flatten()
        assert 2 <= len(where) <= T // 2 and torch.equal(where, torch.arange(where[0], where[-1] + 1))  # one stretch
        assert (joints[frames] == joints[where[0]]).all()  # the same mix-up throughout it
        moved = {(int(v), int(r)) for v, r in enumerate(joints[where[0]]) if v != r}
        arms = {(5, 9), (9, 5), (6, 10), (10, 6), (7, 11), (11, 7), (21, 23), (23, 21), (22, 24), (24, 22)}
        legs = {(13, 17), (17, 13), (14, 18), (18, 14), (15, 19), (19, 15)}
        left_hand_on_right = {(6, 10), (7, 11), (21, 23), (22, 24)}
        right_hand_on_left = {(r, l) for l, r in left_hand_on_right}
        assert moved in (arms, legs, left_hand_on_right, right_hand_on_left)
    with pytest.raises(ValueError, match="glitch_fraction"):
        AugmentConfig(glitch_fraction=-0.1)


def test_glitches_off_leave_the_random_stream_of_other_settings_alone():
    x = windows(4)
    config = AugmentConfig(jitter_std=0.01, onset_fraction=0.5)
    a = augment(x, config, torch.Generator().manual_seed(7))
    b = augment(x, dataclasses.replace(config, glitch_fraction=0.0), torch.Generator().manual_seed(7))
    assert torch.equal(a, b)


def test_bone_rescaling_keeps_directions_and_treats_left_and_right_alike():
    x = windows(8, persons=2)
    x[5:, 1] = 0  # absent second persons
    out = augment(x, dataclasses.replace(AugmentConfig.off(), bone_scale_std=0.2), torch.Generator().manual_seed(0))
    ratio = bone_lengths(out) / bone_lengths(x).clamp_min(1e-6)  # (N, M, T, bones)
    assert ratio[:5].std() > 0.05
    # One factor per bone and window, the same at every frame and for both persons.
    assert torch.allclose(ratio[:5], ratio[:5, :1, :1].expand_as(ratio[:5]), atol=1e-3)
    names = [NTU25(c).name for c, _ in NTU25_BONES]
    left, right = names.index("ELBOW_LEFT"), names.index("ELBOW_RIGHT")  # the upper arms
    assert torch.allclose(ratio[:5, ..., left], ratio[:5, ..., right], atol=1e-3)
    child = torch.tensor([c for c, _ in NTU25_BONES])
    parent = torch.tensor([p for _, p in NTU25_BONES])
    before, after = (x[..., child, :] - x[..., parent, :]), (out[..., child, :] - out[..., parent, :])
    cosine = torch.nn.functional.cosine_similarity(before[:5], after[:5], dim=-1)
    assert cosine.min() > 1 - 1e-4
    assert torch.equal(out[5:, 1], torch.zeros_like(out[5:, 1]))
    root = NTU25.SPINE_SHOULDER
    assert torch.allclose(out[:5, :, :, root], x[:5, :, :, root], atol=1e-6)


def test_depth_squash_changes_only_the_depth_axis():
    x = windows(10)
    out = augment(x, dataclasses.replace(AugmentConfig.off(), depth_range=(0.5, 0.8)), torch.Generator().manual_seed(0))
    assert torch.allclose(out[..., :2], x[..., :2], atol=1e-6)
    factor = out[..., 2] / torch.where(x[..., 2].abs() > 1e-3, x[..., 2], torch.ones_like(x[..., 2]))
    factor = factor[x[..., 2].abs() > 1e-3]
    assert factor.min() >= 0.5 - 1e-4 and factor.max() <= 0.8 + 1e-4


def test_jitter_leaves_absent_persons_absent():
    x = torch.cat([windows(4), torch.zeros(4, 1, T, 25, 3)], dim=1)
    out = augment(x, AugmentConfig(jitter_std=0.05), torch.Generator().manual_seed(0))
    assert torch.equal(out[:, 1], torch.zeros_like(out[:, 1])) and not torch.allclose(out[:, 0], x[:, 0])


# ---------------------------------------------------------------- training


def test_training_on_separable_motions_reaches_high_accuracy_and_reports_validation(tmp_path):
    x, y = synthetic_actions(per_class=12)
    x_val, y_val = synthetic_actions(per_class=4, seed=1)
    records = []
    train = dataclasses.replace(QUICK, epochs=15, lr=0.1, warmup_epochs=1)
    model = train_backbone(x, y, 3, SMALL, train, tmp_path / "backbone.safetensors", progress=False,
                           validation=(x_val, y_val), on_epoch=records.append)
    assert not model.training
    predicted = model(torch.from_numpy(x)).argmax(1).numpy()
    assert (predicted == y).mean() >= 0.9
    assert [r["epoch"] for r in records] == list(range(1, 16))
    assert records[-1]["val_accuracy"] >= 0.8 and records[-1]["lr"] < 0.01
    features = extract_features(model, x, batch_size=7)
    assert features.shape == (len(x), SMALL.feature_dim) and features.dtype == np.float32
    assert np.allclose(features, model.features(torch.from_numpy(x)).detach().numpy(), atol=1e-5)
    rebuilt = load_backbone(tmp_path / "backbone.safetensors")
    assert np.allclose(extract_features(rebuilt, x), features, atol=1e-6)


def test_same_seed_gives_identical_weights_and_another_seed_does_not():
    x, y = synthetic_actions(per_class=6)
    first = state(train_backbone(x, y, 3, SMALL, QUICK, progress=False))
    assert_same_state(first, state(train_backbone(x, y, 3, SMALL, QUICK, progress=False)))
    other = state(train_backbone(x, y, 3, SMALL, dataclasses.replace(QUICK, seed=1), progress=False))
    assert not torch.equal(first["classifier.weight"], other["classifier.weight"])


def test_an_interrupted_run_resumes_to_the_same_final_weights(tmp_path):
    x, y = synthetic_actions(per_class=6)
    train = dataclasses.replace(QUICK, epochs=3, augment=AugmentConfig(jitter_std=0.01))
    config = dataclasses.replace(SMALL, dropout=0.3)  # dropout draws from torch's RNG: it must be restored too
    straight = state(train_backbone(x, y, 3, config, train, progress=False))

    def stop_after_first_epoch(record):
        if record["epoch"] == 1:
            raise KeyboardInterrupt

    path = tmp_path / "backbone.safetensors"
    with pytest.raises(KeyboardInterrupt):
        train_backbone(x, y, 3, config, train, path, progress=False, on_epoch=stop_after_first_epoch)
    resumed_epochs = []
    resumed = train_backbone(x, y, 3, config, train, path, progress=False, on_epoch=resumed_epochs.append)
    assert [r["epoch"] for r in resumed_epochs] == [2, 3]
    assert_same_state(straight, state(resumed))


def test_resuming_with_other_settings_is_refused_naming_them(tmp_path):
    x, y = synthetic_actions(per_class=4)
    path = tmp_path / "backbone.safetensors"
    train_backbone(x, y, 3, SMALL, dataclasses.replace(QUICK, epochs=1), path, progress=False)
    with pytest.raises(ValueError, match=r"train\.lr: saved 0\.05, now 0\.1"):
        train_backbone(x, y, 3, SMALL, dataclasses.replace(QUICK, epochs=1, lr=0.1), path, progress=False)
    with pytest.raises(ValueError, match=r"backbone\.channels"):
        train_backbone(x, y, 3, dataclasses.replace(SMALL, channels=(8, 8)), dataclasses.replace(QUICK, epochs=1), path, progress=False)


def test_a_checkpoint_saved_before_a_setting_existed_resumes_as_its_default(tmp_path):
    from safetensors import safe_open
    from safetensors.torch import save_file

    x, y = synthetic_actions(per_class=4)
    path = tmp_path / "backbone.safetensors"
    train_backbone(x, y, 3, SMALL, dataclasses.replace(QUICK, epochs=1), path, progress=False)
    with safe_open(str(path), "pt") as handle:  # as a run from before onset_fraction wrote it
        tensors = {key: handle.get_tensor(key) for key in handle.keys()}
        info = json.loads(handle.metadata()["info"])
    del info["settings"]["train"]["augment"]["onset_fraction"]
    save_file(tensors, str(path), metadata={"info": json.dumps(info)})
    train_backbone(x, y, 3, SMALL, dataclasses.replace(QUICK, epochs=1), path, progress=False)  # resumes, done
    with pytest.raises(ValueError, match=r"onset_fraction: saved 0\.0, now 0\.5"):
        train_backbone(x, y, 3, SMALL, dataclasses.replace(QUICK, epochs=1, augment=AugmentConfig(onset_fraction=0.5)),
                       path, progress=False)


def test_settings_of_an_unused_frequency_module_do_not_block_resuming(tmp_path):
    x, y = synthetic_actions(per_class=4)
    path = tmp_path / "backbone.safetensors"
    assert SMALL.frequency.placement == "none"
    train_backbone(x, y, 3, SMALL, dataclasses.replace(QUICK, epochs=1), path, progress=False)
    unused = dataclasses.replace(SMALL, frequency=dataclasses.replace(SMALL.frequency, n_bands=5, phi=2))
    train_backbone(x, y, 3, unused, dataclasses.replace(QUICK, epochs=1), path, progress=False)  # resumes, done


def test_training_data_are_checked_before_anything_runs():
    x, y = synthetic_actions(per_class=2)
    with pytest.raises(ValueError, match=r"labels must lie in 0\.\.1"):
        train_backbone(x, y, 2, SMALL, QUICK, progress=False)
    with pytest.raises(ValueError, match="T=16"):
        train_backbone(x[:, :, :8], y, 3, SMALL, QUICK, progress=False)
    empty = x.copy()
    empty[1] = 0
    with pytest.raises(ValueError, match=r"windows \[1\].*nobody"):
        train_backbone(empty, y, 3, SMALL, QUICK, progress=False)


def test_init_distributed_from_env_is_a_no_op_without_torchrun_variables(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert init_distributed_from_env() is False
    assert not torch.distributed.is_initialized()


def test_the_model_is_a_plain_module_built_by_code():
    model = build_backbone(SMALL, n_classes=4)
    assert isinstance(model, SkeletonGCN) and model.n_classes == 4 and model.config is SMALL
