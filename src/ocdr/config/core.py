"""Load, validate and save experiment specs.

A spec is a dataclass (possibly nested). The layers are merged in this order, each one
validated against the dataclass so that an unknown key or a wrong type fails here, at load
time, with the key's name:

1. the dataclass defaults,
2. the YAML file given with ``-e spec.yaml``,
3. dotted overrides such as ``dataset.max_label_length=25``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Iterable, TypeVar

import yaml
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from ocdr.errors import ConfigError
from ocdr.fileio import atomic_write_text

T = TypeVar("T")

__all__ = ["load_spec", "save_spec", "spec_to_yaml", "spec_to_dict", "describe_spec"]


def _explain(exc: OmegaConfBaseException, source: str) -> ConfigError:
    key = getattr(exc, "full_key", None) or getattr(exc, "key", None)
    msg = str(exc).splitlines()[0]
    if type(exc).__name__ == "ConfigKeyError" or "not in struct" in msg or "Key '" in msg and "not in" in msg:
        return ConfigError(f"{source}: unknown key '{key}'")
    if key:
        return ConfigError(f"{source}: bad value for '{key}': {msg}")
    return ConfigError(f"{source}: {msg}")


def _read_yaml(path: Path) -> DictConfig:
    if not path.is_file():
        raise ConfigError(f"{path}: spec file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a spec must be a YAML mapping, got {type(data).__name__}")
    return OmegaConf.create(data)


def load_spec(schema: type[T], path: str | Path | None = None, overrides: Iterable[str] = (),
              validate: bool = True) -> T:
    """Build a ``schema`` instance from defaults, an optional YAML file and dotted overrides.

    Keys and types are always checked; ``validate=False`` skips the spec's own ``validate()``
    (value rules such as "input_dir is required"), for printing a template.
    """
    base = OmegaConf.structured(schema)
    OmegaConf.set_struct(base, True)
    layers: list[tuple[str, DictConfig]] = []
    if path is not None:
        layers.append((str(path), _read_yaml(Path(path))))
    overrides = list(overrides)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}': expected key=value, e.g. train.num_epochs=3")
    if overrides:
        try:
            layers.append(("command line", OmegaConf.from_dotlist(overrides)))
        except OmegaConfBaseException as exc:
            raise _explain(exc, "command line") from None
    merged = base
    for source, layer in layers:
        try:
            merged = OmegaConf.merge(merged, layer)
        except OmegaConfBaseException as exc:
            raise _explain(exc, source) from None
    try:
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise _explain(exc, "spec") from None
    check = getattr(obj, "validate", None)
    if validate and callable(check):
        check()
    return obj


def spec_to_dict(spec: Any) -> dict:
    """Plain nested dict of a spec (what checkpoints store)."""
    if dataclasses.is_dataclass(spec):
        return OmegaConf.to_container(OmegaConf.structured(spec), resolve=True, enum_to_str=True)
    return dict(spec)


def spec_to_yaml(spec: Any) -> str:
    """The spec (an instance or a dataclass type for its defaults) as YAML text."""
    if isinstance(spec, type):
        spec = spec()
    return yaml.safe_dump(spec_to_dict(spec), sort_keys=False, allow_unicode=True)


def save_spec(spec: Any, directory: str | Path, name: str = "spec.yaml") -> Path:
    """Write the resolved spec beside a result, atomically (temp file + rename)."""
    target = Path(directory) / name
    atomic_write_text(target, spec_to_yaml(spec))
    return target


def describe_spec(schema: type, prefix: str = "") -> list[tuple[str, str, str]]:
    """(dotted key, default, help) for every leaf of a spec dataclass, for ``--help``."""
    rows = []
    inst = schema()
    for f in dataclasses.fields(schema):
        value = getattr(inst, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            rows.extend(describe_spec(type(value), key + "."))
        else:
            rows.append((key, repr(value), f.metadata.get("help", "")))
    return rows
