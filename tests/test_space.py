import numpy as np
import pytest

from gan_nas_env.space import (
    AUTOGAN_ARCH,
    E2GAN_ARCH,
    SPACE,
    Architecture,
    Cell,
    cell_from_action,
    resolve_architecture,
)


def test_space_size_matches_spec():
    assert len(SPACE) == 36 * 72 * 144 == 373248


@pytest.mark.parametrize(
    "text", ["0 1 0 1 0 1 2 1 0 0 1 0 1 2", "1 0 1 1 1 0 0 1 1 1 0 1 0 3"]
)
def test_published_vectors_round_trip(text):
    arch = Architecture.parse(text)
    assert str(arch) == text
    assert Architecture.from_vector(arch.to_vector()) == arch
    assert SPACE.from_index(SPACE.index(arch)) == arch


def test_named_constants():
    assert str(E2GAN_ARCH) == "0 1 0 1 0 1 2 1 0 0 1 0 1 2"
    assert str(AUTOGAN_ARCH) == "1 0 1 1 1 0 0 1 1 1 0 1 0 3"
    assert resolve_architecture("e2gan") == E2GAN_ARCH
    assert resolve_architecture("AutoGAN") == AUTOGAN_ARCH
    assert AUTOGAN_ARCH.cells[2].skip_sources(2) == (1, 0)
    assert E2GAN_ARCH.cells[2].skip_sources(2) == (0,)  # skip 2 = from cell 1


@pytest.mark.parametrize(
    "vector, needle",
    [
        ([0, 1, 0], "expected one of [4, 9, 14]"),
        ([2, 0, 0, 0], "cell 1 conv=2 is out of range; allowed 0..1"),
        ([0, 3, 0, 0], "cell 1 norm=3 is out of range; allowed 0..2"),
        ([0, 0, 0, 0, 0, 0, 0, 0, 2], "cell 2 skip=2 is out of range; allowed 0..1"),
        ([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 4], "cell 3 skip=4 is out of range; allowed 0..3"),
        ([0, 0, -1, 0], "cell 1 up=-1"),
        ([0, 0, 0, 1.5], "not an integer"),
    ],
)
def test_invalid_vectors_name_field_value_range(vector, needle):
    with pytest.raises(ValueError) as exc:
        Architecture.from_vector(vector)
    assert needle in str(exc.value)


def test_invalid_strings():
    with pytest.raises(ValueError, match="integers separated by spaces"):
        Architecture.parse("0 1 x")
    with pytest.raises(ValueError, match="unknown architecture name 'best'"):
        resolve_architecture("best")


def test_cell_one_cannot_skip():
    with pytest.raises(ValueError, match="cell 1 skip=1"):
        Architecture((Cell(0, 0, 0, 0, 1),))


def test_prefixes_and_sampling():
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(200):
        a = SPACE.sample(rng)
        assert a.is_complete and len(a.to_vector()) == 14
        assert a.prefix(2).depth == 2 and a.prefix(2).cells == a.cells[:2]
        seen.add(str(a))
    assert len(seen) == 200  # 373k-sized space: no repeats expected
    again = [str(SPACE.sample(np.random.default_rng(0))) for _ in range(1)]
    assert again[0] == str(SPACE.sample(np.random.default_rng(0)))


def test_sampling_is_uniform_per_field():
    rng = np.random.default_rng(1)
    skips = np.array([SPACE.sample(rng).cells[2].skip for _ in range(4000)])
    counts = np.bincount(skips, minlength=4) / len(skips)
    assert np.allclose(counts, 0.25, atol=0.03)


def test_enumeration_and_index_are_consistent():
    it = iter(SPACE)
    first = [next(it) for _ in range(50)]
    assert [SPACE.index(a) for a in first] == list(range(50))
    assert SPACE.from_index(len(SPACE) - 1).to_vector() == [1, 2, 2, 1, 1, 2, 2, 1, 1, 1, 2, 2, 1, 3]


@pytest.mark.parametrize(
    "depth, bits, skip", [(0, (1, 1), 0), (1, (1, 0), 1), (1, (0, 1), 0), (2, (1, 0), 1), (2, (0, 1), 2), (2, (1, 1), 3)]
)
def test_action_decoding_of_skip_bits(depth, bits, skip):
    assert cell_from_action((1, 2, 0, 1, *bits), depth) == Cell(1, 2, 0, 1, skip)


def test_action_from_cell_inverts_cell_from_action():
    from gan_nas_env.space import action_from_cell

    for i in range(3):
        for cell in SPACE.cells(i):
            assert cell_from_action(action_from_cell(cell), i) == cell
