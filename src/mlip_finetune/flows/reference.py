"""DFT reference phonons of one material: relax, displace, one static per displacement."""

from __future__ import annotations

from typing import TYPE_CHECKING

from jobflow import job

from mlip_finetune.dft.jobs import ReferenceStaticsMaker
from mlip_finetune.evaluation.jobs import phonons_from_statics
from mlip_finetune.schemas.jobs import JobKind, Stage, tag_job

if TYPE_CHECKING:
    from jobflow import Job, Maker
    from pymatgen.core import Structure


@job
def phonon_displacements(
    structure: Structure, supercell_matrix: list, displacement: float
) -> list[Structure]:
    """Return phonopy's displaced supercells of a structure (for DFT statics)."""
    from mlip_finetune.evaluation.phonons import displaced_supercells

    _, supercells = displaced_supercells(structure, supercell_matrix, displacement)
    return supercells


def dft_reference_phonons(
    unit_cell: Structure,
    matrix: object,
    mesh: list[int],
    *,
    static_maker: Maker,
    relax_maker: Maker | None,
    displacement: float,
    fc_calculator: str | None,
) -> tuple[list[Job], Job]:
    """Return the jobs of the DFT reference phonons and the job whose output they are.

    The jobs, in order: the DFT relaxation (``relax_maker``'s job, none when it is None),
    ``"phonon displacements"`` (phonopy's displaced supercells of the relaxed cell),
    ``"dft phonon statics"`` (a run-time fan-out into one DFT static per displacement,
    from the static maker's ``phonon_static_maker()``: jobs ``"dft phonon displacement
    i/N"``, or ``"vasp phonon static i/N"``) and ``"dft phonons"`` (phonopy on those
    forces).

    Parameters
    ----------
    unit_cell
        The material's cell (Å).
    matrix
        3×3 phonon supercell matrix.
    mesh
        q-mesh of the phonon document.
    static_maker
        DFT static Maker of the training statics; the displacements use the same settings
        and engine (its ``phonon_static_maker()``).
    relax_maker
        DFT relaxation of the cell first; None uses ``unit_cell`` as is.
    displacement
        Finite displacement (Å).
    fc_calculator
        Force-constant calculator of phonopy (as for the ML phonons).

    Returns
    -------
    tuple of (list of Job, Job)
        Every job of the reference, and the ``"dft phonons"`` job (output: a
        :class:`~mlip_finetune.schemas.evaluation.PhononDocument` labelled ``"dft"``).
    """
    jobs = []
    reference_cell = unit_cell
    if relax_maker is not None:
        relax = relax_maker.make(unit_cell)
        jobs.append(relax)
        reference_cell = relax.output.structure
    displaced = phonon_displacements(reference_cell, matrix, displacement)
    displaced.name = "phonon displacements"
    phonon_statics_maker = ReferenceStaticsMaker(
        name="dft phonon statics",
        # the same DFT settings (and engine: GPAW or VASP) as the training statics
        static_maker=static_maker.phonon_static_maker(),
        stage=Stage.DFT_PHONONS,
    )
    phonon_statics = phonon_statics_maker.make(displaced.output)
    dft_phonons = phonons_from_statics(
        reference_cell,
        matrix,
        displacement,
        phonon_statics.output,
        label="dft",
        mesh=mesh,
        fc_calculator=fc_calculator,
    )
    dft_phonons.name = "dft phonons"
    for light_job in (displaced, dft_phonons):
        tag_job(light_job, JobKind.LIGHT, Stage.DFT_PHONONS)
    jobs += [displaced, phonon_statics, dft_phonons]
    return jobs, dft_phonons
