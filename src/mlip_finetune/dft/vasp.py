"""VASP reference calculations with the paper's settings, through atomate2.

Presets (Grandel, Benner, George 2026):

- :func:`paper_static_incar`: §4.1, PBE/PAW, ENCUT 520 eV, EDIFF 1e-8 eV, full stress
  tensor (ISIF 2), no symmetrisation (ISYM 0).
- :func:`paper_relax_incar`: §4.1 relaxations, the same level of theory, cell and positions
  (ISIF 3) to a force threshold of 0.5 meV/Å (EDIFFG -5e-4).
- :func:`phase_transition_static_incar`: §4.6 mode-following statics, EDIFF 1e-7 eV and
  ENCUT 400 eV, otherwise the static preset.

k-points: the paper's "k-point spacing of 0.1 Å⁻¹" is read in VASP's ``KSPACING``
convention, which includes the 2π: ``N_i = max(1, ceil(2π|b_i| / 0.1))`` with ``b_i·a_j =
δ_ij`` (VASP wiki, "KSPACING"). The authors' group writes the tag the same way for the same
kind of data: autoplex's phonon tutorial (``CompleteDFTvsMLBenchmarkWorkflow`` with rattled
10–15 Å supercells) sets ``"KSPACING": 0.1`` in VASP's INCAR for relaxations and displaced
supercells. The mesh is computed here by
:func:`mlip_finetune.dft.settings.kpoint_mesh`, the function the open DFT engine uses, and
written as an explicit Γ-centred KPOINTS file rather than as the ``KSPACING`` tag: GPAW and
VASP labels then use the same mesh by construction, the mesh is visible in the inputs (and
checked by the test fake), and the Γ-only phonon supercells (§4.1) need a KPOINTS file
anyway. For a spacing given without the 2π, multiply it by 2π first
(:func:`kspacing_from_inverse_length`).

:class:`VaspStaticMaker` and :class:`VaspRelaxMaker` are atomate2 makers (output: atomate2's
``TaskDoc``) with these input sets; :class:`VaspDocumentMaker` wraps either in a two-job Flow
whose output is our :class:`~mlip_finetune.schemas.dft.StaticDocument`, so the rest of the
flow sees VASP exactly as it sees GPAW. The atomate2 job's TaskDoc stays in the store.

Reference properties: :func:`paper_phonon_maker`, :func:`paper_elastic_maker` and
:func:`paper_eos_maker` return atomate2's VASP flows with the paper's settings;
:func:`paper_properties_maker` (:class:`VaspPropertiesMaker`) chains one bulk relaxation into
the elastic and EOS flows (and, optionally, the phase-transition search
:func:`vasp_phase_transitions`, whose statics run through :class:`VaspStaticCalculator`) and
converts their outputs (:func:`properties_from_vasp`) into the same
:class:`~mlip_finetune.schemas.properties.ModelPropertiesDocument` the ML models get.

POTCARs are PBE PAW datasets of the ``PBE_54`` set with atomate2's element choices; VASP needs
them in ``PMG_VASP_PSP_DIR`` (pymatgen's setting) on the machine that writes the inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from atomate2.vasp.jobs.base import BaseVaspMaker
from atomate2.vasp.jobs.core import RelaxMaker, StaticMaker
from atomate2.vasp.sets.core import RelaxSetGenerator, StaticSetGenerator
from jobflow import Flow, Maker, OnMissing, OutputReference, job
from pymatgen.io.vasp import Incar, Kpoints

from mlip_finetune.dft.jobs import as_structure
from mlip_finetune.dft.settings import kpoint_mesh
from mlip_finetune.evaluation.phonons import DEFAULT_DISPLACEMENT
from mlip_finetune.evaluation.thermal_conductivity import SLACK_TEMPERATURE_K
from mlip_finetune.schemas.dft import StaticDocument
from mlip_finetune.schemas.phase_transitions import PhaseTransitionDocument, PhaseTransitionSettings
from mlip_finetune.schemas.properties import ModelPropertiesDocument
from mlip_finetune.units import KBAR_TO_GPA

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from atomate2.vasp.flows.core import DoubleRelaxMaker
    from atomate2.vasp.flows.elastic import ElasticMaker
    from atomate2.vasp.flows.eos import EosMaker
    from atomate2.vasp.flows.phonons import PhononMaker
    from emmet.core.tasks import TaskDoc
    from pymatgen.core import Structure

#: Plane-wave cutoff of all reference calculations (eV), paper §4.1.
PAPER_ENCUT: float = 520.0
#: Electronic convergence (eV per cell, VASP's EDIFF), paper §4.1.
PAPER_EDIFF: float = 1e-8
#: k-point spacing (Å⁻¹, VASP KSPACING convention including 2π), paper §4.1.
PAPER_KSPACING: float = 0.1
#: Force threshold of structural relaxations (eV/Å), paper §4.1 (0.5 meV/Å).
PAPER_RELAX_FMAX: float = 5e-4
#: Cutoff of the mode-following statics (eV), paper §4.6.
PHASE_TRANSITION_ENCUT: float = 400.0
#: Electronic convergence of the mode-following statics (eV), paper §4.6.
PHASE_TRANSITION_EDIFF: float = 1e-7
#: POTCAR set: PBE PAW datasets (paper §4.1: PBE, PAW), pymatgen's name of the 5.4 release.
PAPER_POTCAR_FUNCTIONAL: str = "PBE_54"
#: Minimum side of the cubic phonon supercells (Å), paper §4.1.
PAPER_PHONON_MIN_LENGTH: float = 20.0

#: Metadata of every VASP job: routing key for CPU workers (DFT) vs GPU workers (training).
VASP_JOB_METADATA: dict[str, str] = {"kind": "dft", "engine": "vasp"}
#: Metadata of the cheap conversion job that follows every VASP job.
CONVERSION_JOB_METADATA: dict[str, str] = {"kind": "postprocess", "engine": "vasp"}

#: Largest distance (Å) between a site of the input structure and its VASP counterpart.
SITE_MATCH_TOLERANCE: float = 1e-3


def kspacing_from_inverse_length(spacing: float) -> float:
    """Convert a k-point spacing given without the 2π into VASP's KSPACING convention.

    A spacing ``d`` in the convention ``N_i = ceil(|b_i| / d)`` (``b_i·a_j = δ_ij``) equals
    ``2π·d`` in VASP's ``N_i = ceil(2π|b_i| / KSPACING)``. Use it if the paper's
    "0.1 Å⁻¹" turns out to exclude the 2π (``PaperStaticSetGenerator(kspacing=
    kspacing_from_inverse_length(0.1))``, about 0.63 Å⁻¹ in VASP's convention).

    Parameters
    ----------
    spacing
        k-point spacing without the 2π (Å⁻¹).

    Returns
    -------
    float
        The same spacing in VASP's KSPACING convention (Å⁻¹).

    Raises
    ------
    ValueError
        If ``spacing`` is not positive.
    """
    if spacing <= 0:
        raise ValueError(f"k-point spacing must be positive, got {spacing} Å⁻¹.")
    return 2.0 * math.pi * spacing


def paper_static_incar(*, spin_polarised: bool = False) -> dict[str, Any]:
    """Return the INCAR updates of the paper's reference statics (§4.1).

    Applied on top of atomate2's base set (whose functional is PBEsol, ``GGA = PS``, and
    whose cutoff is 680 eV). ``None`` removes a tag.

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation (ISPIN 2, atomate2's initial MAGMOM); the paper's
        materials are non-magnetic, so the default is ISPIN 1.

    Returns
    -------
    dict
        PBE (GGA PE), ENCUT 520 eV, EDIFF 1e-8 eV, PREC Accurate, LREAL False, Gaussian
        smearing of 0.05 eV (ISMEAR 0, valid for metals and insulators and with any number
        of k-points, unlike the tetrahedron method of atomate2's statics), ISYM 0 (rattled
        and displaced cells are not symmetrised), a static (NSW 0, IBRION -1) with the full
        stress tensor (ISIF 2), ALGO Normal (atomate2's choice for phonon statics), no
        charge density, potential, wavefunction or projection files.
    """
    return {
        "GGA": "PE",
        "METAGGA": None,
        "ENCUT": PAPER_ENCUT,
        "EDIFF": PAPER_EDIFF,
        "PREC": "Accurate",
        "LREAL": False,
        "ALGO": "Normal",
        "ISMEAR": 0,
        "SIGMA": 0.05,
        "ISPIN": 2 if spin_polarised else 1,
        "ISYM": 0,
        "NSW": 0,
        "IBRION": -1,
        "ISIF": 2,
        "KSPACING": None,
        "LCHARG": False,
        "LAECHG": False,
        "LVTOT": False,
        "LWAVE": False,
        "LORBIT": None,
        "LMIXTAU": None,
    }


def phase_transition_static_incar(*, spin_polarised: bool = False) -> dict[str, Any]:
    """Return the INCAR updates of the mode-following statics of paper §4.6.

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation, as in :func:`paper_static_incar`.

    Returns
    -------
    dict
        :func:`paper_static_incar` with ENCUT 400 eV and EDIFF 1e-7 eV.
    """
    return paper_static_incar(spin_polarised=spin_polarised) | {
        "ENCUT": PHASE_TRANSITION_ENCUT,
        "EDIFF": PHASE_TRANSITION_EDIFF,
    }


def paper_relax_incar(*, spin_polarised: bool = False) -> dict[str, Any]:
    """Return the INCAR updates of the paper's structural relaxations (§4.1).

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation, as in :func:`paper_static_incar`.

    Returns
    -------
    dict
        The level of theory of :func:`paper_static_incar`; conjugate-gradient relaxation
        (IBRION 2) of positions, cell shape and volume (ISIF 3) until every force is below
        0.5 meV/Å (EDIFFG -5e-4), at most 99 ionic steps per VASP run (atomate2's NSW;
        custodian restarts an unconverged run). VASP's default symmetrisation is kept
        (ISYM unset) so that the relaxed cell keeps its space group.
    """
    static = paper_static_incar(spin_polarised=spin_polarised)
    return static | {"ISYM": None, "NSW": 99, "IBRION": 2, "ISIF": 3, "EDIFFG": -PAPER_RELAX_FMAX}


def gamma_mesh(structure: Structure, kspacing: float) -> Kpoints:
    """Return a Γ-centred KPOINTS mesh for a k-point spacing (VASP KSPACING rule).

    Parameters
    ----------
    structure
        Structure (Å).
    kspacing
        Minimum spacing (Å⁻¹, VASP convention including 2π).

    Returns
    -------
    Kpoints
        Γ-centred automatic mesh with ``max(1, ceil(2π|b_i|/kspacing))`` divisions, from
        :func:`~mlip_finetune.dft.settings.kpoint_mesh`.

    Raises
    ------
    ValueError
        If ``kspacing`` is not positive.
    """
    mesh = kpoint_mesh(structure.lattice, kspacing)
    kpoints = Kpoints.gamma_automatic(tuple(mesh))
    kpoints.comment = f"Gamma-centred mesh, KSPACING rule with {kspacing} 1/A (2pi included)"
    return kpoints


class _PresetMixin:
    """INCAR preset and k-point spacing shared by the paper's input-set generators.

    The preset's tags are applied after atomate2's own updates and re-applied after
    pymatgen's clean-up (which drops IBRION and ISIF of statics), so they appear in the
    INCAR exactly; ``user_incar_settings`` still override them.
    """

    preset_incar: dict[str, Any]
    kspacing: float
    user_incar_settings: dict
    structure: Structure | None

    @property
    def incar_updates(self) -> dict[str, Any]:
        """Return atomate2's updates of this calculation type, then the preset's.

        Returns
        -------
        dict
            INCAR updates (``None`` removes a tag).
        """
        return super().incar_updates | self.preset_incar  # type: ignore[misc]

    @property
    def incar(self) -> Incar:
        """Return the INCAR with every preset tag present unless the user overrides it.

        Returns
        -------
        Incar
            The generated INCAR.
        """
        incar = super().incar  # type: ignore[misc]
        for key, value in self.preset_incar.items():
            if key in self.user_incar_settings:
                continue
            if value is None:
                incar.pop(key, None)
            else:
                incar[key] = value
        return incar

    @property
    def kpoints_updates(self) -> Kpoints:
        """Return the Γ-centred mesh of the structure for ``self.kspacing``.

        Returns
        -------
        Kpoints
            See :func:`gamma_mesh`.

        Raises
        ------
        RuntimeError
            If no structure is set.
        """
        if self.structure is None:
            raise RuntimeError("No structure is associated with the input set.")
        return gamma_mesh(self.structure, self.kspacing)


@dataclass
class PaperStaticSetGenerator(_PresetMixin, StaticSetGenerator):
    """atomate2 static input set with the paper's settings (§4.1).

    Parameters
    ----------
    preset_incar
        INCAR preset, e.g. :func:`paper_static_incar` or
        :func:`phase_transition_static_incar`.
    kspacing
        k-point spacing (Å⁻¹, VASP convention including 2π); the mesh is written as a
        Γ-centred KPOINTS file (see :func:`gamma_mesh`). A non-empty
        ``user_kpoints_settings`` (e.g. Γ only) takes precedence.
    user_potcar_functional
        POTCAR set, PBE PAW (``PBE_54``).
    auto_ismear
        Off, so ISMEAR/SIGMA stay those of the preset even after a previous calculation.
    **kwargs
        Every other field of atomate2's ``VaspInputGenerator`` (``user_incar_settings``,
        ``user_kpoints_settings``, ``user_potcar_settings``, ...).
    """

    preset_incar: dict[str, Any] = field(default_factory=paper_static_incar)
    kspacing: float = PAPER_KSPACING
    user_potcar_functional: str = PAPER_POTCAR_FUNCTIONAL
    auto_ismear: bool = False


@dataclass
class PaperRelaxSetGenerator(_PresetMixin, RelaxSetGenerator):
    """atomate2 relaxation input set with the paper's settings (§4.1).

    Parameters
    ----------
    preset_incar
        INCAR preset, :func:`paper_relax_incar` by default.
    kspacing
        k-point spacing (Å⁻¹, VASP convention including 2π), Γ-centred KPOINTS file.
    user_potcar_functional
        POTCAR set, PBE PAW (``PBE_54``).
    auto_ismear
        Off, so ISMEAR/SIGMA stay those of the preset.
    **kwargs
        Every other field of atomate2's ``VaspInputGenerator``.
    """

    preset_incar: dict[str, Any] = field(default_factory=paper_relax_incar)
    kspacing: float = PAPER_KSPACING
    user_potcar_functional: str = PAPER_POTCAR_FUNCTIONAL
    auto_ismear: bool = False


@dataclass
class VaspStaticMaker(StaticMaker):
    """atomate2 VASP static with the paper's settings; output: atomate2's ``TaskDoc``.

    Parameters
    ----------
    name
        Job name; contains "vasp" so DFT jobs are recognisable by name.
    input_set_generator
        :class:`PaperStaticSetGenerator` with :func:`paper_static_incar`.
    **kwargs
        Every other field of atomate2's ``StaticMaker`` (``run_vasp_kwargs`` for custodian
        handlers and the VASP command, ``task_document_kwargs``, ...).
    """

    name: str = "vasp static"
    input_set_generator: PaperStaticSetGenerator = field(default_factory=PaperStaticSetGenerator)


@dataclass
class VaspRelaxMaker(RelaxMaker):
    """atomate2 VASP relaxation with the paper's settings; output: atomate2's ``TaskDoc``.

    Parameters
    ----------
    name
        Job name.
    input_set_generator
        :class:`PaperRelaxSetGenerator` with :func:`paper_relax_incar`.
    **kwargs
        Every other field of atomate2's ``RelaxMaker``.
    """

    name: str = "vasp relax"
    input_set_generator: PaperRelaxSetGenerator = field(default_factory=PaperRelaxSetGenerator)


def phase_transition_static_maker(*, spin_polarised: bool = False) -> VaspStaticMaker:
    """Return the VASP static maker of the mode-following statics (paper §4.6).

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation.

    Returns
    -------
    VaspStaticMaker
        Named ``"vasp static phase transition"``, :func:`phase_transition_static_incar`.
    """
    generator = PaperStaticSetGenerator(
        preset_incar=phase_transition_static_incar(spin_polarised=spin_polarised)
    )
    return VaspStaticMaker(name="vasp static phase transition", input_set_generator=generator)


def paper_phonon_maker(*, spin_polarised: bool = False) -> PhononMaker:
    """Return atomate2's VASP ``PhononMaker`` with the paper's reference-phonon settings.

    Paper §4.1: phonopy finite displacements in cubic supercells with sides of at least
    20 Å, sampled at Γ only, on a structure relaxed to 0.5 meV/Å.

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation of every VASP job.

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
    from atomate2.vasp.flows.phonons import PhononMaker

    static = paper_static_incar(spin_polarised=spin_polarised)
    displacement = VaspStaticMaker(
        name="vasp phonon static",
        input_set_generator=PaperStaticSetGenerator(
            preset_incar=static, user_kpoints_settings=Kpoints.gamma_automatic((1, 1, 1))
        ),
    )
    return PhononMaker(
        name="vasp phonon",
        min_length=PAPER_PHONON_MIN_LENGTH,
        prefer_90_degrees=True,
        bulk_relax_maker=_double_relax(spin_polarised),
        static_energy_maker=VaspStaticMaker(
            name="vasp static energy",
            input_set_generator=PaperStaticSetGenerator(preset_incar=static),
        ),
        born_maker=None,
        phonon_displacement_maker=displacement,
    )


#: Force threshold of the elastic-tensor relaxations (eV/Å), paper §4.1 (1 meV/Å).
PAPER_ELASTIC_FMAX: float = 1e-3
#: EOS volumes relative to equilibrium: −5 … +5 % in 1 % steps (the evaluation protocol).
PAPER_EOS_VOLUME_RANGE: tuple[float, float] = (-0.05, 0.05)
PAPER_EOS_N_VOLUMES: int = 11


def _paper_relax(
    spin_polarised: bool, name: str = "vasp relax", **incar_updates: Any
) -> VaspRelaxMaker:
    """:class:`VaspRelaxMaker` with :func:`paper_relax_incar` plus ``incar_updates``."""
    incar = paper_relax_incar(spin_polarised=spin_polarised) | incar_updates
    return VaspRelaxMaker(name=name, input_set_generator=PaperRelaxSetGenerator(preset_incar=incar))


def _double_relax(spin_polarised: bool, name: str = "vasp relax") -> DoubleRelaxMaker:
    """atomate2's ``DoubleRelaxMaker`` of :func:`_paper_relax` (jobs ``"<name> 1"``, ``"… 2"``)."""
    from atomate2.vasp.flows.core import DoubleRelaxMaker

    return DoubleRelaxMaker.from_relax_maker(_paper_relax(spin_polarised, name))


def paper_elastic_maker(*, spin_polarised: bool = False) -> ElasticMaker:
    """Return atomate2's VASP ``ElasticMaker`` with the paper's reference settings.

    Paper §4.1: elastic constants from atomate2's ``ElasticMaker`` with a force threshold
    of 1 meV/Å, on top of the level of theory of :func:`paper_static_incar`.

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation of every VASP job.

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
    from atomate2.vasp.flows.elastic import ElasticMaker

    return ElasticMaker(
        name="vasp elastic",
        bulk_relax_maker=_double_relax(spin_polarised),
        elastic_relax_maker=_paper_relax(
            spin_polarised, "vasp elastic relax", ISIF=2, EDIFFG=-PAPER_ELASTIC_FMAX
        ),
    )


def paper_eos_maker(*, spin_polarised: bool = False) -> EosMaker:
    """Return atomate2's VASP ``EosMaker`` for the EOS protocol with the paper's settings.

    Volumes −5 … +5 % in 1 % steps around the relaxed cell, each relaxed at fixed volume
    (positions and cell shape, ISIF 4) to 0.5 meV/Å at the level of theory of
    :func:`paper_static_incar`; atomate2 fits Birch–Murnaghan (and other) EOS to the
    relaxed energies. The ML models get the same protocol from
    :mod:`mlip_finetune.evaluation.eos`.

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation of every VASP job.

    Returns
    -------
    atomate2.vasp.flows.eos.EosMaker
        Initial relaxation: ``DoubleRelaxMaker`` of :class:`VaspRelaxMaker`; EOS points:
        :class:`VaspRelaxMaker` named ``"vasp eos relax"`` with ISIF 4. atomate2 spaces
        *linear* strains evenly, so the 11 linear strains run from (0.95)^(1/3) − 1 to
        (1.05)^(1/3) − 1 and the volumes lie within 0.1 % (absolute) of the 1 % steps, ends
        exact.
    """
    from atomate2.vasp.flows.eos import EosMaker

    low, high = PAPER_EOS_VOLUME_RANGE
    return EosMaker(
        name="vasp eos",
        initial_relax_maker=_double_relax(spin_polarised),
        eos_relax_maker=_paper_relax(spin_polarised, "vasp eos relax", ISIF=4),
        linear_strain=((1 + low) ** (1 / 3) - 1, (1 + high) ** (1 / 3) - 1),
        number_of_frames=PAPER_EOS_N_VOLUMES,
    )


def paper_properties_maker(*, spin_polarised: bool = False) -> VaspPropertiesMaker:
    """Return the VASP property suite (EOS, elastic tensor, Slack κ) with the paper's settings.

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation of every VASP job.

    Returns
    -------
    VaspPropertiesMaker
        One bulk ``DoubleRelaxMaker`` (jobs ``"vasp properties relax 1"`` and ``"... 2"``,
        ISIF 3 to 0.5 meV/Å), then :func:`paper_elastic_maker` and :func:`paper_eos_maker`
        on the relaxed cell without their own bulk relaxations.
    """
    return VaspPropertiesMaker(
        relax_maker=_double_relax(spin_polarised, "vasp properties relax"),
        elastic_maker=paper_elastic_maker(spin_polarised=spin_polarised),
        eos_maker=paper_eos_maker(spin_polarised=spin_polarised),
    )


def _default_properties_relax() -> DoubleRelaxMaker:
    return _double_relax(spin_polarised=False, name="vasp properties relax")


def _fmax_from_ediffg(incar: dict) -> float | None:
    """Force threshold (eV/Å) of a VASP relaxation from a negative EDIFFG, else None."""
    ediffg = float(incar.get("EDIFFG", 0.0) or 0.0)
    return -ediffg if ediffg < 0 else None


@dataclass
class VaspPropertiesMaker(Maker):
    """DFT EOS, elastic tensor, Slack κ and phase transitions with VASP (paper §4.1, §4.6).

    The VASP counterpart of :class:`mlip_finetune.evaluation.jobs.DFTPropertiesMaker`, a
    drop-in ``dft_properties_maker`` of the material flow. One bulk relaxation feeds
    atomate2's ``ElasticMaker`` and ``EosMaker`` (both with their own bulk relaxation
    switched off, so the cell is relaxed once); ``"vasp properties document"`` then converts
    their outputs with the analysis of the ML side
    (:func:`mlip_finetune.evaluation.jobs.properties_from_points`, see
    :func:`properties_from_vasp`). The atomate2 documents (TaskDocs, ``ElasticDocument``,
    EOS fits) stay in the store. With ``phase_transitions`` the relaxed cell is also searched
    (:func:`vasp_phase_transitions`, one job).

    Parameters
    ----------
    name
        Flow name.
    relax_maker
        Bulk relaxation (cell and positions), a Maker whose output is a VASP ``TaskDoc``
        (default: :func:`paper_properties_maker`'s ``DoubleRelaxMaker``).
    elastic_maker
        atomate2 ``ElasticMaker`` (default :func:`paper_elastic_maker`); its
        ``bulk_relax_maker`` is not used.
    eos_maker
        atomate2 ``EosMaker`` (default :func:`paper_eos_maker`); its
        ``initial_relax_maker`` is not used.
    slack_temperature
        Temperature of the Slack κ (K).
    phase_transitions
        Also run the DFT phase-transition search (:func:`vasp_phase_transitions`, one job
        ``"vasp phase transitions"``; default off: hundreds of supercell statics per
        unstable mode).
    phase_transition_settings
        Its settings.
    phase_transition_maker
        VASP static maker of the search (default :func:`phase_transition_static_maker`,
        ENCUT 400 eV, EDIFF 1e-7, paper §4.6).
    supercell_matrix, min_length, displacement, fc_calculator
        Phonons of the search (used only when ``phase_transitions``).
    """

    name: str = "vasp properties"
    relax_maker: Maker = field(default_factory=_default_properties_relax)
    elastic_maker: ElasticMaker = field(default_factory=paper_elastic_maker)
    eos_maker: EosMaker = field(default_factory=paper_eos_maker)
    slack_temperature: float = SLACK_TEMPERATURE_K
    phase_transitions: bool = False
    phase_transition_settings: PhaseTransitionSettings = field(
        default_factory=PhaseTransitionSettings
    )
    phase_transition_maker: BaseVaspMaker = field(default_factory=phase_transition_static_maker)
    supercell_matrix: list[list[int]] | None = None
    min_length: float = PAPER_PHONON_MIN_LENGTH
    displacement: float = DEFAULT_DISPLACEMENT
    fc_calculator: str = "symfc"

    def make(self, structure: Structure | OutputReference) -> Flow:
        """Return the VASP property flow of one structure.

        Parameters
        ----------
        structure
            Unit cell (Å), or a reference to one.

        Returns
        -------
        Flow
            Named ``self.name``: the bulk relaxation, atomate2's elastic and EOS flows,
            optionally ``"vasp phase transitions"``, and ``"vasp properties document"``, whose
            :class:`~mlip_finetune.schemas.properties.ModelPropertiesDocument` (label
            ``"dft"``, engine ``"vasp"``) is the Flow's output.

        Raises
        ------
        TypeError
            If the elastic or EOS relaxation maker is not an atomate2 VASP maker.
        """
        from dataclasses import replace

        for what, maker in (
            ("elastic_maker.elastic_relax_maker", self.elastic_maker.elastic_relax_maker),
            ("eos_maker.eos_relax_maker", self.eos_maker.eos_relax_maker),
        ):
            if not isinstance(maker, BaseVaspMaker):
                raise TypeError(f"{what} must be an atomate2 VASP maker, got {type(maker)}.")
        relax = self.relax_maker.make(structure)
        relaxed = relax.output.structure
        # no prev_dir: the paper's INCARs write no WAVECAR or CHGCAR (LWAVE, LCHARG False)
        # that the strained cells could start from
        elastic = replace(self.elastic_maker, bulk_relax_maker=None).make(
            relaxed, equilibrium_stress=relax.output.output.stress
        )
        eos = replace(self.eos_maker, initial_relax_maker=None).make(relaxed)
        prefix = f"{self.eos_maker.eos_relax_maker.name} deformation "
        eos_points = [j for j, _ in eos.iterflow() if (j.name or "").startswith(prefix)]
        jobs = [relax, elastic, eos]
        phases = None
        if self.phase_transitions:
            phases = vasp_phase_transitions(
                relaxed,
                self.phase_transition_settings,
                static_maker=self.phase_transition_maker,
                supercell_matrix=self.supercell_matrix,
                min_length=self.min_length,
                displacement=self.displacement,
                fc_calculator=self.fc_calculator,
            )
            phases.name = "vasp phase transitions"
            jobs.append(phases)
        assemble = vasp_properties_document(
            relax.output,
            [j.output for j in eos_points],
            elastic.output,
            elastic_fmax=_fmax_from_ediffg(
                self.elastic_maker.elastic_relax_maker.input_set_generator.preset_incar
            ),
            slack_temperature=self.slack_temperature,
            phase_transitions=None if phases is None else phases.output,
            phase_transition_settings=self.phase_transition_settings if phases else None,
        )
        # a failed VASP point must not lose the others: missing outputs arrive as None
        assemble.config.on_missing_references = OnMissing.NONE
        assemble.name = "vasp properties document"
        assemble.metadata.update(CONVERSION_JOB_METADATA)
        return Flow([*jobs, assemble], output=assemble.output, name=self.name)


def properties_from_vasp(
    relax_task: TaskDoc | dict,
    eos_tasks: Sequence[TaskDoc | dict],
    elastic_document: Any,
    *,
    label: str = "dft",
    elastic_fmax: float | None = None,
    slack_temperature: float = SLACK_TEMPERATURE_K,
    phase_transitions: PhaseTransitionDocument | dict | None = None,
    phase_transition_settings: PhaseTransitionSettings | None = None,
) -> ModelPropertiesDocument:
    """Convert atomate2's VASP relaxation, EOS points and ``ElasticDocument`` to our document.

    The fits are redone with the ML side's analysis
    (:func:`mlip_finetune.evaluation.jobs.properties_from_points`), so DFT and models are
    compared with identical code: Birch–Murnaghan on the EOS points' energies and volumes,
    and the elastic fit on the ``ElasticDocument``'s ``fitting_data`` (deformations and
    Cauchy stresses already expanded by symmetry and converted to GPa, tensile > 0, by
    atomate2) with its equilibrium stress. For the same stresses this reproduces atomate2's
    tensor (the tests check it).

    Parameters
    ----------
    relax_task
        TaskDoc of the bulk relaxation (its final structure is the equilibrium).
    eos_tasks
        TaskDocs of the EOS points (fixed-volume relaxations), any order; None for a
        failed point (the fit uses the others).
    elastic_document
        atomate2 ``ElasticDocument`` (or its dict) of the strained cells; None if atomate2's
        fit did not run.
    label
        Stored label.
    elastic_fmax
        Force threshold of the strained-cell relaxations (eV/Å), stored.
    slack_temperature
        Temperature of the Slack κ (K).
    phase_transitions, phase_transition_settings
        Output of :func:`vasp_phase_transitions` (or None) and its settings.

    Returns
    -------
    ModelPropertiesDocument
        Engine ``"vasp"``; ``dft_settings`` hold the bulk relaxation's INCAR, mesh and
        POTCARs; volume strains are measured from the relaxed volume; the strained cells'
        wall times and convergence flags are not in atomate2's ``ElasticDocument`` and are
        recorded as 0 s and unknown. Failed points are recorded in ``failures``
        (``"eos_points"``, ``"elastic_points"``, ``"elastic"``), as are failed fits.

    Raises
    ------
    ValueError
        If a TaskDoc lacks energy, forces or stress (:func:`static_document_from_task`), or
        the ``ElasticDocument`` has no fitting data.
    """
    from atomate2.common.schemas.elastic import ElasticDocument as Atomate2ElasticDocument
    from emmet.core.tasks import TaskDoc

    from mlip_finetune.evaluation.jobs import properties_from_points

    def document(task: TaskDoc | dict, name: str) -> StaticDocument:
        task = task if isinstance(task, TaskDoc) else TaskDoc.model_validate(task)
        return static_document_from_task(task, task.input.structure, label=name)

    equilibrium = document(relax_task, "vasp properties relax")
    failures = {}
    done = [t for t in eos_tasks if t is not None]
    if len(done) < len(eos_tasks):
        failures["eos_points"] = f"{len(eos_tasks) - len(done)} of {len(eos_tasks)} failed"
    eos = sorted(
        (document(t, f"vasp eos {i + 1}/{len(done)}") for i, t in enumerate(done)),
        key=lambda d: d.structure.volume,
    )
    deformations, stresses, fitting_method = [], [], "finite_difference"
    fitting = None
    if elastic_document is None:
        failures["elastic"] = "atomate2's elastic fit did not run (failed deformations)"
    else:
        elastic = (
            elastic_document
            if isinstance(elastic_document, Atomate2ElasticDocument)
            else Atomate2ElasticDocument.model_validate(elastic_document)
        )
        fitting = elastic.fitting_data
        if fitting is None or not fitting.deformations or not fitting.cauchy_stresses:
            raise ValueError("The ElasticDocument has no fitting data (deformations, stresses).")
        deformations = [np.asarray(d, dtype=float) for d in fitting.deformations]
        stresses = [np.asarray(s, dtype=float) for s in fitting.cauchy_stresses]
        fitting_method = elastic.fitting_method or fitting_method
        if fitting.failed_uuids:
            failures["elastic_points"] = f"atomate2 deformations failed: {fitting.failed_uuids}"
    return properties_from_points(
        equilibrium,
        eos,
        deformations,
        stresses,
        label=label,
        relaxed=True,
        volume_strains=[d.structure.volume / equilibrium.structure.volume - 1 for d in eos],
        fmax=elastic_fmax,
        fitting_method=fitting_method,
        symprec=None,  # atomate2 stores the strains already expanded by symmetry
        slack_temperature=slack_temperature,
        phase_transitions=phase_transitions,
        phase_transition_settings=phase_transition_settings,
        failures=failures,
    )


@job(output_schema=ModelPropertiesDocument)
def vasp_properties_document(
    relax_task: Any,
    eos_tasks: list,
    elastic_document: Any,
    *,
    elastic_fmax: float | None = None,
    slack_temperature: float = SLACK_TEMPERATURE_K,
    phase_transitions: Any = None,
    phase_transition_settings: PhaseTransitionSettings | None = None,
) -> ModelPropertiesDocument:
    """Job: :func:`properties_from_vasp` (label ``"dft"``); see it for parameters and errors."""
    return properties_from_vasp(
        relax_task,
        eos_tasks,
        elastic_document,
        elastic_fmax=elastic_fmax,
        slack_temperature=slack_temperature,
        phase_transitions=phase_transitions,
        phase_transition_settings=phase_transition_settings,
    )


class VaspStaticCalculator(Calculator):
    """ASE calculator running one VASP static per call, as an atomate2 VASP job would.

    For searches that need an ASE calculator (the phase-transition scans and their
    symmetry-kept relaxations, :func:`vasp_phase_transitions`). Each call writes the
    maker's input set into a new sub-directory ``vasp_00001``, … of ``directory``
    (atomate2's ``write_vasp_input_set``), runs VASP through custodian (atomate2's
    ``run_vasp`` with the maker's ``run_vasp_kwargs``) and parses the directory into a
    ``TaskDoc`` (atomate2's ``get_vasp_task_document``), as ``BaseVaspMaker.make`` does.

    Parameters
    ----------
    maker
        atomate2 VASP static maker whose input set, ``run_vasp_kwargs`` and
        ``task_document_kwargs`` are used (default :func:`phase_transition_static_maker`,
        paper §4.6).
    directory
        Directory that receives one sub-directory per calculation (created if missing).
    """

    implemented_properties: ClassVar[list[str]] = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, maker: BaseVaspMaker | None = None, directory: str | Path = ".") -> None:
        super().__init__(directory=str(directory))
        self.maker = maker if maker is not None else phase_transition_static_maker()
        if not isinstance(self.maker, BaseVaspMaker):
            raise TypeError(f"maker must be an atomate2 VASP maker, got {type(self.maker)}.")
        self.n_calls = 0
        self.wall_time = 0.0

    def calculate(
        self,
        atoms: Any = None,
        properties: Sequence[str] = ("energy",),
        system_changes: Sequence[str] = tuple(all_changes),
    ) -> None:
        """Run one VASP static of ``atoms``: energy (eV), forces (eV/Å), stress (eV/Å³).

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
            If custodian gives up on VASP, or the SCF did not converge (the directory is kept).
        """
        import contextlib
        from pathlib import Path

        import atomate2.vasp.run
        from ase.stress import full_3x3_to_voigt_6_stress
        from atomate2.vasp.files import write_vasp_input_set
        from atomate2.vasp.jobs.base import get_vasp_task_document
        from pymatgen.io.ase import AseAtomsAdaptor

        from mlip_finetune.dft.engines import DFTCalculationError
        from mlip_finetune.units import EV_PER_A3_TO_GPA

        super().calculate(atoms, properties, system_changes)
        self.n_calls += 1
        structure = AseAtomsAdaptor.get_structure(self.atoms)
        run_dir = Path(self.directory) / f"vasp_{self.n_calls:05d}"
        run_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.chdir(run_dir):
            write_vasp_input_set(
                structure, self.maker.input_set_generator, **self.maker.write_input_set_kwargs
            )
            try:
                atomate2.vasp.run.run_vasp(**self.maker.run_vasp_kwargs)
            except Exception as err:  # custodian's errors have no common public base
                raise DFTCalculationError("vasp", run_dir, f"{type(err).__name__}: {err}") from err
            task = get_vasp_task_document(Path.cwd(), **self.maker.task_document_kwargs)
        doc = static_document_from_task(task, structure, label=run_dir.name)
        if not doc.converged:
            raise DFTCalculationError("vasp", run_dir, "the SCF did not converge (NELM reached)")
        self.wall_time += doc.wall_time_s
        self.results = {
            "energy": doc.energy,
            "free_energy": doc.energy,
            "forces": np.asarray(doc.forces, dtype=float),
            "stress": full_3x3_to_voigt_6_stress(np.asarray(doc.stress) / EV_PER_A3_TO_GPA),
        }


@job(output_schema=PhaseTransitionDocument)
def vasp_phase_transitions(
    structure: Structure,
    search_settings: PhaseTransitionSettings,
    *,
    static_maker: BaseVaspMaker | None = None,
    supercell_matrix: list[list[int]] | None = None,
    min_length: float = PAPER_PHONON_MIN_LENGTH,
    displacement: float = DEFAULT_DISPLACEMENT,
    fc_calculator: str = "symfc",
) -> PhaseTransitionDocument:
    """Phase-transition search with VASP energies (paper §4.6), in one job.

    :func:`mlip_finetune.evaluation.jobs.phase_transitions_with_calculator` with a
    :class:`VaspStaticCalculator`: the phonons of the relaxed cell, then every grid energy,
    every ionic step of the symmetry-kept relaxations and the reference energy, each one
    VASP static at the mode-following settings (ENCUT 400 eV, EDIFF 1e-7) in a
    sub-directory ``phase_transitions/vasp_*`` of the job's directory. The same cost as the
    GPAW search (:func:`~mlip_finetune.evaluation.jobs.dft_phase_transitions`): hundreds of
    supercell statics per 3-D unstable mode, so one long job on a CPU node.

    Parameters
    ----------
    structure
        Relaxed unit cell (Å), e.g. the output structure of the bulk relaxation.
    search_settings
        Search parameters.
    static_maker
        Maker of the statics (default :func:`phase_transition_static_maker`).
    supercell_matrix, min_length, displacement, fc_calculator
        Phonons of the search (phonopy; ``None`` takes the cubic supercell of side
        ≥ ``min_length`` Å).

    Returns
    -------
    PhaseTransitionDocument
        Labelled ``"dft"``.

    Raises
    ------
    DFTCalculationError
        If a VASP static fails (custodian gives up or the SCF does not converge).
    """
    from pathlib import Path

    from mlip_finetune.evaluation.jobs import phase_transitions_with_calculator

    calculator = VaspStaticCalculator(static_maker, Path.cwd() / "phase_transitions")
    return phase_transitions_with_calculator(
        as_structure(structure),
        calculator,
        search_settings,
        supercell_matrix=supercell_matrix,
        min_length=min_length,
        displacement=displacement,
        fc_calculator=fc_calculator,
    )


def vasp_stress_to_gpa(stress_kbar: Any) -> np.ndarray:
    """Convert a VASP stress tensor (kBar, positive = compressive) to GPa, tensile > 0.

    VASP (vasprun.xml ``stress``, OUTCAR ``in kB``) reports the stress with the sign of a
    pressure: a compressed cell has positive diagonal entries. ASE, and
    :class:`~mlip_finetune.schemas.dft.StaticDocument`, use the opposite sign (ASE's
    ``ase.io.vasp`` readers apply the same ``-0.1`` factor).

    Parameters
    ----------
    stress_kbar
        Stress tensor, shape (3, 3), kBar, VASP sign convention.

    Returns
    -------
    numpy.ndarray
        Stress tensor, shape (3, 3), GPa, ASE sign convention (tensile > 0).

    Raises
    ------
    ValueError
        If the input is not a (3, 3) array.
    """
    stress = np.asarray(stress_kbar, dtype=float)
    if stress.shape != (3, 3):
        raise ValueError(f"Expected a (3, 3) stress tensor, got shape {stress.shape}.")
    return -KBAR_TO_GPA * stress


def site_order(
    reference: Structure, other: Structure, tol: float = SITE_MATCH_TOLERANCE
) -> list[int]:
    """Return, for each site of ``reference``, the index of the same site in ``other``.

    pymatgen input sets may sort a POSCAR's sites by electronegativity (``sort_structure``;
    atomate2 0.1.5 keeps the caller's order because its dataclass field ``structure``
    shadows pymatgen's sorting setter). Mapping VASP's order back to the caller's, and
    checking the positions on the way, keeps forces aligned with phonopy's supercells
    whatever a future atomate2 does.

    Parameters
    ----------
    reference
        Structure in the caller's site order (Å).
    other
        The same sites in another order, on the same lattice (Å).
    tol
        Largest periodic distance (Å) between matched sites.

    Returns
    -------
    list of int
        ``order`` such that ``other[order[i]]`` is ``reference[i]``.

    Raises
    ------
    ValueError
        If the structures differ in size, or a site has no unique counterpart of the same
        species within ``tol``.
    """
    if len(reference) != len(other):
        raise ValueError(f"Structures differ in size: {len(reference)} vs {len(other)} sites.")
    distances = other.lattice.get_all_distances(reference.frac_coords, other.frac_coords)
    order = []
    for i, site in enumerate(reference):
        candidates = [
            j for j in np.flatnonzero(distances[i] < tol) if other[int(j)].species == site.species
        ]
        if len(candidates) != 1:
            raise ValueError(
                f"Site {i} ({site.species_string} at {site.coords.round(4).tolist()} Å) has "
                f"{len(candidates)} counterparts within {tol} Å in the VASP structure."
            )
        order.append(int(candidates[0]))
    if len(set(order)) != len(order):
        raise ValueError("Two sites of the input map onto the same VASP site.")
    return order


def _kpoint_divisions(kpoints: Any) -> list[int]:
    """Return the mesh divisions of a pymatgen ``Kpoints`` (or its dict); [] if explicit."""
    if kpoints is None:
        return []
    if isinstance(kpoints, dict):
        kpoints = Kpoints.from_dict(kpoints)
    style = str(kpoints.style.name).lower()
    if style not in ("gamma", "monkhorst"):
        return []
    return [int(n) for n in kpoints.kpts[0]]


def _scf_converged(calc: Any) -> bool:
    """Whether the last ionic step's SCF converged (fewer electronic steps than NELM).

    pymatgen's ``Vasprun.converged_electronic`` rule; falls back to the run's overall state
    when the ionic steps were not kept.
    """
    steps = calc.output.ionic_steps
    if not steps:
        return str(calc.has_vasp_completed) == "successful"
    nelm = int((calc.input.parameters or {}).get("NELM", 60))
    return 0 < len(steps[-1].electronic_steps or []) < nelm


def static_document_from_task(
    task_doc: TaskDoc | dict,
    structure: Structure,
    label: str = "",
    metadata: dict | None = None,
) -> StaticDocument:
    """Convert an atomate2 VASP ``TaskDoc`` into a :class:`StaticDocument`.

    Parameters
    ----------
    task_doc
        Output of a VASP static or relaxation (emmet ``TaskDoc`` or its dict).
    structure
        The structure handed to the VASP job, in the caller's site order (Å).
    label
        Free-text label of the document.
    metadata
        Caller's metadata; ``vasp_task_label``, ``vasp_dir_name`` and ``vasp_calc_type`` are
        added, and for relaxations (NSW > 0) ``n_steps`` (ionic steps VASP ran),
        ``relax_converged`` (VASP's ionic and electronic convergence), ``fmax`` (eV/Å, from
        a negative EDIFFG, else None) and ``relax_cell`` (ISIF ≥ 3).

    Returns
    -------
    StaticDocument
        Energy (eV, VASP's energy extrapolated to σ → 0, ``e_0_energy``), forces (eV/Å) and
        stress (GPa, tensile > 0; see :func:`vasp_stress_to_gpa`) in the caller's site
        order; the input structure for a static, the relaxed one for a relaxation.
        ``settings`` records the INCAR VASP read (custodian's corrections included), the
        POTCARs, the mesh and the run type; ``wall_time_s`` is VASP's elapsed time from the
        OUTCAR (0 if absent); ``converged`` is the SCF convergence of the last ionic step.

    Raises
    ------
    ValueError
        If the TaskDoc lacks energy, forces or stress, or its sites cannot be matched to
        ``structure``.
    """
    from emmet.core.tasks import TaskDoc
    from pymatgen.core import Structure

    task = task_doc if isinstance(task_doc, TaskDoc) else TaskDoc.model_validate(task_doc)
    structure = as_structure(structure)
    output = task.output
    if output is None or output.energy is None or output.forces is None or output.stress is None:
        raise ValueError(
            f"VASP task {task.task_label!r} in {task.dir_name} has no energy, forces or stress; "
            "was the stress computed (ISIF >= 2)?"
        )
    calc = task.calcs_reversed[0]
    order = site_order(structure, calc.input.structure)
    incar = {str(key): value for key, value in dict(calc.input.incar).items()}
    extra: dict[str, Any] = {
        "vasp_task_label": task.task_label,
        "vasp_dir_name": task.dir_name,
        "vasp_calc_type": str(task.calc_type),
    }
    if int(incar.get("NSW", 0) or 0) > 0:
        final_structure = Structure.from_sites([output.structure[j] for j in order])
        extra |= {
            "n_steps": len(calc.output.ionic_steps or []),
            "relax_converged": str(calc.has_vasp_completed) == "successful",
            "fmax": _fmax_from_ediffg(incar),
            "relax_cell": int(incar.get("ISIF", 2)) >= 3,  # noqa: PLR2004 (VASP's ISIF code)
        }
    else:
        final_structure = structure
    settings = {
        "engine": "vasp",
        "incar": incar,
        "kpoints": _kpoint_divisions(calc.input.kpoints),
        "potcar": [str(p) for p in (calc.input.potcar or [])],
        "potcar_type": [str(p) for p in (calc.input.potcar_type or [])],
        "run_type": str(calc.run_type),
    }
    run_stats = calc.output.run_stats
    return StaticDocument(
        label=label,
        structure=final_structure,
        energy=float(output.energy),
        forces=np.asarray(output.forces, dtype=float)[order].tolist(),
        stress=vasp_stress_to_gpa(output.stress).tolist(),
        engine="vasp",
        settings=settings,
        kpoints=settings["kpoints"],
        wall_time_s=float(getattr(run_stats, "elapsed_time", 0.0) or 0.0),
        converged=_scf_converged(calc),
        metadata={**(metadata or {}), **extra},
    )


@job(output_schema=StaticDocument)
def vasp_static_document(
    task_doc: Any, structure: Structure, label: str = "", metadata: dict | None = None
) -> StaticDocument:
    """Job: convert a VASP ``TaskDoc`` into a :class:`StaticDocument`.

    See :func:`static_document_from_task` for parameters, return value and errors.
    """
    return static_document_from_task(task_doc, structure, label=label, metadata=metadata)


@dataclass
class VaspDocumentMaker(Maker):
    """Make a Flow [atomate2 VASP job, conversion] whose output is a :class:`StaticDocument`.

    The drop-in VASP counterpart of :class:`mlip_finetune.dft.jobs.StaticMaker` (or, with a
    :class:`VaspRelaxMaker`, of :class:`~mlip_finetune.dft.jobs.RelaxMaker`). The VASP job
    keeps atomate2's ``TaskDoc`` as its output in the store; the conversion job is cheap.

    Parameters
    ----------
    name
        Name of the Flow and of the VASP job.
    vasp_maker
        atomate2 VASP maker: :class:`VaspStaticMaker` (default) or :class:`VaspRelaxMaker`.
    manager_config
        jobflow ``JobConfig.manager_config`` of the VASP job (e.g. ``{"worker": "cpu"}`` for
        jobflow-remote); applies also to VASP jobs created at run time by a fan-out.
    """

    name: str = "vasp static"
    vasp_maker: BaseVaspMaker = field(default_factory=VaspStaticMaker)
    manager_config: dict = field(default_factory=dict)

    def make(
        self,
        structure: Structure | OutputReference,
        label: str = "",
        metadata: dict | None = None,
        prev_dir: str | Path | None = None,
    ) -> Flow:
        """Return the Flow that runs VASP on one structure and converts its output.

        Parameters
        ----------
        structure
            Structure (Å) or a reference to one.
        label
            Free-text label of the output document.
        metadata
            Metadata passed through to the output document.
        prev_dir
            Previous VASP directory to start from (atomate2's ``prev_dir``).

        Returns
        -------
        Flow
            Named ``self.name``: the VASP job (named ``self.name``, metadata
            :data:`VASP_JOB_METADATA`, output ``TaskDoc``) and ``"<name> document"``
            (metadata :data:`CONVERSION_JOB_METADATA`); the Flow's output is the
            :class:`StaticDocument`.

        Raises
        ------
        TypeError
            If ``vasp_maker`` is not an atomate2 VASP maker.
        """
        if not isinstance(self.vasp_maker, BaseVaspMaker):
            raise TypeError(
                f"vasp_maker must be an atomate2 VASP maker, got {type(self.vasp_maker)}."
            )
        vasp_job = self.vasp_maker.make(structure, prev_dir=prev_dir)
        vasp_job.name = self.name
        vasp_job.metadata.update(VASP_JOB_METADATA)
        if self.manager_config:
            vasp_job.config.manager_config = dict(self.manager_config)
        convert = vasp_static_document(
            vasp_job.output, structure, label=label, metadata=dict(metadata or {})
        )
        convert.name = f"{self.name} document"
        convert.metadata.update(CONVERSION_JOB_METADATA)
        return Flow([vasp_job, convert], output=convert.output, name=self.name)
