"""Build the reference data of the VASP test fake from real GPAW calculations.

Run from the repository root (a minute on two cores; needs GPAW):

    .venv/bin/python -m tests.test_data.vasp.make_reference [cases] [properties]

(``cases``: the static and relax cases; ``properties``: the Si2 chain of the VASP property
suite, under a minute; default both.) For every case, in ``tests/test_data/vasp/<case>/``:

- ``inputs/``: INCAR, KPOINTS, POSCAR and POTCAR.spec exactly as
  :mod:`mlip_finetune.dft.vasp` writes them for the structure (POTCAR symbols only: the
  VASP POTCARs are licensed and absent here, as in atomate2's own tests);
- ``outputs/``: ``vasprun.xml``, ``OUTCAR`` and ``CONTCAR`` in VASP's formats and units
  (kBar, VASP's stress sign: compression > 0, atoms in the POSCAR's order), holding the
  numbers of a GPAW calculation of the same structure;
- ``reference.json``: the GPAW numbers as the engine returned them (eV, eV/Å, GPa with
  ASE's sign, the caller's atom order), the GPAW settings and version.

The numbers come from GPAW at ``DFTSettings.test()`` (250 eV, k-spacing 1.0 Å⁻¹), not at
the paper's settings written in the inputs: the fake tests plumbing and conventions, not
VASP's physics. ``vasprun.xml`` says so in a comment, and its k-point section lists the
mesh GPAW really used. The energy extrapolated to σ → 0 goes to ``e_0_energy``, the
force-consistent free energy to ``e_fr_energy`` and ``e_wo_entrp = 2·e_0 − e_fr`` (VASP's
relation between the three for Gaussian-like smearing). Relaxations write one ionic step
per frame of GPAW's BFGS trajectory.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from ase.io import read
from pymatgen.core import Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.vasp import Incar, Poscar, Vasprun

from mlip_finetune.dft.engines import get_engine
from mlip_finetune.dft.gpaw.engine import OUTPUT_FILE
from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.dft.vasp import (
    PaperRelaxSetGenerator,
    PaperStaticSetGenerator,
)
from mlip_finetune.units import EV_PER_A3_TO_GPA
from tests.dft.vasp_outputs import GPA_TO_KBAR, write_outcar, write_vasprun

HERE = Path(__file__).resolve().parent
#: GPAW settings of every reference calculation.
GPAW_SETTINGS = DFTSettings.test()
#: GPAW relaxation of the relax case: force threshold (eV/Å), steps.
RELAX_FMAX = 0.01
RELAX_MAX_STEPS = 60
#: GPAW settings of the property chain (:func:`property_chain`): the test cutoff with a
#: spacing that gives every strained Si2 cell the same 5×5×5 mesh, so the EOS and the elastic
#: fit do not see a mesh switch.
PROPERTY_SETTINGS = GPAW_SETTINGS.model_copy(update={"kspacing": 0.45})
#: Force (and cell) threshold of the chain's bulk and EOS relaxations (eV/Å), the paper's.
PROPERTY_RELAX_FMAX = 5e-4


def si2(a: float) -> Structure:
    """Diamond Si, primitive cell, conventional lattice parameter ``a`` (Å)."""
    conv = Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), ["Si"], [[0, 0, 0]])
    return conv.get_primitive_structure()


def displaced(structure: Structure, index: int, vector: list[float]) -> Structure:
    """Copy of ``structure`` with site ``index`` moved by ``vector`` (Å)."""
    moved = structure.copy()
    moved.translate_sites([index], vector, frac_coords=False, to_unit_cell=True)
    return moved


def nacl_cl_first(a: float) -> Structure:
    """Rock-salt NaCl, primitive cell, Cl listed first."""
    lattice = Lattice([[0, a / 2, a / 2], [a / 2, 0, a / 2], [a / 2, a / 2, 0]])
    return Structure(lattice, ["Cl", "Na"], [[0.5, 0.5, 0.5], [0, 0, 0]])


#: Start of the property chain: diamond Si at the experimental lattice parameter (Å).
PROPERTY_START = si2(5.431)

#: case name → (structure as handed to the VASP maker, "static" or "relax").
CASES: dict[str, tuple[Structure, str]] = {
    # Compressed (a = 5.30 Å) and displaced Si: compressive stress and real forces.
    "si2_static": (displaced(si2(5.30), 0, [0.07, -0.04, 0.03]), "static"),
    # Two species, the more electronegative first.
    "nacl_static": (displaced(nacl_cl_first(5.50), 1, [0.05, 0.02, -0.03]), "static"),
    # Compressed, displaced Si relaxed (cell and positions).
    "si2_relax": (displaced(si2(5.30), 0, [0.05, 0.03, -0.02]), "relax"),
}


def gpaw_log_facts(log: Path) -> dict:
    """Read the number of bands and the FFT grid of a GPAW log."""
    text = log.read_text(encoding="utf-8")
    grid = re.search(r"Grid points: \[\s*(\d+)\s+(\d+)\s+(\d+)\s*\]", text)
    bands = re.search(r"^Bands:\s+(\d+)", text, flags=re.MULTILINE)
    if grid is None or bands is None:
        raise RuntimeError(f"Could not read bands and grid from {log}.")
    return {"nbands": int(bands.group(1)), "grid": [int(n) for n in grid.groups()]}


def gpaw_steps(
    structure: Structure, kind: str, directory: Path, settings: DFTSettings, relax: dict
) -> tuple[list[dict], object, dict]:
    """Run GPAW; return its ionic steps (caller's order, eV, eV/Å, GPa), result, log facts."""
    engine = get_engine("gpaw")
    if kind == "static":
        result = engine.run_static(structure, settings, directory)
        frames = [(structure, result.energy, result.free_energy, result.forces, result.stress)]
    else:
        result = engine.relax(structure, settings, directory, **relax)
        frames = []
        for atoms in read(directory / "relax.traj", index=":"):
            frame = AseAtomsAdaptor.get_structure(atoms)
            # a fixed-cell relaxation stores no stress per step; the engine computes it at
            # the final geometry (result.stress), and only that one is written
            stress = atoms.get_stress(voigt=False) if relax["relax_cell"] else None
            frames.append(
                (
                    frame,
                    atoms.get_potential_energy(),
                    atoms.get_potential_energy(force_consistent=True),
                    atoms.get_forces(),
                    stress,
                )
            )
        frames[-1] = (*frames[-1][:4], result.stress)
    steps = [
        {
            "structure": frame,
            "energy": float(energy),
            "free_energy": float(free_energy),
            "forces": np.asarray(forces, dtype=float),
            "stress_gpa": None
            if stress is None
            else np.asarray(stress, dtype=float) * EV_PER_A3_TO_GPA,
        }
        for frame, energy, free_energy, forces, stress in frames
    ]
    # irreducible k-points and weights, and the Kohn–Sham eigenvalues of the final geometry
    # (pymatgen's input sets read the band gap of a previous vasprun.xml, e.g. in atomate2's
    # double relaxation), from the worker's output; bands and FFT grid from GPAW's log
    bands = json.loads((directory / OUTPUT_FILE).read_text(encoding="utf-8"))["bands"]
    facts = gpaw_log_facts(directory / "gpaw.txt")
    facts |= {"bands": bands, "kpoints": bands["kpoints"], "weights": bands["weights"]}
    return steps, result, facts


def make_case(
    name: str,
    structure: Structure,
    kind: str,
    *,
    generator: object | None = None,
    settings: DFTSettings = GPAW_SETTINGS,
    fmax: float = RELAX_FMAX,
    relax_cell: bool = True,
) -> Structure:
    """Write inputs, outputs and reference.json of one case; return the final structure.

    ``generator`` writes the VASP inputs (default: the paper's static or relax set);
    ``settings``, ``fmax`` and ``relax_cell`` are GPAW's. The returned structure is the one
    VASP's parsers read back from the written vasprun.xml.
    """
    import gpaw

    if generator is None:
        generator = PaperStaticSetGenerator() if kind == "static" else PaperRelaxSetGenerator()
    relax = {
        "fmax": fmax,
        "relax_cell": relax_cell,
        "max_steps": RELAX_MAX_STEPS,
        "optimizer": "BFGS",
    }
    case = HERE / name
    shutil.rmtree(case, ignore_errors=True)
    (case / "outputs").mkdir(parents=True)
    vis = generator.get_input_set(structure, potcar_spec=True)
    vis.write_input(case / "inputs")

    # atomate2 0.1.5 writes the sites in the caller's order (its dataclass field
    # ``structure`` shadows pymatgen's sorting setter); the outputs follow the POSCAR.
    poscar = Poscar.from_file(case / "inputs" / "POSCAR").structure
    if not all(
        a.species == b.species and np.allclose(a.coords, b.coords, atol=1e-6)
        for a, b in zip(structure, poscar, strict=True)
    ):
        raise RuntimeError(f"{name}: the POSCAR's sites differ from the input's.")

    with tempfile.TemporaryDirectory() as tmp:
        steps, result, facts = gpaw_steps(structure, kind, Path(tmp), settings, relax)
    final = steps[-1]
    np.testing.assert_allclose(final["energy"], result.energy, atol=1e-6)
    np.testing.assert_allclose(final["forces"], result.forces, atol=1e-6)

    vasp_steps = [
        {
            "structure": step["structure"],
            "energy": step["energy"],
            "free_energy": step["free_energy"],
            "forces": step["forces"],
            # VASP: kBar and the sign of a pressure (compression > 0).
            "stress_kbar": None
            if step["stress_gpa"] is None
            else -GPA_TO_KBAR * step["stress_gpa"],
        }
        for step in steps
    ]
    vasp_steps[-1]["bands"] = facts["bands"]
    note = (
        f"Fake vasprun.xml written by tests/test_data/vasp/make_reference.py: the numbers are "
        f"a GPAW {gpaw.__version__} calculation ({settings.ecut} eV, k-spacing "
        f"{settings.kspacing} 1/A, mesh {result.kpoints}), not VASP at the INCAR's settings."
    )
    incar = Incar.from_file(case / "inputs" / "INCAR")
    write_vasprun(
        case / "outputs" / "vasprun.xml",
        incar=incar,
        potcar_symbols=(case / "inputs" / "POTCAR.spec").read_text(encoding="utf-8").split(),
        initial=poscar,
        steps=vasp_steps,
        mesh=result.kpoints,
        facts=facts,
        note=note,
    )
    write_outcar(
        case / "outputs" / "OUTCAR",
        incar=incar,
        step=vasp_steps[-1],
        wall_time=result.wall_time,
        cores=settings.mpi_ranks,
        facts=facts,
        note=note,
    )
    Poscar(vasp_steps[-1]["structure"]).write_file(case / "outputs" / "CONTCAR")

    reference = {
        "case": name,
        "kind": kind,
        "note": note,
        "generated": datetime.now(UTC).isoformat(timespec="seconds"),
        "gpaw_version": gpaw.__version__,
        "gpaw_settings": settings.model_dump(mode="json"),
        "gpaw_kpoints": list(result.kpoints),
        "wall_time_s": result.wall_time,
        "relax": relax if kind == "relax" else None,
        "n_steps": len(steps) - 1,
        "input_structure": structure.as_dict(),
        "final_structure": final["structure"].as_dict(),
        "energy_ev": final["energy"],
        "free_energy_ev": final["free_energy"],
        "forces_ev_per_a": final["forces"].tolist(),
        "stress_gpa": final["stress_gpa"].tolist(),
    }
    (case / "reference.json").write_text(json.dumps(reference, indent=1) + "\n", encoding="utf-8")
    print(f"{name}: E = {final['energy']:.6f} eV, {len(steps)} step(s), mesh {result.kpoints}")  # noqa: T201
    return Vasprun(case / "outputs" / "vasprun.xml", parse_potcar_file=False).final_structure


def property_chain() -> None:
    """The cases of the VASP property suite (``VaspPropertiesMaker``) on Si2, in flow order.

    Each step starts from the structure VASP's parsers read from the previous case's
    vasprun.xml, as the atomate2 flow does: bulk relaxation twice (ISIF 3), then the strained
    cells of atomate2's ``generate_elastic_deformations`` (fixed cell, 1 meV/Å) and the 11
    EOS volumes of :func:`~mlip_finetune.dft.vasp.flows.paper_eos_maker` (fixed volume). GPAW
    relaxes the EOS cells' positions only: an isotropically scaled diamond cell stays cubic
    with zero forces by symmetry, which is what VASP's ISIF 4 would find.
    """
    from atomate2.common.jobs.elastic import generate_elastic_deformations
    from pymatgen.transformations.standard_transformations import (
        DeformStructureTransformation,
    )

    from mlip_finetune.evaluation.vasp_properties import paper_properties_maker

    maker = paper_properties_maker()
    relax_generator = maker.relax_maker.relax_maker1.input_set_generator
    kwargs = {"settings": PROPERTY_SETTINGS, "fmax": PROPERTY_RELAX_FMAX}
    relaxed = make_case(
        "si2_props_relax1", PROPERTY_START, "relax", generator=relax_generator, **kwargs
    )
    relaxed = make_case("si2_props_relax2", relaxed, "relax", generator=relax_generator, **kwargs)
    elastic = maker.elastic_maker
    deformations = generate_elastic_deformations.original(
        relaxed, order=elastic.order, sym_reduce=elastic.sym_reduce, symprec=elastic.symprec
    )
    for i, deformation in enumerate(deformations, start=1):
        strained = DeformStructureTransformation(deformation=deformation).apply_transformation(
            relaxed
        )
        make_case(
            f"si2_props_elastic_{i}",
            strained,
            "relax",
            generator=elastic.elastic_relax_maker.input_set_generator,
            settings=PROPERTY_SETTINGS,
            fmax=-elastic.elastic_relax_maker.input_set_generator.preset_incar["EDIFFG"],
            relax_cell=False,
        )
    eos = maker.eos_maker
    for i, strain in enumerate(np.linspace(*eos.linear_strain, eos.number_of_frames)):
        scaled = DeformStructureTransformation(
            deformation=(np.identity(3) * (1.0 + strain)).tolist()
        ).apply_transformation(relaxed)
        make_case(
            f"si2_props_eos_{i}",
            scaled,
            "relax",
            generator=eos.eos_relax_maker.input_set_generator,
            relax_cell=False,
            **kwargs,
        )


def main(groups: list[str]) -> None:
    """Regenerate the cases of ``groups`` (``cases``, ``properties``; default both)."""
    if not groups or "cases" in groups:
        for name, (structure, kind) in CASES.items():
            make_case(name, structure, kind)
    if not groups or "properties" in groups:
        property_chain()


if __name__ == "__main__":
    main(sys.argv[1:])
