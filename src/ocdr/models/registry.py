"""A small name -> builder registry (timm's ``register_model`` style).

Builders are plain functions with typed keyword arguments; ``build_model`` checks the keywords
against the builder's signature so that a typo fails at once with the valid names.
"""
from __future__ import annotations

import inspect
from typing import Callable

import torch.nn as nn

from ocdr.errors import ConfigError

__all__ = ["MODELS", "register_model", "build_model", "list_models"]

MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    if fn.__name__ in MODELS:
        raise RuntimeError(f"model '{fn.__name__}' registered twice")
    MODELS[fn.__name__] = fn
    return fn


def _ensure_loaded() -> None:
    # Importing the model modules fills the registry.
    import ocdr.models.detection.dbnet  # noqa: F401


def list_models(prefix: str = "") -> list[str]:
    _ensure_loaded()
    return sorted(n for n in MODELS if n.startswith(prefix))


def build_model(name: str, **kwargs) -> nn.Module:
    _ensure_loaded()
    if name not in MODELS:
        raise ConfigError(f"unknown model '{name}'; known: {', '.join(sorted(MODELS))}")
    fn = MODELS[name]
    params = inspect.signature(fn).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise ConfigError(f"model '{name}' takes no argument {', '.join(repr(u) for u in unknown)}; "
                              f"it takes: {', '.join(params)}")
    return fn(**kwargs)
