"""Evaluators: the interface, the real proxy, the fake, the cached and the tabular one.

The implementations load lazily (PEP 562), so the tabular benchmark env, which needs
only :mod:`~gan_nas_env.evaluators.base` and :mod:`~gan_nas_env.evaluators.tabular`,
starts without importing torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gan_nas_env.evaluators.base import Evaluation, Evaluator

if TYPE_CHECKING:
    from gan_nas_env.evaluators.cached import CachedEvaluator
    from gan_nas_env.evaluators.fake import FakeEvaluator
    from gan_nas_env.evaluators.proxy import RealEvaluator

_LAZY = {"CachedEvaluator": "cached", "FakeEvaluator": "fake", "RealEvaluator": "proxy"}

__all__ = ["CachedEvaluator", "Evaluation", "Evaluator", "FakeEvaluator", "RealEvaluator"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"gan_nas_env.evaluators.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
