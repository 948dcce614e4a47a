"""Evaluators: the interface, the real proxy, the fake, the cached and the tabular one."""

from gan_nas_env.evaluators.base import Evaluation, Evaluator
from gan_nas_env.evaluators.cached import CachedEvaluator
from gan_nas_env.evaluators.fake import FakeEvaluator
from gan_nas_env.evaluators.proxy import RealEvaluator

__all__ = ["CachedEvaluator", "Evaluation", "Evaluator", "FakeEvaluator", "RealEvaluator"]
