#!/usr/bin/env python
"""Compare our generator and discriminator with the released E2GAN models, weight for weight.

The released model code (github.com/Yuantian013/E2GAN, ``search/models_search``) is
imported at run time from the checkout given with ``--e2gan``; nothing of it is copied
here. For each architecture, width and stage the script builds the released model and
ours, copies every released tensor the released forward pass uses into ours by an
explicit name mapping (:func:`generator_module_map`, :func:`discriminator_module_map`;
it fails if a tensor has no counterpart or a shape differs), runs both in eval mode on
the same inputs (float32, then float64) and reports the largest absolute differences of
the outputs (images and progressive state for the generator, scores for the
discriminator) and the number of parameters each forward pass uses. The released
models get random BatchNorm statistics and affine parameters (so eval-mode BN is not
the identity) and their spectral-norm vectors are power-iterated before the copy.

    git clone https://github.com/Yuantian013/E2GAN /tmp/e2gan
    OMP_NUM_THREADS=1 python3 scripts/compare_with_released.py --e2gan /tmp/e2gan

Writes a JSON record to ``--out`` and exits 1 if a float32 difference exceeds 1e-5 or a
parameter count differs (released vs ours, or vs the published count); exits 2 if
``--e2gan`` is not a checkout of the released code. See docs/fidelity.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from importlib import import_module
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gan_nas_env.models.discriminator import Discriminator  # noqa: E402
from gan_nas_env.models.generator import Generator, progressive_state  # noqa: E402
from gan_nas_env.space import (  # noqa: E402
    AUTOGAN_ARCH,
    E2GAN_ARCH,
    NORM_CHOICES,
    SPACE,
    UP_CHOICES,
    Architecture,
    Cell,
)

RELEASED_FILE = Path("search/models_search/shared_gan.py")
RELEASED_URL = "github.com/Yuantian013/E2GAN"
TOL = 1e-5
LATENT = 128
CHANNELS = 3  # the released to_rgb and discriminator hard-code 3 channels
BATCH = 8
POWER_ITERS = 30

# Parameters the forward pass uses, as published / as our tests pin them (3 channels, latent 128).
EXPECTED_G: dict[tuple[str, int, int], dict[int, int]] = {
    ("e2gan", 128, 4): {1: 580_099, 2: 1_023_619, 3: 1_352_323},
    ("e2gan", 256, 4): {3: 4_867_331},
    ("e2gan", 256, 6): {3: 5_527_811},
    ("autogan", 128, 4): {1: 579_587, 2: 907_779, 3: 1_235_971},
    ("autogan", 256, 4): {3: 4_405_251},
    ("autogan", 256, 6): {3: 5_065_731},
}
EXPECTED_D: dict[tuple[int, int], int] = {
    (64, 1): 112_896,
    (64, 2): 190_912,
    (64, 3): 264_768,
    (128, 3): 1_053_824,
}

# our spectral-norm parametrization tensors -> the legacy torch.nn.utils.spectral_norm ones
_SN_SUFFIXES = {
    "parametrizations.weight.original": "weight_orig",
    "parametrizations.weight.0._u": "weight_u",
    "parametrizations.weight.0._v": "weight_v",
}


class MappingError(RuntimeError):
    """A released tensor has no counterpart in ours, or a shape or layout differs."""


# ---------------------------------------------------------------- pure mapping logic


def check_e2gan_path(path: Path) -> str | None:
    """None if ``path`` holds the released code, else a one-line error message."""
    if not path.exists():
        return f"error: --e2gan {path} does not exist; PATH must be a checkout of {RELEASED_URL}"
    if not (path / RELEASED_FILE).is_file():
        return (
            f"error: --e2gan {path} has no {RELEASED_FILE}; PATH must be a checkout of "
            f"{RELEASED_URL} (the repository root)"
        )
    return None


def expected_skip_flags(cell: Cell, cell_index: int) -> list[int]:
    """The released ``Cell.skip_ins`` for our ``cell``: flag ``j`` = skip from 0-based cell ``j``.

    The released forward zips ``skip_ins`` with ``(h1_skip_out, h2_skip_out)``, so
    position ``j`` is the source cell ``j``; ours lists sources in
    :meth:`Cell.skip_sources` order.
    """
    sources = set(cell.skip_sources(cell_index))
    return [int(j in sources) for j in range(cell_index)]


def generator_module_map(cells: Sequence[Cell]) -> dict[str, str]:
    """Our generator's module names -> the released ``shared_gan.Generator`` ones.

    Only the modules a forward pass of ``cells`` uses. A cell's released first and
    second convs live in ``post_conv*`` or ``pre_conv*`` by its conv type; skip ``j``
    of ours reads source cell ``s = skip_sources[j]``, which the released code feeds
    through ``skip_in_ops[s]`` and, in a deconv cell, ``skip_deconvx2`` (previous
    cell) or ``skip_deconvx4`` (the one before).
    """
    m = {"l1": "l1", "to_rgb.0": "to_rgb.0", "to_rgb.2": "to_rgb.2"}
    for i, cell in enumerate(cells):
        ours, rel = f"cells.{i}", f"cell{i + 1}"
        kind = "pre" if cell.conv == 1 else "post"
        deconv = UP_CHOICES[cell.up] == "deconv"
        if deconv:
            m[f"{ours}.deconv"] = f"{rel}.{kind}_conv1.deconv"
        m[f"{ours}.c1"] = f"{rel}.{kind}_conv1.conv"
        m[f"{ours}.c2"] = f"{rel}.{kind}_conv2.conv"
        if NORM_CHOICES[cell.norm] == "bn":  # InstanceNorm (affine=False) has no tensors
            m[f"{ours}.n1"] = f"{rel}.{kind}_conv1.bn"
            m[f"{ours}.n2"] = f"{rel}.{kind}_conv2.bn"
        for j, src in enumerate(cell.skip_sources(i)):
            m[f"{ours}.skip_convs.{j}"] = f"{rel}.skip_in_ops.{src}"
            if deconv:
                doublings = i - src
                if doublings == 1:
                    m[f"{ours}.skip_ups.{j}.0"] = f"{rel}.skip_deconvx2"
                else:
                    for k in range(doublings):
                        m[f"{ours}.skip_ups.{j}.{k}"] = f"{rel}.skip_deconvx{2**doublings}.{k}"
        if cell.shortcut:
            if deconv:
                m[f"{ours}.sc_up"] = f"{rel}.deconv_sc"
            m[f"{ours}.c_sc"] = f"{rel}.c_sc"
    return m


def discriminator_module_map() -> dict[str, str]:
    """Our discriminator's blocks -> the released ``shared_gan.Discriminator`` ones."""
    return {"entry": "block1", "down": "block2", "middle": "block3", "last": "block4", "linear": "l5"}


def map_key(key: str, module_map: dict[str, str]) -> str:
    """Released state-dict key of our ``key``: longest mapped module prefix, then the tensor name.

    Spectral-norm tensors are renamed (parametrization ``original``/``_u``/``_v`` ->
    legacy ``weight_orig``/``weight_u``/``weight_v``).
    """
    prefixes = [p for p in module_map if key.startswith(p + ".")]
    if not prefixes:
        raise MappingError(f"our tensor {key!r} has no released counterpart in the mapping")
    prefix = max(prefixes, key=len)
    rest = key[len(prefix) + 1 :]
    for ours, rel in _SN_SUFFIXES.items():
        if rest == ours or rest.endswith("." + ours):
            rest = rest[: len(rest) - len(ours)] + rel
    return f"{module_map[prefix]}.{rest}"


# ---------------------------------------------------------------- model helpers


def load_released(path: Path) -> ModuleType:
    """Import the released ``models_search.shared_gan`` from ``path/search``."""
    sys.path.insert(0, str(path.resolve() / "search"))
    return import_module("models_search.shared_gan")


def released_args(gf: int, df: int, bottom_width: int) -> SimpleNamespace:
    """The ``args`` namespace the released models read."""
    return SimpleNamespace(
        gf_dim=gf, df_dim=df, latent_dim=LATENT, bottom_width=bottom_width, d_spectral_norm=True
    )


def forward_usage(model: nn.Module, run: Callable[[], Any]) -> tuple[set[str], int]:
    """State-dict keys of the modules ``run()`` calls, and their parameter count (forward hooks)."""
    names = {mod: name for name, mod in model.named_modules()}
    called: list[nn.Module] = []
    hooks = [mod.register_forward_hook(lambda m, _i, _o: called.append(m)) for mod in names]
    try:
        with torch.no_grad():
            run()
    finally:
        for h in hooks:
            h.remove()
    keys: set[str] = set()
    seen: set[int] = set()
    count = 0
    for mod in dict.fromkeys(called):
        pre = names[mod] + "." if names[mod] else ""
        for k, p in mod.named_parameters(recurse=False):
            keys.add(pre + k)
            if id(p) not in seen:
                seen.add(id(p))
                count += p.numel()
        keys.update(pre + k for k, _ in mod.named_buffers(recurse=False))
    return keys, count


def backward_count(model: nn.Module, loss: Callable[[], Tensor]) -> tuple[int | None, str]:
    """Parameters that get a gradient from ``loss()``; (None, error) if backward fails."""
    model.zero_grad(set_to_none=True)
    try:
        with torch.enable_grad():
            loss().backward()
        n, err = sum(p.numel() for p in model.parameters() if p.grad is not None), ""
    except RuntimeError as e:
        n, err = None, str(e).splitlines()[0]
    model.zero_grad(set_to_none=True)
    return n, err


def copy_weights(ours: nn.Module, released: nn.Module, module_map: dict[str, str], used: set[str]) -> int:
    """Copy the released tensors into ours by ``module_map``; returns how many were copied.

    Fails if one of ours has no released tensor, a shape differs, or a released tensor
    in ``used`` (those the released forward reads) is not copied into ours.
    """
    rel_sd = released.state_dict()
    new: dict[str, Tensor] = {}
    for key, t in ours.state_dict().items():
        rk = map_key(key, module_map)
        if rk not in rel_sd:
            raise MappingError(f"our {key!r} maps to released {rk!r}, which does not exist")
        if rel_sd[rk].shape != t.shape:
            raise MappingError(
                f"shape of our {key!r} {tuple(t.shape)} != released {rk!r} {tuple(rel_sd[rk].shape)}"
            )
        new[key] = rel_sd[rk].clone()
    missing = sorted(used - {map_key(k, module_map) for k in new})
    if missing:
        raise MappingError(f"released tensors used by the forward pass have no counterpart in ours: {missing}")
    ours.load_state_dict(new, strict=True)
    return len(new)


def randomize_released_generator(g: nn.Module) -> None:
    """Released-style init (xavier on Conv2d weights) plus random BN affine and running stats."""
    with torch.no_grad():
        for m in g.modules():
            if type(m) is nn.Conv2d:
                nn.init.xavier_uniform_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.normal_(1.0, 0.2)
                m.bias.normal_(0.0, 0.2)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 2.0)


def _maxdiff(a: Tensor, b: Tensor) -> float:
    if a.shape != b.shape:
        raise MappingError(f"output shapes differ: released {tuple(a.shape)} vs ours {tuple(b.shape)}")
    return float((a.double() - b.double()).abs().max())


# ---------------------------------------------------------------- comparisons


def compare_generator(
    shared_gan: ModuleType, label: str, arch: Architecture, gf: int, bottom_width: int, seed: int
) -> list[dict[str, Any]]:
    """Released vs ours at stages 0..3 of ``arch``; one result dict per stage."""
    torch.manual_seed(seed)
    rel = shared_gan.Generator(released_args(gf, 64, bottom_width))
    randomize_released_generator(rel)
    rel.eval()
    z = torch.randn(BATCH, LATENT, generator=torch.Generator().manual_seed(seed + 1))
    vector = arch.to_vector()
    key = (label, gf, bottom_width)
    out = []
    for stage in range(4):
        cells = arch.cells[:stage]
        if stage == 0:
            rel.set_stage(-1)
        else:
            rel.set_arch(vector[: len(arch.prefix(stage).to_vector())], stage - 1)
            for i, cell in enumerate(cells[1:], start=1):
                flags = list(getattr(rel, f"cell{i + 1}").skip_ins)
                if flags != expected_skip_flags(cell, i):
                    raise MappingError(
                        f"cell {i + 1} skip {cell.skip}: released skip_ins {flags} != "
                        f"expected {expected_skip_flags(cell, i)} from our sources {cell.skip_sources(i)}"
                    )
        ours = Generator(arch.prefix(stage) if stage else None, LATENT, gf, bottom_width, CHANNELS).eval()
        used, rel_hooks = forward_usage(rel, lambda: rel(z, eval=True))
        n_copied = copy_weights(ours, rel, generator_module_map(cells), used)
        diffs: dict[str, dict[str, float]] = {}
        scale: dict[str, float] = {}
        for dtype in (torch.float32, torch.float64):
            rel.to(dtype)
            ours.to(dtype)
            with torch.no_grad():
                r_img, r_state = rel(z.to(dtype), eval=True)
                o_img, o_feat = ours(z.to(dtype), return_features=True)
            o_state = progressive_state(o_feat)
            name = "fp32" if dtype == torch.float32 else "fp64"
            diffs[name] = {
                "images": _maxdiff(r_img, o_img),
                "state": _maxdiff(r_state.flatten(1), o_state),
            }
            scale = {"images": float(r_img.abs().max()), "state": float(r_state.abs().max())}
        rel.float()  # exact round trip: the weights were float32
        ours.float()
        rel_bwd, err = backward_count(rel, lambda: rel(z[:2], eval=True)[0].sum())
        ours_bwd, ours_err = backward_count(ours, lambda g=ours: g(z[:2]).sum())
        _, ours_hooks = forward_usage(ours, lambda g=ours: g(z))
        expected = EXPECTED_G.get(key, {}).get(stage)
        rel_count = rel_bwd if rel_bwd is not None else rel_hooks
        ok = (
            diffs["fp32"]["images"] <= TOL
            and diffs["fp32"]["state"] <= TOL
            and rel_count == ours_bwd == ours_hooks
            and (expected is None or expected == ours_bwd)
            and (rel_bwd is None or rel_bwd == rel_hooks)
        )
        out.append({
            "model": "generator",
            "arch": label,
            "vector": str(arch),
            "gf": gf,
            "bottom_width": bottom_width,
            "stage": stage,
            "resolution": bottom_width * 2**stage,
            "tensors_copied": n_copied,
            "max_abs_diff": diffs,
            "max_abs_released_output": scale,
            **_count_fields(rel_bwd, rel_hooks, err, ours_bwd, ours_hooks, ours_err, expected),
            "pass": ok,
        })
    return out


def _count_fields(
    rel_bwd: int | None, rel_hooks: int, err: str, ours_bwd: int | None, ours_hooks: int,
    ours_err: str, expected: int | None,
) -> dict[str, Any]:
    """The parameter-count part of a result row (released by backward or hooks, ours, published)."""
    return {
        "params_released": rel_bwd if rel_bwd is not None else rel_hooks,
        "params_released_method": "backward" if rel_bwd is not None else "forward hooks",
        "params_released_hooks": rel_hooks,
        "released_backward_error": err or None,
        "params_ours": ours_bwd,
        "params_ours_hooks": ours_hooks,
        "ours_backward_error": ours_err or None,
        "params_expected": expected,
    }


def compare_discriminator(
    shared_gan: ModuleType, df: int, bottom_width: int, stages: Sequence[int], seed: int
) -> list[dict[str, Any]]:
    """Released vs ours at ``stages`` (ours 1..3 = released ``cur_stage`` 0..2)."""
    torch.manual_seed(seed)
    rel = shared_gan.Discriminator(released_args(128, df, bottom_width))
    gen = torch.Generator().manual_seed(seed + 1)
    full = bottom_width * 8
    rel.train()
    rel.cur_stage = 2  # every block runs: one power iteration per layer and forward
    with torch.no_grad():
        for _ in range(POWER_ITERS):
            rel(torch.rand(2, CHANNELS, full, full, generator=gen) * 2 - 1)
    rel.eval()
    out = []
    for stage in stages:
        rel.cur_stage = stage - 1
        res = bottom_width * 2**stage
        x = torch.rand(BATCH, CHANNELS, res, res, generator=gen) * 2 - 1
        ours = Discriminator(df, CHANNELS, bottom_width, stage).eval()
        used, rel_hooks = forward_usage(rel, lambda x=x: rel(x))
        n_copied = copy_weights(ours, rel, discriminator_module_map(), used)
        diffs: dict[str, dict[str, float]] = {}
        scale = 0.0
        for dtype in (torch.float32, torch.float64):
            rel.to(dtype)
            ours.to(dtype)
            with torch.no_grad():
                r, o = rel(x.to(dtype)).view(-1), ours(x.to(dtype))
            diffs["fp32" if dtype == torch.float32 else "fp64"] = {"output": _maxdiff(r, o)}
            scale = float(r.abs().max())
        rel.float()
        ours.float()
        rel_bwd, err = backward_count(rel, lambda x=x: rel(x[:2]).sum())
        ours_bwd, ours_err = backward_count(ours, lambda x=x, d=ours: d(x[:2]).sum())
        _, ours_hooks = forward_usage(ours, lambda x=x, d=ours: d(x))
        expected = EXPECTED_D.get((df, stage))
        rel_count = rel_bwd if rel_bwd is not None else rel_hooks
        ok = (
            diffs["fp32"]["output"] <= TOL
            and rel_count == ours_bwd == ours_hooks
            and (expected is None or expected == ours_bwd)
            and (rel_bwd is None or rel_bwd == rel_hooks)
        )
        out.append({
            "model": "discriminator",
            "df": df,
            "bottom_width": bottom_width,
            "stage": stage,
            "resolution": res,
            "tensors_copied": n_copied,
            "max_abs_diff": diffs,
            "max_abs_released_output": {"output": scale},
            **_count_fields(rel_bwd, rel_hooks, err, ours_bwd, ours_hooks, ours_err, expected),
            "pass": ok,
        })
    return out


# ---------------------------------------------------------------- reporting


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        r = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def released_commit(path: Path) -> str:
    """HEAD of ``path`` if it is the top of a git checkout, else ``"unknown"``."""
    top = _git(["rev-parse", "--show-toplevel"], path)
    if top is None or Path(top).resolve() != path.resolve():
        return "unknown"
    return _git(["rev-parse", "HEAD"], path) or "unknown"


def machine() -> str:
    """CPU model, cores, no GPU (the comparison runs on the CPU)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores ({torch.get_num_threads()} torch threads), GPU none"


def package_version() -> str:
    """gan-nas-env's version."""
    try:
        import gan_nas_env

        return str(gan_nas_env.__version__)
    except (ImportError, AttributeError):
        from importlib.metadata import version

        return version("gan-nas-env")


def _e(x: float) -> str:
    return f"{x:.1e}"


def _n(x: int | None) -> str:
    return "-" if x is None else f"{x:,}"


def table(results: list[dict[str, Any]]) -> str:
    """Markdown table of the results."""
    lines = [
        "| model | config | stage | px | max abs diff fp32 (images / state) | fp64 | "
        "params released | params ours | published | ok |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        d32, d64 = r["max_abs_diff"]["fp32"], r["max_abs_diff"]["fp64"]
        if r["model"] == "generator":
            cfg = f"{r['arch']} gf{r['gf']}"
            a = f"{_e(d32['images'])} / {_e(d32['state'])}"
            b = f"{_e(d64['images'])} / {_e(d64['state'])}"
            model = "G"
        else:
            cfg = f"df{r['df']}"
            a, b, model = _e(d32["output"]), _e(d64["output"]), "D"
        rel = _n(r["params_released"]) + ("" if r["params_released_method"] == "backward" else " (h)")
        lines.append(
            f"| {model} | {cfg} | {r['stage']} | {r['resolution']} | {a} | {b} | {rel} | "
            f"{_n(r['params_ours'])} | {_n(r['params_expected'])} | {'yes' if r['pass'] else '**NO**'} |"
        )
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--e2gan", type=Path, required=True, help=f"a checkout of {RELEASED_URL}")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "fidelity" / "compare.json")
    p.add_argument("--random", type=int, default=5, help="random architectures (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--e2gan-commit", default=None, help="released commit, if PATH is not a git checkout")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run every comparison; 0 if all pass, 1 if not, 2 if ``--e2gan`` is wrong."""
    args = parse_args(argv)
    err = check_e2gan_path(args.e2gan)
    if err is not None:
        print(err, file=sys.stderr)
        return 2
    command = shlex.join(
        [Path(sys.executable).name, *sys.argv] if argv is None else ["compare_with_released.py", *argv]
    )
    shared_gan = load_released(args.e2gan)
    rng = np.random.default_rng(args.seed)
    randoms = [(f"random{i + 1}", SPACE.sample(rng)) for i in range(args.random)]
    published = [("e2gan", E2GAN_ARCH), ("autogan", AUTOGAN_ARCH)]
    results: list[dict[str, Any]] = []
    try:
        for k, (label, arch) in enumerate(published + randoms):
            results += compare_generator(shared_gan, label, arch, 128, 4, args.seed + 10 * k)
        for k, (label, arch) in enumerate(published):
            for bw in (4, 6):
                results += compare_generator(shared_gan, label, arch, 256, bw, args.seed + 100 + 10 * k + bw)
        results += compare_discriminator(shared_gan, 64, 4, (1, 2, 3), args.seed + 200)
        for bw in (4, 6):
            results += compare_discriminator(shared_gan, 128, bw, (3,), args.seed + 300 + bw)
    except MappingError as e:
        print(f"mapping error: {e}", file=sys.stderr)
        return 1
    text = table(results)
    print(text)
    for label, arch in randoms:
        print(f"{label}: {arch}")
    methods = sorted({r["params_released_method"] for r in results})
    print(f"released parameter counts: {', '.join(methods)} ((h) = forward hooks, where backward fails)")
    n_fail = sum(not r["pass"] for r in results)
    print(f"{len(results) - n_fail}/{len(results)} pass (float32 tolerance {TOL:g})")
    record = {
        "machine": machine(),
        "package_version": package_version(),
        "git_sha": _git(["rev-parse", "HEAD"], ROOT),
        "git_dirty": bool(_git(["status", "--porcelain", "--untracked-files=no"], ROOT)),
        "models_dirty": bool(_git(["status", "--porcelain", "--", "gan_nas_env/models/generator.py",
                                   "gan_nas_env/models/discriminator.py", "gan_nas_env/space.py"], ROOT)),
        "released_repo": RELEASED_URL,
        "released_commit": args.e2gan_commit or released_commit(args.e2gan),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "command": command,
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "tolerance_fp32": TOL,
        "batch": BATCH,
        "seed": args.seed,
        "random_architectures": {label: str(arch) for label, arch in randoms},
        "all_pass": n_fail == 0,
        "table": text,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out}")
    return 0 if n_fail == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
