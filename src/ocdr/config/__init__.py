"""Typed experiment specs: dataclasses merged with YAML files and dotted overrides (OmegaConf)."""
from ocdr.config.core import describe_spec, load_spec, save_spec, spec_to_dict, spec_to_yaml

__all__ = ["load_spec", "save_spec", "spec_to_yaml", "spec_to_dict", "describe_spec"]
