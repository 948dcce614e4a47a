#!/usr/bin/env python
"""Env steps per minute when N GANCellSearch envs train on one device at once.

One small proxy GAN cannot fill a large GPU, so a search can run several envs
concurrently on it. For each N in ``--envs`` this builds a vector env of N
``GANCellSearchEnv`` copies (each with its own seed), runs one untimed warm-up
episode (3 steps: CUDA context, cuDNN autotuning, real-image statistics), then
times ``--steps-per-env`` vector steps with random actions (each vector step
advances all N envs by one proxy stage). Reported per N: env steps per minute
(``N * K / elapsed * 60``), seconds per vector step, the speed-up over N=1 and
the mean in-env step time (how much the envs slow each other down).

Backends: ``thread`` (``agents.vec_envs.thread.ThreadVecEnv``: one process, one
thread and one CUDA stream per env, so kernels of different envs overlap on the
GPU), ``subproc`` (stable-baselines3 ``SubprocVecEnv``, one spawned process per
env; processes on one GPU are time-sliced unless MPS runs) or ``ray``
(``agents.vec_envs.ray.RayVecEnv``, one actor per env, a ``1/N`` GPU share each on
CUDA). Writes JSON and a Markdown table::

    python -m benchmarks.throughput --preset paper --envs 1,2,4,8 --steps-per-env 6 --backend subproc \\
        --out docs/throughput_gpu.json --md docs/throughput_gpu.md
    python -m benchmarks.throughput --preset paper --envs 1,2,4,8 --steps-per-env 6 --backend ray
    python -m benchmarks.throughput --preset tiny --envs 1,2 --steps-per-env 3 --device cpu   # seconds
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import math
import os
import platform
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from benchmarks.presets import add_common_args, preset_config  # noqa: E402
from gan_nas_env.config import load_config  # noqa: E402
from gan_nas_env.devices import resolve_device  # noqa: E402
from gan_nas_env.provenance import provenance, provenance_line
from gan_nas_env.space import NUM_CELLS  # noqa: E402
from gan_nas_env.user_files import check_outputs  # noqa: E402

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def make_env(cfg: Any, threads: int) -> gym.Env:
    """One env, built inside its worker process; ``threads`` torch and BLAS threads there.

    Idle OpenBLAS threads spin: N processes with a BLAS pool of all cores each (the
    FID's eigenvalues) slow each other down several-fold on a small machine.
    """
    from gan_nas_env.envs.search_env import GANCellSearchEnv

    torch.set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads)
    except ImportError:  # pragma: no cover - comes with scikit-learn
        pass
    return GANCellSearchEnv(cfg, evaluator="real")


@contextlib.contextmanager
def thread_env(threads: int) -> Iterator[None]:
    """Thread-count variables for the processes started inside (restored after)."""
    old = {k: os.environ.get(k) for k in THREAD_VARS}
    os.environ.update({k: str(threads) for k in THREAD_VARS})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def build_vec_env(backend: str, cfg: Any, n: int, threads: int, dev: torch.device,
                  start_method: str, cpus_per_worker: float) -> Any:
    """A vector env of ``n`` envs on the chosen backend."""
    fns: list[Callable[[], gym.Env]] = [functools.partial(make_env, cfg, threads) for _ in range(n)]
    if backend == "subproc":
        from stable_baselines3.common.vec_env import SubprocVecEnv

        with thread_env(threads):  # BLAS reads them when the child imports numpy
            return SubprocVecEnv(fns, start_method=start_method)
    if backend == "thread":
        from agents.vec_envs.thread import ThreadVecEnv

        return ThreadVecEnv(fns, device=dev)  # one process: its torch/BLAS pools are shared
    from agents.vec_envs.ray import RayVecEnv

    # floor to 4 decimals: n shares of 1/n must not add up to more than one GPU
    gpus = math.floor(10_000 / n) / 10_000 if dev.type == "cuda" else 0.0
    return RayVecEnv(fns, num_cpus=cpus_per_worker, num_gpus=gpus)


def gpu_memory_used_mib(dev: torch.device) -> float | None:
    """Memory in use on the whole device (all processes), from ``cudaMemGetInfo``."""
    if dev.type != "cuda":
        return None
    free, total = torch.cuda.mem_get_info(dev)
    return (total - free) / 2**20


def measure(vec: Any, n: int, steps: int, seed: int, dev: torch.device) -> dict:
    """Warm-up episode (untimed), then ``steps`` timed vector steps with random actions."""
    space = vec.action_space
    space.seed(seed)

    def run(k: int) -> list[float]:
        step_s = []
        for _ in range(k):
            _, _, _, infos = vec.step(np.stack([space.sample() for _ in range(n)]))
            step_s += [float(i["timings"]["step_s"]) for i in infos if "step_s" in i.get("timings", {})]
        return step_s

    vec.seed(seed)
    t0 = time.perf_counter()
    vec.reset()
    run(NUM_CELLS)  # one episode
    warmup = time.perf_counter() - t0
    mem = gpu_memory_used_mib(dev)
    t0 = time.perf_counter()
    in_env = run(steps)
    elapsed = time.perf_counter() - t0
    return {"envs": n, "vec_steps": steps, "env_steps": n * steps, "elapsed_s": elapsed,
            "s_per_vec_step": elapsed / steps, "env_steps_per_min": n * steps / elapsed * 60,
            "env_step_s_mean": float(np.mean(in_env)) if in_env else None,
            "warmup_s": warmup, "gpu_mem_used_mib": mem}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--envs", default="1,2,4,8", help="comma-separated numbers of concurrent envs")
    p.add_argument("--steps-per-env", type=int, default=6,
                   help="timed vector steps per N (a multiple of 3: whole episodes)")
    p.add_argument("--backend", choices=["thread", "subproc", "ray"], default="thread")
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads per env (0: CPU cores // N, at least 1)")
    p.add_argument("--start-method", choices=["spawn", "forkserver"], default="spawn",
                   help="subproc backend: how env processes start (no fork: CUDA)")
    p.add_argument("--cpus-per-worker", type=float, default=1.0, help="ray backend: CPUs per actor")
    args = p.parse_args(argv)
    check_outputs(p, args, "--out", "--md")  # before the work, not after it
    envs = [int(x) for x in args.envs.split(",") if x.strip()]
    if not envs or min(envs) < 1 or args.steps_per_env < 1:
        p.error("--envs needs positive integers and --steps-per-env at least 1")
    cfg = preset_config(args)
    dev = resolve_device(cfg.device)
    cfg = load_config(cfg, {"device": str(dev)})  # the envs use what the parent resolved
    cores = os.cpu_count() or 1
    result: dict[str, Any] = {
        "provenance": provenance(),
        "preset": args.preset, "backend": args.backend,
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda"
        else f"CPU ({platform.processor() or platform.machine()}, {cores} cores)",
        "torch": torch.__version__, "steps_per_env": args.steps_per_env, "seed": cfg.seed,
        "results": [],
    }
    started_ray = False
    if args.backend == "ray":
        import ray

        if not ray.is_initialized():
            ray.init(num_cpus=max(cores, math.ceil(max(envs) * args.cpus_per_worker)),
                     num_gpus=None if dev.type == "cuda" else 0, include_dashboard=False)
            started_ray = True
    try:
        for n in envs:
            threads = args.threads or max(1, cores // n)
            t0 = time.perf_counter()
            vec = build_vec_env(args.backend, cfg, n, threads, dev, args.start_method, args.cpus_per_worker)
            try:
                startup = time.perf_counter() - t0
                r = measure(vec, n, args.steps_per_env, cfg.seed, dev)
            finally:
                vec.close()
            r.update(threads_per_env=threads, startup_s=startup)
            result["results"].append(r)
            mean = "n/a" if r["env_step_s_mean"] is None else f"{r['env_step_s_mean']:.2f} s"
            print(f"N={n}: {r['env_steps_per_min']:.1f} env steps/min, {r['s_per_vec_step']:.2f} s per vec step, "
                  f"mean env step {mean} (warm-up {r['warmup_s']:.1f} s, start {startup:.1f} s)", flush=True)
            write_results(result, args.out, args.md)  # after every N: a cut-off run keeps what it measured
    finally:
        if started_ray:
            ray.shutdown()
    return result


def write_results(result: dict[str, Any], out: str | None, md: str | None) -> None:
    """Add speed-ups over N=1 (or the smallest N) and write the JSON and Markdown files."""
    base = next((r for r in result["results"] if r["envs"] == 1), result["results"][0])
    result["speedup_base_envs"] = base["envs"]
    for r in result["results"]:
        r["speedup"] = r["env_steps_per_min"] / base["env_steps_per_min"]
        r["efficiency"] = r["speedup"] * base["envs"] / r["envs"]
    if out:
        Path(out).write_text(json.dumps(result, indent=1))
    if md:
        Path(md).write_text(markdown(result))


def markdown(r: dict) -> str:
    """A Markdown table: one row per number of concurrent envs."""
    base = r["speedup_base_envs"]
    lines = [f"### `{r['preset']}` preset, {r['backend']} backend on {r['device']} (torch {r['torch']}, "
             f"{r['steps_per_env']} timed vector steps per N)", "",
             f"| envs | s per vec step | env steps/min | speed-up vs N={base} | efficiency | "
             "mean env step s | device memory MiB |",
             "|---|---|---|---|---|---|---|"]
    for x in r["results"]:
        mem = f"{x['gpu_mem_used_mib']:.0f}" if x["gpu_mem_used_mib"] is not None else "n/a"
        step = f"{x['env_step_s_mean']:.2f}" if x["env_step_s_mean"] is not None else "n/a"
        lines.append(f"| {x['envs']} | {x['s_per_vec_step']:.2f} | {x['env_steps_per_min']:.1f} | "
                     f"{x['speedup']:.2f}x | {100 * x['efficiency']:.0f}% | {step} | {mem} |")
    if r.get("provenance"):  # results before provenance was recorded have none
        lines[2:2] = [provenance_line(r["provenance"]), ""]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
