"""GPAW (plane-wave PAW) as a :class:`~mlip_finetune.dft.engines.DFTEngine`.

GPAW runs in processes of its own under ``mpirun -np N``, started by :func:`run_gpaw_worker`
(the only place that launches GPAW): the worker code of :mod:`~mlip_finetune.dft.gpaw.worker`
on ``gpaw_in.json`` → ``gpaw_out.json``, run by this process's GPAW server
(:mod:`~mlip_finetune.dft.gpaw.server`) or, with ``MLIP_FINETUNE_GPAW_SERVER=false``, by a
one-shot ``python -m mlip_finetune.dft.gpaw.worker in.json out.json``.
Stresses come from GPAW's analytic plane-wave stress (PW mode only), in ASE's convention.

References
----------
GPAW: J. J. Mortensen et al., J. Chem. Phys. 160, 092503 (2024); https://gpaw.readthedocs.io
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

import numpy as np

from mlip_finetune.core.settings import get_settings
from mlip_finetune.dft.engines import DFTCalculationError, DFTCode, DFTEngine, StaticResult, tail
from mlip_finetune.dft.gpaw import cache
from mlip_finetune.dft.gpaw.cutoff import plane_wave_cutoff
from mlip_finetune.dft.gpaw.server import run_in_server
from mlip_finetune.dft.magnetism import MAGMOM_PROPERTY, initial_magmoms, spin_polarised

if TYPE_CHECKING:
    from pymatgen.core import Structure

    from mlip_finetune.dft.settings import DFTSettings

logger = logging.getLogger(__name__)

#: File names inside a calculation directory.
INPUT_FILE = "gpaw_in.json"
OUTPUT_FILE = "gpaw_out.json"
LOG_FILE = "gpaw.txt"
STDOUT_FILE = "gpaw.stdout"
STDERR_FILE = "gpaw.stderr"
RELAX_TRAJECTORY_FILE = "relax.traj"
RELAX_LOG_FILE = "relax.log"
#: What the worker writes; what :mod:`~mlip_finetune.dft.gpaw.cache` keeps and restores.
WORKER_FILES = (
    OUTPUT_FILE,
    LOG_FILE,
    STDOUT_FILE,
    STDERR_FILE,
    RELAX_TRAJECTORY_FILE,
    RELAX_LOG_FILE,
)

#: Module the worker subprocess runs (``python -m``); it imports neither jobflow nor pymatgen.
WORKER_MODULE = "mlip_finetune.dft.gpaw.worker"

#: Environment of the worker: OpenMPI as root, one OpenMP thread per rank, and GPAW's own
#: MPI backend (GPAW ≥ 25 refuses to run under mpirun without it).
WORKER_ENVIRONMENT = {
    "OMPI_ALLOW_RUN_AS_ROOT": "1",
    "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
    "OMP_NUM_THREADS": "1",
    "GPAW_MPI_BACKEND": "cgpaw",
}

#: GPAW occupation smearing of each :attr:`DFTSettings.smearing` (width in eV added): a
#: Gaussian is GPAW's Methfessel-Paxton scheme of order 0 (VASP's ISMEAR 0).
GPAW_OCCUPATIONS: dict[str, dict[str, Any]] = {
    "fermi-dirac": {"name": "fermi-dirac"},
    "gaussian": {"name": "methfessel-paxton", "order": 0},
}


def gpaw_parameters(
    settings: DFTSettings,
    kpts: list[int],
    *,
    spinpol: bool | None = None,
    ecut: float | None = None,
) -> dict[str, Any]:
    """Translate :class:`DFTSettings` into GPAW calculator keyword arguments.

    Parameters
    ----------
    settings
        DFT settings; ``engine_kwargs`` override the generated entries, and a
        ``convergence`` dict in them is merged into the generated one.
    kpts
        k-point mesh, length 3 (see :func:`~mlip_finetune.dft.settings.kpoint_mesh`).
    spinpol
        Spin polarisation decided for the structure
        (:func:`~mlip_finetune.dft.magnetism.spin_polarised`); None uses
        ``settings.spin_polarised`` (False when that is None too).
    ecut
        Plane-wave cutoff decided for the structure (eV,
        :func:`~mlip_finetune.dft.gpaw.cutoff.plane_wave_cutoff`); None uses ``settings.ecut``.

    Returns
    -------
    dict
        JSON-serialisable keyword arguments for ``gpaw.GPAW`` (without ``txt``): plane-wave
        ``mode`` (cutoff in eV), ``xc``, ``kpts`` (``{'size', 'gamma'}``), ``occupations``
        (:data:`GPAW_OCCUPATIONS`, width in eV), ``convergence`` (energy in eV per valence
        electron, forces in eV/Å), ``maxiter``, ``spinpol`` and ``setups`` (GPAW's default
        ``"paw"`` plus ``settings.setups``).
    """
    if spinpol is None:
        spinpol = bool(settings.spin_polarised)
    convergence: dict[str, Any] = {"energy": settings.scf_energy_tol}
    if settings.scf_forces_tol is not None:
        convergence["forces"] = settings.scf_forces_tol
    kpoints: dict[str, Any] = {"size": list(kpts)}
    if settings.gamma_centred:
        kpoints["gamma"] = True
    parameters: dict[str, Any] = {
        "mode": {"name": "pw", "ecut": settings.ecut if ecut is None else ecut},
        "xc": settings.xc,
        "kpts": kpoints,
        "occupations": {**GPAW_OCCUPATIONS[settings.smearing], "width": settings.smearing_width},
        "convergence": convergence,
        "maxiter": settings.max_scf_iterations,
        "spinpol": spinpol,
        "setups": {"default": "paw", **settings.setups},
    }
    extra = dict(settings.engine_kwargs)
    if isinstance(extra.get("convergence"), dict):
        parameters["convergence"] = {**convergence, **extra.pop("convergence")}
    parameters.update(extra)
    return parameters


def launch_prefix(mpi_ranks: int) -> list[str]:
    """Return how a GPAW process starts: ``[python]``, or under ``mpirun`` for several ranks.

    Parameters
    ----------
    mpi_ranks
        Number of MPI ranks; 1 runs Python without ``mpirun``.

    Returns
    -------
    list of str
        ``[python]`` or ``[mpirun, -np, N, python]``, with the current interpreter
        (``sys.executable``).

    Raises
    ------
    FileNotFoundError
        If more than one rank is requested and ``mpirun`` is not on ``PATH``.
    """
    if mpi_ranks == 1:
        return [sys.executable]
    mpirun = shutil.which("mpirun")
    if mpirun is None:
        raise FileNotFoundError(
            "mpirun not found on PATH; install OpenMPI (INFRA.md) or set mpi_ranks=1."
        )
    return [mpirun, "-np", str(mpi_ranks), sys.executable]


def worker_command(mpi_ranks: int) -> list[str]:
    """Return the command line of a one-shot GPAW worker (``gpaw_server`` off).

    Parameters
    ----------
    mpi_ranks
        Number of MPI ranks; 1 runs the worker without ``mpirun``.

    Returns
    -------
    list of str
        ``[mpirun, -np, N, python, -m, mlip_finetune.dft.gpaw.worker, in, out]``
        (:func:`launch_prefix` and the worker's arguments).

    Raises
    ------
    FileNotFoundError
        If more than one rank is requested and ``mpirun`` is not on ``PATH``.
    """
    return [*launch_prefix(mpi_ranks), "-m", WORKER_MODULE, INPUT_FILE, OUTPUT_FILE]


def _atoms_dict(structure: Structure, *, spinpol: bool) -> dict[str, Any]:
    """Worker's ``atoms`` input; initial moments (μ_B) only for spin-polarised runs."""
    lattice = structure.lattice.matrix
    return {
        "numbers": [site.specie.Z for site in structure],
        "positions": structure.cart_coords.tolist(),
        "cell": lattice.tolist(),
        "pbc": list(structure.lattice.pbc),
        "magmoms": initial_magmoms(structure) if spinpol else None,
    }


def _structure_from_dict(
    data: dict[str, Any], like: Structure, magmoms: list[float] | None
) -> Structure:
    """Relaxed structure; final moments (μ_B), if any, become its 'magmom' site property."""
    from pymatgen.core import Lattice, Structure

    properties = dict(like.site_properties)
    if magmoms is not None:
        properties[MAGMOM_PROPERTY] = list(magmoms)
    return Structure(
        Lattice(data["cell"], pbc=tuple(data["pbc"])),
        [site.species for site in like],
        data["positions"],
        coords_are_cartesian=True,
        site_properties=properties or None,
    )


#: A Python exception line at the end of a traceback, e.g. "gpaw.utilities.AtomsTooClose: ..."
#: (a dotted name or one ending in Error/Exception), optionally behind GPAW's MPI prefix
#: "rank=1 L35: ".
_EXCEPTION_LINE = re.compile(
    r"^(?:rank=\d+ L\d+: )?((?:[A-Za-z_]\w*\.)+\w+|\w*(?:Error|Exception)): \S.*$"
)


def _exception_line(directory: Path) -> str | None:
    """Return the last exception line of the worker's stderr, if any."""
    path = directory / STDERR_FILE
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    matches = [m.group(0) for line in lines if (m := _EXCEPTION_LINE.match(line.strip()))]
    if not matches:
        return None
    return re.sub(r"^rank=\d+ L\d+: ", "", matches[-1])


def _log_tail(directory: Path) -> str:
    parts = [tail(directory / LOG_FILE)]
    stderr = tail(directory / STDERR_FILE, n_lines=15)
    if stderr:
        parts.append(f"--- stderr ---\n{stderr}")
    return "\n".join(part for part in parts if part)


def _launch(mpi_ranks: int, directory: Path) -> tuple[dict[str, Any], float]:
    """Run the worker on ``directory``'s input; return its output and wall time (s)."""
    try:
        prefix = launch_prefix(mpi_ranks)
    except FileNotFoundError as error:
        raise DFTCalculationError(GPAWEngine.name, directory, str(error)) from error

    env = {**os.environ, **WORKER_ENVIRONMENT}
    start = time.perf_counter()
    if get_settings().gpaw_server:
        files = {"input": INPUT_FILE, "output": OUTPUT_FILE}
        files |= {"stdout": STDOUT_FILE, "stderr": STDERR_FILE}
        returncode = run_in_server(prefix, env, directory, files)
    else:
        with (
            (directory / STDOUT_FILE).open("w", encoding="utf-8") as stdout,
            (directory / STDERR_FILE).open("w", encoding="utf-8") as stderr,
        ):
            returncode = subprocess.run(
                worker_command(mpi_ranks),
                cwd=directory,
                env=env,
                stdout=stdout,
                stderr=stderr,
                check=False,
            ).returncode
    wall_time = time.perf_counter() - start

    output_path = directory / OUTPUT_FILE
    out = json.loads(output_path.read_text(encoding="utf-8")) if output_path.is_file() else None
    if out is not None and not out.get("converged", False):
        reason = out.get("error") or "SCF did not converge"
        raise DFTCalculationError(GPAWEngine.name, directory, reason, _log_tail(directory))
    if returncode != 0 or out is None:
        reason = f"worker exited with code {returncode}"
        if out is None:
            reason += f" and wrote no {OUTPUT_FILE}"
        if exception := _exception_line(directory):
            reason += f": {exception}"
        raise DFTCalculationError(GPAWEngine.name, directory, reason, _log_tail(directory))
    return out, wall_time


def _run_or_reuse(
    spec: dict[str, Any], mpi_ranks: int, directory: Path
) -> tuple[dict[str, Any], float]:
    """Return the worker's output and wall time (s), reused or computed.

    From the DFT cache when it holds this input (:mod:`~mlip_finetune.dft.gpaw.cache`);
    else computed, and kept there when the cache is on.
    """
    root = cache.cache_dir()
    if root is None:
        return _launch(mpi_ranks, directory)
    key = cache.cache_key(spec)
    wall_time = cache.restore(root, key, directory, WORKER_FILES)
    if wall_time is not None:
        logger.info("GPAW calculation reused from the DFT cache %s (entry %s)", root, key[:12])
        return json.loads((directory / OUTPUT_FILE).read_text(encoding="utf-8")), wall_time
    out, wall_time = _launch(mpi_ranks, directory)
    cache.store(root, key, directory, WORKER_FILES, wall_time)
    return out, wall_time


def run_gpaw_worker(
    structure: Structure,
    settings: DFTSettings,
    directory: str | Path,
    *,
    mode: Literal["static", "relax"] = "static",
    relax_options: dict[str, Any] | None = None,
) -> StaticResult:
    """Run GPAW on one structure in a subprocess; the only function that launches GPAW.

    Writes ``gpaw_in.json`` into ``directory``, runs the worker there (in this process's
    GPAW server, :mod:`~mlip_finetune.dft.gpaw.server`, or one-shot through
    :func:`worker_command`; :data:`WORKER_ENVIRONMENT`) and reads ``gpaw_out.json``.
    GPAW's log (``gpaw.txt``), stdout/stderr and, for relaxations, ``relax.traj`` and
    ``relax.log`` stay in the directory. With ``MLIP_FINETUNE_DFT_CACHE_DIR`` set, a
    calculation whose input equals one finished before gets that one's files instead of a
    GPAW process (:mod:`mlip_finetune.dft.gpaw.cache`).

    Parameters
    ----------
    structure
        Periodic structure (Å).
    settings
        DFT settings; ``settings.mpi_ranks`` processes are started.
    directory
        Directory for the calculation; created if missing.
    mode
        ``"static"`` or ``"relax"``.
    relax_options
        For ``mode="relax"``: ``fmax`` (eV/Å), ``relax_cell`` (bool), ``max_steps`` (int),
        ``optimizer`` (``"BFGS"`` or ``"FIRE"``).

    Returns
    -------
    StaticResult
        Energies (eV), forces (eV/Å), stress (eV/Å³, ASE convention), mesh, wall time (s).

    Raises
    ------
    DFTCalculationError
        If ``mpirun`` is missing, the worker exits with an error, writes no output, or the
        SCF does not converge; the message quotes the end of GPAW's log and stderr.
    ValueError
        If the structure is disordered (partial occupancies).
    """
    if not structure.is_ordered:
        raise ValueError("DFT needs an ordered structure; got partial occupancies.")
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    kpts = settings.mesh(structure.lattice)
    spinpol = spin_polarised(structure, settings)
    ecut = plane_wave_cutoff(structure, settings)
    spec: dict[str, Any] = {
        "mode": mode,
        "atoms": _atoms_dict(structure, spinpol=spinpol),
        "calculator": gpaw_parameters(settings, kpts, spinpol=spinpol, ecut=ecut),
        "txt": LOG_FILE,
        "relax": None,
    }
    if mode == "relax":
        spec["relax"] = {
            **(relax_options or {}),
            "trajectory": RELAX_TRAJECTORY_FILE,
            "logfile": RELAX_LOG_FILE,
        }
    (directory / OUTPUT_FILE).unlink(missing_ok=True)
    (directory / INPUT_FILE).write_text(json.dumps(spec, indent=1), encoding="utf-8")
    out, wall_time = _run_or_reuse(spec, settings.mpi_ranks, directory)

    site_moments = out.get("magmoms")
    if mode == "static":
        final = structure
    else:
        final = _structure_from_dict(out["atoms"], structure, site_moments)
    return StaticResult(
        structure=final,
        energy=float(out["energy"]),
        free_energy=float(out["free_energy"]),
        ecut=ecut,
        spin_polarised=spinpol,
        magnetic_moment=None if out.get("magmom") is None else float(out["magmom"]),
        magnetic_moments=None if site_moments is None else [float(m) for m in site_moments],
        forces=np.asarray(out["forces"], dtype=float).reshape(len(structure), 3),
        stress=np.asarray(out["stress"], dtype=float).reshape(3, 3),
        kpoints=kpts,
        converged=True,
        wall_time=wall_time,
        directory=directory,
        n_steps=int(out["n_steps"]),
        relax_converged=out["relax_converged"],
    )


class GPAWEngine(DFTEngine):
    """GPAW in plane-wave mode through its ASE calculator, one subprocess per calculation."""

    name: ClassVar[str] = DFTCode.GPAW.value

    def run_static(
        self, structure: Structure, settings: DFTSettings, directory: str | Path
    ) -> StaticResult:
        """Run a GPAW static (see :meth:`DFTEngine.run_static` for the contract)."""
        return run_gpaw_worker(structure, settings, directory, mode="static")

    def relax(
        self,
        structure: Structure,
        settings: DFTSettings,
        directory: str | Path,
        *,
        fmax: float,
        relax_cell: bool,
        max_steps: int,
        optimizer: Literal["BFGS", "FIRE"] = "BFGS",
    ) -> StaticResult:
        """Relax inside one GPAW process (see :meth:`DFTEngine.relax` for the contract).

        The cell is relaxed through ASE's ``FrechetCellFilter`` at zero external pressure. The
        k-point mesh is fixed from the starting cell; the plane-wave basis follows the cell,
        so the relaxed volume carries GPAW's Pulay stress at the chosen cutoff.
        """
        options = {
            "fmax": fmax,
            "relax_cell": relax_cell,
            "max_steps": max_steps,
            "optimizer": optimizer,
        }
        return run_gpaw_worker(structure, settings, directory, mode="relax", relax_options=options)
