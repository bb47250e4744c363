"""Displacive phase transitions along imaginary phonon modes (paper §3.5, §4.6, SI 7.6).

The procedure of Togo & Tanaka, Phys. Rev. B 87, 184104 (2013), as the paper applies it:

1. :func:`find_unstable_modes`: frequencies at the high-symmetry points of the seekpath path
   and at the band minima along it; degenerate imaginary modes (below -1e-4 THz) form one
   subspace.
2. :func:`commensurate_supercell_matrix`: the smallest supercell in which the mode's
   Bloch wave is periodic; :func:`mode_displacement_patterns`: the real displacement patterns
   spanning the subspace there, from phonopy's modulation routine.
3. :func:`scan_mode_subspace`: energies on a uniform amplitude grid (21, 21×21, 9×9×9,
   7×7×7×7 points); :func:`grid_local_minima` finds its minima.
4. :func:`search_phase_transitions`: every inequivalent minimum is relaxed keeping its
   symmetry (ASE FixSymmetry), the final space group is found by spglib (0.1 Å), and the new
   phases are collected as ``(space-group number, primitive-cell atoms)`` keys.
5. :func:`compare_phase_sets`: precision, recall and F1 of a model's keys against a
   reference's (paper Table 4).

Modules: :mod:`~.qpoints` (rational q-points, commensurate supercells, seekpath's points),
:mod:`~.modes` (unstable modes, degenerate groups, displacement patterns), :mod:`~.scans`
(grid energies and minima), :mod:`~.search` (the search, and phonons with a calculator),
:mod:`~.compare` (space groups, phase sets).

Conventions
-----------
- q-points are in reduced coordinates of the phonopy primitive cell's reciprocal lattice
  (no 2π); ``phonopy.primitive`` is the input unit cell in this package (see
  :mod:`mlip_finetune.evaluation.phonons`).
- Supercell matrices follow phonopy: supercell lattice *columns* = unit-cell columns @ ``M``,
  so ``q`` is commensurate when ``q @ M`` is integer.
- Amplitude of a displacement pattern: its largest single-atom displacement (Å). The
  normal-coordinate amplitude ``Q = (Σ_j m_j |u_j|²)^½`` over the supercell (Å·√amu, the unit
  of the paper's SI Eq. 7) is ``amplitude × mass_weighted_norm`` of the pattern.
- Energy gain (meV/atom): ``E_initial/N − E_final/N``, positive when the new phase is lower,
  as the ΔE/atom of the paper's SI tables.
"""

from __future__ import annotations

from mlip_finetune.evaluation.phase_transitions.compare import compare_phase_sets, space_group_info
from mlip_finetune.evaluation.phase_transitions.modes import (
    degenerate_groups,
    find_unstable_modes,
    mode_displacement_patterns,
)
from mlip_finetune.evaluation.phase_transitions.qpoints import (
    commensurate_supercell_matrix,
    rational_qpoint,
)
from mlip_finetune.evaluation.phase_transitions.scans import (
    calculator_energy_function,
    grid_local_minima,
    scan_mode_subspace,
)
from mlip_finetune.evaluation.phase_transitions.search import (
    phase_transitions_from_calculator,
    phonopy_from_calculator,
    search_phase_transitions,
)

__all__ = [
    "calculator_energy_function",
    "commensurate_supercell_matrix",
    "compare_phase_sets",
    "degenerate_groups",
    "find_unstable_modes",
    "grid_local_minima",
    "mode_displacement_patterns",
    "phase_transitions_from_calculator",
    "phonopy_from_calculator",
    "rational_qpoint",
    "scan_mode_subspace",
    "search_phase_transitions",
    "space_group_info",
]
