"""ASE calculator running one VASP static per call, as an atomate2 VASP job would."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from atomate2.vasp.jobs.base import BaseVaspMaker

from mlip_finetune.dft.calculator import StaticOutput, StaticPerCallCalculator
from mlip_finetune.dft.engines import DFTCode
from mlip_finetune.dft.vasp.conversion import static_document_from_task
from mlip_finetune.dft.vasp.jobs import phase_transition_static_maker

if TYPE_CHECKING:
    from pathlib import Path

    from ase import Atoms


class VaspStaticCalculator(StaticPerCallCalculator):
    """ASE calculator running one VASP static per call, as an atomate2 VASP job would.

    For searches that need an ASE calculator (the phase-transition scans and their
    symmetry-kept relaxations,
    :func:`mlip_finetune.evaluation.vasp_properties.vasp_phase_transitions`). Each call
    writes the maker's input set into a new sub-directory ``vasp_00001``, … of ``directory``
    (atomate2's ``write_vasp_input_set``), runs VASP through custodian (atomate2's
    ``run_vasp`` with the maker's ``run_vasp_kwargs``) and parses the directory into a
    ``TaskDoc`` (atomate2's ``get_vasp_task_document``), as ``BaseVaspMaker.make`` does.

    Parameters
    ----------
    maker
        atomate2 VASP static maker whose input set, ``run_vasp_kwargs`` and
        ``task_document_kwargs`` are used (default
        :func:`~mlip_finetune.dft.vasp.jobs.phase_transition_static_maker`, paper §4.6).
    directory
        Directory that receives one sub-directory per calculation (created if missing).

    Raises
    ------
    TypeError
        If ``maker`` is not an atomate2 VASP maker.
    """

    run_prefix = "vasp"

    def __init__(self, maker: BaseVaspMaker | None = None, directory: str | Path = ".") -> None:
        super().__init__(directory)
        self.maker = maker if maker is not None else phase_transition_static_maker()
        if not isinstance(self.maker, BaseVaspMaker):
            raise TypeError(f"maker must be an atomate2 VASP maker, got {type(self.maker)}.")

    def run_static(self, atoms: Atoms, directory: Path) -> StaticOutput:
        """Run one VASP static of ``atoms`` in ``directory`` (created).

        Parameters
        ----------
        atoms
            Structure to compute (Å).
        directory
            The call's sub-directory.

        Returns
        -------
        StaticOutput
            VASP's σ → 0 energy and free energy TOTEN (eV), forces (eV/Å), stress (eV/Å³,
            ASE convention) and elapsed time (s).

        Raises
        ------
        DFTCalculationError
            If custodian gives up on VASP, or the SCF did not converge (the directory is kept).
        """
        import contextlib
        from pathlib import Path

        import atomate2.vasp.run
        from atomate2.vasp.files import write_vasp_input_set
        from atomate2.vasp.jobs.base import get_vasp_task_document
        from pymatgen.io.ase import AseAtomsAdaptor

        from mlip_finetune.dft.engines import DFTCalculationError
        from mlip_finetune.units import EV_PER_A3_TO_GPA

        structure = AseAtomsAdaptor.get_structure(atoms)
        directory.mkdir(parents=True, exist_ok=True)
        with contextlib.chdir(directory):
            write_vasp_input_set(
                structure, self.maker.input_set_generator, **self.maker.write_input_set_kwargs
            )
            try:
                atomate2.vasp.run.run_vasp(**self.maker.run_vasp_kwargs)
            except Exception as err:  # custodian's errors have no common public base
                raise DFTCalculationError(
                    DFTCode.VASP.value, directory, f"{type(err).__name__}: {err}"
                ) from err
            task = get_vasp_task_document(Path.cwd(), **self.maker.task_document_kwargs)
        doc = static_document_from_task(task, structure, label=directory.name)
        if not doc.converged:
            raise DFTCalculationError(
                DFTCode.VASP.value, directory, "the SCF did not converge (NELM reached)"
            )
        return StaticOutput(
            energy=doc.energy if doc.energy_sigma0_ev is None else doc.energy_sigma0_ev,
            free_energy=doc.energy,
            forces=np.asarray(doc.forces, dtype=float),
            stress=np.asarray(doc.stress) / EV_PER_A3_TO_GPA,
            wall_time=doc.wall_time_s,
        )
