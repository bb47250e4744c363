"""Small real documents for the report tests: EMT phonons of Al and hand-made metrics."""

from __future__ import annotations

import pytest

#: Phonon supercell of the Al documents (32 atoms, conventional cubic ×2).
AL_MATRIX = [[-2, 2, 2], [2, -2, 2], [2, 2, -2]]


@pytest.fixture(scope="session")
def al_phonons():
    """PhononDocuments of fcc Al with EMT: DFT stand-in, then models with scaled forces.

    Labels ``dft`` (scale 1), ``foundation`` (0.9), ``transfer`` (1.02), ``scratch`` (0.8)
    and ``surrogate`` (0.95): a model whose forces are scaled by s has frequencies scaled
    by √s.
    """
    from ase.calculators.emt import EMT
    from pymatgen.core import Lattice, Structure

    from mlip_finetune.evaluation.phonons import (
        displaced_supercells,
        model_forces,
        phonon_document_from_forces,
    )

    al = Structure.from_spacegroup("Fm-3m", Lattice.cubic(4.05), ["Al"], [[0, 0, 0]])
    al = al.get_primitive_structure()
    phonon, supercells = displaced_supercells(al, AL_MATRIX)
    forces = model_forces(supercells, EMT())
    scales = {"dft": 1.0, "foundation": 0.9, "transfer": 1.02, "scratch": 0.8, "surrogate": 0.95}
    return {
        label: phonon_document_from_forces(
            phonon, [scale * f for f in forces], label, mesh=[8, 8, 8]
        )
        for label, scale in scales.items()
    }


def validation_metrics(force_mae: float, energy_mae: float = 1.0, stress_mae: float = 0.01):
    """ValidationMetrics with the given MAEs (meV/Å, meV/atom, GPa); RMSEs 1.5× larger."""
    from mlip_finetune.schemas.evaluation import ValidationMetrics

    return ValidationMetrics(
        n_structures=4,
        n_atoms=8,
        energy_offset_per_atom=0.0,
        energy_mae_mev_per_atom=energy_mae,
        energy_rmse_mev_per_atom=1.5 * energy_mae,
        force_mae_mev_per_angstrom=force_mae,
        force_rmse_mev_per_angstrom=1.5 * force_mae,
        stress_mae_gpa=stress_mae,
        stress_rmse_gpa=1.5 * stress_mae,
    )


def finetune_document(strategy: str, force_mae: float, foundation_force_mae: float = 90.0):
    """A FineTuneDocument of one strategy with the given validation force MAE (meV/Å)."""
    from mlip_finetune.schemas.fitting import FineTuneDocument

    return FineTuneDocument(
        strategy=strategy,
        model_path=f"/models/{strategy}.model",
        model_sha256=strategy[0] * 64,
        foundation_name="tiny",
        hyperparameters={},
        train_args=[],
        multihead_active=False,
        e0s={13: -3.0},
        e0s_source="foundation",
        n_train_structures=16,
        n_train_atoms=128,
        n_valid_structures=4,
        epochs=[],
        validation=validation_metrics(force_mae),
        training=validation_metrics(force_mae / 2),
        foundation_validation=validation_metrics(foundation_force_mae, energy_mae=5.0),
        wall_time_s=1.0,
        device="cpu",
        versions={},
    )


#: Foundation of the report documents (a FoundationModel as a dict).
FOUNDATION = {"name": "tiny", "path": "/models/tiny.model", "sha256": "f" * 64}
#: DFT settings record of the report documents.
GPAW_SETTINGS = {"engine": "gpaw", "ecut": 300.0, "kspacing": 0.3}


def surrogate_document(student_vs_dft):
    """A SurrogateDocument (4× faster student of the transfer model) with given DFT errors."""
    from mlip_finetune.fitting.distillation import SurrogateDocument

    return SurrogateDocument(
        teacher_path="/models/transfer.model",
        teacher_sha256="t" * 64,
        student_path="/models/student.model",
        student_sha256="s" * 64,
        architecture={"num_channels": "8"},
        teacher_parameters=1000,
        student_parameters=100,
        n_train_structures=12,
        n_valid_structures=4,
        student_vs_teacher=validation_metrics(5.0),
        student_vs_dft=student_vs_dft,
        timing_atoms=64,
        teacher_time_s=2.0,
        student_time_s=0.5,
        speed_ratio=4.0,
        epochs=[],
        wall_time_s=3.0,
    )


def build_report(tmp_path, phonons, *, surrogate=None, foundation=FOUNDATION):
    """Run the material report job on the Al documents: foundation, transfer, scratch."""
    from mlip_finetune.report.jobs import material_report

    finetunes = [finetune_document("transfer", 20.0), finetune_document("scratch", 40.0)]
    return material_report.original(
        label="Al",
        formula="Al",
        foundation=foundation,
        finetunes=[ft.model_dump() for ft in finetunes],
        dft_phonons=phonons["dft"],
        ml_phonons=[phonons[k] for k in ("foundation", "transfer", "scratch")],
        dft_settings=GPAW_SETTINGS,
        phonon_mesh=(8, 8, 8),
        supercell_matrix=AL_MATRIX,
        report_dir=str(tmp_path / "report"),
        surrogate=None if surrogate is None else surrogate.model_dump(),
        surrogate_phonons=None if surrogate is None else phonons["surrogate"],
    )


@pytest.fixture(scope="session")
def al_report(tmp_path_factory, al_phonons):
    """A MaterialReportDocument of Al with a surrogate row, as a JSON dict (the store's)."""
    from mlip_finetune.report.tables import as_json_dict

    report = build_report(
        tmp_path_factory.mktemp("al_report"),
        al_phonons,
        surrogate=surrogate_document(validation_metrics(30.0)),
    )
    return as_json_dict(report)
