"""Classic NAS baselines behind one ask/tell interface (NASLib style) that outside methods implement.

An :class:`Optimizer` proposes complete architectures (:meth:`~Optimizer.ask`) and is told
the objective each one scored (:meth:`~Optimizer.tell`, higher is better; NaN for a
diverged one). That is all a method needs to join ``gan-nas benchmark``: the harness spends
one episode of the same env, and one unit of the same budget, on every ask, exactly as for
the RL agents. Outside the harness, :func:`optimize` runs one against any callable, such
as ``GANBench.query``::

    from agents.optimizers import make_optimizer, optimize
    from gan_nas_env.bench import GANBench

    bench = GANBench.load()
    history = optimize(make_optimizer("ls", seed=0),
                       lambda a: bench.query(a, fidelity="final")["objective"], budget=100)

A new method subclasses :class:`Optimizer` and is registered in :data:`OPTIMIZERS`
(``OPTIMIZERS.register("mine", Mine)``), or named on the command line as
``module:Class`` (``gan-nas benchmark --algos re,my_pkg.search:Mine``).

| name | method | defaults |
|---|---|---|
| ``random`` | uniform random search; draws the same architectures as the SB3-style ``random`` agent of the same seed | |
| ``re`` | regularized evolution (Real et al., 2019): tournament of ``sample_size`` from the last ``population_size``, the winner mutated in one decision | 10, 3 (NATS-Bench's REA) |
| ``ls`` | local search: ``num_init`` random architectures, then best-improvement climbing over the one-decision neighbours, a random restart at a local optimum | 10 (NASLib's) |
| ``tpe`` | Optuna's TPE sampler over the 14 decisions (``pip install -e ".[baselines]"``) | Optuna's |

A *decision* is one integer of the 14-integer vector (conv, norm, up, shortcut of each
cell, the skip of cells 2 and 3): an architecture has 22 one-decision neighbours.
"""

from __future__ import annotations

import importlib
import inspect
import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from gan_nas_env.config import ConfigError
from gan_nas_env.errors import UserError
from gan_nas_env.registry import Registry
from gan_nas_env.space import ACTION_NVEC, NUM_CELLS, SPACE, Architecture, cell_from_action

__all__ = ["OPTIMIZERS", "TPE", "LocalSearch", "Optimizer", "RandomSearch", "RegularizedEvolution",
           "best_of", "is_optimizer", "make_optimizer", "mutate", "neighbours", "optimize",
           "optimizer_class"]



def neighbours(arch: Architecture) -> list[Architecture]:
    """Every architecture that differs from ``arch`` in exactly one decision (22 of them)."""
    vec = arch.to_vector()
    out = []
    for j, n in enumerate(SPACE.radices()):
        for v in range(n):
            if v != vec[j]:
                out.append(Architecture.from_vector([*vec[:j], v, *vec[j + 1:]]))
    return out


def mutate(arch: Architecture, rng: np.random.Generator) -> Architecture:
    """``arch`` with one uniformly chosen decision set to another uniformly chosen value."""
    vec, radices = arch.to_vector(), SPACE.radices()
    j = int(rng.integers(len(vec)))
    v = int(rng.integers(radices[j] - 1))
    vec[j] = v if v < vec[j] else v + 1
    return Architecture.from_vector(vec)


def _finite(value: float) -> float:
    """A told value as something to rank: NaN (diverged) and None rank last."""
    return float(value) if value is not None and math.isfinite(value) else -math.inf


class Optimizer(ABC):
    """A search method in ask/tell form: propose complete architectures, learn their objective.

    Calls alternate ``ask``, ``tell``, ``ask``, ...; every ``ask`` costs one evaluation of the
    budget, whether or not the architecture was asked before.

    :param seed: seeds every random choice (same seed, same values told: same asks).
    """

    def __init__(self, seed: int = 0) -> None:
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)

    @abstractmethod
    def ask(self) -> Architecture:
        """The next complete architecture to evaluate."""

    @abstractmethod
    def tell(self, arch: Architecture, value: float) -> None:
        """The objective ``arch`` scored (higher is better; NaN when it diverged)."""


class RandomSearch(Optimizer):
    """Uniform random search (with replacement).

    Draws each cell as the env's action space would (six integers per cell, the skip bits a
    cell cannot use ignored), so that it asks exactly the architectures the SB3-style
    ``random`` agent (:class:`agents.random_search.RandomSearch`) builds with the same seed.
    """

    def ask(self) -> Architecture:
        """A uniformly random architecture."""
        return Architecture(tuple(cell_from_action([int(self.rng.integers(n)) for n in ACTION_NVEC], i)
                                  for i in range(NUM_CELLS)))

    def tell(self, arch: Architecture, value: float) -> None:
        """Nothing to learn."""


class RegularizedEvolution(Optimizer):
    """Regularized (aging) evolution, Real et al. 2019, as NASLib and NATS-Bench run it.

    The first ``population_size`` asks are uniformly random; afterwards each ask samples
    ``sample_size`` members of the population (the last ``population_size`` told), and
    mutates the best of them in one decision (:func:`mutate`). The oldest member dies when
    a child is told.

    :param population_size: members alive at once.
    :param sample_size: tournament size.
    """

    def __init__(self, seed: int = 0, population_size: int = 10, sample_size: int = 3) -> None:
        super().__init__(seed)
        if not 1 <= sample_size <= population_size:
            raise ConfigError(f"re: need 1 <= sample_size ({sample_size}) <= population_size "
                              f"({population_size})")
        self.population_size, self.sample_size = int(population_size), int(sample_size)
        self.population: deque[tuple[Architecture, float]] = deque()
        self._told = 0

    def ask(self) -> Architecture:
        """A random architecture while the population fills, then a mutated tournament winner."""
        if self._told < self.population_size:
            return SPACE.sample(self.rng)
        members = list(self.population)
        picked = self.rng.choice(len(members), size=self.sample_size, replace=False)
        parent = max((members[int(i)] for i in picked), key=lambda m: m[1])[0]
        return mutate(parent, self.rng)

    def tell(self, arch: Architecture, value: float) -> None:
        """Add ``arch`` to the population; the oldest member dies beyond ``population_size``."""
        self._told += 1
        self.population.append((arch, _finite(value)))
        if len(self.population) > self.population_size:
            self.population.popleft()


class LocalSearch(Optimizer):
    """Best-improvement local search over one-decision neighbours, with random restarts.

    ``num_init`` random architectures first; the best becomes the centre. Its neighbours
    (:func:`neighbours`) not evaluated before are asked in a random order; the values of
    those already known are reused (the tabular benchmark is deterministic, so asking again
    would only spend budget). Once all are known the search moves to the best neighbour if
    it beats the centre, and otherwise (a local optimum) restarts from one new random
    architecture.

    :param num_init: random architectures before the first climb.
    """

    def __init__(self, seed: int = 0, num_init: int = 10) -> None:
        super().__init__(seed)
        if num_init < 1:
            raise ConfigError(f"ls: num_init must be >= 1, not {num_init}")
        self.num_init = int(num_init)
        self.known: dict[str, float] = {}
        self._random_left = self.num_init  # random asks left in this (re)start
        self._start: tuple[Architecture, float] | None = None  # best random one of this start
        self._centre: tuple[Architecture, float] | None = None
        self._queue: list[Architecture] = []
        self.restarts = 0

    def ask(self) -> Architecture:
        """The next unknown neighbour of the centre, or a random (re)start architecture."""
        if self._queue:
            return self._queue[-1]
        for _ in range(100):  # an unknown random architecture if one comes quickly
            arch = SPACE.sample(self.rng)
            if str(arch) not in self.known:
                break
        return arch

    def tell(self, arch: Architecture, value: float) -> None:
        """Record the value; move, restart or keep climbing."""
        v = _finite(value)
        key = str(arch)
        self.known[key] = max(v, self.known.get(key, -math.inf))
        if self._queue and str(self._queue[-1]) == key:
            self._queue.pop()
            if not self._queue:
                self._step()
            return
        # a random architecture of the initial sample or of a restart
        if self._start is None or v > self._start[1]:
            self._start = (arch, v)
        self._random_left -= 1
        if self._random_left <= 0:
            self._centre, self._start = self._start, None
            self._climb()

    def _climb(self) -> None:
        """Queue the centre's unknown neighbours; with none left, move or restart at once."""
        while True:
            assert self._centre is not None
            nbhd = [a for a in neighbours(self._centre[0]) if str(a) not in self.known]
            if nbhd:
                self._queue = [nbhd[int(i)] for i in self.rng.permutation(len(nbhd))]
                return
            if not self._move():
                return

    def _step(self) -> None:
        """Every neighbour is known: move to the best one if it improves, else restart."""
        if self._move():
            self._climb()

    def _move(self) -> bool:
        """Move the centre to its best neighbour; False (and a restart) at a local optimum."""
        assert self._centre is not None
        best = max(neighbours(self._centre[0]), key=lambda a: self.known[str(a)])
        value = self.known[str(best)]
        if value > self._centre[1]:
            self._centre = (best, value)
            return True
        self._centre, self._random_left = None, 1
        self.restarts += 1
        return False


class TPE(Optimizer):
    """Optuna's Tree-structured Parzen Estimator over the 14 decisions (one categorical each).

    Uses Optuna's ask/tell API with ``TPESampler(seed=seed)`` and its defaults (10 random
    start-up trials); a diverged architecture is told as a failed trial. Needs the
    ``baselines`` extra (``pip install -e ".[baselines]"``).

    :param sampler_kwargs: more keyword arguments of ``optuna.samplers.TPESampler``.
    """

    def __init__(self, seed: int = 0, **sampler_kwargs: Any) -> None:
        super().__init__(seed)
        try:
            import optuna
        except ImportError:
            raise UserError('tpe needs Optuna: pip install -e ".[baselines]"') from None
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self._optuna = optuna
        self.study = optuna.create_study(direction="maximize",
                                         sampler=optuna.samplers.TPESampler(seed=self.seed, **sampler_kwargs))
        self._pending: dict[str, list[Any]] = {}
        names = []
        for i in range(NUM_CELLS):
            names += [f"cell{i + 1}_{f}" for f in ("conv", "norm", "up", "shortcut", "skip")[:4 + (i > 0)]]
        self._names = names

    def ask(self) -> Architecture:
        """The architecture of a new Optuna trial."""
        trial = self.study.ask()
        vec = [trial.suggest_categorical(name, list(range(n))) for name, n in zip(self._names, SPACE.radices())]
        arch = Architecture.from_vector([int(v) for v in vec])
        self._pending.setdefault(str(arch), []).append(trial)
        return arch

    def tell(self, arch: Architecture, value: float) -> None:
        """Complete the trial that asked ``arch`` (failed when the value is not finite)."""
        trials = self._pending.get(str(arch))
        if not trials:
            raise UserError(f"tpe was told {arch}, which it did not ask")
        trial = trials.pop(0)
        if value is not None and math.isfinite(value):
            self.study.tell(trial, float(value))
        else:
            self.study.tell(trial, state=self._optuna.trial.TrialState.FAIL)


OPTIMIZERS: Registry[type[Optimizer]] = Registry("optimizer")
_BUILTIN: dict[str, type[Optimizer]] = {"random": RandomSearch, "re": RegularizedEvolution,
                                        "ls": LocalSearch, "tpe": TPE}
for _name, _cls in _BUILTIN.items():
    OPTIMIZERS.register(_name, _cls)


def is_optimizer(name: str) -> bool:
    """True for a registered optimizer name or a ``module:Class`` naming an :class:`Optimizer`."""
    return name in OPTIMIZERS or ":" in name


def optimizer_class(name: str) -> type[Optimizer]:
    """The class of a registered name, or of ``module:Class`` (an outside method).

    :raises UnknownNameError: an unknown name (the message lists the known ones).
    :raises ConfigError: a ``module:Class`` that cannot be imported or is no :class:`Optimizer`.
    """
    if ":" not in name:
        return OPTIMIZERS.get(name)
    module, _, attr = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"optimizer {name!r} cannot be loaded: {exc}") from None
    if not (inspect.isclass(cls) and issubclass(cls, Optimizer)):
        raise ConfigError(f"{name!r} is not a subclass of agents.optimizers.Optimizer")
    return cls


_KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def _same_kind(value: Any, default: Any) -> bool:
    """Whether ``value`` may stand where a constructor's ``default`` does (only scalar defaults are checked)."""
    kind = type(default)
    if kind not in _KIND_NAMES:  # no default, None or a container: the constructor decides
        return True
    if kind is bool or isinstance(value, bool):
        return isinstance(value, bool) and kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def make_optimizer(name: str, seed: int = 0, **params: Any) -> Optimizer:
    """The optimizer ``name`` (see :func:`optimizer_class`) with ``params`` as keyword arguments.

    :raises ConfigError: a parameter its constructor does not take, or of another type than
        that parameter's scalar default (``--hyperparams re:population_size:abc``).
    """
    cls = optimizer_class(name)
    sig = inspect.signature(cls.__init__)
    takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
    unknown = [k for k in params if k not in sig.parameters or k in ("self", "seed")]
    if unknown and not takes_any:
        known = [k for k in sig.parameters if k not in ("self", "seed", "kwargs")]
        raise ConfigError(f"optimizer {name} takes no parameter {', '.join(unknown)}; "
                          f"known: {', '.join(known) or 'none'}")
    for key, value in params.items():
        default = sig.parameters[key].default if key in sig.parameters else inspect.Parameter.empty
        if not _same_kind(value, default):
            raise ConfigError(f"optimizer {name}: {key} must be {_KIND_NAMES[type(default)]} "
                              f"(like its default {default!r}), not {value!r}")
    try:
        return cls(seed=seed, **params)
    except TypeError as exc:
        raise ConfigError(f"bad parameter for optimizer {name}: {exc}") from None


def optimize(opt: Optimizer, evaluate: Callable[[Architecture], float], budget: int
             ) -> list[tuple[Architecture, float]]:
    """Run ``opt`` for ``budget`` evaluations of ``evaluate``; the (architecture, value) history."""
    history = []
    for _ in range(budget):
        arch = opt.ask()
        value = float(evaluate(arch))
        opt.tell(arch, value)
        history.append((arch, value))
    return history


def best_of(history: Sequence[tuple[Architecture, float]]) -> tuple[Architecture, float]:
    """The best (architecture, value) of a history (NaN values rank last)."""
    return max(history, key=lambda h: _finite(h[1]))

