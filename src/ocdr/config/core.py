"""Load, validate and save experiment specs.

A spec is a dataclass (possibly nested). The layers are merged in this order, each one
validated against the dataclass so that an unknown key or a wrong type fails here, at load
time, with the key's name:

1. the dataclass defaults,
2. the YAML file given with ``-e spec.yaml``,
3. dotted overrides such as ``dataset.max_label_length=25``.

A file (or override) written in TAO's layout is translated first (``ocdr.config.tao``, one INFO line
per rewritten key); ``${...}`` interpolations resolve against defaults + file + command line, and a value
left ``??`` (TAO's "give it on the command line") is an error naming the key when the command reads it.
Every unknown key of every layer is reported at once, each with its file:line and a "did you mean".
"""
from __future__ import annotations

import dataclasses
import difflib
import logging
from pathlib import Path
from typing import Any, Iterable, TypeVar

import yaml
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import InterpolationToMissingValueError, OmegaConfBaseException

from ocdr.config.tao import TaoValueError, translate
from ocdr.errors import ConfigError
from ocdr.fileio import atomic_write_text

log = logging.getLogger("ocdr")

T = TypeVar("T")

__all__ = ["flat_keys", "load_spec", "save_spec", "spec_to_yaml", "spec_to_dict", "describe_spec"]


MISSING_MARKS = ("??", "???")   # TAO's "give it on the command line" and OmegaConf's MISSING


@dataclasses.dataclass
class _Layer:
    """One source of keys (the spec file or the command line) as flat ``dotted.key -> value``."""
    name: str
    flat: dict[str, Any]
    lines: dict[str, int] = dataclasses.field(default_factory=dict)

    def where(self, key: str) -> str:
        line = self.lines.get(key)
        while line is None and "." in key:        # a translated or nested key: its nearest written parent
            key = key.rsplit(".", 1)[0]
            line = self.lines.get(key)
        return f"{self.name}:{line}" if line else self.name


def _explain(exc: OmegaConfBaseException, layer: _Layer | None, source: str) -> ConfigError:
    key = getattr(exc, "full_key", None) or getattr(exc, "key", None)
    msg = str(exc).splitlines()[0]
    where = layer.where(str(key)) if layer is not None and key else source
    if type(exc).__name__ == "ConfigKeyError" or "not in struct" in msg or "Key '" in msg and "not in" in msg:
        return ConfigError(f"{where}: unknown key '{key}'")
    if key:
        return ConfigError(f"{where}: bad value for '{key}': {msg}")
    return ConfigError(f"{where}: {msg}")


def _key_lines(text: str) -> dict[str, int]:
    """1-based line of every mapping key, by dotted path (for file:line in messages)."""
    lines: dict[str, int] = {}

    def walk(node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                path = f"{prefix}{key.value}"
                lines[path] = key.start_mark.line + 1
                walk(value, path + ".")
    try:
        walk(yaml.compose(text, Loader=yaml.SafeLoader), "")
    except yaml.YAMLError:
        pass
    return lines


def _read_yaml(path: Path) -> tuple[dict, dict[str, int]]:
    if not path.is_file():
        raise ConfigError(f"{path}: spec file not found")
    try:
        text = path.read_text(encoding="utf-8-sig")
        data = yaml.safe_load(text)
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
    return data, _key_lines(text)


def flat_keys(data: dict, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``; lists and empty dicts are leaves."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flat_keys(value, path + "."))
        else:
            out[path] = value
    return out


def _nest(flat: dict[str, Any]) -> dict:
    out: dict = {}
    for path, value in flat.items():
        node = out
        *parents, leaf = path.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _is_missing(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip() in MISSING_MARKS
    return isinstance(value, list) and any(_is_missing(v) for v in value)


def _cli_layer(overrides: list[str]) -> _Layer:
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}': expected key=value, e.g. train.num_epochs=3")
        key, value = item.split("=", 1)
        try:  # OmegaConf reads each value as YAML: name the override whose value is not YAML
            yaml.safe_load(value)
        except yaml.YAMLError as exc:
            problem = str(getattr(exc, "problem", None) or exc).splitlines()[0]
            raise ConfigError(f"override '{item}': the value is not valid YAML ({problem}); quote it "
                              f"as YAML, e.g. {key}=\"{value}\"") from None
    try:
        data = OmegaConf.to_container(OmegaConf.from_dotlist(overrides), resolve=False)
    except OmegaConfBaseException as exc:
        raise _explain(exc, None, "command line") from None
    return _Layer("command line", flat_keys(data))


def _put(cfg: DictConfig, key: str, value: Any, layer: _Layer) -> None:
    try:
        OmegaConf.update(cfg, key, value, merge=False, force_add=True)
    except OmegaConfBaseException:
        raise ConfigError(f"{layer.where(key)}: unknown key '{key}' (a part of it is a value, not a section)") from None


def _resolve(schema: type, layers: list[_Layer]) -> dict[str, str]:
    """Resolve ``${...}`` in every layer's values (against defaults + file + command line, as TAO's specs
    expect); returns {key: why} for values left ``??``, directly or through an interpolation."""
    combined = OmegaConf.create(spec_to_dict(schema()))
    missing_keys = set()
    for layer in layers:
        for key, value in layer.flat.items():
            missing_keys.discard(key)
            if _is_missing(value):
                missing_keys.add(key)
            else:
                _put(combined, key, value, layer)
    for key in missing_keys:
        _put(combined, key, "???", layers[0])
    missing: dict[str, str] = {}
    for layer in layers:
        for key in list(layer.flat):
            if key in missing_keys:
                missing[key] = "is '??'"
                del layer.flat[key]
                continue
            try:
                node = OmegaConf.select(combined, key, throw_on_missing=True)
                if isinstance(node, (DictConfig, ListConfig)):
                    node = OmegaConf.to_container(node, resolve=True, throw_on_missing=True)
            except InterpolationToMissingValueError as exc:
                missing[key] = f"refers to a value that is '??' ({str(exc).splitlines()[0].rsplit(': ', 1)[-1]})"
                del layer.flat[key]
                continue
            except OmegaConfBaseException as exc:
                raise ConfigError(f"{layer.where(key)}: {key}: {str(exc).splitlines()[0]}") from None
            layer.flat[key] = node
    return missing


def _check_missing(missing: dict[str, str], layers: list[_Layer], sections: Iterable[str] | None,
                   file_sections: set[str]) -> None:
    """A ``??`` the command reads is an error naming the key; one in another command's section is dropped."""
    needed = []
    for key, why in sorted(missing.items()):
        top = key.split(".", 1)[0]
        if sections is None or top in sections or top not in file_sections:
            where = next((layer.where(key) for layer in layers if key in layer.lines), "spec")
            needed.append(f"{where}: {key} {why}: give it, e.g. {key}=VALUE on the command line")
        else:
            log.debug("%s %s: not read by this command", key, why)
    if needed:
        raise ConfigError("\n".join(needed) if len(needed) == 1 else
                          f"{len(needed)} values must be given:\n  " + "\n  ".join(needed))


def _translate(schema: type, layer: _Layer) -> None:
    layout = getattr(schema, "tao_layout", None)
    if layout is None:
        return
    try:
        flat, notes, origin = translate(layer.flat, layout)
    except TaoValueError as exc:
        raise ConfigError(f"{layer.where(exc.key or '')}: {exc.key}: {exc}") from None
    for note in notes:
        (log.info if note.level == "info" else log.warning)("%s: %s", layer.where(note.key), note.text)
    lines = dict(layer.lines)
    for key, src in origin.items():     # a translated key keeps its TAO key's line
        if src in layer.lines:
            lines[key] = layer.lines[src]
    layer.flat, layer.lines = flat, lines


def _schema_leaves(inst: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in dataclasses.fields(inst):
        value = getattr(inst, f.name)
        if dataclasses.is_dataclass(value):
            out.update(_schema_leaves(value, f"{prefix}{f.name}."))
        else:
            out[f"{prefix}{f.name}"] = value
    return out


def _suggest(key: str, leaves: dict[str, Any]) -> str:
    parent, _, name = key.rpartition(".")
    siblings = {k.rpartition(".")[2]: k for k in leaves if k.rpartition(".")[0] == parent}
    sections = {k.split(".")[0] for k in leaves}
    close = difflib.get_close_matches(name, list(siblings), n=1, cutoff=0.6)
    if close:
        return siblings[close[0]]
    by_name = [k for k in leaves if k.rpartition(".")[2] == name]
    if by_name:
        return by_name[0]
    close = difflib.get_close_matches(key, list(leaves) + sorted(sections), n=1, cutoff=0.6)
    return close[0] if close else ""


def _check_keys(schema: type, layers: list[_Layer]) -> None:
    """Every unknown key of every layer at once, each with its file:line and a "did you mean"; a single
    string where the spec has a list becomes a one-item list."""
    leaves = _schema_leaves(schema())
    problems = []
    for layer in layers:
        for key, value in list(layer.flat.items()):
            if key in leaves:
                if isinstance(leaves[key], list) and isinstance(value, str):
                    layer.flat[key] = [value]
                continue
            hint = _suggest(key, leaves)
            problems.append(f"{layer.where(key)}: unknown key '{key}'" + (f" (did you mean '{hint}'?)" if hint else ""))
    if problems:
        raise ConfigError(problems[0] if len(problems) == 1 else
                          f"{len(problems)} unknown keys:\n  " + "\n  ".join(problems))


def load_spec(schema: type[T], path: str | Path | None = None, overrides: Iterable[str] = (),
              validate: bool = True, sections: Iterable[str] | None = None) -> T:
    """Build a ``schema`` instance from defaults, an optional YAML file and dotted overrides.

    Keys and types are always checked; ``validate=False`` skips the spec's own ``validate()``
    (value rules such as "input_dir is required"), for printing a template. ``sections``: the spec
    sections the command reads; a ``??`` left in another section is not an error.
    """
    layers: list[_Layer] = []
    file_sections: set[str] = set()
    if path is not None:
        data, lines = _read_yaml(Path(path))
        file_sections = {k for k, v in data.items() if isinstance(v, dict)}
        layers.append(_Layer(str(path), flat_keys(data), lines))
    layers.append(_cli_layer(list(overrides)))
    missing = _resolve(schema, layers)
    _check_missing(missing, layers, sections, file_sections)
    for layer in layers:
        _translate(schema, layer)
    _check_keys(schema, layers)
    merged = OmegaConf.structured(schema)
    OmegaConf.set_struct(merged, True)
    for layer in layers:
        try:
            merged = OmegaConf.merge(merged, OmegaConf.create(_nest(layer.flat)))
        except OmegaConfBaseException as exc:
            raise _explain(exc, layer, layer.name) from None
    try:
        obj = OmegaConf.to_object(merged)
    except OmegaConfBaseException as exc:
        raise _explain(exc, None, "spec") from None
    derive = getattr(obj, "derive_defaults", None)
    if callable(derive):
        derive({key for layer in layers for key in layer.flat})
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
    return _describe(schema(), prefix)


def _describe(inst: Any, prefix: str) -> list[tuple[str, str, str]]:
    # recurse on the instance, not the type: a section's defaults can differ from its class's own
    # (OcdnetSpec's train section is TrainSpec(batch_size=4, ...)), and --help must show what runs
    rows = []
    for f in dataclasses.fields(inst):
        value = getattr(inst, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            rows.extend(_describe(value, key + "."))
        else:
            rows.append((key, repr(value), f.metadata.get("help", "")))
    return rows
