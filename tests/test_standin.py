import numpy as np

from mlip_finetune.standin import StandinSettings, standin_structures


def test_standin_structures(si_primitive):
    settings = StandinSettings(n_material=10, n_elemental=4, min_supercell_atoms=8, seed=3)
    structures = standin_structures(si_primitive, settings)
    assert len(structures) == 14
    material = structures[:10]
    assert all(len(s) == 16 for s in material)  # 2-atom cell → 2×2×2 = 16 ≥ 8
    v0 = 8 * si_primitive.volume
    for s in material:
        # symmetric strain ≤ 4 % per component → volume within ~±13 %
        assert abs(s.volume / v0 - 1) < 0.13
        assert min(s.distance_matrix[np.triu_indices(len(s), 1)]) > 1.5
    # elemental cells alternate conventional fcc (4 atoms) and bcc (2 atoms)
    assert [len(s) for s in structures[10:]] == [4, 2, 4, 2]
    assert all(s.composition.reduced_formula == "Si" for s in structures[10:])
    again = standin_structures(si_primitive, settings)
    assert all(
        np.allclose(a.cart_coords, b.cart_coords) for a, b in zip(structures, again, strict=True)
    )


def test_tiny_standin_is_labelled_and_cached(tiny_standin, si_primitive):
    assert tiny_standin.is_standin
    assert "STAND-IN" in tiny_standin.description
    assert "CHGNet" in tiny_standin.description
    from mlip_finetune.calculators import mace_calculator

    atoms = si_primitive.to_ase_atoms()
    atoms.calc = mace_calculator(tiny_standin.path, device="cpu")
    # distilled from CHGNet: diamond Si sits near -5.4 eV/atom (MP-compatible energies)
    assert -6.5 < atoms.get_potential_energy() / len(atoms) < -4.0


def test_cache_key_ignores_settings_scratch_training_does_not_read(si_primitive):
    from mlip_finetune.standin import StandinSettings, _key

    base = StandinSettings()
    lora = base.model_copy(update={"train": base.train.model_copy(update={"lora_rank": 64})})
    faster = base.model_copy(update={"train": base.train.model_copy(update={"lr": 0.1})})
    assert _key(si_primitive, lora) == _key(si_primitive, base)
    assert _key(si_primitive, faster) != _key(si_primitive, base)
