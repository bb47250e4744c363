#!/usr/bin/env bash
# Set-up command 1 of 2 (README): system packages, .venv, torch (CPU) first, the project editable.
# Idempotent: re-running it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}

# --- system packages for GPAW (libxc, OpenBLAS, OpenMPI) ---------------------------------
need_apt=()
for pkg in libxc-dev libopenblas-dev libopenmpi-dev openmpi-bin; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

# --- test services: one-node SLURM and munge (SecantusDB comes from pip, dev extra) -------
bash scripts/install_services.sh

# --- virtual environment -------------------------------------------------------------------
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip"
$PIP install -q --progress-bar off --upgrade pip setuptools wheel
# torch first, the CPU build (anything depending on torch would otherwise pull a CUDA build).
$PIP install -q --progress-bar off "torch==2.13.0"
# mace must pin e3nn 0.4.4 before anything else resolves e3nn.
$PIP install -q --progress-bar off -e ".[gpaw,standin,dev]"
.venv/bin/python -m pip check || echo "warning: pip check reported conflicts (see above)"
test -x .venv/bin/mlip-finetune
.venv/bin/mlip-finetune --version
