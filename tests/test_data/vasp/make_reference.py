"""Build the reference data of the VASP test fake from real GPAW calculations.

Run from the repository root (a minute on two cores; needs GPAW):

    .venv/bin/python tests/test_data/vasp/make_reference.py [cases] [properties]

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
from xml.sax.saxutils import escape

import numpy as np
from ase.io import read
from pymatgen.core import Element, Lattice, Structure
from pymatgen.io.ase import AseAtomsAdaptor
from pymatgen.io.vasp import Incar, Poscar, Vasprun
from pymatgen.io.vasp.inputs import _load_potcar_summary_stats

from mlip_finetune.dft.engines import get_engine
from mlip_finetune.dft.gpaw_engine import OUTPUT_FILE
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
#: GPAW settings of the property chain (:func:`property_chain`): the test cutoff with a
#: spacing that gives every strained Si2 cell the same 5×5×5 mesh, so the EOS and the elastic
#: fit do not see a mesh switch.
PROPERTY_SETTINGS = GPAW_SETTINGS.model_copy(update={"kspacing": 0.45})
#: Force (and cell) threshold of the chain's bulk and EOS relaxations (eV/Å), the paper's.
PROPERTY_RELAX_FMAX = 5e-4
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


def _xml_eigenvalues(bands: dict | None) -> str:
    """VASP's <eigenvalues> block: [spin][k-point][band] rows of (energy eV, occupation 0…1)."""
    if bands is None:
        return ""
    spins = []
    for spin, (energies, occupations) in enumerate(
        zip(bands["eigenvalues"], bands["occupations"], strict=True), start=1
    ):
        kpoints = []
        for k, (e_k, f_k) in enumerate(zip(energies, occupations, strict=True), start=1):
            rows = "\n".join(
                f"      <r>{e:12.4f}{f:10.4f} </r>" for e, f in zip(e_k, f_k, strict=True)
            )
            kpoints.append(f'     <set comment="kpoint {k}">\n{rows}\n     </set>')
        spins.append(f'    <set comment="spin {spin}">\n' + "\n".join(kpoints) + "\n    </set>")
    return (
        " <eigenvalues>\n  <array>\n"
        '   <dimension dim="1">band</dimension>\n'
        '   <dimension dim="2">kpoint</dimension>\n'
        '   <dimension dim="3">spin</dimension>\n'
        "   <field>eigene</field>\n   <field>occ</field>\n   <set>\n"
        + "\n".join(spins)
        + "\n   </set>\n  </array>\n </eigenvalues>\n"
    )


def _xml_dos(bands: dict | None, weights: list[float], sigma: float) -> str:
    """VASP's <dos> block: Fermi level and the total DOS (states/eV/cell) and its integral.

    Computed as VASP does for ISMEAR 0: Gaussians of width ``sigma`` (eV) on the
    eigenvalues, weighted by the normalised k-point weights, on VASP's default 301 points.
    """
    if bands is None:
        return ""
    w = np.asarray(weights, dtype=float) / np.sum(weights)
    eigenvalues = np.asarray(bands["eigenvalues"], dtype=float)  # spin, k, band
    grid = np.linspace(eigenvalues.min() - 5 * sigma, eigenvalues.max() + 5 * sigma, 301)
    spin_factor = 2.0 / len(eigenvalues)
    spins = []
    for spin, e_spin in enumerate(eigenvalues, start=1):
        gauss = np.exp(-(((grid[:, None, None] - e_spin[None]) / sigma) ** 2))
        dos = spin_factor * np.einsum("gkb,k->g", gauss, w) / (sigma * np.sqrt(np.pi))
        integrated = np.concatenate([[0.0], np.cumsum(0.5 * (dos[1:] + dos[:-1]) * np.diff(grid))])
        rows = "\n".join(
            f"       <r>{e:11.4f}{d:12.4f}{n:12.4f} </r>"
            for e, d, n in zip(grid, dos, integrated, strict=True)
        )
        spins.append(f'      <set comment="spin {spin}">\n{rows}\n      </set>')
    return (
        f' <dos>\n  <i name="efermi">{bands["fermi_level"]:12.8f} </i>\n  <total>\n   <array>\n'
        '    <dimension dim="1">gridpoints</dimension>\n'
        '    <dimension dim="2">spin</dimension>\n'
        "    <field>energy</field>\n    <field>total</field>\n    <field>integrated</field>\n"
        "    <set>\n" + "\n".join(spins) + "\n    </set>\n   </array>\n  </total>\n </dos>\n"
    )


def _xml_stress(stress_kbar: np.ndarray | None) -> str:
    if stress_kbar is None:
        return ""
    rows = "\n".join(f"  <v>{_fmt(s)} </v>" for s in stress_kbar)
    return f' <varray name="stress" >\n{rows}\n </varray>\n'


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
            + "\n </varray>\n"
            + _xml_stress(step["stress_kbar"])
            + _xml_energy(step["energy"], step["free_energy"], " ")
            + "\n"
            + _xml_eigenvalues(step.get("bands"))
            + _xml_dos(step.get("bands"), facts["weights"], float(incar.get("SIGMA", 0.05)))
            + "</calculation>"
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
    facts = gpaw_log_facts(directory / "gpaw.txt")
    # Kohn–Sham eigenvalues of the final geometry (pymatgen's input sets read the band gap
    # of a previous vasprun.xml, e.g. in atomate2's double relaxation)
    # and the full list of irreducible k-points (the log shows only the first ones)
    bands = json.loads((directory / OUTPUT_FILE).read_text(encoding="utf-8"))["bands"]
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
    """The cases of :class:`~mlip_finetune.dft.vasp.VaspPropertiesMaker` on Si2, in flow order.

    Each step starts from the structure VASP's parsers read from the previous case's
    vasprun.xml, as the atomate2 flow does: bulk relaxation twice (ISIF 3), then the strained
    cells of atomate2's ``generate_elastic_deformations`` (fixed cell, 1 meV/Å) and the 11
    EOS volumes of :func:`~mlip_finetune.dft.vasp.paper_eos_maker` (fixed volume). GPAW
    relaxes the EOS cells' positions only: an isotropically scaled diamond cell stays cubic
    with zero forces by symmetry, which is what VASP's ISIF 4 would find.
    """
    from atomate2.common.jobs.elastic import generate_elastic_deformations
    from pymatgen.transformations.standard_transformations import (
        DeformStructureTransformation,
    )

    from mlip_finetune.dft.vasp import paper_properties_maker

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
