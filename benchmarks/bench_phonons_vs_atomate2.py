"""Phonon evaluation wall time: our MLPhononMaker against atomate2's force-field PhononMaker.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_phonons_vs_atomate2.py     # tiny random MACE, 64 atoms
    .venv/bin/python benchmarks/bench_phonons_vs_atomate2.py --model my.model --size 3
    .venv/bin/python benchmarks/bench_phonons_vs_atomate2.py --help

Both runs use the same MACE model file, the same diamond-Si primitive cell, the same
supercell matrix (``size`` × the 8-atom conventional cube, 8·size³ atoms) and displacement,
and both go through ``jobflow.run_locally`` in this process with an in-memory store:

- ours: :class:`mlip_finetune.evaluation.jobs.MLPhononMaker`, one job (relaxation and every
  displaced supercell with the model loaded once, symfc force constants, band structure,
  DOS, thermal properties on the full q-mesh);
- atomate2 0.1.5: ``atomate2.forcefields.flows.phonons.PhononMaker`` with
  ``ForceFieldRelaxMaker``/``ForceFieldStaticMaker`` for MACE
  (``calculator_kwargs={"model": path}``): one job per step and per displaced supercell,
  each loading the model. Its static-energy job is switched off (ours has none).

Both relax cell and positions to the same ``--fmax`` first (``--no-relax`` skips it in both).
The ratio ours/atomate2 is printed (goal: ≤ 0.5), with the largest frequency of each run as
a sanity check that they computed the same thing. The model cache of
:func:`mlip_finetune.calculators.mace_calculator` is cleared before each of our runs, so we
pay the model load like atomate2 does. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

#: Diamond Si conventional lattice constant (Å), PBE.
SI_LATTICE = 5.468
#: Primitive fcc → conventional cube, phonopy convention (8 atoms for diamond).
CONVENTIONAL = np.array([[-1, 1, 1], [1, -1, 1], [1, 1, -1]])


def build_random_mace(path: Path, seed: int = 0) -> Path:
    """Save a small random ScaleShiftMACE for Si (as tests/conftest.py builds it)."""
    import mace  # noqa: F401  (mace before e3nn)
    import torch
    from e3nn import o3
    from mace.modules import ScaleShiftMACE, interaction_classes

    torch.manual_seed(seed)
    block = interaction_classes["RealAgnosticResidualInteractionBlock"]
    model = ScaleShiftMACE(
        r_max=4.5,
        num_bessel=8,
        num_polynomial_cutoff=5,
        max_ell=2,
        interaction_cls=block,
        interaction_cls_first=block,
        num_interactions=2,
        num_elements=1,
        hidden_irreps=o3.Irreps("8x0e+8x1o"),
        MLP_irreps=o3.Irreps("8x0e"),
        atomic_energies=np.array([-5.4]),
        avg_num_neighbors=8.0,
        atomic_numbers=[14],
        correlation=2,
        gate=torch.nn.functional.silu,
        atomic_inter_scale=1.0,
        atomic_inter_shift=0.0,
    ).to(torch.float64)
    torch.save(model, path)
    return path


def si_primitive():
    from pymatgen.core import Lattice, Structure

    conv = Structure.from_spacegroup("Fd-3m", Lattice.cubic(SI_LATTICE), ["Si"], [[0, 0, 0]])
    return conv.get_primitive_structure()


def _run(flow_or_job, root: Path) -> tuple[float, dict]:
    from jobflow import run_locally

    root.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    responses = run_locally(
        flow_or_job, create_folders=True, root_dir=root, ensure_success=True, log=False
    )
    return time.perf_counter() - start, responses


def run_ours(structure, model: Path, matrix: list, args: argparse.Namespace, root: Path) -> dict:
    from mlip_finetune.core.calculators import clear_cache
    from mlip_finetune.evaluation.jobs import MLPhononMaker

    clear_cache()  # pay the model load, as atomate2 does
    maker = MLPhononMaker(
        relax=args.relax,
        fmax=args.fmax,
        supercell_matrix=matrix,
        displacement=args.displacement,
        mesh=args.mesh,
        fc_calculator=args.fc_calculator,
        device=args.device,
    )
    job = maker.make(structure, model_path=str(model), label="ours")
    wall, responses = _run(job, root)
    doc = responses[job.uuid][1].output
    return {"wall": wall, "jobs": len(responses), "max_freq": doc.max_frequency}


def run_atomate2(
    structure, model: Path, matrix: list, args: argparse.Namespace, root: Path
) -> dict:
    from atomate2.forcefields.flows.phonons import PhononMaker
    from atomate2.forcefields.jobs import ForceFieldRelaxMaker, ForceFieldStaticMaker

    calculator_kwargs = {"model": str(model), "device": args.device, "default_dtype": "float64"}
    relax_maker = (
        ForceFieldRelaxMaker(
            force_field_name="MACE",
            calculator_kwargs=calculator_kwargs,
            relax_kwargs={"fmax": args.fmax},
        )
        if args.relax
        else None
    )
    maker = PhononMaker(
        bulk_relax_maker=relax_maker,
        static_energy_maker=None,
        phonon_displacement_maker=ForceFieldStaticMaker(
            force_field_name="MACE", calculator_kwargs=calculator_kwargs
        ),
        displacement=args.displacement,
        store_force_constants=False,
    )
    flow = maker.make(structure, supercell_matrix=matrix)
    wall, responses = _run(flow, root)
    max_freq = None
    for response in responses.values():
        output = response[max(response)].output
        if getattr(output, "phonon_bandstructure", None) is not None:
            max_freq = float(np.max(output.phonon_bandstructure.bands))
    return {"wall": wall, "jobs": len(responses), "max_freq": max_freq}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Time MLPhononMaker against atomate2's force-field PhononMaker on the "
        "same MACE model, Si structure and supercell; prints the ratio (goal <= 0.5).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--model",
        type=Path,
        default=None,
        help="MACE model file; default: a tiny random MACE for Si built in a temp directory",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=2,
        help="supercell = size x the 8-atom conventional cube (8*size^3 atoms; 2 -> 64)",
    )
    parser.add_argument("--displacement", type=float, default=0.01, help="displacement (Å)")
    parser.add_argument("--fmax", type=float, default=1e-3, help="relaxation threshold (eV/Å)")
    parser.add_argument(
        "--no-relax", dest="relax", action="store_false", help="skip both relaxations"
    )
    parser.add_argument(
        "--mesh",
        type=float,
        default=100.0,
        help="our q-mesh as a length (Å, phonopy's rule); our default is 100 Å",
    )
    parser.add_argument(
        "--fc-calculator",
        choices=["symfc", "traditional"],
        default="symfc",
        help="our force-constant solver (atomate2 0.1.5 has no switch)",
    )
    parser.add_argument("--device", default="cpu", help="torch device")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each; medians shown")
    parser.add_argument(
        "--workdir", type=Path, default=None, help="job directories (default: a temp dir)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> float:
    args = parse_args(argv)
    logging.getLogger("jobflow").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")  # deprecation and torch.load chatter of the libraries
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench_phonons_"))
    model = args.model or build_random_mace(workdir / "random_si.model")
    structure = si_primitive()
    matrix = (args.size * CONVENTIONAL).tolist()
    n_atoms = len(structure) * round(abs(np.linalg.det(matrix)))

    ours, theirs = [], []
    for i in range(args.repeats):
        ours.append(run_ours(structure, model, matrix, args, workdir / f"ours_{i}"))
        theirs.append(run_atomate2(structure, model, matrix, args, workdir / f"atomate2_{i}"))
    t_ours = statistics.median(r["wall"] for r in ours)
    t_theirs = statistics.median(r["wall"] for r in theirs)
    ratio = t_ours / t_theirs
    print(f"model: {model}")
    print(f"structure: Si primitive, supercell {matrix} ({n_atoms} atoms), relax={args.relax}")
    print(
        f"ours (MLPhononMaker):      {t_ours:8.2f} s  {ours[0]['jobs']} job(s)  "
        f"max frequency {ours[0]['max_freq']:.3f} THz"
    )
    their_freq = theirs[0]["max_freq"]
    print(
        f"atomate2 (PhononMaker):    {t_theirs:8.2f} s  {theirs[0]['jobs']} job(s)  "
        f"max frequency {their_freq:.3f} THz"
        if their_freq is not None
        else f"atomate2 (PhononMaker):    {t_theirs:8.2f} s  {theirs[0]['jobs']} job(s)"
    )
    verdict = "goal met" if ratio <= 0.5 else "goal NOT met"
    print(f"ratio ours/atomate2: {ratio:.3f}  (goal <= 0.5: {verdict})")
    return ratio


if __name__ == "__main__":
    main()
