"""Prototype structures of a material's elements, off the material (replay, forgetting)."""

import numpy as np
import pytest

from mlip_finetune.data.replay import prototype_structures, replay_structures


def test_prototypes_of_the_elements_and_of_every_pair():
    structures = prototype_structures(["Cl", "Na", "Na"])
    assert len(structures) == 5 * 2 + 3
    assert [s.composition.reduced_formula for s in structures[:5]] == ["Na"] * 5
    assert {s.composition.reduced_formula for s in structures[10:]} == {"NaCl"}
    # fcc primitive cell of Na: a = 2√2·r, one atom in a quarter of a³
    radius = 1.8  # pymatgen's atomic radius of Na (Å)
    assert structures[0].volume == pytest.approx((2 * np.sqrt(2) * radius) ** 3 / 4)


def test_replay_structures_are_diverse_prototypes():
    structures = replay_structures(["Na", "Cl"], n=26, seed=1)
    assert len(structures) == 26
    assert all(len(s) >= 4 for s in structures)
    assert {s.composition.chemical_system for s in structures} == {"Na", "Cl", "Cl-Na"}
    volumes = [s.volume / len(s) for s in structures]
    assert len(set(np.round(volumes, 6))) == 26
    again = replay_structures(["Na", "Cl"], n=26, seed=1)
    assert all(
        np.allclose(a.cart_coords, b.cart_coords) for a, b in zip(structures, again, strict=True)
    )


def test_replay_structures_need_elements_and_a_positive_count():
    with pytest.raises(ValueError, match="at least one structure"):
        replay_structures(["Si"], n=0)
    with pytest.raises(ValueError, match="at least one element"):
        replay_structures([], n=3)
