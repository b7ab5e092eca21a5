"""A small name -> builder registry (timm's ``register_model`` style).

Builders are plain functions with typed keyword arguments; ``build_model`` checks the keywords
against the builder's signature so that a typo fails at once, naming the valid arguments.
"""
from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Callable

import torch.nn as nn

from ocdr.errors import ConfigError

__all__ = ["MODELS", "register_model", "build_model", "list_models"]

MODELS: dict[str, Callable[..., nn.Module]] = {}

# Packages whose modules register builders when imported.
_MODEL_PACKAGES = ("ocdr.models.detection", "ocdr.models.recognition", "ocdr.models.imported")


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Decorator: register ``fn`` under its function name."""
    if fn.__name__ in MODELS and MODELS[fn.__name__] is not fn:
        raise RuntimeError(f"model '{fn.__name__}' registered twice")
    MODELS[fn.__name__] = fn
    return fn


def _ensure_loaded() -> None:
    # Importing every module of the model packages fills the registry, so a new model file needs
    # no entry here. An import error propagates: a broken model file should not hide silently.
    for package_name in _MODEL_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.iter_modules(package.__path__):
            importlib.import_module(f"{package_name}.{info.name}")


def list_models(prefix: str = "") -> list[str]:
    _ensure_loaded()
    return sorted(n for n in MODELS if n.startswith(prefix))


def build_model(name: str, **kwargs) -> nn.Module:
    """Build a registered model; an unknown name or keyword raises :class:`ConfigError`."""
    _ensure_loaded()
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}'; known: {', '.join(sorted(MODELS))}")
    fn = MODELS[name]
    signature = inspect.signature(fn)
    params = signature.parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise ConfigError(f"model '{name}' takes no argument {', '.join(repr(u) for u in unknown)}; "
                              f"it takes: {', '.join(params)}")
    try:
        signature.bind(**kwargs)
    except TypeError as exc:  # e.g. a required argument left out
        raise ConfigError(f"model '{name}': {exc}; it takes: {', '.join(params)}") from None
    return fn(**kwargs)
