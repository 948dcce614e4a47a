"""What a generator costs: parameter and multiply-accumulate counts of any architecture.

Counted once per width setting from torch modules on the meta device (no memory, no
arithmetic) and shipped as per-part terms (``assets/generator_costs.json``, written by
``scripts/build_generator_costs.py``), so :func:`generator_cost` of any of the 373,248
architectures is a sum of table look-ups without torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gan_nas_env.config import Config
from gan_nas_env.resources import ASSET_DIR
from gan_nas_env.space import NUM_CELLS, SPACE, Architecture, Cell

COSTS_ASSET = ASSET_DIR / "generator_costs.json"
COSTS_FORMAT = 1


@dataclass(frozen=True)
class Widths:
    """The sizes that set a generator's parameter and FLOP counts."""

    latent_dim: int
    gf: int
    bottom_width: int
    channels: int
    num_generators: int = 1

    @classmethod
    def of(cls, cfg: Config, final: bool) -> Widths:
        """The proxy's generator (``model.gf``) or the final protocol's (``retrain.gf``)."""
        m = cfg.model
        return cls(m.latent_dim, cfg.retrain.gf if final else m.gf, m.bottom_width, cfg.data.channels,
                   m.num_generators)

    def key(self) -> str:
        """The asset's key (``num_generators`` only multiplies the parameters)."""
        return f"latent{self.latent_dim}-gf{self.gf}-bw{self.bottom_width}-ch{self.channels}"


_CELL_POS = [{c: j for j, c in enumerate(SPACE.cells(i))} for i in range(NUM_CELLS)]


def _layer_macs(module: Any, in_hw: int, out_hw: int) -> int:
    """Multiply-accumulates of one Linear / Conv2d / ConvTranspose2d call on one sample.

    :param in_hw: / :param out_hw: pixels of one channel of its input / output.
    """
    from torch import nn

    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        kh, kw = module.kernel_size
        per_pixel = module.in_channels * module.out_channels // module.groups * kh * kw
        # a conv's work is per output pixel; a transposed conv's per input pixel
        return (out_hw if isinstance(module, nn.Conv2d) else in_hw) * per_pixel
    return 0


def _spatial_sizes(model: Any, *args: Any) -> dict[str, tuple[int, int]]:
    """Pixels of one channel of each conv's input and output in a forward pass of ``model``."""
    import torch
    from torch import nn

    sizes: dict[str, tuple[int, int]] = {}

    def record(name: str) -> Any:
        def hook(m: Any, i: tuple[Any, ...], o: Any) -> None:
            sizes[name] = (i[0].shape[-1] * i[0].shape[-2], o.shape[-1] * o.shape[-2])
        return hook

    hooks = [mod.register_forward_hook(record(name)) for name, mod in model.named_modules()
             if isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d))]
    with torch.no_grad():
        model(*args)
    for h in hooks:
        h.remove()
    return sizes


def _count(model: Any, sizes: dict[str, tuple[int, int]], part: Any) -> dict[str, int]:
    """``{part}_params`` and ``{part}_flops`` of ``model`` (``part(name)`` names each layer's part)."""
    out: dict[str, int] = {}
    for name, mod in model.named_modules():
        key = f"{part(name)}_flops"
        out[key] = out.get(key, 0) + _layer_macs(mod, *sizes.get(name, (1, 1)))
    for name, p in model.named_parameters():
        key = f"{part(name)}_params"
        out[key] = out.get(key, 0) + p.numel()
    return out


def count_generator(arch: Architecture | None, widths: Widths) -> dict[str, int]:
    """Parameters and MACs of one generator, split into ``stem`` (Linear + head) and ``cell<i>``.

    The spatial size of every layer's input and output comes from a forward pass of the
    same architecture with one channel everywhere (milliseconds on the CPU); the channel
    counts and parameters from the generator at ``widths``, built on torch's meta device
    (no memory, no arithmetic). The tests check the result against torch's FLOP counter.

    :return: ``{part}_params`` and ``{part}_flops`` for each part.
    """
    import torch

    from gan_nas_env.models.generator import Generator

    w = widths
    sizes = _spatial_sizes(Generator(arch, 1, 1, w.bottom_width, 1).eval(), torch.zeros(1, 1))
    with torch.device("meta"):
        g = Generator(arch, w.latent_dim, w.gf, w.bottom_width, w.channels)
    return _count(g, sizes, lambda name: f"cell{name.split('.')[1]}" if name.startswith("cells.") else "stem")


def cell_cost_terms(widths: Widths) -> dict[str, Any]:
    """Per-part terms of the generator's params and MACs at ``widths`` (needs torch).

    The stem per depth from :func:`count_generator`; each cell alone, fed inputs of the
    shapes that a one-channel generator gives that position (its input, and the skip
    features of every earlier cell).

    :return: ``stem_params`` and ``stem_flops`` per depth 0..3 (the head renders at the
        depth's resolution), and ``cell_params`` / ``cell_flops``: per position, one entry per
        cell in ``SPACE.cells(position)`` order.
    """
    import torch

    from gan_nas_env.models.generator import Generator, GeneratorCell

    w = widths
    terms: dict[str, Any] = {"stem_params": [], "stem_flops": [], "cell_params": [], "cell_flops": []}
    for depth in range(NUM_CELLS + 1):
        c = count_generator(Architecture((Cell(0, 0, 0, 0, 0),) * depth) if depth else None, w)
        terms["stem_params"].append(c["stem_params"])
        terms["stem_flops"].append(c["stem_flops"])
    tiny = Generator(Architecture((Cell(0, 0, 0, 0, 0),) * NUM_CELLS), 1, 1, w.bottom_width, 1).eval()
    inputs: list[Any] = []
    skips: list[Any] = []

    def keep(m: Any, i: tuple[Any, ...], o: tuple[Any, Any]) -> None:
        inputs.append(i[0])  # the cell's input
        skips.append(o[0])  # its skip feature, what later cells read

    hooks = [cell.register_forward_hook(keep) for cell in tiny.cells]
    with torch.no_grad():
        tiny(torch.zeros(1, 1))
    for h in hooks:
        h.remove()
    for pos in range(NUM_CELLS):
        params, flops = [], []
        for cell in SPACE.cells(pos):
            small = GeneratorCell(1, 1, cell, pos).eval()
            sizes = _spatial_sizes(small, inputs[pos], [skips[s] for s in small.skip_sources])
            with torch.device("meta"):
                big = GeneratorCell(w.gf, w.gf, cell, pos)
            c = _count(big, sizes, lambda name: "cell")
            params.append(c["cell_params"])
            flops.append(c["cell_flops"])
        terms["cell_params"].append(params)
        terms["cell_flops"].append(flops)
    return terms


_TERMS: dict[str, dict[str, Any]] = {}


def _terms(widths: Widths) -> dict[str, Any]:
    """The asset's terms for ``widths``, else computed once (torch) and kept for this process."""
    key = widths.key()
    if key not in _TERMS:
        stored: dict[str, Any] = {}
        if COSTS_ASSET.exists():
            asset = json.loads(COSTS_ASSET.read_text())
            stored = asset["widths"] if asset.get("format") == COSTS_FORMAT else {}
        _TERMS[key] = stored[key] if key in stored else cell_cost_terms(widths)
    return _TERMS[key]


def generator_cost(arch: Architecture, widths: Widths) -> tuple[int, int]:
    """``(params, flops)`` of the generator of the prefix ``arch`` at ``widths`` (see the module doc)."""
    t = _terms(widths)
    params = t["stem_params"][arch.depth] + sum(t["cell_params"][i][_CELL_POS[i][c]]
                                                for i, c in enumerate(arch.cells))
    flops = t["stem_flops"][arch.depth] + sum(t["cell_flops"][i][_CELL_POS[i][c]]
                                              for i, c in enumerate(arch.cells))
    return int(params) * widths.num_generators, int(flops)
