#!/usr/bin/env python
r"""Compare our generator and discriminator with the released E2GAN models, weight for weight.

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

Writes a JSON record to ``--out`` (with :func:`~gan_nas_env.provenance.provenance` and the
SHA-256 of every released source file imported) and exits 1 if a float32 difference
exceeds 1e-5 or a parameter count differs (released vs ours, or vs the published count);
exits 2 if ``--e2gan`` is not a checkout of the released code. See docs/fidelity.md.

``--write-fixture PATH`` writes instead a small file for the default test suite
(tests/scripts/test_compare_with_released.py), which needs no released code: for the
architectures of :data:`FIXTURE_ARCHS` (every choice of every decision) at small widths
(:data:`FIXTURE`), the released state dict, the inputs and the released float64 outputs
at every stage, and the same for the discriminator.

    OMP_NUM_THREADS=1 python3 scripts/compare_with_released.py --e2gan /tmp/e2gan \
        --write-fixture tests/fixtures/released_e2gan.pt
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
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
from gan_nas_env.provenance import provenance  # noqa: E402
from gan_nas_env.space import (  # noqa: E402
    AUTOGAN_ARCH,
    E2GAN_ARCH,
    NORM_CHOICES,
    NUM_CELLS,
    SPACE,
    UP_CHOICES,
    Architecture,
    Cell,
)
from gan_nas_env.user_files import check_outputs  # noqa: E402

RELEASED_FILE = Path("search/models_search/shared_gan.py")
RELEASED_URL = "github.com/Yuantian013/E2GAN"
TOL = 1e-5
LATENT = 128
CHANNELS = 3  # the released to_rgb and discriminator hard-code 3 channels
BATCH = 8
POWER_ITERS = 30

# --write-fixture: small widths (every code path is width-agnostic) keep the file small
FIXTURE = {"gf": 8, "df": 8, "latent": 16, "bottom_width": 2, "batch": 2}
# Together they take every choice of every decision (the test checks it), with the
# combinations that need their own released modules: a deconv cell with a shortcut
# (deconv_sc), pre- and post-activation deconv cells, cell 3 deconv with both skips
# (skip_deconvx2 and skip_deconvx4), pre-activation with BN and with IN.
FIXTURE_ARCHS = (
    ("e2gan", str(E2GAN_ARCH)),
    ("autogan", str(AUTOGAN_ARCH)),
    ("cover1", "0 0 0 0 1 1 1 1 1 0 2 2 0 3"),
    ("cover2", "1 1 1 1 1 2 2 0 0 1 0 0 1 2"),
    ("cover3", "0 2 2 1 1 0 0 0 1 0 1 1 0 1"),
    ("cover4", "1 0 1 0 0 1 2 1 0 1 2 0 1 0"),
)

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


def released_sources(path: Path) -> dict[str, str]:
    """SHA-256 of every imported module file under ``path``, by path relative to it."""
    root = path.resolve()
    out: dict[str, str] = {}
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and Path(file).resolve().is_relative_to(root):
            rel = Path(file).resolve().relative_to(root).as_posix()
            out[rel] = hashlib.sha256(Path(file).read_bytes()).hexdigest()
    return dict(sorted(out.items()))


def released_args(gf: int, df: int, bottom_width: int, latent: int = LATENT) -> SimpleNamespace:
    """The ``args`` namespace the released models read."""
    return SimpleNamespace(
        gf_dim=gf, df_dim=df, latent_dim=latent, bottom_width=bottom_width, d_spectral_norm=True
    )


def set_released_stage(rel: Any, arch: Architecture, stage: int) -> list[list[int]]:
    """Put the released generator at ``stage`` (0..3) of ``arch``; returns cells 2.. ``skip_ins``.

    Fails if a released ``skip_ins`` is not what our ``Cell.skip_sources`` implies.
    """
    if stage == 0:
        rel.set_stage(-1)
        return []
    rel.set_arch(arch.prefix(stage).to_vector(), stage - 1)
    flags = []
    for i, cell in enumerate(arch.cells[1:stage], start=1):
        got = [int(f) for f in getattr(rel, f"cell{i + 1}").skip_ins]
        if got != expected_skip_flags(cell, i):
            raise MappingError(
                f"cell {i + 1} skip {cell.skip}: released skip_ins {got} != "
                f"expected {expected_skip_flags(cell, i)} from our sources {cell.skip_sources(i)}"
            )
        flags.append(got)
    return flags


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


def copy_weights(
    ours: nn.Module, rel_sd: Mapping[str, Tensor], module_map: dict[str, str], used: set[str]
) -> int:
    """Copy the released state dict ``rel_sd`` into ours by ``module_map``; returns the count.

    Fails if one of ours has no released tensor, a shape differs, or a released tensor
    in ``used`` (those the released forward reads) is not copied into ours.
    """
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
                assert m.running_mean is not None and m.running_var is not None
                m.weight.normal_(1.0, 0.2)
                m.bias.normal_(0.0, 0.2)
                m.running_mean.normal_(0.0, 0.2)
                m.running_var.uniform_(0.5, 2.0)


def _summed_output(model: nn.Module, *args: Any, **kwargs: Any) -> Tensor:
    """Sum of ``model(*args, **kwargs)`` (of its first element if it returns a tuple)."""
    out = model(*args, **kwargs)
    return (out[0] if isinstance(out, tuple) else out).sum()


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
    key = (label, gf, bottom_width)
    out = []
    for stage in range(NUM_CELLS + 1):
        cells = arch.cells[:stage]
        set_released_stage(rel, arch, stage)
        ours = Generator(arch.prefix(stage) if stage else None, LATENT, gf, bottom_width, CHANNELS).eval()
        used, rel_hooks = forward_usage(rel, lambda: rel(z, eval=True))
        n_copied = copy_weights(ours, rel.state_dict(), generator_module_map(cells), used)
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
        rel_bwd, err = backward_count(rel, partial(_summed_output, rel, z[:2], eval=True))
        ours_bwd, ours_err = backward_count(ours, partial(_summed_output, ours, z[:2]))
        _, ours_hooks = forward_usage(ours, partial(ours, z))
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


def released_discriminator(
    shared_gan: ModuleType, df: int, bottom_width: int, seed: int, gen: torch.Generator
) -> Any:
    """The released discriminator in eval mode, its spectral-norm vectors power-iterated."""
    torch.manual_seed(seed)
    rel = shared_gan.Discriminator(released_args(128, df, bottom_width))
    full = bottom_width * 8
    rel.train()
    rel.cur_stage = 2  # every block runs: one power iteration per layer and forward
    with torch.no_grad():
        for _ in range(POWER_ITERS):
            rel(torch.rand(2, CHANNELS, full, full, generator=gen) * 2 - 1)
    return rel.eval()


def compare_discriminator(
    shared_gan: ModuleType, df: int, bottom_width: int, stages: Sequence[int], seed: int
) -> list[dict[str, Any]]:
    """Released vs ours at ``stages`` (ours 1..3 = released ``cur_stage`` 0..2)."""
    gen = torch.Generator().manual_seed(seed + 1)
    rel = released_discriminator(shared_gan, df, bottom_width, seed, gen)
    out = []
    for stage in stages:
        rel.cur_stage = stage - 1
        res = bottom_width * 2**stage
        x = torch.rand(BATCH, CHANNELS, res, res, generator=gen) * 2 - 1
        ours = Discriminator(df, CHANNELS, bottom_width, stage).eval()
        used, rel_hooks = forward_usage(rel, partial(rel, x))
        n_copied = copy_weights(ours, rel.state_dict(), discriminator_module_map(), used)
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
        rel_bwd, err = backward_count(rel, partial(_summed_output, rel, x[:2]))
        ours_bwd, ours_err = backward_count(ours, partial(_summed_output, ours, x[:2]))
        _, ours_hooks = forward_usage(ours, partial(ours, x))
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


# ---------------------------------------------------------------- fixture for the default tests


def _float64_outputs(model: nn.Module, run: Callable[[], Any]) -> Any:
    """``run()`` with ``model`` in float64 (the float32 weights convert exactly), then back."""
    model.double()
    try:
        with torch.no_grad():
            return run()
    finally:
        model.float()


def fixture_generator(shared_gan: ModuleType, arch: Architecture, seed: int) -> dict[str, Any]:
    """Released generator of ``arch`` at :data:`FIXTURE` widths: weights, latents, outputs.

    ``state_dict`` holds the released tensors some stage's forward reads (float32);
    per stage, ``used`` lists them, ``skip_ins`` the released flags of cells 2.., and
    ``images``/``state`` the released eval-mode outputs in float64.
    """
    f = FIXTURE
    torch.manual_seed(seed)
    rel = shared_gan.Generator(released_args(f["gf"], f["df"], f["bottom_width"], f["latent"]))
    randomize_released_generator(rel)
    rel.eval()
    weights = {k: v.clone() for k, v in rel.state_dict().items()}
    z = torch.randn(f["batch"], f["latent"], generator=torch.Generator().manual_seed(seed + 1))
    stages = []
    for stage in range(NUM_CELLS + 1):
        skip_ins = set_released_stage(rel, arch, stage)
        used, _ = forward_usage(rel, lambda: rel(z, eval=True))
        images, state = _float64_outputs(rel, lambda: rel(z.double(), eval=True))
        stages.append({"stage": stage, "used": sorted(used), "skip_ins": skip_ins,
                       "images": images, "state": state.flatten(1)})
    keep = set().union(*(s["used"] for s in stages))
    return {"vector": str(arch), "z": z, "stages": stages,
            "state_dict": {k: v for k, v in weights.items() if k in keep}}


def fixture_discriminator(shared_gan: ModuleType, seed: int) -> dict[str, Any]:
    """Released discriminator at :data:`FIXTURE` widths: weights, inputs, float64 scores per stage."""
    f = FIXTURE
    gen = torch.Generator().manual_seed(seed + 1)
    rel = released_discriminator(shared_gan, f["df"], f["bottom_width"], seed, gen)
    weights = {k: v.clone() for k, v in rel.state_dict().items()}
    stages = []
    for stage in range(1, NUM_CELLS + 1):
        rel.cur_stage = stage - 1
        res = f["bottom_width"] * 2**stage
        x = torch.rand(f["batch"], CHANNELS, res, res, generator=gen) * 2 - 1
        used, _ = forward_usage(rel, partial(rel, x))
        scores = _float64_outputs(rel, partial(rel, x.double()))
        stages.append({"stage": stage, "used": sorted(used), "x": x, "scores": scores.view(-1)})
    keep = set().union(*(s["used"] for s in stages))
    return {"stages": stages, "state_dict": {k: v for k, v in weights.items() if k in keep}}


def write_fixture(shared_gan: ModuleType, path: Path, seed: int, meta: dict[str, Any]) -> None:
    """The released models' weights, inputs and outputs for the default test suite."""
    generators = {
        label: fixture_generator(shared_gan, Architecture.parse(vector), seed + 10 * k)
        for k, (label, vector) in enumerate(FIXTURE_ARCHS)
    }
    meta = {**meta, **FIXTURE, "channels": CHANNELS, "seed": seed, "dtype": "float64"}
    # plain JSON types only (torch.__version__ is a str subclass): torch.load(weights_only=True)
    record = {"meta": json.loads(json.dumps(meta)),
              "generators": generators,
              "discriminator": fixture_discriminator(shared_gan, seed + 200)}
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(record, path)


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
    p.add_argument("--write-fixture", type=Path, default=None, metavar="PATH",
                   help="write the test fixture to PATH instead of comparing")
    args = p.parse_args(argv)
    check_outputs(p, args, "--out", "--write-fixture")
    return args


def run_comparisons(
    shared_gan: ModuleType, randoms: list[tuple[str, Architecture]], seed: int
) -> list[dict[str, Any]]:
    """Every generator and discriminator row of the report."""
    published = [("e2gan", E2GAN_ARCH), ("autogan", AUTOGAN_ARCH)]
    results: list[dict[str, Any]] = []
    for k, (label, arch) in enumerate(published + randoms):
        results += compare_generator(shared_gan, label, arch, 128, 4, seed + 10 * k)
    for k, (label, arch) in enumerate(published):
        for bw in (4, 6):
            results += compare_generator(shared_gan, label, arch, 256, bw, seed + 100 + 10 * k + bw)
    results += compare_discriminator(shared_gan, 64, 4, tuple(range(1, NUM_CELLS + 1)), seed + 200)
    for bw in (4, 6):
        results += compare_discriminator(shared_gan, 128, bw, (NUM_CELLS,), seed + 300 + bw)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Run every comparison; 0 if all pass, 1 if not, 2 if ``--e2gan`` is wrong."""
    args = parse_args(argv)
    err = check_e2gan_path(args.e2gan)
    if err is not None:
        print(err, file=sys.stderr)
        return 2
    command = [Path(sys.executable).name, *sys.argv] if argv is None else ["compare_with_released.py", *argv]
    shared_gan = load_released(args.e2gan)
    released = {
        "released_repo": RELEASED_URL,
        "released_commit": args.e2gan_commit or released_commit(args.e2gan),
        "released_files_sha256": released_sources(args.e2gan),
        "models_dirty": bool(_git(["status", "--porcelain", "--", "gan_nas_env/models/generator.py",
                                   "gan_nas_env/models/discriminator.py", "gan_nas_env/space.py"], ROOT)),
    }
    if args.write_fixture is not None:
        try:
            write_fixture(shared_gan, args.write_fixture, args.seed,
                          {"provenance": provenance(command), **released})
        except MappingError as e:
            print(f"mapping error: {e}", file=sys.stderr)
            return 1
        print(f"wrote {args.write_fixture} ({args.write_fixture.stat().st_size:,} bytes)")
        return 0
    rng = np.random.default_rng(args.seed)
    randoms = [(f"random{i + 1}", SPACE.sample(rng)) for i in range(args.random)]
    try:
        results = run_comparisons(shared_gan, randoms, args.seed)
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
        "provenance": provenance(command),
        **released,
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
