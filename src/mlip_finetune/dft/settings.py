"""One DFT settings object for training statics and reference phonons alike.

The same :class:`DFTSettings` instance must label the fine-tuning data and compute the DFT
reference properties; otherwise the benchmark compares two different levels of theory.
The paper's production settings (Grandel, Benner, George 2026, §4.1: PBE, PAW, 520 eV,
k-point spacing 0.1 Å⁻¹, EDIFF 1e-8 eV, forces 0.5 meV/Å) are :meth:`DFTSettings.paper`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PositiveInt

#: Tolerance used when rounding ``2π|b|/kspacing`` up, so a value that is an integer up to
#: floating-point noise does not gain one extra k-point.
_CEIL_TOLERANCE = 1e-8
#: Cells with a smaller absolute determinant (Å³) are treated as singular.
_MIN_CELL_VOLUME = 1e-12
#: Occupation smearing of the paper's VASP runs (§4.1 with atomate2's static set as the paper
#: ran it: ISMEAR 0), used by :meth:`DFTSettings.paper` and the VASP presets.
PAPER_SMEARING: Literal["gaussian"] = "gaussian"
#: Smearing width of the paper's VASP runs (eV, SIGMA).
PAPER_SMEARING_WIDTH: float = 0.05
#: GPAW PAW setup types that replace GPAW's default for an element, at every preset.
#: Mg: the 2-electron setup (3s², GPAW's ``Mg.2``), the valence of the VASP POTCAR ``Mg``
#: that atomate2's sets (and so the paper's VASP runs) use. GPAW's default Mg setup treats
#: 2s²2p⁶ as valence (10 electrons); its hard 2p states need ≥ 600 eV: at 350 eV its stress
#: at the PBE lattice is +2.8 GPa (tensile) and a relaxation lands 7 % below the PBE volume
#: (a = 3.115 Å, c = 5.075 Å, 21.33 Å³/atom against 3.19, 5.18, 22.9), while the 2-electron
#: setup gives the PBE lattice from 250 eV up (docs/dft-convergence.md).
DEFAULT_GPAW_SETUPS: dict[str, str] = {"Mg": "2"}


class DFTSettings(BaseModel):
    """Level of theory and numerical settings of every DFT calculation.

    The field defaults equal :meth:`local`. Use :meth:`paper` for production runs on a
    cluster and :meth:`test` for the test-suite. Derive variants with
    ``settings.model_copy(update={...})``; unknown field names are rejected.

    Notes
    -----
    k-points follow VASP's ``KSPACING`` rule (see :func:`kpoint_mesh`), so a structure gets
    the same mesh here as in a VASP run with the same spacing.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    engine: Literal["gpaw"] = Field(
        default="gpaw",
        description="DFT engine name, a key of mlip_finetune.dft.engines.ENGINES.",
    )
    xc: str = Field(default="PBE", description="Exchange-correlation functional name.")
    ecut: float = Field(
        default=350.0,
        gt=0,
        description=(
            "Plane-wave cutoff energy (eV); the minimum when ecut_residual raises it for hard "
            "elements."
        ),
    )
    ecut_residual: float | None = Field(
        default=0.03,
        gt=0,
        description=(
            "Cutoff rule (eV per atom): each structure's cutoff is raised above ecut to the "
            "smallest at which every element's PAW setup leaves at most this kinetic energy "
            "of its occupied pseudo partial waves beyond the cutoff "
            "(mlip_finetune.dft.gpaw.cutoff); None uses ecut for every structure."
        ),
    )
    kspacing: float = Field(
        default=0.3,
        gt=0,
        description=(
            "Minimum k-point spacing (Å⁻¹), VASP KSPACING convention including the 2π: "
            "N_i = max(1, ceil(2π|b_i| / kspacing))."
        ),
    )
    kpoints: tuple[PositiveInt, PositiveInt, PositiveInt] | None = Field(
        default=None,
        description=(
            "Fixed k-point mesh (divisions along b1, b2, b3) used for every structure instead "
            "of the kspacing rule; None (default) applies the rule per structure. The DFT "
            "property suite sets it to the equilibrium cell's mesh, so all EOS volumes and "
            "strained cells share one mesh (a mesh that jumps between two volumes puts a "
            "step in E(V))."
        ),
    )
    gamma_centred: bool = Field(
        default=True,
        description="Γ-centred k-mesh (True, VASP KGAMMA default) or Monkhorst-Pack (False).",
    )
    smearing: Literal["fermi-dirac", "gaussian"] = Field(
        default="fermi-dirac",
        description=(
            "Occupation smearing: 'fermi-dirac' (GPAW FermiDirac, VASP ISMEAR -1) or "
            "'gaussian' (GPAW Methfessel-Paxton of order 0, VASP ISMEAR 0). Forces and "
            "stresses are derivatives of the free energy F = E - TS, the training energy."
        ),
    )
    smearing_width: float = Field(
        default=0.05,
        ge=0,
        description="Smearing width (eV): k_B·T for Fermi-Dirac, σ for Gaussian (VASP SIGMA).",
    )
    scf_energy_tol: float = Field(
        default=1e-6,
        gt=0,
        description=(
            "SCF energy convergence: maximum change of the total energy over the last three "
            "SCF iterations (eV per valence electron, GPAW's unit; VASP's EDIFF is eV per cell)."
        ),
    )
    scf_forces_tol: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Optional SCF force convergence: maximum change of any atom's force between "
            "iterations (eV/Å); None disables the criterion."
        ),
    )
    max_scf_iterations: int = Field(
        default=300, gt=0, description="Maximum number of SCF iterations (dimensionless)."
    )
    spin_polarised: bool | None = Field(
        default=None,
        description=(
            "Collinear spin polarisation: None (default) decides per structure, spin-polarised "
            "when it contains a magnetic element or a non-zero 'magmom' site property "
            "(mlip_finetune.dft.magnetism.is_magnetic); True or False forces it. Initial "
            "moments (μ_B) are chosen as the Materials Project sets choose them "
            "(mlip_finetune.dft.magnetism.initial_magmoms)."
        ),
    )
    setups: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_GPAW_SETUPS),
        description=(
            "PAW setup type per element symbol (GPAW's 'setups' keyword, e.g. {'Mg': '2'} "
            "for Mg.2.PBE); unlisted elements use GPAW's default setup ('paw')."
        ),
    )
    mpi_ranks: int = Field(
        default=2, ge=1, description="MPI ranks per calculation (processes); 1 runs serially."
    )
    engine_kwargs: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "Escape hatch: keyword arguments passed verbatim to the engine's calculator, "
            "overriding those built from the fields above (e.g. GPAW 'mixer', 'nbands'). "
            "A 'convergence' dict is merged into the one built from the fields."
        ),
    )

    def mesh(self, lattice_or_cell: Any) -> list[int]:
        """Return the k-point mesh of a cell: ``kpoints`` if fixed, else the kspacing rule.

        Parameters
        ----------
        lattice_or_cell
            A pymatgen ``Lattice`` or a (3, 3) cell matrix (Å, rows are lattice vectors).

        Returns
        -------
        list of int
            Divisions along the three reciprocal lattice vectors (see :func:`kpoint_mesh`).

        Raises
        ------
        ValueError
            If the cell is singular (only when the kspacing rule applies).
        """
        if self.kpoints is not None:
            return [int(n) for n in self.kpoints]
        return kpoint_mesh(lattice_or_cell, self.kspacing)

    def with_mesh_of(self, lattice_or_cell: Any) -> DFTSettings:
        """Return a copy whose ``kpoints`` are fixed to the mesh of this cell.

        Used for a family of strained cells (EOS volumes, elastic strains) so that each gets
        the mesh of the reference cell rather than its own rounding of the kspacing rule.

        Parameters
        ----------
        lattice_or_cell
            The reference cell (pymatgen ``Lattice`` or (3, 3) matrix, Å).

        Returns
        -------
        DFTSettings
            Equal to ``self`` except ``kpoints``.
        """
        return self.model_copy(update={"kpoints": tuple(self.mesh(lattice_or_cell))})

    @classmethod
    def local(cls) -> DFTSettings:
        """Return settings for runs on a 2-core workstation (the default).

        350 eV (raised per structure for hard setups, ``ecut_residual`` 0.03 eV/atom: O
        1040 eV, N 990 eV, Fe 520 eV; Si, Al, Mg stay at 350 eV) and a 0.3 Å⁻¹ spacing (a
        4x4x4 mesh for conventional Si, a = 5.468 Å; 8x8x5 for hcp Mg) with Fermi-Dirac
        smearing of 0.05 eV. Relaxations land within 0.5 % of the PBE lattice constants of Si,
        Al and Mg (docs/dft-convergence.md); the residual Pulay stress is below 0.1 GPa for
        SrTiO₃ and GaN and about 0.7 GPa for bcc Fe (0.4 % in volume). An 8-atom Si static
        takes about 15 s with 2 MPI ranks on an idle 2-core machine.

        Returns
        -------
        DFTSettings
            PBE, 350 eV minimum, kspacing 0.3 Å⁻¹, SCF 1e-6 eV per electron, 2 ranks.
        """
        return cls()

    @classmethod
    def paper(cls) -> DFTSettings:
        """Return the paper's production settings, meant for clusters.

        Grandel, Benner, George (2026), §4.1: PBE, 520 eV, k-point spacing 0.1 Å⁻¹,
        energy convergence 1e-8 eV, and the Gaussian smearing of 0.05 eV of the paper's VASP
        runs (ISMEAR 0). Here the SCF criterion is 1e-8 eV per valence electron (GPAW's
        unit), the closest GPAW converges reliably; 520 eV is the minimum cutoff, raised for
        GPAW's hard setups to a kinetic-energy residual of 0.01 eV/atom (O 1220 eV, N 1300 eV,
        Fe 760 eV), where the stress is converged to about 0.1 GPa. Raise ``mpi_ranks`` to
        the cores of a node.

        Returns
        -------
        DFTSettings
            PBE, 520 eV minimum, kspacing 0.1 Å⁻¹, Gaussian 0.05 eV, SCF 1e-8 eV per electron
            and 1e-4 eV/Å.
        """
        return cls(
            ecut=520.0,
            ecut_residual=0.01,
            kspacing=0.1,
            smearing=PAPER_SMEARING,
            smearing_width=PAPER_SMEARING_WIDTH,
            scf_energy_tol=1e-8,
            scf_forces_tol=1e-4,
            max_scf_iterations=500,
        )

    @classmethod
    def test(cls) -> DFTSettings:
        """Return cheap settings for the test-suite (converged to about 1 % in lattice).

        250 eV (raised per structure to a kinetic-energy residual of 0.1 eV/atom: O 650 eV,
        N 630 eV, Fe 420 eV) and a 0.5 Å⁻¹ spacing (4x4x4 for primitive Si, 6x6x6 for fcc
        Al, 5x5x3 for hcp Mg, 3x3x3 for conventional Si). Relaxations of Si, Al and Mg land
        within 0.7 % of their PBE lattice constants; the former 1.0 Å⁻¹ (2x2x2 for primitive
        Si) put Si at a = 5.62 Å (+2.7 %) and Mg's c at 4.97 Å (−4 %), and coarser meshes
        make hcp Mg's c/a erratic (0.6 Å⁻¹: c = 5.46 Å). A 2-atom Si static takes a few
        seconds, about 30 % more than at 1.0 Å⁻¹ (docs/dft-convergence.md). The SCF criterion
        stays tight so that finite-difference checks of forces and stresses are meaningful.

        Returns
        -------
        DFTSettings
            PBE, 250 eV minimum, kspacing 0.5 Å⁻¹, SCF 1e-7 eV per electron, 2 ranks.
        """
        return cls(ecut=250.0, ecut_residual=0.1, kspacing=0.5, scf_energy_tol=1e-7)


def kpoint_mesh(lattice_or_cell: Any, kspacing: float) -> list[int]:
    """Return the k-point mesh of a cell for a given spacing (VASP ``KSPACING`` rule).

    ``N_i = max(1, ceil(2π·|b_i| / kspacing))`` with ``|b_i|`` the reciprocal lattice vector
    lengths without the factor 2π (VASP wiki, "KSPACING").

    Parameters
    ----------
    lattice_or_cell
        A pymatgen ``Lattice``, an ASE ``Cell``/``Atoms``, a pymatgen ``Structure`` or any
        (3, 3) array-like whose rows are lattice vectors (Å).
    kspacing
        Minimum spacing between k-points (Å⁻¹, including 2π).

    Returns
    -------
    list of int
        Number of k-points along each reciprocal vector, length 3.

    Raises
    ------
    ValueError
        If ``kspacing`` is not positive or the cell is not a non-singular (3, 3) matrix.

    Examples
    --------
    >>> kpoint_mesh([[5.468, 0, 0], [0, 5.468, 0], [0, 0, 5.468]], 0.3)
    [4, 4, 4]
    """
    if kspacing <= 0:
        raise ValueError(f"kspacing must be positive, got {kspacing} Å⁻¹.")
    cell = lattice_or_cell
    for attribute in ("lattice", "cell"):  # Structure.lattice, Atoms.cell
        cell = getattr(cell, attribute, cell)
    matrix = np.asarray(getattr(cell, "matrix", cell), dtype=float)  # Lattice.matrix
    if matrix.shape != (3, 3) or abs(np.linalg.det(matrix)) < _MIN_CELL_VOLUME:
        raise ValueError(f"Expected a non-singular (3, 3) cell, got {matrix.tolist()}.")
    reciprocal_lengths = np.linalg.norm(np.linalg.inv(matrix).T, axis=1)  # 1/Å, no 2π
    return [
        max(1, math.ceil(2.0 * math.pi * length / kspacing - _CEIL_TOLERANCE))
        for length in reciprocal_lengths
    ]
