"""scripts/compare_with_released.py: PATH checks, its weight mapping, and the released outputs.

The released E2GAN code is not needed: the full comparison is run by hand
(docs/fidelity.md). Here, what the script decides without it, and our models against
the released models' outputs stored in tests/fixtures/released_e2gan.pt (written by
``compare_with_released.py --write-fixture``), loaded through the script's key mapping.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from gan_nas_env.models.discriminator import Discriminator
from gan_nas_env.models.generator import Generator, progressive_state
from gan_nas_env.space import AUTOGAN_ARCH, E2GAN_ARCH, NUM_CELLS, SPACE, Architecture, Cell

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "compare_with_released.py"
FIXTURE = ROOT / "tests" / "fixtures" / "released_e2gan.pt"
REPORT = ROOT / "docs" / "fidelity" / "compare.json"
# Both sides run in float64 from the same float32 weights. Ours differs from the released
# forward only in the order of a few additions (docs/fidelity.md, section 2): rounding of
# ~1e-16 relative (here at most 8.6e-16 on outputs of magnitude < 3). 1e-10 leaves room for
# other conv/BLAS kernels and stays far below what a real error moves: by hand, one weight
# off by 1e-6 of its value moved the outputs by 3e-8 to 3e-7, a swapped op by 1e-3 or more.
TOL64 = 1e-10


@pytest.fixture(scope="module")
def cmp(load_script):
    return load_script("compare_with_released")


@pytest.mark.parametrize("kind", ["missing", "empty"])
def test_bad_path_exits_2_with_one_line_and_writes_nothing(cmp, tmp_path, capsys, kind):
    path = tmp_path / "e2gan"
    if kind == "empty":
        (path / "search").mkdir(parents=True)
    out = tmp_path / "out" / "compare.json"
    assert cmp.main(["--e2gan", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: --e2gan ")
    assert "github.com/Yuantian013/E2GAN" in err
    assert ("does not exist" in err) == (kind == "missing")
    assert not out.exists() and not out.parent.exists()


def test_bad_path_exit_code_from_the_command_line(tmp_path):
    out = tmp_path / "c.json"
    r = subprocess.run(
        [sys.executable, str(SCRIPT), "--e2gan", str(tmp_path / "nope"), "--out", str(out)],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "checkout of" in r.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    ("cell_index", "skip", "flags"),
    [(1, 0, [0]), (1, 1, [1]), (2, 0, [0, 0]), (2, 1, [0, 1]), (2, 2, [1, 0]), (2, 3, [1, 1])],
)
def test_released_skip_flags_are_most_significant_bit_first(cmp, cell_index, skip, flags):
    # released skip_ins[j] <-> 0-based source cell j; skip bit k <-> cell (cell_index - 1 - k)
    assert cmp.expected_skip_flags(Cell(0, 0, 0, 0, skip), cell_index) == flags


def test_generator_module_map_by_source_cell(cmp):
    cells = (
        Cell(0, 1, 2, 1),  # post, bn, deconv, shortcut
        Cell(1, 2, 0, 0, 1),  # pre, in, bilinear, skip from cell 1
        Cell(0, 1, 2, 1, 3),  # post, bn, deconv, shortcut, skip from cells 2 and 1
    )
    assert cells[2].skip_sources(2) == (1, 0)
    m = cmp.generator_module_map(cells)
    assert m == {
        "l1": "l1",
        "to_rgb.0": "to_rgb.0",
        "to_rgb.2": "to_rgb.2",
        "cells.0.deconv": "cell1.post_conv1.deconv",
        "cells.0.c1": "cell1.post_conv1.conv",
        "cells.0.c2": "cell1.post_conv2.conv",
        "cells.0.n1": "cell1.post_conv1.bn",
        "cells.0.n2": "cell1.post_conv2.bn",
        "cells.0.sc_up": "cell1.deconv_sc",
        "cells.0.c_sc": "cell1.c_sc",
        "cells.1.c1": "cell2.pre_conv1.conv",
        "cells.1.c2": "cell2.pre_conv2.conv",
        "cells.1.skip_convs.0": "cell2.skip_in_ops.0",
        "cells.2.deconv": "cell3.post_conv1.deconv",
        "cells.2.c1": "cell3.post_conv1.conv",
        "cells.2.c2": "cell3.post_conv2.conv",
        "cells.2.n1": "cell3.post_conv1.bn",
        "cells.2.n2": "cell3.post_conv2.bn",
        "cells.2.skip_convs.0": "cell3.skip_in_ops.1",
        "cells.2.skip_ups.0.0": "cell3.skip_deconvx2",
        "cells.2.skip_convs.1": "cell3.skip_in_ops.0",
        "cells.2.skip_ups.1.0": "cell3.skip_deconvx4.0",
        "cells.2.skip_ups.1.1": "cell3.skip_deconvx4.1",
        "cells.2.sc_up": "cell3.deconv_sc",
        "cells.2.c_sc": "cell3.c_sc",
    }


def test_map_key(cmp):
    g = cmp.generator_module_map(E2GAN_ARCH.cells)
    assert cmp.map_key("cells.0.n1.running_var", g) == "cell1.post_conv1.bn.running_var"
    assert cmp.map_key("to_rgb.2.weight", g) == "to_rgb.2.weight"
    d = cmp.discriminator_module_map()
    assert cmp.map_key("entry.c1.parametrizations.weight.original", d) == "block1.c1.weight_orig"
    assert cmp.map_key("down.c_sc.parametrizations.weight.0._u", d) == "block2.c_sc.weight_u"
    assert cmp.map_key("linear.parametrizations.weight.0._v", d) == "l5.weight_v"
    assert cmp.map_key("last.c2.bias", d) == "block4.c2.bias"
    with pytest.raises(cmp.MappingError, match="no released counterpart"):
        cmp.map_key("cells.5.c1.weight", g)


def _archs() -> list[Architecture | None]:
    rng = np.random.default_rng(0)
    full = [E2GAN_ARCH, AUTOGAN_ARCH] + [SPACE.sample(rng) for _ in range(20)]
    return [None] + [a.prefix(d) for a in full for d in (1, 2, 3)]


def test_every_tensor_of_ours_maps_to_a_distinct_released_name(cmp):
    for arch in _archs():
        g = Generator(arch, latent_dim=4, gf=4, bottom_width=2, channels=3)
        m = cmp.generator_module_map(arch.cells if arch else ())
        keys = list(g.state_dict())
        mapped = [cmp.map_key(k, m) for k in keys]
        assert len(set(mapped)) == len(keys), arch
    d = Discriminator(df=4, channels=3, bottom_width=2, stage=3)
    keys = list(d.state_dict())
    mapped = {cmp.map_key(k, cmp.discriminator_module_map()) for k in keys}
    assert len(mapped) == len(keys)
    assert all(k.startswith(("block1.", "block2.", "block3.", "block4.", "l5.")) for k in mapped)


# ---------------------------------------------------------------- against the released outputs


@pytest.fixture(scope="module")
def released():
    return torch.load(FIXTURE, weights_only=True)


def _maxdiff(ours: torch.Tensor, ref: torch.Tensor) -> float:
    assert ours.shape == ref.shape and ref.dtype == torch.float64
    return float((ours - ref).abs().max())


def test_fixture_covers_every_choice_of_every_decision(released):
    vectors = np.array([Architecture.parse(g["vector"]).to_vector()
                        for g in released["generators"].values()])
    sizes = [n for i in range(NUM_CELLS) for n in SPACE.cell_sizes(i)]
    assert vectors.shape[1] == len(sizes)
    for d, n in enumerate(sizes):
        assert set(vectors[:, d]) == set(range(n)), f"decision {d}: {sorted(set(vectors[:, d]))}"
    assert {str(E2GAN_ARCH), str(AUTOGAN_ARCH)} <= {g["vector"] for g in released["generators"].values()}


def test_fixture_and_report_come_from_the_same_released_code(released):
    meta, report = released["meta"], json.loads(REPORT.read_text())
    assert meta["released_repo"] == report["released_repo"] == "github.com/Yuantian013/E2GAN"
    assert meta["released_files_sha256"] == report["released_files_sha256"]
    assert {"search/models_search/shared_gan.py",
            "search/models_search/building_blocks_search.py"} <= set(meta["released_files_sha256"])
    assert report["released_commit"].startswith(meta["released_commit"][:8])


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_generator_reproduces_the_released_outputs(cmp, released, stage):
    meta = released["meta"]
    diffs = {}
    for label, g in released["generators"].items():
        arch, ref = Architecture.parse(g["vector"]), g["stages"][stage]
        assert ref["stage"] == stage
        assert ref["skip_ins"] == [cmp.expected_skip_flags(c, i)
                                   for i, c in enumerate(arch.cells[1:stage], start=1)], label
        ours = Generator(arch.prefix(stage) if stage else None, meta["latent"], meta["gf"],
                         meta["bottom_width"], meta["channels"]).eval()
        cmp.copy_weights(ours, g["state_dict"], cmp.generator_module_map(arch.cells[:stage]),
                         set(ref["used"]))
        with torch.no_grad():
            images, features = ours.double()(g["z"].double(), return_features=True)
        diffs[label] = (_maxdiff(images, ref["images"]),
                        _maxdiff(progressive_state(features), ref["state"]))
    assert all(d <= TOL64 for pair in diffs.values() for d in pair), diffs


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_discriminator_reproduces_the_released_scores(cmp, released, stage):
    meta, d = released["meta"], released["discriminator"]
    ref = d["stages"][stage - 1]
    assert ref["stage"] == stage
    ours = Discriminator(meta["df"], meta["channels"], meta["bottom_width"], stage).eval()
    cmp.copy_weights(ours, d["state_dict"], cmp.discriminator_module_map(), set(ref["used"]))
    with torch.no_grad():
        scores = ours.double()(ref["x"].double())
    assert _maxdiff(scores, ref["scores"]) <= TOL64
