#!/usr/bin/env bash
# System packages for the cluster tests (tests/remote, marker "cluster"): a one-node SLURM
# cluster (slurm-wlm: slurmctld + slurmd + sbatch/squeue) and munge (SLURM's authentication).
# The MongoDB-wire test server (SecantusDB) is a Python package in the "dev" extra.
# Start/stop the services with scripts/services.sh. Idempotent: installs only what is missing.
set -euo pipefail

need_apt=()
for pkg in slurm-wlm munge; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
        "${need_apt[@]}"
fi
