"""atomate2's VASP property flows with the paper's settings (paper §4.1).

:func:`paper_phonon_maker`, :func:`paper_elastic_maker` and :func:`paper_eos_maker` return
atomate2's ``PhononMaker``, ``ElasticMaker`` and ``EosMaker`` with the input sets of
:mod:`mlip_finetune.dft.vasp.sets`; their bulk relaxations are
:func:`paper_double_relax_maker`. Each is a thin subclass of atomate2's maker whose flows
are tagged for routing (:func:`~mlip_finetune.dft.vasp.jobs.tag_vasp_flow`), including the
VASP jobs atomate2 creates at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from atomate2.vasp.flows.core import DoubleRelaxMaker
from atomate2.vasp.flows.elastic import ElasticMaker
from atomate2.vasp.flows.eos import EosMaker
from atomate2.vasp.flows.phonons import PhononMaker
from pymatgen.io.vasp import Kpoints

from mlip_finetune.dft.vasp.jobs import VaspRelaxMaker, VaspStaticMaker, tag_vasp_flow
from mlip_finetune.dft.vasp.sets import (
    PAPER_ELASTIC_FMAX,
    PAPER_EOS_N_VOLUMES,
    PAPER_EOS_VOLUME_RANGE,
    PAPER_PHONON_MIN_LENGTH,
    PaperRelaxSetGenerator,
    PaperStaticSetGenerator,
    paper_relax_incar,
    paper_static_incar,
)

if TYPE_CHECKING:
    from jobflow import Flow


class _TagsItsFlows:
    """Mixin for an atomate2 Maker: its ``make`` returns atomate2's flow, tagged."""

    def make(self, *args: Any, **kwargs: Any) -> Flow:
        """Return the atomate2 Maker's flow, tagged (:func:`tag_vasp_flow`)."""
        return tag_vasp_flow(super().make(*args, **kwargs))


@dataclass
class TaggedDoubleRelaxMaker(_TagsItsFlows, DoubleRelaxMaker):
    """atomate2's ``DoubleRelaxMaker`` whose flows are tagged (:func:`tag_vasp_flow`)."""


@dataclass
class TaggedPhononMaker(_TagsItsFlows, PhononMaker):
    """atomate2's ``PhononMaker`` whose flows are tagged (:func:`tag_vasp_flow`)."""


@dataclass
class TaggedElasticMaker(_TagsItsFlows, ElasticMaker):
    """atomate2's ``ElasticMaker`` whose flows are tagged (:func:`tag_vasp_flow`)."""


@dataclass
class TaggedEosMaker(_TagsItsFlows, EosMaker):
    """atomate2's ``EosMaker`` whose flows are tagged (:func:`tag_vasp_flow`)."""


def paper_relax_maker(
    name: str = "vasp relax", *, spin_polarised: bool | None = None, **incar_updates: Any
) -> VaspRelaxMaker:
    """Return a :class:`VaspRelaxMaker` with :func:`paper_relax_incar` plus ``incar_updates``.

    Parameters
    ----------
    name
        Job name.
    spin_polarised
        Collinear spin polarisation; None decides per structure (ISPIN
        :data:`~mlip_finetune.dft.vasp.sets.ISPIN_AUTO`).
    **incar_updates
        INCAR tags replacing the preset's (e.g. ``ISIF=2``).

    Returns
    -------
    VaspRelaxMaker
        With a :class:`PaperRelaxSetGenerator` of the updated preset.
    """
    incar = paper_relax_incar(spin_polarised=spin_polarised) | incar_updates
    return VaspRelaxMaker(name=name, input_set_generator=PaperRelaxSetGenerator(preset_incar=incar))


def paper_double_relax_maker(
    name: str = "vasp relax", *, spin_polarised: bool | None = None
) -> DoubleRelaxMaker:
    """Return atomate2's ``DoubleRelaxMaker`` of :func:`paper_relax_maker`.

    Parameters
    ----------
    name
        Name of both relaxations; atomate2 names the jobs ``"<name> 1"`` and ``"<name> 2"``.
    spin_polarised
        Collinear spin polarisation; None decides per structure (ISPIN
        :data:`~mlip_finetune.dft.vasp.sets.ISPIN_AUTO`).

    Returns
    -------
    atomate2.vasp.flows.core.DoubleRelaxMaker
        Two successive paper relaxations (ISIF 3, 0.5 meV/Å).
    """
    return TaggedDoubleRelaxMaker.from_relax_maker(
        paper_relax_maker(name, spin_polarised=spin_polarised)
    )


def paper_phonon_maker(*, spin_polarised: bool | None = None) -> PhononMaker:
    """Return atomate2's VASP ``PhononMaker`` with the paper's reference-phonon settings.

    Paper §4.1: phonopy finite displacements in cubic supercells with sides of at least
    20 Å, sampled at Γ only, on a structure relaxed to 0.5 meV/Å.

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation of every VASP job; None decides per structure (ISPIN
        :data:`~mlip_finetune.dft.vasp.sets.ISPIN_AUTO`).

    Returns
    -------
    atomate2.vasp.flows.phonons.PhononMaker
        ``min_length`` 20 Å with ``prefer_90_degrees``; bulk relaxation: atomate2's
        ``DoubleRelaxMaker`` of :class:`VaspRelaxMaker`; static energy:
        :class:`VaspStaticMaker`; displaced supercells: :class:`VaspStaticMaker` named
        ``"vasp phonon static"`` with a Γ-only KPOINTS file; no Born charges
        (``born_maker=None``, as the ML phonons it is compared with have no NAC term).

    Notes
    -----
    The paper extracted force constants with symfc; atomate2 0.1.5's ``PhononMaker`` has
    no symfc switch and uses phonopy's default solver.
    """
    static = paper_static_incar(spin_polarised=spin_polarised)
    displacement = VaspStaticMaker(
        name="vasp phonon static",
        input_set_generator=PaperStaticSetGenerator(
            preset_incar=static, user_kpoints_settings=Kpoints.gamma_automatic((1, 1, 1))
        ),
    )
    return TaggedPhononMaker(
        name="vasp phonon",
        min_length=PAPER_PHONON_MIN_LENGTH,
        prefer_90_degrees=True,
        bulk_relax_maker=paper_double_relax_maker(spin_polarised=spin_polarised),
        static_energy_maker=VaspStaticMaker(
            name="vasp static energy",
            input_set_generator=PaperStaticSetGenerator(preset_incar=static),
        ),
        born_maker=None,
        phonon_displacement_maker=displacement,
    )


def paper_elastic_maker(*, spin_polarised: bool | None = None) -> ElasticMaker:
    """Return atomate2's VASP ``ElasticMaker`` with the paper's reference settings.

    Paper §4.1: elastic constants from atomate2's ``ElasticMaker`` with a force threshold
    of 1 meV/Å, on top of the level of theory of :func:`paper_static_incar`.

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation of every VASP job; None decides per structure (ISPIN
        :data:`~mlip_finetune.dft.vasp.sets.ISPIN_AUTO`).

    Returns
    -------
    atomate2.vasp.flows.elastic.ElasticMaker
        Bulk relaxation: atomate2's ``DoubleRelaxMaker`` of :class:`VaspRelaxMaker`
        (ISIF 3, 0.5 meV/Å); deformed cells: :class:`VaspRelaxMaker` named
        ``"vasp elastic relax"`` relaxing positions at fixed cell (ISIF 2) until every force
        is below 1 meV/Å (EDIFFG -1e-3). Strains, symmetry reduction and the fit are
        atomate2's defaults (the six Voigt strain states at magnitudes from −1 % to +1 % in
        0.5 % steps, reduced by symmetry with ``symprec`` 0.1); the output is atomate2's
        ``ElasticDocument`` with the Voigt–Reuss–Hill moduli.
    """
    return TaggedElasticMaker(
        name="vasp elastic",
        bulk_relax_maker=paper_double_relax_maker(spin_polarised=spin_polarised),
        elastic_relax_maker=paper_relax_maker(
            "vasp elastic relax", spin_polarised=spin_polarised, ISIF=2, EDIFFG=-PAPER_ELASTIC_FMAX
        ),
    )


def paper_eos_maker(*, spin_polarised: bool | None = None) -> EosMaker:
    """Return atomate2's VASP ``EosMaker`` for the EOS protocol with the paper's settings.

    Volumes −5 … +5 % in 1 % steps around the relaxed cell, each relaxed at fixed volume
    (positions and cell shape, ISIF 4) to 0.5 meV/Å at the level of theory of
    :func:`paper_static_incar`; atomate2 fits Birch–Murnaghan (and other) EOS to the
    relaxed energies. The ML models get the same protocol from
    :mod:`mlip_finetune.evaluation.eos`.

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation of every VASP job; None decides per structure (ISPIN
        :data:`~mlip_finetune.dft.vasp.sets.ISPIN_AUTO`).

    Returns
    -------
    atomate2.vasp.flows.eos.EosMaker
        Initial relaxation: ``DoubleRelaxMaker`` of :class:`VaspRelaxMaker`; EOS points:
        :class:`VaspRelaxMaker` named ``"vasp eos relax"`` with ISIF 4. atomate2 spaces
        *linear* strains evenly, so the 11 linear strains run from (0.95)^(1/3) − 1 to
        (1.05)^(1/3) − 1 and the volumes lie within 0.1 % (absolute) of the 1 % steps, ends
        exact.
    """
    low, high = PAPER_EOS_VOLUME_RANGE
    return TaggedEosMaker(
        name="vasp eos",
        initial_relax_maker=paper_double_relax_maker(spin_polarised=spin_polarised),
        eos_relax_maker=paper_relax_maker("vasp eos relax", spin_polarised=spin_polarised, ISIF=4),
        linear_strain=((1 + low) ** (1 / 3) - 1, (1 + high) ** (1 / 3) - 1),
        number_of_frames=PAPER_EOS_N_VOLUMES,
    )
