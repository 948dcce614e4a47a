"""GANCellSearchEnv: design a GAN generator one cell at a time, as E2GAN's search does.

The class docstring is the reference of observation, action, reward and end; README.md
("The environment") sums it up and docs/fidelity.md compares it with the released code.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from gan_nas_env.config import Config, ConfigError, load_config
from gan_nas_env.errors import UserError
from gan_nas_env.evaluators.base import Evaluation, Evaluator
from gan_nas_env.evaluators.store import ResultsStore
from gan_nas_env.metrics.score import score_of
from gan_nas_env.space import ACTION_NVEC, NUM_CELLS, Architecture, cell_from_action

if TYPE_CHECKING:
    import torch


class ActionError(UserError, ValueError):
    """An action outside the env's (or its wrapper's) action space; never truncated or cast."""


class ConcurrentUseError(UserError, RuntimeError):
    """A second thread entered an env that another thread is still stepping."""


class OneThread:
    """Refuses a second thread inside ``step`` / ``reset`` of one env (the same thread may nest).

    An env is not thread-safe: its episode state, its evaluator and, for the real evaluator,
    a GAN in training belong to one caller at a time. The guard turns what would be a silent
    mix of two episodes into a :class:`ConcurrentUseError`. It costs one uncontended lock per
    call and pickles (and deep-copies) as a fresh guard.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._owner_name = ""
        self._depth = 0

    def __reduce__(self) -> tuple[type, tuple[()]]:
        return OneThread, ()

    @contextmanager
    def use(self, env: str, method: str) -> Iterator[None]:
        """Hold the env for this thread; :class:`ConcurrentUseError` if another thread holds it."""
        me = threading.get_ident()
        with self._lock:
            if self._owner is not None and self._owner != me:
                raise ConcurrentUseError(
                    f"{env}.{method}() called from thread {threading.current_thread().name!r} while "
                    f"thread {self._owner_name!r} is inside the same env: an env is not thread-safe; "
                    "give each thread its own env (a vectorised env steps several envs at once)"
                )
            self._owner, self._owner_name = me, threading.current_thread().name
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    self._owner = None


F = TypeVar("F", bound=Callable[..., Any])


def one_thread(method: F) -> F:
    """Run an env method under the env's :class:`OneThread` guard (``self._one_thread``)."""

    @functools.wraps(method)
    def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._one_thread.use(type(self).__name__, method.__name__):
            return method(self, *args, **kwargs)

    return guarded  # type: ignore[return-value]


class Timings(Mapping[str, float]):
    """Wall-clock seconds of a step's phases (``train_s``, ``score_s``, ``step_s``).

    Two Timings compare equal when they time the same phases: durations are
    measurements, not env state, so the env checker's determinism test ignores them.
    """

    def __init__(self, values: Mapping[str, float]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> float:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timings) and other._values.keys() == self._values.keys()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Timings({self._values})"
OBS_HEAD = 3  # depth, IS, alpha * FID


class GANCellSearchEnv(gym.Env):
    """Build a 3-cell GAN generator; each step adds a cell, trains the partial GAN, scores it.

    **Action** ``MultiDiscrete([2, 3, 3, 2, 2, 2])``:

    | index | field | values |
    |---|---|---|
    | 0 | conv | 0 post-activation, 1 pre-activation |
    | 1 | norm | 0 none, 1 BatchNorm, 2 InstanceNorm |
    | 2 | up | 0 bilinear, 1 nearest, 2 deconv |
    | 3 | shortcut | 0 no, 1 1x1-conv shortcut |
    | 4 | skip bit 0 | link from the previous cell (ignored at cell 1) |
    | 5 | skip bit 1 | link from the cell before that (used at cell 3 only) |

    **Observation** ``Box(-inf, inf, (3 + R,), float32)``, unscaled as in E2GAN:

    | index | meaning | scale |
    |---|---|---|
    | 0 | depth: cells built so far | 0 .. 3 |
    | 1 | IS of the current partial GAN | about 1 .. 10 |
    | 2 | alpha * FID | alpha * (0 .. 400) |
    | 3 .. 3+R-1 | progressive state: the newest cell's output features bilinearly interpolated to 1x1 (the mean of the central 2x2 pixels), averaged over the latent codes used for scoring (R = gf) | about -1 .. 1 |

    IS and FID of every stage are measured against the real data at the final
    resolution (``metrics.reference = final``, as the released E2GAN code).

    **Baseline** (the observation at reset): as the released code, each episode
    scores its freshly initialised generator before cell 1 (the Linear layer's
    bottom-width features through the shared ``to_rgb`` head): depth 0, its IS and
    alpha * FID, and its progressive state (of the Linear layer's features). It
    depends on the episode's GAN seed (constant with ``env.fixed_gan_seed``).

    **Reward** ``r_t = (IS_t - IS_{t-1}) + alpha * (FID_{t-1} - FID_t)`` with
    ``alpha = env.alpha`` (0.01; 0 gives the IS-only variant), so the episode
    return is ``(IS_3 - alpha FID_3) - (IS_0 - alpha FID_0)``, the final combined
    score minus the episode's baseline score. A diverged proxy
    step (NaN/Inf loss or a collapsed generator) returns ``env.diverged_penalty``,
    ends the episode and sets ``info["diverged"] = True``.

    **Evaluators** (how a prefix is scored; chosen in the config):

    | evaluator | config | scores a prefix by |
    |---|---|---|
    | E2GAN proxy score (default; the paper presets) | ``env.alpha: 0.01`` | ``IS - 0.01 FID`` after the progressive proxy training |
    | IS-only proxy | ``env.alpha: 0`` (preset ``search-fmnist-is``) | IS alone after the same training (E2GAN's IS-only variant; observation index 2 is then 0) |
    | 256-step proxy | ``train.d_iters_per_cell: 256`` (preset ``search-fmnist-d256``) | ``IS - 0.01 FID`` after 16x the table proxy's training per cell (about 6x its cost) |

    Against trained GANs (final protocol v2, ``docs/validity/evaluators_v2.md``) none
    ranks like training: their rank correlations are small and their intervals overlap.
    The first two train identically (one proxy hash), so a results store or the table
    serves both; which of them is ahead has changed as rows came in and neither is clear
    of zero. With all 100 uniform rows, the 256-step budget is the only one whose interval
    lies above zero (Kendall tau 0.16 [0.04, 0.29] by its score, 0.17 [0.04, 0.29] by its IS
    alone); its lead over
    the first two is not yet clear of the noise;
    ``scripts/evaluator_study.py`` names the best of these settings at every refresh of
    the final rows. Searched for real (5 SAC and 5 random searches, bests trained by the
    v2 protocol; ``docs/validity.md``), the 256-step proxy's bests are not top GANs and
    SAC does not beat random search on it.

    **End**: ``terminated=True`` after cell 3 (or on divergence); no truncation
    inside the env (the registration adds ``max_episode_steps=3``).

    **info**: ``arch`` (canonical prefix string), ``depth``, ``IS``, ``FID``,
    ``KID`` (when computed), ``diverged``, ``reason``, ``timings`` (seconds),
    ``losses``, ``score`` (IS - alpha FID), ``episode_index`` (0 at a seeded reset), ``gan_seed`` (seed of this
    episode's GAN initialisation and batches).

    **Threads**: an env is not thread-safe (its episode, its evaluator and the GAN it
    trains belong to one caller). Calling ``step``, ``reset``, ``restart_episode`` or
    ``render`` while another thread is inside one of them raises
    :class:`ConcurrentUseError`, never mixing two episodes; give each thread its own env
    (a vectorised env of several envs steps them in parallel).
    """

    metadata = {"render_modes": ["ansi", "rgb_array"], "render_fps": 1}

    def __init__(
        self,
        config: str | Path | Config | None = "quickstart",
        evaluator: Evaluator | str = "real",
        render_mode: str | None = None,
        device: str | None = None,
        overrides: dict[str, Any] | list[str] | None = None,
        mode: str | None = None,
        results_store: str | Path | ResultsStore | None = None,
    ) -> None:
        """Create the env.

        :param config: preset name (``quickstart``, ``tiny``, ...), YAML path or Config.
        :param evaluator: ``real`` (proxy training), ``fake`` (tests) or an Evaluator.
        :param render_mode: ``ansi`` or ``rgb_array``.
        :param device: overrides ``config.device``.
        :param overrides: config overrides (dotted dict or ``key=value`` list).
        :param mode: ``cached`` replays evaluations stored in ``results_store`` and
            records new ones; ``record`` only records. Default: neither.
        :param results_store: path of the SQLite results file for ``mode``.
        """
        self._one_thread = OneThread()
        if isinstance(overrides, list):
            overrides = [*overrides, *([f"device={device}"] if device is not None else [])]
        else:
            overrides = {**(overrides or {}), **({"device": device} if device is not None else {})}
        self.cfg = cfg = load_config(config, overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(
                f"render_mode={render_mode!r} is not supported; use one of {self.metadata['render_modes']}"
            )
        self.render_mode = render_mode
        if mode is None:
            self.evaluator = self._make_evaluator(evaluator)
        else:
            self.evaluator = self._wrap_cached(evaluator, mode, results_store)
        self.alpha = cfg.env.alpha
        rdim = self.evaluator.representation_dim
        self.action_space = spaces.MultiDiscrete(np.array(ACTION_NVEC, dtype=np.int64))
        self.observation_space = spaces.Box(-np.inf, np.inf, (OBS_HEAD + rdim,), np.float32)
        self._arch: Architecture | None = None
        self._last: Evaluation | None = None
        self._done = True
        self._episode = -1
        self._gan_seed = 0

    def _make_evaluator(self, evaluator: Evaluator | str) -> Evaluator:
        if isinstance(evaluator, Evaluator):
            return evaluator
        if evaluator == "real":  # torch-based evaluators load on first use (see evaluators/)
            from gan_nas_env.evaluators.proxy import RealEvaluator

            return RealEvaluator(self.cfg)
        if evaluator == "fake":
            from gan_nas_env.evaluators.fake import FakeEvaluator

            return FakeEvaluator(representation_dim=self.cfg.model.gf)
        raise ConfigError(f"unknown evaluator {evaluator!r}; use 'real', 'fake' or an Evaluator")

    def _wrap_cached(
        self, evaluator: Evaluator | str, mode: str, store: str | Path | ResultsStore | None
    ) -> Evaluator:
        if mode not in ("cached", "record"):
            raise ConfigError(f"unknown mode {mode!r}; use 'cached' or 'record'")
        if store is None:
            raise ConfigError(f"mode={mode!r} needs results_store=PATH (the SQLite results file)")
        owned = not isinstance(store, ResultsStore)  # opened here: closed with the env
        opened = store if isinstance(store, ResultsStore) else ResultsStore(store)
        if isinstance(evaluator, Evaluator):
            rdim = evaluator.representation_dim
        else:
            rdim = self.cfg.model.gf
        from gan_nas_env.evaluators.cached import CachedEvaluator

        return CachedEvaluator(
            lambda: self._make_evaluator(evaluator), opened, self.cfg.proxy_hash(), rdim,
            replay=mode == "cached", owns_store=owned,
        )

    @property
    def at_episode_start(self) -> bool:
        """True right after a reset, before the first cell."""
        return not self._done and self._arch is None

    @property
    def episode_index(self) -> int:
        """Index of the current episode (0 at a seeded reset)."""
        return self._episode

    @property
    def gan_seed(self) -> int:
        """Seed of the current episode's GAN."""
        return self._gan_seed

    @one_thread
    def restart_episode(self, episode_index: int, gan_seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Put the env at the start of episode ``episode_index`` with ``gan_seed`` (resume)."""
        self._episode, self._gan_seed = int(episode_index), int(gan_seed)
        self.evaluator.reset(self._gan_seed)
        self._arch, self._last, self._done = None, self.evaluator.baseline(), False
        return self._obs(self._last), self._info(self._last)

    def attach_store(self, store: ResultsStore, replay: bool = False, owned: bool = False) -> None:
        """Record every evaluation in ``store`` (and replay stored ones when ``replay``).

        ``owned``: :meth:`close` closes ``store`` too (a store opened for this env alone).
        """
        from gan_nas_env.evaluators.cached import CachedEvaluator

        inner = self.evaluator
        self.evaluator = CachedEvaluator(
            lambda: inner, store, self.cfg.proxy_hash(), inner.representation_dim, replay=replay,
            owns_store=owned,
        )

    # -- gymnasium API -----------------------------------------------------------
    @one_thread
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new architecture; G and D are re-created at the first step."""
        super().reset(seed=seed)
        fixed = self.cfg.env.fixed_gan_seed
        gan_seed = int(self.np_random.integers(2**31 - 1)) if fixed is None else fixed
        return self.restart_episode(0 if seed is not None else self._episode + 1, gan_seed)

    @one_thread
    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        """Add the cell encoded by ``action``, train and score; see the class docstring."""
        if self._done or self._last is None:
            raise RuntimeError(
                "step() called on a finished episode (after cell 3 or a divergence); call reset() first"
            )
        act = np.asarray(action)
        # integers only, as MultiDiscrete.contains says: 0.5 or "1" are not truncated
        if (act.shape != (len(ACTION_NVEC),) or not np.issubdtype(act.dtype, np.integer)
                or not self.action_space.contains(act.astype(np.int64))):
            raise ActionError(
                f"action {action!r} is outside the action space MultiDiscrete({list(ACTION_NVEC)}): "
                "expected 6 integers (conv, norm, up, shortcut, skip bit, skip bit) within those ranges"
            )
        depth = 0 if self._arch is None else self._arch.depth
        cell = cell_from_action(act.tolist(), depth)
        t0 = time.perf_counter()
        ev = self.evaluator.step(cell)
        ev.timings = {**ev.timings, "step_s": time.perf_counter() - t0}
        self._arch = Architecture((cell,)) if self._arch is None else self._arch.append(cell)
        prev = self._last
        if ev.diverged:
            reward = float(self.cfg.env.diverged_penalty)
            # keep the observation finite: previous metrics, the new depth
            shown = Evaluation(ev.arch, ev.depth, prev.metrics, prev.representation)
            self._last, self._done = shown, True
            return self._obs(shown), reward, True, False, self._info(ev)
        reward = (ev.metrics["IS"] - prev.metrics["IS"]) + self.alpha * (
            prev.metrics["FID"] - ev.metrics["FID"]
        )
        self._last = ev
        self._done = self._arch.depth == NUM_CELLS
        return self._obs(ev), float(reward), self._done, False, self._info(ev)

    @one_thread
    def render(self) -> str | np.ndarray | None:
        """``ansi``: the architecture so far; ``rgb_array``: a sample grid of the current generator."""
        if self.render_mode == "ansi":
            if self._arch is None:
                return "empty architecture (no cell yet)\n"
            return f"[{self._arch}]\n{self._arch.describe()}\n"
        if self.render_mode == "rgb_array":
            from gan_nas_env.data.imageops import make_grid_uint8

            images = self.sample_images(16)
            if images is None:
                return np.zeros((32, 32, 3), np.uint8)
            return make_grid_uint8(images, nrow=4).numpy()
        return None

    def close(self) -> None:
        """Close the evaluator (and the results store the env opened or was handed to own)."""
        self.evaluator.close()

    def action_masks(self) -> np.ndarray:
        """Valid choices per action field, flattened (14 booleans), for MaskablePPO.

        Skip bits that do not apply at the current depth may only take value 0.
        """
        depth = 0 if self._arch is None else self._arch.depth
        masks = [np.ones(n, dtype=bool) for n in ACTION_NVEC]
        for bit in (0, 1):
            if depth <= bit:  # bit 0 needs a previous cell, bit 1 two of them
                masks[4 + bit][1:] = False
        return np.concatenate(masks)

    # -- helpers ---------------------------------------------------------------------
    @property
    def architecture(self) -> Architecture | None:
        """The prefix built so far in this episode."""
        return self._arch

    def sample_images(self, n: int) -> torch.Tensor | None:
        """``n`` images in [-1, 1] from the current generator (``rgb_array`` renders 16 of them).

        None when there is no generator (before the first cell, or a table answering).
        """
        return self.evaluator.sample(n)

    def score(self, ev: Evaluation) -> float:
        """Combined score ``IS - alpha * FID`` (what the return telescopes to)."""
        return score_of(ev.metrics, self.alpha)

    def _obs(self, ev: Evaluation) -> np.ndarray:
        head = [ev.depth, ev.metrics["IS"], self.alpha * ev.metrics["FID"]]
        return np.concatenate([np.asarray(head, np.float32), ev.representation.astype(np.float32)])

    def _info(self, ev: Evaluation) -> dict[str, Any]:
        info: dict[str, Any] = {
            "arch": ev.arch,
            "depth": ev.depth,
            "IS": ev.metrics.get("IS", float("nan")),
            "FID": ev.metrics.get("FID", float("nan")),
            "diverged": ev.diverged,
            "reason": ev.reason,
            "timings": Timings(ev.timings),
            "losses": dict(ev.losses),
            "cached": ev.cached,
            "episode_index": self._episode,
            "gan_seed": self._gan_seed,
        }
        if "KID" in ev.metrics:
            info["KID"] = ev.metrics["KID"]
        if not ev.diverged:
            info["score"] = self.score(ev)
        return info
