"""Training is deterministic given a seed, checkpoints atomically, and resumes where it stopped."""

import pytest
import torch

from fsvae_core.checkpoint import CheckpointError, load_checkpoint, read_checkpoint_info
from fsvae_core.frequency import FrequencyConfig
from fsvae_core.model import FSVAE, VAEConfig
from fsvae_core.train import TrainConfig, train_vaes

BANDS = FrequencyConfig(n_bands=4, phi=4)


def small_problem():
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(4).repeat(30)
    class_text = torch.nn.functional.normalize(torch.randn(4, 24, generator=generator), dim=1)
    features = class_text[labels] @ torch.randn(24, 16, generator=generator) + 0.1 * torch.randn(120, 16, generator=generator)
    return features, labels, class_text


def new_model():
    torch.manual_seed(0)
    return FSVAE(VAEConfig(skeleton_dim=16, text_dim=24, latent_dim=8, skeleton_frequency=BANDS, text_frequency=BANDS))


CONFIG = TrainConfig(cycles=3, steps_per_cycle=20, batch_size=16, seed=7)


def weights(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_same_seed_gives_identical_weights():
    a = train_vaes(new_model(), *small_problem(), CONFIG, progress=False)
    b = train_vaes(new_model(), *small_problem(), CONFIG, progress=False)
    for name, value in weights(a.model).items():
        assert torch.equal(value, b.model.state_dict()[name]), name


def test_training_lowers_the_loss():
    result = train_vaes(new_model(), *small_problem(), TrainConfig(cycles=2, steps_per_cycle=100, batch_size=16), progress=False)
    assert result.history[-1]["recon_s"] < result.history[0]["recon_s"]


def test_the_best_cycle_by_validation_score_is_kept():
    scores = iter([0.2, 0.9, 0.1])
    result = train_vaes(new_model(), *small_problem(), CONFIG, evaluate=lambda model: next(scores), progress=False)
    assert result.best_cycle == 2 and result.best_score == 0.9
    assert [h["score"] for h in result.history] == [0.2, 0.9, 0.1]


def test_an_interrupted_run_resumes_to_the_same_result(tmp_path):
    uninterrupted = train_vaes(new_model(), *small_problem(), CONFIG, progress=False)

    checkpoint = tmp_path / "run.ckpt.safetensors"
    calls = []

    def interrupt_in_cycle_two(model):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return float(len(calls))

    with pytest.raises(KeyboardInterrupt):
        train_vaes(new_model(), *small_problem(), CONFIG, evaluate=interrupt_in_cycle_two, checkpoint_path=checkpoint, progress=False)
    assert read_checkpoint_info(checkpoint)["cycles_done"] == 1

    resumed = train_vaes(new_model(), *small_problem(), CONFIG, evaluate=lambda m: float(len(calls) + 1), checkpoint_path=checkpoint, progress=False)
    assert [h["cycle"] for h in resumed.history] == [1, 2, 3]
    final, _ = load_checkpoint(checkpoint)
    for name, value in weights(uninterrupted.model).items():
        assert torch.equal(value.cpu(), final["model"][name]), name  # checkpoints load on the CPU


def test_resuming_with_other_settings_is_refused(tmp_path):
    checkpoint = tmp_path / "run.ckpt.safetensors"
    train_vaes(new_model(), *small_problem(), CONFIG, checkpoint_path=checkpoint, progress=False)
    other = TrainConfig(cycles=3, steps_per_cycle=20, batch_size=16, seed=8)
    with pytest.raises(ValueError, match="other training settings"):
        train_vaes(new_model(), *small_problem(), other, checkpoint_path=checkpoint, progress=False)


def test_resuming_with_another_class_text_is_refused(tmp_path):
    checkpoint = tmp_path / "run.ckpt.safetensors"
    features, labels, class_text = small_problem()
    train_vaes(new_model(), features, labels, class_text, CONFIG, checkpoint_path=checkpoint, progress=False)
    with pytest.raises(ValueError, match="another class text"):
        train_vaes(new_model(), features, labels, class_text.roll(1, dims=0), CONFIG, checkpoint_path=checkpoint,
                   progress=False)
    # the same text, recomputed with float noise, resumes
    train_vaes(new_model(), features, labels, class_text + 1e-6, CONFIG, checkpoint_path=checkpoint, progress=False)


def test_resuming_with_a_class_text_of_another_width_says_the_text_changed(tmp_path):
    checkpoint = tmp_path / "run.ckpt.safetensors"
    features, labels, class_text = small_problem()
    train_vaes(new_model(), features, labels, class_text, CONFIG, checkpoint_path=checkpoint, progress=False)
    narrower = FSVAE(VAEConfig(skeleton_dim=16, text_dim=16, latent_dim=8, skeleton_frequency=BANDS, text_frequency=BANDS))
    with pytest.raises(ValueError, match="another class text"):
        train_vaes(narrower, features, labels, class_text[:, :16], CONFIG, checkpoint_path=checkpoint, progress=False)


def test_a_damaged_checkpoint_is_named(tmp_path):
    checkpoint = tmp_path / "run.ckpt.safetensors"
    checkpoint.write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError, match="run.ckpt.safetensors"):
        train_vaes(new_model(), *small_problem(), CONFIG, checkpoint_path=checkpoint, progress=False)


def test_mismatched_inputs_are_refused():
    features, labels, class_text = small_problem()
    with pytest.raises(ValueError, match="labels must index"):
        train_vaes(new_model(), features, labels + 4, class_text, CONFIG, progress=False)
