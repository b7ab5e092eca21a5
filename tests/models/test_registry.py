"""The model registry: names, typed keyword arguments, clear errors."""
import pytest

from ocdr.errors import ConfigError
from ocdr.models.registry import build_model, list_models


def test_known_detectors():
    assert {"dbnet_resnet18", "dbnet_resnet18_dcn", "dbnet_resnet50", "dbnet_resnet50_dcn", "dbnet_tiny"} <= set(
        list_models("dbnet"))


def test_unknown_name_and_argument():
    with pytest.raises(ConfigError, match=r"unknown model 'dbnet_resnet19'; known: .*dbnet_resnet18"):
        build_model("dbnet_resnet19")
    with pytest.raises(ConfigError, match=r"model 'dbnet_tiny' takes no argument 'inner'; it takes: inner_channels"):
        build_model("dbnet_tiny", inner=3)
