"""Typed experiment specs: dataclasses merged with YAML files and dotted overrides (OmegaConf)."""
from ocdr.config.core import load_spec, save_spec, spec_to_yaml, describe_spec

__all__ = ["load_spec", "save_spec", "spec_to_yaml", "describe_spec"]
