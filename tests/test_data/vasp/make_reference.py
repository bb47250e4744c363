"""Build the reference data of the VASP test fake from real GPAW calculations.

Run from the repository root (a minute on two cores; needs GPAW):

    .venv/bin/python tests/test_data/vasp/make_reference.py

For every case, in ``tests/test_data/vasp/<case>/``:

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
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
from ase.io import read
from pymatgen.core import Element, Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.vasp import Incar, Poscar
from pymatgen.io.vasp.inputs import _load_potcar_summary_stats

from mlip_finetune.dft.engines import get_engine
from mlip_finetune.dft.settings import DFTSettings
from mlip_finetune.dft.vasp import (
    PAPER_POTCAR_FUNCTIONAL,
    PaperRelaxSetGenerator,
    PaperStaticSetGenerator,
)
from mlip_finetune.units import EV_PER_A3_TO_GPA

HERE = Path(__file__).resolve().parent
#: GPAW settings of every reference calculation.
GPAW_SETTINGS = DFTSettings.test()
#: GPAW relaxation of the relax case: force threshold (eV/Å), steps.
RELAX_FMAX = 0.01
RELAX_MAX_STEPS = 60
#: 1 GPa in kBar.
GPA_TO_KBAR = 10.0


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


#: case name → (structure as handed to the VASP maker, "static" or "relax").
CASES: dict[str, tuple[Structure, str]] = {
    # Compressed (a = 5.30 Å) and displaced Si: compressive stress and real forces.
    "si2_static": (displaced(si2(5.30), 0, [0.07, -0.04, 0.03]), "static"),
    # Two species, the more electronegative first.
    "nacl_static": (displaced(nacl_cl_first(5.50), 1, [0.05, 0.02, -0.03]), "static"),
    # Compressed, displaced Si relaxed (cell and positions).
    "si2_relax": (displaced(si2(5.30), 0, [0.05, 0.03, -0.02]), "relax"),
}


def potcar_header(symbol: str) -> tuple[str, float]:
    """Return (TITEL, ZVAL) of a PBE_54 POTCAR from pymatgen's POTCAR summary statistics."""
    stats = _load_potcar_summary_stats()[PAPER_POTCAR_FUNCTIONAL]
    pattern = re.compile(rf"^PAW_PBE{re.escape(symbol)}(\d{{2}}[A-Z][a-z]{{2}}\d{{4}})$")
    for key, entries in stats.items():
        if match := pattern.match(key):
            return f"PAW_PBE {symbol} {match.group(1)}", float(entries[0]["ZVAL"])
    raise KeyError(f"No {PAPER_POTCAR_FUNCTIONAL} POTCAR {symbol!r} in pymatgen's statistics.")


def _fmt(values: np.ndarray | list) -> str:
    return " ".join(f"{float(v):20.12f}" for v in values)


def _xml_param(name: str, value: object) -> str:
    if isinstance(value, bool):
        return f'  <i type="logical" name="{name}"> {"T" if value else "F"}  </i>'
    if isinstance(value, int):
        return f'  <i type="int" name="{name}">{value}</i>'
    if isinstance(value, float):
        return f'  <i name="{name}">{value:.10g}</i>'
    if isinstance(value, list):
        return f'  <v name="{name}">{" ".join(str(v) for v in value)}</v>'
    return f'  <i type="string" name="{name}">{escape(str(value))}</i>'


def _xml_structure(structure: Structure, name: str | None = None) -> str:
    attribute = f' name="{name}" ' if name else ""
    basis = "\n".join(f"    <v>{_fmt(row)} </v>" for row in structure.lattice.matrix)
    rec = "\n".join(
        f"    <v>{_fmt(row)} </v>"
        for row in structure.lattice.reciprocal_lattice_crystallographic.matrix
    )
    positions = "\n".join(f"   <v>{_fmt(site.frac_coords)} </v>" for site in structure)
    return (
        f'<structure{attribute}>\n  <crystal>\n   <varray name="basis" >\n{basis}\n   </varray>\n'
        f'   <i name="volume">{structure.volume:20.12f} </i>\n'
        f'   <varray name="rec_basis" >\n{rec}\n   </varray>\n  </crystal>\n'
        f'  <varray name="positions" >\n{positions}\n  </varray>\n </structure>'
    )


def _xml_energy(energy: float, free_energy: float, indent: str) -> str:
    without_entropy = 2.0 * energy - free_energy
    return (
        f"{indent}<energy>\n"
        f'{indent} <i name="e_fr_energy">{free_energy:20.10f} </i>\n'
        f'{indent} <i name="e_wo_entrp">{without_entropy:20.10f} </i>\n'
        f'{indent} <i name="e_0_energy">{energy:20.10f} </i>\n'
        f"{indent}</energy>"
    )


def write_vasprun(
    path: Path,
    *,
    incar: Incar,
    potcar_symbols: list[str],
    initial: Structure,
    steps: list[dict],
    mesh: list[int],
    facts: dict,
    note: str,
) -> None:
    """Write a vasprun.xml with one <calculation> per step (structure, eV, eV/Å, kBar).

    The k-point section holds GPAW's mesh, irreducible k-points and weights (``facts``).
    """
    symbols = [site.specie.symbol for site in initial]
    types = list(dict.fromkeys(symbols))
    headers = dict(zip(types, (potcar_header(s) for s in potcar_symbols), strict=True))
    atoms_rows = "\n".join(
        f"    <rc><c>{s:2s}</c><c>{types.index(s) + 1:4d}</c></rc>" for s in symbols
    )
    type_rows = "\n".join(
        f"    <rc><c>{symbols.count(t):4d}</c><c>{t:2s}</c>"
        f"<c>{float(Element(t).atomic_mass):16.8f}</c>"
        f"<c>{headers[t][1]:16.8f}</c><c>  {headers[t][0]}  </c></rc>"
        for t in types
    )
    nelect = sum(headers[s][1] for s in symbols)
    parameters = dict(incar)
    parameters |= {
        "NELECT": nelect,
        "NELM": int(incar.get("NELM", 60)),
        "NBANDS": facts["nbands"],
        "NSW": int(incar.get("NSW", 0)),
        "IBRION": int(incar.get("IBRION", -1)),
        "ISIF": int(incar.get("ISIF", 2)),
        "ISPIN": int(incar.get("ISPIN", 1)),
        "LORBIT": int(incar.get("LORBIT", 0)),
        "GGA": str(incar.get("GGA", "PE")).upper(),
        "LEPSILON": False,
        "LCHIMAG": False,
        "LDAU": False,
        "LHFCALC": False,
        "LUSE_VDW": False,
    }
    calculations = [
        (
            "<calculation>\n <scstep>\n"
            + _xml_energy(step["energy"], step["free_energy"], "  ")
            + "\n </scstep>\n "
            + _xml_structure(step["structure"])
            + '\n <varray name="forces" >\n'
            + "\n".join(f"  <v>{_fmt(f)} </v>" for f in step["forces"])
            + '\n </varray>\n <varray name="stress" >\n'
            + "\n".join(f"  <v>{_fmt(s)} </v>" for s in step["stress_kbar"])
            + "\n </varray>\n"
            + _xml_energy(step["energy"], step["free_energy"], " ")
            + "\n</calculation>"
        )
        for step in steps
    ]
    text = "\n".join(
        [
            '<?xml version="1.0" encoding="ISO-8859-1"?>',
            f"<!-- {escape(note)} -->",
            "<modeling>",
            " <generator>",
            '  <i name="program" type="string">vasp </i>',
            '  <i name="version" type="string">6.4.2  </i>',
            '  <i name="subversion" type="string">fake: GPAW numbers, see make_reference.py </i>',
            '  <i name="platform" type="string">mlip-finetune test fake </i>',
            " </generator>",
            " <incar>",
            *(_xml_param(k, v) for k, v in incar.items()),
            " </incar>",
            " <kpoints>",
            '  <generation param="Gamma">',
            f'   <v type="int" name="divisions">{" ".join(str(n) for n in mesh)} </v>',
            '   <v name="usershift">0.0 0.0 0.0 </v>',
            "  </generation>",
            '  <varray name="kpointlist" >',
            *(f"   <v>{_fmt(p)} </v>" for p in facts["kpoints"]),
            "  </varray>",
            '  <varray name="weights" >',
            *(f"   <v>{w:20.12f} </v>" for w in facts["weights"]),
            "  </varray>",
            " </kpoints>",
            " <parameters>",
            ' <separator name="general" >',
            *(_xml_param(k, v) for k, v in parameters.items()),
            " </separator>",
            " </parameters>",
            " <atominfo>",
            f"  <atoms>{len(symbols)}</atoms>",
            f"  <types>{len(types)}</types>",
            '  <array name="atoms" >',
            '   <dimension dim="1">ion</dimension>',
            '   <field type="string">element</field>',
            '   <field type="int">atomtype</field>',
            "   <set>",
            atoms_rows,
            "   </set>",
            "  </array>",
            '  <array name="atomtypes" >',
            '   <dimension dim="1">type</dimension>',
            '   <field type="int">atomspertype</field>',
            '   <field type="string">element</field>',
            "   <field>mass</field>",
            "   <field>valence</field>",
            '   <field type="string">pseudopotential</field>',
            "   <set>",
            type_rows,
            "   </set>",
            "  </array>",
            " </atominfo>",
            " " + _xml_structure(initial, "initialpos"),
            *calculations,
            " " + _xml_structure(steps[-1]["structure"], "finalpos"),
            "</modeling>",
            "",
        ]
    )
    path.write_text(text, encoding="utf-8")


def write_outcar(
    path: Path, *, incar: Incar, step: dict, wall_time: float, cores: int, facts: dict, note: str
) -> None:
    """Write the parts of an OUTCAR that pymatgen's ``Outcar`` and emmet read.

    NBANDS and NPLWV (FFT grid points) are GPAW's (``facts``); the drift is the sum of the
    forces.
    """
    stress = np.asarray(step["stress_kbar"])
    voigt = [stress[0, 0], stress[1, 1], stress[2, 2], stress[0, 1], stress[1, 2], stress[2, 0]]
    positions = "\n".join(
        f" {_fmt(site.coords)}    {_fmt(force)}"
        for site, force in zip(step["structure"], step["forces"], strict=True)
    )
    without_entropy = 2.0 * step["energy"] - step["free_energy"]
    nbands = facts["nbands"]
    text = f""" vasp.6.4.2 (fake: {note})
 running on  {cores:4d} total cores

   k-points           NKPTS = {len(facts["kpoints"]):6d}   number of bands    NBANDS= {nbands:6d}
   total plane-waves  NPLWV = {int(np.prod(facts["grid"])):8d}

   ENCUT  = {float(incar["ENCUT"]):8.1f} eV
   EDIFF  = {float(incar["EDIFF"]):8.1E}
   NSW    = {int(incar.get("NSW", 0)):6d}
   IBRION = {int(incar.get("IBRION", -1)):6d}
   ISIF   = {int(incar.get("ISIF", 2)):6d}
   ISPIN  = {int(incar.get("ISPIN", 1)):6d}

  FORCE on cell =-STRESS in cart. coord.  units (eV):
  Direction    XX          YY          ZZ          XY          YZ          ZX
  --------------------------------------------------------------------------------------
  in kB  {" ".join(f"{v:14.8f}" for v in voigt)}

 POSITION                                       TOTAL-FORCE (eV/Angst)
 -----------------------------------------------------------------------------------
{positions}
 -----------------------------------------------------------------------------------
    total drift:                         {_fmt(np.sum(step["forces"], axis=0))}

  FREE ENERGIE OF THE ION-ELECTRON SYSTEM (eV)
  ---------------------------------------------------
  free  energy   TOTEN  = {step["free_energy"]:20.10f} eV

  energy  without entropy= {without_entropy:20.10f}  energy(sigma->0) = {step["energy"]:20.10f}

 General timing and accounting informations for this job:
 ========================================================

                         Elapsed time (sec): {wall_time:12.3f}
"""
    path.write_text(text, encoding="utf-8")


def gpaw_log_facts(log: Path) -> dict:
    """Read the irreducible k-points (fractional) and weights, bands and FFT grid of a GPAW log."""
    text = log.read_text(encoding="utf-8")
    number = r"(-?\d+\.\d+)"
    rows = re.findall(
        rf"^\|\s*\d+\s*\|\s*\(\s*{number},\s*{number},\s*{number}\)\s*\|\s*{number}\s*\|",
        text,
        flags=re.MULTILINE,
    )
    grid = re.search(r"Grid points: \[\s*(\d+)\s+(\d+)\s+(\d+)\s*\]", text)
    bands = re.search(r"^Bands:\s+(\d+)", text, flags=re.MULTILINE)
    if not rows or grid is None or bands is None:
        raise RuntimeError(f"Could not read k-points, bands and grid from {log}.")
    return {
        "kpoints": [[float(x) for x in row[:3]] for row in rows],
        "weights": [float(row[3]) for row in rows],
        "nbands": int(bands.group(1)),
        "grid": [int(n) for n in grid.groups()],
    }


def gpaw_steps(structure: Structure, kind: str, directory: Path) -> tuple[list[dict], object, dict]:
    """Run GPAW; return its ionic steps (caller's order, eV, eV/Å, GPa), result, log facts."""
    engine = get_engine("gpaw")
    if kind == "static":
        result = engine.run_static(structure, GPAW_SETTINGS, directory)
        frames = [(structure, result.energy, result.free_energy, result.forces, result.stress)]
    else:
        result = engine.relax(
            structure,
            GPAW_SETTINGS,
            directory,
            fmax=RELAX_FMAX,
            relax_cell=True,
            max_steps=RELAX_MAX_STEPS,
            optimizer="BFGS",
        )
        frames = []
        for atoms in read(directory / "relax.traj", index=":"):
            frame = AseAtomsAdaptor.get_structure(atoms)
            frames.append(
                (
                    frame,
                    atoms.get_potential_energy(),
                    atoms.get_potential_energy(force_consistent=True),
                    atoms.get_forces(),
                    atoms.get_stress(voigt=False),
                )
            )
    steps = [
        {
            "structure": frame,
            "energy": float(energy),
            "free_energy": float(free_energy),
            "forces": np.asarray(forces, dtype=float),
            "stress_gpa": np.asarray(stress, dtype=float) * EV_PER_A3_TO_GPA,
        }
        for frame, energy, free_energy, forces, stress in frames
    ]
    return steps, result, gpaw_log_facts(directory / "gpaw.txt")


def make_case(name: str, structure: Structure, kind: str) -> None:
    """Write inputs, outputs and reference.json of one case."""
    import gpaw

    generator = PaperStaticSetGenerator() if kind == "static" else PaperRelaxSetGenerator()
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
        steps, result, facts = gpaw_steps(structure, kind, Path(tmp))
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
            "stress_kbar": -GPA_TO_KBAR * step["stress_gpa"],
        }
        for step in steps
    ]
    note = (
        f"Fake vasprun.xml written by tests/test_data/vasp/make_reference.py: the numbers are "
        f"a GPAW {gpaw.__version__} calculation ({GPAW_SETTINGS.ecut} eV, k-spacing "
        f"{GPAW_SETTINGS.kspacing} 1/A, mesh {result.kpoints}), not VASP at the INCAR's settings."
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
        cores=GPAW_SETTINGS.mpi_ranks,
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
        "gpaw_settings": GPAW_SETTINGS.model_dump(mode="json"),
        "gpaw_kpoints": list(result.kpoints),
        "wall_time_s": result.wall_time,
        "relax": {"fmax": RELAX_FMAX, "max_steps": RELAX_MAX_STEPS, "optimizer": "BFGS"}
        if kind == "relax"
        else None,
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


def main() -> None:
    """Regenerate every case."""
    for name, (structure, kind) in CASES.items():
        make_case(name, structure, kind)


if __name__ == "__main__":
    main()
