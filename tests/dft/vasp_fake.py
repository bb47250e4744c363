"""A fake VASP for the tests, in atomate2's ``mock_vasp`` style.

:func:`fake_vasp` builds on atomate2's own helper
(:func:`atomate2.utils.testing.vasp.monkeypatch_vasp`), which replaces ``run_vasp`` (so
neither VASP nor custodian ever starts), writes ``POTCAR.spec`` instead of POTCARs (the
licensed POTCARs are absent here, as on atomate2's CI) and, per job name, checks the
written INCAR/KPOINTS/POSCAR/POTCAR.spec against a committed reference directory's
``inputs/`` before copying its ``outputs/`` (vasprun.xml, OUTCAR, CONTCAR) into the job's
directory. On top of that, before atomate2's checks, every run is checked against the
paper's settings as written down *here*, from the paper (§4.1, §4.6), independently of
:mod:`mlip_finetune.dft.vasp`: a drift in the code fails even if someone regenerated the
reference inputs with it. Any drift raises :class:`VaspInputDriftError` naming each tag.

The reference directories are ``tests/test_data/vasp/<case>/``, written by
``python -m tests.test_data.vasp.make_reference`` from real GPAW calculations. Jobs that run
many VASP statics themselves (the phase-transition search) are answered live instead
(:meth:`FakeVasp.answer_live`): the inputs of each run are checked against a complete INCAR,
then an ASE calculator (GPAW, or a toy model) computes the POSCAR and the outputs are
written in VASP's formats. :meth:`FakeVasp.fail` makes a job crash as custodian reports it.
"""

from __future__ import annotations

import contextlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pymatgen.io.vasp import Incar, Kpoints, Poscar

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pytest
    from ase.calculators.calculator import Calculator
    from pymatgen.core import Structure

#: Root of the committed reference calculations.
REFERENCE_DIR = Path(__file__).resolve().parents[1] / "test_data" / "vasp"

#: Paper §4.1: PBE, PAW, 520 eV, EDIFF 1e-8 eV; a static with the full stress tensor,
#: Gaussian smearing, no symmetrisation of rattled cells, accurate projections.
PAPER_STATIC_TAGS: dict[str, Any] = {
    "GGA": "PE",
    "ENCUT": 520.0,
    "EDIFF": 1e-8,
    "PREC": "Accurate",
    "LREAL": False,
    "ISMEAR": 0,
    "SIGMA": 0.05,
    "ISPIN": 1,
    "ISYM": 0,
    "NSW": 0,
    "IBRION": -1,
    "ISIF": 2,
}
#: Paper §4.1 relaxations: cell and positions to 0.5 meV/Å.
PAPER_RELAX_TAGS: dict[str, Any] = {
    **{k: v for k, v in PAPER_STATIC_TAGS.items() if k not in ("ISYM", "NSW", "IBRION", "ISIF")},
    "IBRION": 2,
    "ISIF": 3,
    "EDIFFG": -5e-4,
}
#: Paper §4.6 mode-following statics: 400 eV, EDIFF 1e-7 eV.
PHASE_TRANSITION_TAGS: dict[str, Any] = PAPER_STATIC_TAGS | {"ENCUT": 400.0, "EDIFF": 1e-7}
#: Tags that must be absent: the mesh comes from KPOINTS; no meta-GGA, hybrid, +U or vdW.
FORBIDDEN_TAGS: tuple[str, ...] = ("KSPACING", "METAGGA", "LHFCALC", "LDAU", "IVDW", "LUSE_VDW")
#: Paper §4.1 k-point spacing (Å⁻¹, VASP's KSPACING convention with the 2π).
PAPER_KSPACING: float = 0.1
#: PBE_54 PAW datasets atomate2 picks for the elements of the reference cases.
PAPER_POTCARS: dict[str, str] = {
    "Si": "Si",
    "Na": "Na_pv",
    "Cl": "Cl",
    "Pb": "Pb_d",
    "Ti": "Ti_sv",
    "Fe": "Fe",
    "Al": "Al",
}
#: Spin polarisation, written out here from the Materials Project's sets (pymatgen's
#: VASPIncarBase.yaml MAGMOM table) independently of mlip_finetune.dft.magnetism: structures
#: with one of these elements run with ISPIN 2 and MAGMOM from the table (others 0.6 μ_B);
#: all other structures run with ISPIN 1 and no MAGMOM.
MAGNETIC_ELEMENTS: frozenset[str] = frozenset(
    [
        "V",
        "Cr",
        "Mn",
        "Fe",
        "Co",
        "Ni",
        "Mo",
        "W",
        "Ce",
        "Pr",
        "Nd",
        "Pm",
        "Sm",
        "Eu",
        "Gd",
        "Tb",
        "Dy",
        "Ho",
        "Er",
        "Tm",
        "Yb",
    ]
)
#: MP initial moments (μ_B) of the magnetic elements the tests use; unlisted: 0.6 μ_B.
MP_INITIAL_MAGMOMS: dict[str, float] = {"Fe": 5.0, "Ni": 5.0, "Mn": 5.0, "Co": 0.6, "Cr": 5.0}
PAPER_POTCAR_FUNCTIONAL = "PBE_54"
#: Largest difference (Å) between a job's cell vectors and its reference case's.
LATTICE_TOLERANCE: float = 1e-6


class VaspInputDriftError(ValueError):
    """The VASP inputs a job wrote differ from the paper's settings or the reference."""


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, str):
        return isinstance(actual, str) and expected.strip().upper() == actual.strip().upper()
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if isinstance(expected, float | int) and isinstance(actual, float | int):
        return math.isclose(expected, actual, rel_tol=1e-9, abs_tol=0.0)
    return expected == actual


def paper_mesh(lattice_matrix: np.ndarray, kspacing: float = PAPER_KSPACING) -> list[int]:
    """VASP's KSPACING rule, written out here: ``N_i = max(1, ceil(2π|b_i|/kspacing))``."""
    reciprocal = np.linalg.inv(np.asarray(lattice_matrix, dtype=float)).T  # b_i·a_j = δ_ij
    return [
        max(1, math.ceil(2 * math.pi * np.linalg.norm(b) / kspacing - 1e-8)) for b in reciprocal
    ]


def spin_tags(structure: Structure) -> dict[str, Any]:
    """ISPIN (and MAGMOM, μ_B per site) the paper's sets must write for a POSCAR structure."""
    symbols = [site.specie.symbol for site in structure]
    if not MAGNETIC_ELEMENTS.intersection(symbols):
        return {"ISPIN": 1}
    return {"ISPIN": 2, "MAGMOM": [MP_INITIAL_MAGMOMS.get(el, 0.6) for el in symbols]}


def _incar_problems(
    incar: Incar,
    poscar: Poscar,
    tags: dict[str, Any],
    *,
    reference_incar: Path | None,
    exact: bool,
) -> list[str]:
    """INCAR tags that differ from ``tags`` (ISPIN, MAGMOM: :func:`spin_tags`) or the reference."""
    if tags.get("ISPIN") is not None:  # magnetic structures: ISPIN 2 and MP's MAGMOM
        tags = tags | spin_tags(poscar.structure)
    problems = [
        f"{key}: expected {value!r}, got {incar.get(key, '<missing>')!r}"
        for key, value in tags.items()
        if not _same(value, incar.get(key))
    ]
    problems += [
        f"{key}: must be absent, got {incar[key]!r}" for key in FORBIDDEN_TAGS if key in incar
    ]
    if tags.get("ISPIN") == 1 and "MAGMOM" in incar:
        problems.append(f"MAGMOM: must be absent with ISPIN 1, got {incar['MAGMOM']!r}")
    if exact:
        problems += [f"{key}: not expected, got {incar[key]!r}" for key in incar if key not in tags]
    if reference_incar is not None:
        reference = Incar.from_file(reference_incar)
        problems += [
            f"{key}: reference INCAR has {reference.get(key, '<missing>')!r}, "
            f"got {incar.get(key, '<missing>')!r}"
            for key in sorted(set(reference) | set(incar))
            if key not in tags and not _same(reference.get(key), incar.get(key))
        ]
    return problems


def _cell_and_mesh_problems(
    directory: Path, poscar: Poscar, kspacing: float | None, reference_poscar: Path | None
) -> list[str]:
    """POSCAR cell against the reference case's, KPOINTS against the Γ-centred mesh."""
    problems: list[str] = []
    if reference_poscar is not None:
        expected = Poscar.from_file(reference_poscar).structure.lattice.matrix
        if not np.allclose(
            poscar.structure.lattice.matrix, expected, rtol=0, atol=LATTICE_TOLERANCE
        ):
            problems.append(
                f"POSCAR cell: expected {expected.round(6).tolist()}, got "
                f"{poscar.structure.lattice.matrix.round(6).tolist()}"
            )
    if kspacing is not None:
        kpoints_path = directory / "KPOINTS"
        if not kpoints_path.is_file():
            problems.append("KPOINTS: missing (the mesh must be an explicit Γ-centred file)")
        else:
            kpoints = Kpoints.from_file(kpoints_path)
            mesh = paper_mesh(poscar.structure.lattice.matrix, kspacing)
            if kpoints.style != Kpoints.supported_modes.Gamma or list(kpoints.kpts[0]) != mesh:
                problems.append(
                    f"KPOINTS: expected a Γ-centred {mesh} mesh (spacing {kspacing} 1/Å), got "
                    f"{kpoints.style.name} {list(kpoints.kpts[0])}"
                )
    return problems


def check_paper_inputs(
    directory: Path,
    tags: dict[str, Any],
    *,
    kspacing: float | None = PAPER_KSPACING,
    reference_incar: Path | None = None,
    reference_poscar: Path | None = None,
    exact: bool = False,
) -> None:
    """Check the VASP inputs in ``directory`` against the paper's settings.

    Parameters
    ----------
    directory
        Directory holding INCAR, KPOINTS, POSCAR and POTCAR.spec.
    tags
        Required INCAR values (e.g. :data:`PAPER_STATIC_TAGS`); a required ISPIN is replaced
        by :func:`spin_tags` of the POSCAR (ISPIN 2 and MP's MAGMOM for magnetic
        structures, ISPIN 1 and no MAGMOM otherwise).
    kspacing
        Required Γ-centred mesh spacing (Å⁻¹, with 2π); None skips the mesh check.
    reference_incar
        If given, the INCAR must have exactly this file's tags and values as well.
    reference_poscar
        If given, the POSCAR's cell must be this file's, within
        :data:`LATTICE_TOLERANCE` (atomate2's own check compares fractional coordinates
        only, which are the same for every strained cell of an EOS or elastic flow).
    exact
        The INCAR must hold no tag beyond ``tags`` (for live answers, which have no
        reference INCAR).

    Raises
    ------
    VaspInputDriftError
        Listing every tag, the mesh or the POTCARs that differ.
    """
    incar = Incar.from_file(directory / "INCAR")
    poscar = Poscar.from_file(directory / "POSCAR")
    problems = _incar_problems(incar, poscar, tags, reference_incar=reference_incar, exact=exact)
    problems += _cell_and_mesh_problems(directory, poscar, kspacing, reference_poscar)
    spec = (directory / "POTCAR.spec").read_text(encoding="utf-8").split()
    expected_potcars = [PAPER_POTCARS.get(symbol, f"<{symbol}?>") for symbol in poscar.site_symbols]
    if spec != expected_potcars:
        problems.append(f"POTCAR: expected {expected_potcars}, got {spec}")
    if problems:
        raise VaspInputDriftError(
            f"VASP inputs in {directory} drift from the paper's settings:\n - "
            + "\n - ".join(problems)
        )


@dataclass
class FakeVasp:
    """Registry of the fake: job name → (reference case, required tags), and its calls."""

    cases: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    calls: list[dict[str, Any]] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)
    live: dict[str, tuple[Calculator, dict[str, Any], str]] = field(default_factory=dict)

    def register(self, job_name: str, case: str, tags: dict[str, Any]) -> None:
        """Answer VASP jobs named ``job_name`` with ``case``, requiring the INCAR ``tags``.

        A registration also answers names that extend it with a space, e.g. ``"vasp static"``
        answers ``"vasp static 3/20"``.
        """
        if not (REFERENCE_DIR / case / "outputs").is_dir():
            raise FileNotFoundError(f"No reference case {case!r} in {REFERENCE_DIR}.")
        self.cases[job_name] = (case, tags)

    def answer_live(
        self, job_name: str, calculator: Calculator, incar: dict[str, Any], producer: str
    ) -> None:
        """Answer every VASP run inside the job named ``job_name`` with ``calculator``.

        For jobs that run many statics themselves (:class:`~mlip_finetune.dft.vasp.
        VaspStaticCalculator` in a phase-transition search): each run's inputs are checked
        (the INCAR must be exactly ``incar``; mesh, POTCARs as for the cases), then the
        calculator computes the POSCAR and the fake writes vasprun.xml, OUTCAR and CONTCAR
        (:mod:`tests.dft.vasp_outputs`), naming ``producer`` as the code of the numbers.
        """
        self.live[job_name] = (calculator, incar, producer)

    def fail(self, job_name: str) -> None:
        """Make the VASP job named exactly ``job_name`` (every run of a live job) fail.

        Its inputs are still checked first; then custodian's ``NonRecoverableError`` is
        raised, as when VASP crashes in a way no handler can fix.
        """
        self.failing.add(job_name)

    def lookup(self, job_name: str) -> tuple[str, dict[str, Any]]:
        """Return (case, tags) of the longest registration matching ``job_name``."""
        matches = [n for n in self.cases if job_name == n or job_name.startswith(f"{n} ")]
        if not matches:
            raise ValueError(
                f"Fake VASP has no reference for job {job_name!r}; known: {list(self.cases)}."
            )
        return self.cases[max(matches, key=len)]


def _crash(job_name: str) -> None:
    """Raise what custodian raises when no handler can fix a VASP run."""
    from custodian.custodian import NonRecoverableError

    raise NonRecoverableError(f"fake VASP: {job_name} failed", raises=True, handler=None)


def write_live_outputs(directory: Path, calculator: Calculator, producer: str) -> None:
    """Compute the POSCAR in ``directory`` with ``calculator``; write VASP's output files.

    One ionic step; the energy is both σ → 0 and free energy (ASE calculators without
    smearing); the k-point list is Γ with the KPOINTS file's mesh as the generation.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    from mlip_finetune.units import EV_PER_A3_TO_GPA
    from tests.dft.vasp_outputs import GPA_TO_KBAR, write_outcar, write_vasprun

    structure = Poscar.from_file(directory / "POSCAR").structure
    atoms = AseAtomsAdaptor.get_atoms(structure)
    atoms.calc = calculator
    energy = float(atoms.get_potential_energy())
    step = {
        "structure": structure,
        "energy": energy,
        "free_energy": energy,
        "forces": np.asarray(atoms.get_forces(), dtype=float),
        "stress_kbar": -GPA_TO_KBAR * EV_PER_A3_TO_GPA * atoms.get_stress(voigt=False),
    }
    incar = Incar.from_file(directory / "INCAR")
    facts = {"kpoints": [[0.0, 0.0, 0.0]], "weights": [1.0], "nbands": 1, "grid": [1, 1, 1]}
    note = f"Fake VASP run answered live by {producer}, not VASP at the INCAR's settings."
    write_vasprun(
        directory / "vasprun.xml",
        incar=incar,
        potcar_symbols=(directory / "POTCAR.spec").read_text(encoding="utf-8").split(),
        initial=structure,
        steps=[step],
        mesh=list(Kpoints.from_file(directory / "KPOINTS").kpts[0]),
        facts=facts,
        note=note,
        producer=producer,
    )
    write_outcar(
        directory / "OUTCAR", incar=incar, step=step, wall_time=0.0, cores=1, facts=facts, note=note
    )
    Poscar(structure).write_file(directory / "CONTCAR")


def reference(case: str) -> dict[str, Any]:
    """The GPAW numbers of a reference case (reference.json)."""
    return json.loads((REFERENCE_DIR / case / "reference.json").read_text(encoding="utf-8"))


@contextlib.contextmanager
def fake_vasp(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeVasp]:
    """Patch atomate2 so VASP jobs are answered from the reference cases.

    Yields
    ------
    FakeVasp
        Call ``register(job_name, case, tags)`` before running a flow.
    """
    import atomate2.vasp.jobs.base
    import atomate2.vasp.run
    from atomate2.utils.testing.vasp import monkeypatch_vasp
    from atomate2.vasp.sets.base import VaspInputGenerator
    from jobflow import CURRENT_JOB

    fake = FakeVasp()
    generator = monkeypatch_vasp(monkeypatch, REFERENCE_DIR)
    atomate2_register = next(generator)
    atomate2_run_vasp = atomate2.vasp.jobs.base.run_vasp  # atomate2's mock
    atomate2_get_input_set = VaspInputGenerator.get_input_set  # atomate2's POTCAR.spec patch

    def run_vasp(*args: Any, **kwargs: Any) -> None:
        name = CURRENT_JOB.job.name
        if name in fake.live:
            calculator, incar, producer = fake.live[name]
            fake.calls.append({"job": name, "case": "live", "run_vasp_kwargs": kwargs})
            check_paper_inputs(Path.cwd(), incar, exact=True)
            if name in fake.failing:
                _crash(name)
            write_live_outputs(Path.cwd(), calculator, producer)
            return
        case, tags = fake.lookup(name)
        fake.calls.append({"job": name, "case": case, "run_vasp_kwargs": kwargs})
        check_paper_inputs(
            Path.cwd(),
            tags,
            reference_incar=REFERENCE_DIR / case / "inputs" / "INCAR",
            reference_poscar=REFERENCE_DIR / case / "inputs" / "POSCAR",
        )
        if name in fake.failing:
            _crash(name)
        # atomate2's own checks against the reference inputs, then its output copy; the
        # generated inputs stay in the directory, as after a real run.
        atomate2_register({name: case}, {name: {"clear_inputs": False}})
        atomate2_run_vasp(*args, **kwargs)

    def get_input_set(self: VaspInputGenerator, *args: Any, **kwargs: Any) -> Any:
        if self.potcar_functional != PAPER_POTCAR_FUNCTIONAL:
            raise VaspInputDriftError(
                f"POTCAR functional: expected {PAPER_POTCAR_FUNCTIONAL}, got "
                f"{self.potcar_functional}"
            )
        return atomate2_get_input_set(self, *args, **kwargs)

    monkeypatch.setattr(atomate2.vasp.run, "run_vasp", run_vasp)
    monkeypatch.setattr(atomate2.vasp.jobs.base, "run_vasp", run_vasp)
    monkeypatch.setattr(VaspInputGenerator, "get_input_set", get_input_set)
    try:
        yield fake
    finally:
        with contextlib.suppress(StopIteration):
            next(generator)  # atomate2's clean-up: undo the patches, clear its registry


# --- expectations and helpers shared by the VASP tests -------------------------------------

#: The complete INCAR of a paper static, written out from the paper (§4.1) and the
#: choices documented in mlip_finetune.dft.vasp.sets; any other tag is drift.
PAPER_STATIC_INCAR = {
    "ALGO": "Normal",
    "EDIFF": 1e-8,
    "ENCUT": 520.0,
    "GGA": "Pe",
    "IBRION": -1,
    "ISIF": 2,
    "ISMEAR": 0,
    "ISPIN": 1,
    "ISYM": 0,
    "LAECHG": False,
    "LASPH": True,
    "LCHARG": False,
    "LELF": False,
    "LREAL": False,
    "LVTOT": False,
    "LWAVE": False,
    "NELM": 200,
    "NSW": 0,
    "PREC": "Accurate",
    "SIGMA": 0.05,
}
#: The complete INCAR of a mode-following static: the paper static at 400 eV, EDIFF 1e-7.
PHASE_TRANSITION_INCAR: dict[str, Any] = PAPER_STATIC_INCAR | {"ENCUT": 400.0, "EDIFF": 1e-7}
#: The same for the Pb/Ti toy: atomate2 adds LMAXMIX 6 (charge mixing up to l = 6) for
#: cells with heavy elements.
TOY_PHASE_TRANSITION_INCAR: dict[str, Any] = PHASE_TRANSITION_INCAR | {"LMAXMIX": 6}


def si2(a: float) -> Structure:
    """Diamond Si, primitive cell, lattice parameter ``a`` (Å)."""
    from pymatgen.core import Lattice, Structure

    conv = Structure.from_spacegroup("Fd-3m", Lattice.cubic(a), ["Si"], [[0, 0, 0]])
    return conv.get_primitive_structure()


def input_structure(case: str) -> Structure:
    """The input structure of a reference case."""
    from pymatgen.core import Structure

    return Structure.from_dict(reference(case)["input_structure"])


def run_with_fake(
    flow: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    registrations: list[tuple[str, str, dict[str, Any]]],
    store: Any = None,
) -> tuple[dict, FakeVasp]:
    """Run ``flow`` locally in ``tmp_path`` with the fake answering ``registrations``.

    ``registrations`` are ``(job name, case, tags)`` for :meth:`FakeVasp.register`; returns
    jobflow's responses and the fake (its calls).
    """
    from jobflow import run_locally

    monkeypatch.chdir(tmp_path)
    with fake_vasp(monkeypatch) as fake:
        for job_name, case, tags in registrations:
            fake.register(job_name, case, tags)
        responses = run_locally(flow, store=store, create_folders=True, raise_immediately=True)
    return responses, fake
