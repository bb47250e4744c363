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
from pydantic import BaseModel, ConfigDict, Field

#: Tolerance used when rounding ``2π|b|/kspacing`` up, so a value that is an integer up to
#: floating-point noise does not gain one extra k-point.
_CEIL_TOLERANCE = 1e-8
#: Cells with a smaller absolute determinant (Å³) are treated as singular.
_MIN_CELL_VOLUME = 1e-12


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
    ecut: float = Field(default=350.0, gt=0, description="Plane-wave cutoff energy (eV).")
    kspacing: float = Field(
        default=0.3,
        gt=0,
        description=(
            "Minimum k-point spacing (Å⁻¹), VASP KSPACING convention including the 2π: "
            "N_i = max(1, ceil(2π|b_i| / kspacing))."
        ),
    )
    gamma_centred: bool = Field(
        default=True,
        description="Γ-centred k-mesh (True, VASP KGAMMA default) or Monkhorst-Pack (False).",
    )
    smearing: Literal["fermi-dirac"] = Field(
        default="fermi-dirac", description="Occupation smearing scheme."
    )
    smearing_width: float = Field(
        default=0.05, ge=0, description="Smearing width k_B·T of the occupations (eV)."
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
    spin_polarised: bool = Field(
        default=False,
        description=(
            "Collinear spin-polarised calculation. Initial moments come from the structure's "
            "'magmom' site property (μ_B), else 1 μ_B per atom (VASP's MAGMOM default)."
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

    @classmethod
    def local(cls) -> DFTSettings:
        """Return settings for runs on a 2-core workstation (the default).

        350 eV and a 0.3 Å⁻¹ spacing give a 4x4x4 mesh for conventional Si (a = 5.468 Å);
        an 8-atom Si static then takes about 15 s with 2 MPI ranks on an idle 2-core machine.

        Returns
        -------
        DFTSettings
            PBE, 350 eV, kspacing 0.3 Å⁻¹, SCF 1e-6 eV per electron, 2 ranks.
        """
        return cls()

    @classmethod
    def paper(cls) -> DFTSettings:
        """Return the paper's production settings, meant for clusters.

        Grandel, Benner, George (2026), §4.1: PBE, 520 eV, k-point spacing 0.1 Å⁻¹,
        energy convergence 1e-8 eV. Here the SCF criterion is 1e-8 eV per valence electron
        (GPAW's unit), the closest GPAW converges reliably. Raise ``mpi_ranks`` to the
        cores of a node.

        Returns
        -------
        DFTSettings
            PBE, 520 eV, kspacing 0.1 Å⁻¹, SCF 1e-8 eV per electron and 1e-4 eV/Å.
        """
        return cls(
            ecut=520.0,
            kspacing=0.1,
            scf_energy_tol=1e-8,
            scf_forces_tol=1e-4,
            max_scf_iterations=500,
        )

    @classmethod
    def test(cls) -> DFTSettings:
        """Return very cheap settings for the test-suite (not physically converged).

        250 eV and a 1.0 Å⁻¹ spacing (2x2x2 for primitive Si); a 2-atom Si static takes
        about a second. The SCF criterion stays tight so that finite-difference checks of
        forces and stresses are meaningful.

        Returns
        -------
        DFTSettings
            PBE, 250 eV, kspacing 1.0 Å⁻¹, SCF 1e-7 eV per electron, 2 ranks.
        """
        return cls(ecut=250.0, kspacing=1.0, scf_energy_tol=1e-7)


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
