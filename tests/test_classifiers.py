"""Zero-shot classifiers score classes the way they promise."""

import torch

from fsvae_core.classifiers import PrototypeClassifier, fit_latent_softmax, fit_linear_softmax
from fsvae_core.frequency import FrequencyConfig
from fsvae_core.model import FSVAE, VAEConfig


def test_prototype_rule_picks_the_class_with_the_most_similar_direction():
    classifier = PrototypeClassifier(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
    latents = torch.tensor([[3.0, 0.1], [0.1, 0.2], [-1.0, 0.0]])
    assert classifier.predict(latents).tolist() == [0, 1, 1]
    assert torch.allclose(classifier.scores(torch.tensor([[0.0, 5.0]])), torch.tensor([[0.0, 1.0]]))


def test_latent_softmax_separates_classes_the_text_vae_separates():
    torch.manual_seed(0)
    model = FSVAE(VAEConfig(skeleton_dim=6, text_dim=4, latent_dim=4,
                            skeleton_frequency=FrequencyConfig(placement="none"),
                            text_frequency=FrequencyConfig(placement="none")))
    with torch.no_grad():  # an encoder that copies the text and is nearly certain of it
        model.text_encoder.to_mu.weight.copy_(torch.eye(4))
        model.text_encoder.to_mu.bias.zero_()
        model.text_encoder.to_logvar.bias.fill_(-8.0)
    class_text = torch.eye(4) * 3
    layer = fit_latent_softmax(model, class_text, samples_per_class=50, epochs=200, lr=0.05)
    assert layer(class_text).argmax(1).tolist() == [0, 1, 2, 3]


def test_linear_softmax_accepts_raw_unscaled_features():
    torch.manual_seed(0)
    labels = torch.arange(3).repeat(40)
    x = torch.randn(120, 5) + 100.0  # far from zero: the classifier standardises internally
    x[torch.arange(120), labels] += 3.0
    layer = fit_linear_softmax(x, labels, 3, epochs=300)
    assert (layer(x).argmax(1) == labels).float().mean() > 0.9
