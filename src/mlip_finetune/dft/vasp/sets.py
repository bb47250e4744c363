"""The paper's VASP input sets: INCAR presets, the k-point mesh and atomate2 set generators.

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

POTCARs are PBE PAW datasets of the ``PBE_54`` set with atomate2's element choices; VASP needs
them in ``PMG_VASP_PSP_DIR`` (pymatgen's setting) on the machine that writes the inputs.

Spin polarisation: by default (``spin_polarised=None``, the preset's ``ISPIN`` is
:data:`ISPIN_AUTO`) each structure is decided by
:func:`mlip_finetune.dft.magnetism.is_magnetic`, the rule the GPAW engine uses: ISPIN 2 for
structures with a magnetic element or a non-zero ``magmom`` site property, with atomate2's
own MAGMOM (its base set's Materials Project table, a ``magmom`` site property first, as
:func:`~mlip_finetune.dft.magnetism.initial_magmoms`), ISPIN 1 (and no MAGMOM) otherwise.

Smearing: ISMEAR/SIGMA come from the smearing setting of
:class:`~mlip_finetune.dft.settings.DFTSettings` (:func:`smearing_incar`); the presets use
:meth:`DFTSettings.paper() <mlip_finetune.dft.settings.DFTSettings.paper>`'s, a Gaussian of
0.05 eV (ISMEAR 0, SIGMA 0.05), so GPAW at the paper preset and VASP smear alike.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from atomate2.vasp.sets.core import RelaxSetGenerator, StaticSetGenerator
from pymatgen.io.vasp import Incar, Kpoints

from mlip_finetune.dft.magnetism import is_magnetic
from mlip_finetune.dft.settings import PAPER_SMEARING, PAPER_SMEARING_WIDTH, kpoint_mesh

if TYPE_CHECKING:
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
#: Force threshold of the elastic-tensor relaxations (eV/Å), paper §4.1 (1 meV/Å).
PAPER_ELASTIC_FMAX: float = 1e-3
#: EOS volumes relative to equilibrium: −5 … +5 % in 1 % steps (the evaluation protocol).
PAPER_EOS_VOLUME_RANGE: tuple[float, float] = (-0.05, 0.05)
#: Number of EOS volumes (1 % steps over :data:`PAPER_EOS_VOLUME_RANGE`).
PAPER_EOS_N_VOLUMES: int = 11
#: Preset value of ISPIN that the input-set generators resolve per structure (1 or 2,
#: :func:`~mlip_finetune.dft.magnetism.is_magnetic`); never written to an INCAR.
ISPIN_AUTO: str = "auto"
#: VASP ISMEAR of each :attr:`DFTSettings.smearing <mlip_finetune.dft.settings.DFTSettings>`.
VASP_ISMEAR: dict[str, int] = {"fermi-dirac": -1, "gaussian": 0}


def smearing_incar(smearing: str, width: float) -> dict[str, Any]:
    """Return the INCAR tags of an occupation smearing.

    Parameters
    ----------
    smearing
        :attr:`DFTSettings.smearing <mlip_finetune.dft.settings.DFTSettings>`:
        ``"fermi-dirac"`` or ``"gaussian"``.
    width
        Smearing width (eV): k_B·T or σ.

    Returns
    -------
    dict
        ``ISMEAR`` (:data:`VASP_ISMEAR`) and ``SIGMA`` (eV).

    Raises
    ------
    ValueError
        If the smearing has no VASP counterpart.
    """
    if smearing not in VASP_ISMEAR:
        raise ValueError(
            f"Smearing {smearing!r} has no VASP ISMEAR; use one of {list(VASP_ISMEAR)}."
        )
    return {"ISMEAR": VASP_ISMEAR[smearing], "SIGMA": float(width)}


def ispin_tag(spin_polarised: bool | None) -> int | str:
    """Return the preset ISPIN: 2, 1, or :data:`ISPIN_AUTO` (decided per structure).

    Parameters
    ----------
    spin_polarised
        True, False, or None for the per-structure rule.

    Returns
    -------
    int or str
        2, 1 or :data:`ISPIN_AUTO`.
    """
    if spin_polarised is None:
        return ISPIN_AUTO
    return 2 if spin_polarised else 1


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


def paper_static_incar(
    *,
    spin_polarised: bool | None = None,
    smearing: str = PAPER_SMEARING,
    smearing_width: float = PAPER_SMEARING_WIDTH,
) -> dict[str, Any]:
    """Return the INCAR updates of the paper's reference statics (§4.1).

    Applied on top of atomate2's base set (whose functional is PBEsol, ``GGA = PS``, and
    whose cutoff is 680 eV). ``None`` removes a tag.

    Parameters
    ----------
    spin_polarised
        Collinear spin polarisation: None (default) decides per structure (ISPIN
        :data:`ISPIN_AUTO`, module docstring), True forces ISPIN 2 with atomate2's initial
        MAGMOM, False ISPIN 1.
    smearing, smearing_width
        Occupation smearing and its width (eV), :func:`smearing_incar`; the paper's Gaussian
        of 0.05 eV by default.

    Returns
    -------
    dict
        PBE (GGA PE), ENCUT 520 eV, EDIFF 1e-8 eV, PREC Accurate, LREAL False, the smearing
        (by default Gaussian of 0.05 eV, ISMEAR 0, valid for metals and insulators and with
        any number of k-points, unlike the tetrahedron method of atomate2's statics), ISYM 0
        (rattled
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
        **smearing_incar(smearing, smearing_width),
        "ISPIN": ispin_tag(spin_polarised),
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


def phase_transition_static_incar(*, spin_polarised: bool | None = None) -> dict[str, Any]:
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


def paper_relax_incar(*, spin_polarised: bool | None = None) -> dict[str, Any]:
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

    def resolved_preset(self) -> dict[str, Any]:
        """Return the preset with an ISPIN of :data:`ISPIN_AUTO` decided for the structure.

        Returns
        -------
        dict
            The preset; ISPIN 2 for a magnetic structure
            (:func:`~mlip_finetune.dft.magnetism.is_magnetic`), else 1. Without a structure
            an automatic ISPIN is left out.
        """
        preset = dict(self.preset_incar)
        if preset.get("ISPIN") == ISPIN_AUTO:
            if self.structure is None:
                preset.pop("ISPIN")
            else:
                preset["ISPIN"] = 2 if is_magnetic(self.structure) else 1
        return preset

    @property
    def incar_updates(self) -> dict[str, Any]:
        """Return atomate2's updates of this calculation type, then the preset's.

        Returns
        -------
        dict
            INCAR updates (``None`` removes a tag), ISPIN resolved (:meth:`resolved_preset`).
        """
        return super().incar_updates | self.resolved_preset()  # type: ignore[misc]

    @property
    def incar(self) -> Incar:
        """Return the INCAR with every preset tag present unless the user overrides it.

        Returns
        -------
        Incar
            The generated INCAR.
        """
        incar = super().incar  # type: ignore[misc]
        for key, value in self.resolved_preset().items():
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
