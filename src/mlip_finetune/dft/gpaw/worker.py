"""GPAW worker process: ``python -m mlip_finetune.dft.gpaw.worker in.json out.json``.

Launched (under ``mpirun`` when more than one rank is requested) only by
:class:`mlip_finetune.dft.gpaw.engine.GPAWEngine`, in the calculation's directory; the GPAW
server (:mod:`mlip_finetune.dft.gpaw.server`) calls :func:`run` the same way. It reads
the structure and the ready-made GPAW keyword arguments from ``in.json``, runs a static or a
relaxation through GPAW's ASE calculator, and rank 0 writes ``out.json``. Keeping GPAW in a
separate process isolates its MPI initialisation and memory from the caller. The worker
imports only the standard library, ASE and GPAW (neither jobflow nor pymatgen), so it starts
fast on every MPI rank.

Input keys: ``mode`` ("static" or "relax"), ``atoms`` (numbers, positions Å, cell Å, pbc,
optional initial magmoms μ_B), ``calculator`` (GPAW keyword arguments, JSON), ``txt`` (GPAW
log file name), ``relax`` (fmax eV/Å, relax_cell, max_steps, optimizer, trajectory, logfile).

Output keys: ``energy`` (σ → 0 extrapolated, ``get_potential_energy()``) and
``free_energy`` (force-consistent, ``get_potential_energy(force_consistent=True)``) (eV),
``magmom`` and ``magmoms`` (total and per-atom final moments, μ_B; null unless the run is
spin-polarised), ``forces`` (n, 3; eV/Å), ``stress``
(3, 3; eV/Å³, ASE sign convention), ``kpts`` (the calculator's k-point input), ``converged``
(SCF), ``error`` (message or null), ``n_steps``, ``relax_converged``, ``atoms`` (final
geometry, same keys as the input), ``bands`` (irreducible k-points, fractional, and their
weights; Kohn–Sham eigenvalues, eV, and occupations scaled to 0…1 per spin channel, both
indexed [spin][k-point][band]; the Fermi level, eV; the fake VASP outputs of the tests
write them into vasprun.xml).

Exit codes: 0 success; 3 SCF not converged (``out.json`` still written with
``converged: false``); anything else is an uncaught error with a traceback on stderr.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

#: Exit code of a run whose SCF did not converge.
EXIT_NOT_CONVERGED = 3
_N_ARGS = 3


def _atoms_to_dict(atoms: Any) -> dict[str, Any]:
    return {
        "numbers": atoms.numbers.tolist(),
        "positions": atoms.positions.tolist(),
        "cell": atoms.cell.array.tolist(),
        "pbc": atoms.pbc.tolist(),
    }


def _atoms_from_dict(data: dict[str, Any]) -> Any:
    from ase import Atoms

    atoms = Atoms(
        numbers=data["numbers"], positions=data["positions"], cell=data["cell"], pbc=data["pbc"]
    )
    if data.get("magmoms") is not None:
        atoms.set_initial_magnetic_moments(data["magmoms"])
    return atoms


def _relax(atoms: Any, options: dict[str, Any], comm: Any) -> tuple[int, bool]:
    from ase.filters import FrechetCellFilter
    from ase.optimize import BFGS, FIRE

    optimizers = {"BFGS": BFGS, "FIRE": FIRE}
    target = FrechetCellFilter(atoms) if options["relax_cell"] else atoms
    optimizer = optimizers[options["optimizer"]](
        target, logfile=options["logfile"], trajectory=options["trajectory"], comm=comm
    )
    relax_converged = bool(optimizer.run(fmax=options["fmax"], steps=options["max_steps"]))
    return int(optimizer.nsteps), relax_converged


def _bands(calc: Any) -> dict[str, Any]:
    """Eigenvalues (eV), occupations (0…1 per spin channel) and Fermi level (eV) of a run."""
    n_spins = calc.get_number_of_spins()
    weights = calc.get_k_point_weights()
    eigenvalues, occupations = [], []
    for spin in range(n_spins):
        eigenvalues.append(
            [calc.get_eigenvalues(kpt=k, spin=spin).tolist() for k in range(len(weights))]
        )
        # ASE's GPAW returns occupations times the k-point weight and 2/n_spins
        occupations.append(
            [
                (calc.get_occupation_numbers(kpt=k, spin=spin) / (w * 2 / n_spins)).tolist()
                for k, w in enumerate(weights)
            ]
        )
    return {
        "kpoints": calc.get_ibz_k_points().tolist(),
        "weights": weights.tolist(),
        "eigenvalues": eigenvalues,
        "occupations": occupations,
        "fermi_level": float(calc.get_fermi_level()),
    }


def run(input_path: Path, output_path: Path) -> int:
    """Run the calculation described by ``input_path`` and write ``output_path``.

    Parameters
    ----------
    input_path
        JSON input (see the module docstring).
    output_path
        JSON output written by MPI rank 0.

    Returns
    -------
    int
        Process exit code: 0, or :data:`EXIT_NOT_CONVERGED`.
    """
    from gpaw import GPAW, KohnShamConvergenceError
    from gpaw.mpi import world

    spec = json.loads(input_path.read_text(encoding="utf-8"))
    atoms = _atoms_from_dict(spec["atoms"])
    atoms.calc = GPAW(**spec["calculator"], txt=spec["txt"])
    out: dict[str, Any] = {"kpts": spec["calculator"].get("kpts"), "error": None}
    exit_code = 0
    try:
        if spec["mode"] == "relax":
            n_steps, relax_converged = _relax(atoms, spec["relax"], world)
        else:
            n_steps, relax_converged = 0, None
        spinpol = bool(spec["calculator"].get("spinpol"))
        out |= {
            "energy": float(atoms.get_potential_energy()),
            "magmom": float(atoms.get_magnetic_moment()) if spinpol else None,
            "magmoms": atoms.get_magnetic_moments().tolist() if spinpol else None,
            "free_energy": float(atoms.get_potential_energy(force_consistent=True)),
            "forces": atoms.get_forces().tolist(),
            "stress": atoms.get_stress(voigt=False).tolist(),
            "converged": True,
            "n_steps": n_steps,
            "relax_converged": relax_converged,
            "bands": _bands(atoms.calc),
        }
    except KohnShamConvergenceError as error:
        out |= {"converged": False, "error": f"SCF did not converge: {error!r}"}
        exit_code = EXIT_NOT_CONVERGED
    out["atoms"] = _atoms_to_dict(atoms)
    if world.rank == 0:
        output_path.write_text(json.dumps(out), encoding="utf-8")
    return exit_code


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: ``python -m mlip_finetune.dft.gpaw.worker IN_JSON OUT_JSON``.

    Parameters
    ----------
    argv
        Command line including the program name; ``sys.argv`` when None.

    Returns
    -------
    int
        Process exit code.
    """
    argv = sys.argv if argv is None else argv
    if len(argv) != _N_ARGS:
        sys.stderr.write("usage: python -m mlip_finetune.dft.gpaw.worker IN_JSON OUT_JSON\n")
        return 2
    return run(Path(argv[1]), Path(argv[2]))


if __name__ == "__main__":
    sys.exit(main())
