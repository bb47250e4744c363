"""Harmonic phonons with phonopy + symfc from any force source (paper §3.3, §4.1, §4.5).

Pure functions, no jobflow: build displaced supercells, evaluate forces with any ASE
calculator (MACE, EMT, …) or take them from DFT statics, and reduce the result to a
:class:`~mlip_finetune.schemas.evaluation.PhononDocument`. Everything goes through phonopy's
Python API (``phonopy.Phonopy``), never its command line.

Conventions
-----------
- The input structure is the unit cell phonons are computed for; phonopy's
  ``primitive_matrix`` is the identity, so pass a primitive cell (frequencies have
  ``3·n_atoms`` bands of *that* cell).
- Frequencies in THz, imaginary modes as negative numbers (phonopy convention).
- q-points in reduced coordinates of the reciprocal lattice of the input cell, without 2π.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Literal

import numpy as np

# re-exported from their old home (they live in core.relax)
from mlip_finetune.core.relax import Optimizer, relax_structure  # noqa: F401

# re-exported from its old home (it lives in evaluation.supercells)
from mlip_finetune.evaluation.supercells import phonon_supercell_matrix  # noqa: F401
from mlip_finetune.schemas.evaluation import PhononDocument, ThermalProperties

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ase.calculators.calculator import Calculator
    from phonopy import Phonopy
    from pymatgen.core import Structure

logger = logging.getLogger(__name__)

#: Imaginary-mode threshold (THz) of paper §4.6: a mode below it is unstable.
IMAGINARY_THRESHOLD_THZ: float = -1e-4
#: Default q-mesh as a length (Å), phonopy's own default for ``run_mesh``: the number of
#: divisions along reciprocal axis i is ``max(1, int(length·|b_i| + 0.5))`` (VASP rule,
#: symmetrised by phonopy). ≈ 32x32x32 for primitive Si, 48x48x48 for primitive Cu.
DEFAULT_MESH_LENGTH: float = 100.0
#: Default finite displacement amplitude (Å), atomate2's and phonopy's default.
DEFAULT_DISPLACEMENT: float = 0.01
#: Number of q-points per band-structure segment, end points included.
DEFAULT_BAND_NPOINTS: int = 51
#: Temperature of the thermal properties stored in a PhononDocument (K, paper §4.5).
THERMAL_TEMPERATURE_K: float = 300.0
#: Default temperature range of ``PhononDocument.thermal_properties`` (K): 0…1000 K in 10 K
#: steps, both ends included (phonopy's own default range and step).
DEFAULT_T_MIN: float = 0.0
DEFAULT_T_MAX: float = 1000.0
DEFAULT_T_STEP: float = 10.0

FcCalculator = Literal["symfc", "traditional"]


def _as_matrix(supercell_matrix: Sequence[int] | Sequence[Sequence[int]]) -> np.ndarray:
    matrix = np.asarray(supercell_matrix, dtype=int)
    if matrix.shape == (3,):
        matrix = np.diag(matrix)
    if matrix.shape != (3, 3) or round(abs(np.linalg.det(matrix))) == 0:
        raise ValueError(f"supercell_matrix must be a non-singular 3x3 integer matrix: {matrix}")
    return matrix


def make_phonopy(
    structure: Structure,
    supercell_matrix: Sequence[int] | Sequence[Sequence[int]],
    displacement: float = DEFAULT_DISPLACEMENT,
) -> Phonopy:
    """Build a :class:`phonopy.Phonopy` object with generated finite displacements.

    Parameters
    ----------
    structure
        Unit cell (Å), used as phonopy's unit *and* primitive cell.
    supercell_matrix
        3x3 integer matrix (or 3 diagonal entries) in phonopy's convention.
    displacement
        Displacement amplitude (Å).

    Returns
    -------
    phonopy.Phonopy
        With ``dataset`` holding the symmetry-reduced, plus/minus-as-needed displacements of
        ``Phonopy.generate_displacements(distance=displacement)``. The order is deterministic
        for a given structure, matrix and amplitude.

    Raises
    ------
    ValueError
        If the matrix is singular or the displacement is not positive.
    """
    from phonopy import Phonopy
    from pymatgen.io.phonopy import get_phonopy_structure

    if displacement <= 0:
        raise ValueError(f"displacement must be positive, got {displacement} Å")
    phonon = Phonopy(
        get_phonopy_structure(structure),
        supercell_matrix=_as_matrix(supercell_matrix),
        primitive_matrix=None,
    )
    phonon.generate_displacements(distance=displacement)
    return phonon


def n_displacements(
    structure: Structure,
    supercell_matrix: Sequence[int] | Sequence[Sequence[int]],
    displacement: float = DEFAULT_DISPLACEMENT,
) -> int:
    """Return the number of symmetry-distinct displaced supercells phonopy asks for.

    This is the number of force calculations (DFT statics) a phonon calculation costs: the
    displacements of ``Phonopy.generate_displacements(distance=displacement)`` for the
    crystal's symmetry in that supercell (phonopy's ``is_plusminus="auto"``), as in
    :func:`make_phonopy`. A supercell that breaks the point group needs more.

    Parameters
    ----------
    structure
        Unit cell (Å).
    supercell_matrix
        3x3 integer matrix (or 3 diagonal entries) in phonopy's convention.
    displacement
        Displacement amplitude (Å).

    Returns
    -------
    int
        Number of displaced supercells.

    Raises
    ------
    ValueError
        See :func:`make_phonopy`.
    """
    return len(make_phonopy(structure, supercell_matrix, displacement).dataset["first_atoms"])


def displaced_supercells(
    structure: Structure,
    supercell_matrix: Sequence[int] | Sequence[Sequence[int]],
    displacement: float = DEFAULT_DISPLACEMENT,
) -> tuple[Phonopy, list[Structure]]:
    """Return phonopy's displaced supercells as pymatgen structures.

    Parameters
    ----------
    structure
        Unit cell (Å).
    supercell_matrix
        3x3 integer matrix in phonopy's convention.
    displacement
        Displacement amplitude (Å).

    Returns
    -------
    phonon : phonopy.Phonopy
        The object that generated them; feed it the forces in the same order.
    supercells : list of pymatgen.core.Structure
        One displaced supercell per displacement, in phonopy's order. Regenerating with the
        same arguments gives the same list, so externally computed forces (DFT statics) can
        be matched back by index.

    Raises
    ------
    ValueError
        See :func:`make_phonopy`.
    """
    from pymatgen.io.phonopy import get_pmg_structure

    phonon = make_phonopy(structure, supercell_matrix, displacement)
    supercells = [get_pmg_structure(cell) for cell in phonon.supercells_with_displacements]
    return phonon, supercells


def model_forces(supercells: Sequence[Structure], calculator: Calculator) -> list[np.ndarray]:
    """Evaluate forces of many structures with one ASE calculator, loaded once.

    MACE's ASE calculator takes one ``Atoms`` at a time and has no cheap batched entry
    point, so this is a plain loop over one calculator instance (the model is not reloaded).

    Parameters
    ----------
    supercells
        Structures (Å).
    calculator
        Any ASE calculator returning forces (eV/Å): MACE, EMT, …

    Returns
    -------
    list of numpy.ndarray
        Forces, each of shape (n_atoms, 3), eV/Å, in the order of ``supercells``.
    """
    from pymatgen.io.ase import AseAtomsAdaptor

    forces = []
    for supercell in supercells:
        atoms = AseAtomsAdaptor.get_atoms(supercell)
        atoms.calc = calculator
        forces.append(np.array(atoms.get_forces(), dtype=float))
    return forces


def resolve_mesh(structure: Structure, mesh: Sequence[int] | float) -> list[int]:
    """Turn a mesh length (Å) into divisions with phonopy's rule, or validate divisions.

    Parameters
    ----------
    structure
        Unit cell (Å).
    mesh
        Three integers, or a length (Å) converted by ``phonopy.structure.grid_points.
        length2mesh`` with the cell's rotations (symmetry-consistent divisions).

    Returns
    -------
    list of int
        Three positive mesh divisions.

    Raises
    ------
    ValueError
        If divisions are not three positive integers or the length is not positive.

    Notes
    -----
    Two documents can only be compared (:func:`~mlip_finetune.evaluation.metrics.
    phonon_frequency_mae`) on the same mesh; resolve a length once, on one structure, and
    pass the integers to every calculation of that material.
    """
    if isinstance(mesh, (int, float)):
        import spglib
        from phonopy.structure.grid_points import length2mesh

        if mesh <= 0:
            raise ValueError(f"mesh length must be positive, got {mesh} Å")
        cell = (structure.lattice.matrix, structure.frac_coords, structure.atomic_numbers)
        dataset = spglib.get_symmetry_dataset(cell, symprec=1e-5)
        rotations = None if dataset is None else dataset.rotations
        return [int(n) for n in length2mesh(float(mesh), structure.lattice.matrix, rotations)]
    divisions = [int(n) for n in mesh]
    if len(divisions) != 3 or min(divisions) < 1:  # noqa: PLR2004  (three reciprocal axes)
        raise ValueError(f"mesh must be three positive integers, got {mesh}")
    return divisions


def thermal_temperatures(
    t_min: float = DEFAULT_T_MIN, t_max: float = DEFAULT_T_MAX, t_step: float = DEFAULT_T_STEP
) -> np.ndarray:
    """Temperatures of the thermal-property range, both ends included.

    Same rule as phonopy's ``Phonopy.run_thermal_properties(t_min, t_max, t_step)``:
    ``numpy.arange(t_min, t_max + t_step / 2, t_step)``.

    Parameters
    ----------
    t_min, t_max
        First and last temperature (K).
    t_step
        Spacing (K).

    Returns
    -------
    numpy.ndarray
        Ascending temperatures (K), shape (n_T,).

    Raises
    ------
    ValueError
        If ``t_min`` < 0, ``t_max`` < ``t_min`` or ``t_step`` ≤ 0.
    """
    if t_min < 0 or t_max < t_min or t_step <= 0:
        raise ValueError(
            f"need 0 <= t_min <= t_max and t_step > 0 (K), got t_min={t_min}, t_max={t_max}, "
            f"t_step={t_step}"
        )
    return np.arange(t_min, t_max + t_step / 2.0, t_step, dtype=float)


def _thermal_list(phonon: Phonopy, temperatures: np.ndarray) -> list[ThermalProperties]:
    """Phonopy's harmonic C_V, S and F at the given temperatures (mesh already run)."""
    phonon.run_thermal_properties(temperatures=temperatures)
    thermal = phonon.get_thermal_properties_dict()
    return [
        ThermalProperties(
            temperature=float(t), heat_capacity=float(c), entropy=float(s), free_energy=float(f)
        )
        for t, c, s, f in zip(
            thermal["temperatures"],
            thermal["heat_capacity"],
            thermal["entropy"],
            thermal["free_energy"],
            strict=True,
        )
    ]


def _seekpath_bands(
    phonon: Phonopy, npoints: int
) -> tuple[list[np.ndarray], list[bool], list[str]]:
    """Seekpath's path mapped into the reduced coordinates of phonopy's primitive cell.

    Phonopy's ``auto_band_structure`` uses seekpath's q-coordinates as if they referred to
    the input cell, which is only right when the input already is seekpath's standardised
    primitive cell. Here seekpath's primitive lattice ``L_s`` is rotated back into the input
    frame (``L_s R``, ``R`` = seekpath's ``rotation_matrix``), ``M = L_s R L_in⁻¹`` and the
    q-points are transformed as ``q_in = q_s M⁻ᵀ``.
    """
    import seekpath

    primitive = phonon.primitive
    result = seekpath.get_path(primitive.totuple())
    lattice_in = np.asarray(primitive.cell, dtype=float)
    lattice_sp = np.asarray(result["primitive_lattice"]) @ np.asarray(result["rotation_matrix"])
    to_input = np.linalg.inv(lattice_sp @ np.linalg.inv(lattice_in)).T
    coords = result["point_coords"]
    path = result["path"]

    bands, connections = [], []
    labels = [path[0][0]]
    for i, (start, end) in enumerate(path):
        q_start = np.asarray(coords[start]) @ to_input
        q_end = np.asarray(coords[end]) @ to_input
        bands.append(np.linspace(q_start, q_end, npoints))
        connected = i + 1 < len(path) and path[i + 1][0] == end
        connections.append(connected)
        if i + 1 < len(path) and not connected:
            labels.append(f"{end}|{path[i + 1][0]}")
        else:
            labels.append(end)
    pretty = [label.replace("GAMMA", "Γ") for label in labels]
    return bands, connections, pretty


def _is_gamma(qpoints: np.ndarray) -> np.ndarray:
    """Boolean mask of q-points equivalent to Γ (integer reduced coordinates)."""
    return np.linalg.norm(qpoints - np.rint(qpoints), axis=1) < 1e-8  # noqa: PLR2004


def _displacement_amplitude(phonon: Phonopy) -> float:
    """Amplitude (Å) of phonopy's first systematic displacement."""
    return float(np.linalg.norm(phonon.dataset["first_atoms"][0]["displacement"]))


def _gamma_acoustic(frequencies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split Γ frequencies into the 3 acoustic modes (smallest |ω|) and the rest."""
    order = np.argsort(np.abs(frequencies))
    return frequencies[order[:3]], frequencies[order[3:]]


def phonon_document_from_forces(
    phonon: Phonopy,
    forces: Sequence[np.ndarray] | np.ndarray,
    label: str,
    *,
    mesh: Sequence[int] | float = DEFAULT_MESH_LENGTH,
    fc_calculator: FcCalculator = "symfc",
    band_npoints: int = DEFAULT_BAND_NPOINTS,
    t_min: float = DEFAULT_T_MIN,
    t_max: float = DEFAULT_T_MAX,
    t_step: float = DEFAULT_T_STEP,
    wall_time_s: float = 0.0,
    model_path: str | None = None,
    model_sha256: str | None = None,
) -> PhononDocument:
    """Force constants, mesh, band structure, DOS and thermal properties from forces.

    Parameters
    ----------
    phonon
        Phonopy object with displacements (from :func:`make_phonopy` or
        :func:`displaced_supercells`). Its force constants are (re)computed in place.
    forces
        Forces on every displaced supercell, shape (n_displacements, n_supercell_atoms, 3),
        eV/Å, in phonopy's displacement order.
    label
        Who computed the forces (``"dft"``, ``"foundation"``, ``"transfer"``, …).
    mesh
        Γ-centred q-mesh divisions, or a length (Å) resolved by :func:`resolve_mesh`
        (default 100 Å, phonopy's default).
    fc_calculator
        ``"symfc"`` (paper §4.1; projector-based least squares that enforces the
        translational sum rule and symmetry) or ``"traditional"`` (phonopy's finite
        differences).
    band_npoints
        q-points per seekpath segment, end points included.
    t_min, t_max, t_step
        Temperature range (K) of ``thermal_properties`` (:func:`thermal_temperatures`);
        default 0…1000 K in 10 K steps. ``thermal_300k`` is computed in any case.
    wall_time_s
        Wall time already spent on forces (s); phonopy's time is added.
    model_path, model_sha256
        MACE model file and its digest, ``None`` for DFT.

    Returns
    -------
    PhononDocument
        Every field filled. Mesh frequencies are sorted per q-point. The imaginary-mode flag
        uses the paper's -1e-4 THz threshold at the supercell's commensurate q-points
        (paper §4.6), excluding the three acoustic modes at Γ. Thermal properties are
        phonopy's harmonic ones on the q-mesh (imaginary modes left out by phonopy's
        frequency cutoff), per mole of unit cells.

    Raises
    ------
    ValueError
        If the number or shape of the force arrays does not match the displacements, or
        the temperature range is invalid.
    """
    from phonopy.harmonic.dynmat_to_fc import get_commensurate_points
    from pymatgen.io.phonopy import get_pmg_structure

    start = time.perf_counter()
    temperatures = thermal_temperatures(t_min, t_max, t_step)
    supercells = phonon.supercells_with_displacements
    n_atoms_sc = len(phonon.supercell)
    forces_arr = np.asarray(forces, dtype=float)
    if forces_arr.shape != (len(supercells), n_atoms_sc, 3):
        raise ValueError(
            f"forces must have shape {(len(supercells), n_atoms_sc, 3)} "
            f"(displacements, supercell atoms, 3), got {forces_arr.shape}"
        )
    phonon.forces = forces_arr
    phonon.produce_force_constants(fc_calculator=fc_calculator, show_drift=False)

    divisions = resolve_mesh(get_pmg_structure(phonon.unitcell), mesh)
    # The full grid, not phonopy's irreducible wedge: which representative q-point phonopy
    # picks for a star depends on the order of the symmetry operations it finds, which
    # differs between two relaxations of the same crystal at the 1e-4 Å level. On the full
    # Γ-centred grid every model's q-points coincide with the reference's by construction
    # (n_q·3N stays ~1e4 floats for a length-based mesh, whatever the cell size).
    phonon.run_mesh(
        divisions, is_gamma_center=True, is_mesh_symmetry=False, with_eigenvectors=False
    )
    qpoints = np.asarray(phonon.mesh.qpoints, dtype=float)
    weights = np.asarray(phonon.mesh.weights, dtype=int)
    mesh_freqs = np.sort(np.asarray(phonon.mesh.frequencies, dtype=float), axis=1)

    gamma_freqs = np.sort(phonon.get_frequencies([0.0, 0.0, 0.0]))
    acoustic, gamma_optical = _gamma_acoustic(gamma_freqs)
    # Paper §4.6: only the supercell's commensurate q-points (where the force constants are
    # exact) count; interpolated mesh points would flag tiny interpolation artefacts.
    candidates = [gamma_optical]
    commensurate = np.asarray(get_commensurate_points(phonon.supercell_matrix), dtype=float)
    commensurate = commensurate[~_is_gamma(commensurate)]
    if len(commensurate):
        phonon.run_qpoints(commensurate)
        candidates.append(np.asarray(phonon.qpoints.frequencies, dtype=float).ravel())
    has_imaginary = bool(np.any(np.concatenate(candidates) < IMAGINARY_THRESHOLD_THZ))

    bands, connections, band_labels = _seekpath_bands(phonon, band_npoints)
    phonon.run_band_structure(bands, path_connections=connections, with_eigenvectors=False)
    band = phonon.band_structure
    band_distances = [np.asarray(d, dtype=float).tolist() for d in band.distances]
    band_freqs = [np.asarray(f, dtype=float).tolist() for f in band.frequencies]

    phonon.run_total_dos()
    dos = phonon.total_dos
    thermal_range = _thermal_list(phonon, temperatures)
    (thermal_300k,) = _thermal_list(phonon, np.array([THERMAL_TEMPERATURE_K]))

    return PhononDocument(
        label=label,
        structure=get_pmg_structure(phonon.unitcell),
        supercell_matrix=np.asarray(phonon.supercell_matrix, dtype=int).tolist(),
        displacement=_displacement_amplitude(phonon),
        n_displacements=len(supercells),
        fc_calculator=fc_calculator,
        mesh=divisions,
        mesh_qpoints=qpoints.tolist(),
        mesh_weights=weights.tolist(),
        mesh_frequencies=mesh_freqs.tolist(),
        band_labels=band_labels,
        band_distances=band_distances,
        band_frequencies=band_freqs,
        dos_frequencies=np.asarray(dos.frequency_points, dtype=float).tolist(),
        dos=np.asarray(dos.dos, dtype=float).tolist(),
        thermal_300k=thermal_300k,
        thermal_properties=thermal_range,
        max_frequency=float(mesh_freqs.max()),
        min_frequency=float(mesh_freqs.min()),
        has_imaginary_modes=has_imaginary,
        acoustic_sum_rule_max=float(np.abs(acoustic).max()),
        wall_time_s=wall_time_s + time.perf_counter() - start,
        model_path=model_path,
        model_sha256=model_sha256,
    )


def phonon_document_from_calculator(
    structure: Structure,
    calculator: Calculator,
    label: str,
    supercell_matrix: Sequence[int] | Sequence[Sequence[int]],
    *,
    displacement: float = DEFAULT_DISPLACEMENT,
    mesh: Sequence[int] | float = DEFAULT_MESH_LENGTH,
    fc_calculator: FcCalculator = "symfc",
    t_min: float = DEFAULT_T_MIN,
    t_max: float = DEFAULT_T_MAX,
    t_step: float = DEFAULT_T_STEP,
    model_path: str | None = None,
    model_sha256: str | None = None,
) -> PhononDocument:
    """Phonons of ``structure`` with any ASE calculator, all displacements in one loop.

    Parameters
    ----------
    structure
        Unit cell (Å), already relaxed with the same calculator if wanted
        (:func:`~mlip_finetune.core.relax.relax_structure`).
    calculator
        ASE calculator (MACE, EMT, …) returning forces in eV/Å.
    label
        Name stored in the document.
    supercell_matrix
        3x3 integer matrix (phonopy convention), e.g. from :func:`phonon_supercell_matrix`.
    displacement
        Displacement amplitude (Å).
    mesh
        See :func:`phonon_document_from_forces`.
    fc_calculator
        ``"symfc"`` or ``"traditional"``.
    t_min, t_max, t_step
        Temperature range (K) of the thermal properties, see
        :func:`phonon_document_from_forces`.
    model_path, model_sha256
        Recorded in the document.

    Returns
    -------
    PhononDocument
        Wall time includes the force evaluations.
    """
    start = time.perf_counter()
    phonon, supercells = displaced_supercells(structure, supercell_matrix, displacement)
    forces = model_forces(supercells, calculator)
    return phonon_document_from_forces(
        phonon,
        forces,
        label=label,
        mesh=mesh,
        fc_calculator=fc_calculator,
        t_min=t_min,
        t_max=t_max,
        t_step=t_step,
        wall_time_s=time.perf_counter() - start,
        model_path=model_path,
        model_sha256=model_sha256,
    )
