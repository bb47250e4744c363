"""ASE calculators that run one DFT static per call.

:class:`StaticPerCallCalculator` holds what every such calculator shares (a new
sub-directory per call, the call count and the summed wall time, the ASE result
dictionary); a DFT code is one subclass with one method, :meth:`~StaticPerCallCalculator.
run_static`: :class:`DFTEngineCalculator` for the open engines (GPAW) here, and
:class:`mlip_finetune.dft.vasp.calculator.VaspStaticCalculator` for VASP through atomate2.
Start-up cost is paid per call, so use them only where a code path needs an ASE calculator
(the phase-transition scans and their symmetry-kept relaxations).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase import Atoms

    from mlip_finetune.dft.settings import DFTSettings

#: ASE's list of everything that can change between two calculator calls.
ALL_CHANGES: tuple[str, ...] = tuple(all_changes)


@dataclass(frozen=True)
class StaticOutput:
    """What one DFT static returns to :class:`StaticPerCallCalculator`.

    Attributes
    ----------
    energy
        Total energy (eV), the code's energy extrapolated to zero smearing.
    free_energy
        Force-consistent free energy (eV).
    forces
        Forces, shape (n_atoms, 3), eV/Å.
    stress
        Stress tensor, shape (3, 3), eV/Å³, ASE sign convention (tensile > 0).
    wall_time
        Wall time of the calculation (s).
    """

    energy: float
    free_energy: float
    forces: np.ndarray
    stress: np.ndarray
    wall_time: float


class StaticPerCallCalculator(Calculator, abc.ABC):
    """ASE calculator running one DFT static per :meth:`calculate` call.

    Call ``i`` (1-based) runs in the sub-directory ``f"{run_prefix}_{i:05d}"`` of
    ``directory``. Subclasses implement :meth:`run_static`.

    Parameters
    ----------
    directory
        Directory that receives one sub-directory per calculation (created if missing).

    Attributes
    ----------
    n_calls
        Number of statics run so far.
    wall_time
        Summed wall time of those statics (s).
    """

    implemented_properties: ClassVar[list[str]] = ["energy", "free_energy", "forces", "stress"]
    #: Prefix of the per-call sub-directories.
    run_prefix: ClassVar[str] = "static"

    def __init__(self, directory: str | Path) -> None:
        super().__init__(directory=str(directory))
        self.n_calls = 0
        self.wall_time = 0.0

    @abc.abstractmethod
    def run_static(self, atoms: Atoms, directory: Path) -> StaticOutput:
        """Run one DFT static of ``atoms`` in ``directory``.

        Parameters
        ----------
        atoms
            Structure to compute (Å).
        directory
            The call's own sub-directory (it may not exist yet).

        Returns
        -------
        StaticOutput
            Energies (eV), forces (eV/Å), stress (eV/Å³, ASE convention), wall time (s).

        Raises
        ------
        DFTCalculationError
            If the calculation fails or does not converge.
        """

    def calculate(
        self,
        atoms: Atoms | None = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = ALL_CHANGES,
    ) -> None:
        """Run one DFT static of ``atoms``: energy (eV), forces (eV/Å), stress (eV/Å³).

        Parameters
        ----------
        atoms
            Structure to compute (ASE's ``Calculator.calculate`` contract).
        properties
            Requested properties; all four are always computed.
        system_changes
            What changed since the last call (ASE).

        Raises
        ------
        DFTCalculationError
            If the static fails or does not converge.
        """
        from ase.stress import full_3x3_to_voigt_6_stress

        super().calculate(atoms, properties, system_changes)
        self.n_calls += 1
        output = self.run_static(
            self.atoms, Path(self.directory) / f"{self.run_prefix}_{self.n_calls:05d}"
        )
        self.wall_time += output.wall_time
        self.results = {
            "energy": output.energy,
            "free_energy": output.free_energy,
            "forces": np.asarray(output.forces, dtype=float),
            "stress": full_3x3_to_voigt_6_stress(np.asarray(output.stress, dtype=float)),
        }


class DFTEngineCalculator(StaticPerCallCalculator):
    """ASE calculator running one DFT-engine static per call, for searches that need ASE.

    Each :meth:`calculate` starts one :meth:`~mlip_finetune.dft.engines.DFTEngine.run_static`
    (for GPAW, one worker subprocess) in a new sub-directory ``static_00001``, … of
    ``directory``.

    Parameters
    ----------
    settings
        DFT settings, including the engine name.
    directory
        Directory that receives one sub-directory per calculation (created if missing).
    """

    def __init__(self, settings: DFTSettings, directory: str | Path) -> None:
        from mlip_finetune.dft.engines import get_engine

        super().__init__(directory)
        self.settings = settings
        self.engine = get_engine(settings.engine)

    def run_static(self, atoms: Atoms, directory: Path) -> StaticOutput:
        """Run one engine static (see :meth:`StaticPerCallCalculator.run_static`).

        Parameters
        ----------
        atoms
            Structure to compute (Å).
        directory
            The call's sub-directory; the engine creates it.

        Returns
        -------
        StaticOutput
            The engine's energy and free energy (eV), forces (eV/Å), stress (eV/Å³).
        """
        from pymatgen.io.ase import AseAtomsAdaptor

        result = self.engine.run_static(
            AseAtomsAdaptor.get_structure(atoms), self.settings, directory
        )
        return StaticOutput(
            energy=result.energy,
            free_energy=result.free_energy,
            forces=result.forces,
            stress=result.stress,
            wall_time=result.wall_time,
        )
