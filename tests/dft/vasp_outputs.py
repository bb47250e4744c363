"""VASP output files (vasprun.xml, OUTCAR) holding the numbers of another calculation.

Shared by ``tests/test_data/vasp/make_reference.py`` (committed reference cases from GPAW)
and the live answers of :mod:`tests.dft.vasp_fake` (any ASE calculator, at run time). The
files carry VASP's formats and units (kBar, VASP's stress sign: compression > 0, atoms in the
POSCAR's order) and enough of VASP's header for pymatgen's ``Vasprun``/``Outcar`` and
emmet's ``TaskDoc``; a comment in each names the code that really produced the numbers.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

import numpy as np
from pymatgen.core import Element
from pymatgen.io.vasp.inputs import _load_potcar_summary_stats

from mlip_finetune.dft.vasp import PAPER_POTCAR_FUNCTIONAL

if TYPE_CHECKING:
    from pathlib import Path

    from pymatgen.core import Structure
    from pymatgen.io.vasp import Incar

#: 1 GPa in kBar.
GPA_TO_KBAR = 10.0


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
    producer: str = "GPAW numbers, see make_reference.py",
) -> None:
    """Write a vasprun.xml with one <calculation> per step (structure, eV, eV/Å, kBar).

    The k-point section holds the mesh, irreducible k-points and weights (``facts``); the
    generator names ``producer``, the code that computed the numbers.
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
            f'  <i name="subversion" type="string">fake: {escape(producer)} </i>',
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
