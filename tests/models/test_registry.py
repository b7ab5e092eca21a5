"""The model registry: names, typed keyword arguments, clear errors."""
import pytest
import torch.nn as nn

from ocdr.errors import ConfigError
from ocdr.models import registry
from ocdr.models.registry import build_model, list_models, register_model


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the filled registry, so test builders vanish afterwards. Filling it first keeps
    the real models from registering into the copy only (a module is imported once)."""
    list_models()
    monkeypatch.setattr(registry, "MODELS", dict(registry.MODELS))


def test_known_detectors():
    assert {"dbnet_resnet18", "dbnet_resnet18_dcn", "dbnet_resnet50", "dbnet_resnet50_dcn", "dbnet_tiny"} <= set(
        list_models("dbnet"))
    assert list_models("no_such_prefix") == []


def test_unknown_name_and_argument():
    with pytest.raises(ConfigError, match=r"unknown model 'dbnet_resnet19'; known: .*dbnet_resnet18"):
        build_model("dbnet_resnet19")
    with pytest.raises(ConfigError, match=r"model 'dbnet_tiny' takes no argument 'inner'; it takes: inner_channels"):
        build_model("dbnet_tiny", inner=3)


def test_keywords_reach_the_builder():
    model = build_model("dbnet_tiny", inner_channels=16, base=4)
    assert model.backbone.conv1.out_channels == 4 and model.neck.lateral[0].out_channels == 16


def test_missing_required_argument_is_a_config_error(scratch_registry):

    @register_model
    def needs_width(width: int) -> nn.Module:
        return nn.Linear(width, 1)

    with pytest.raises(ConfigError, match=r"model 'needs_width': missing a required argument: 'width'"):
        build_model("needs_width")
    assert build_model("needs_width", width=3).in_features == 3


def test_two_builders_with_one_name_are_refused(scratch_registry):
    with pytest.raises(RuntimeError, match="'dbnet_tiny' registered twice"):
        @register_model
        def dbnet_tiny() -> nn.Module:
            return nn.Identity()
