#!/usr/bin/env bash
# The cluster path on one machine: the same commands a cluster user types, against real services.
#
#   bash workflows/local_cluster_demo.sh [STRUCTURE] [extra 'mlip-finetune submit' options]
#
# 1. starts a one-node SLURM cluster (partitions "cpu" and "gpu") and SecantusDB, a
#    MongoDB-wire-protocol server (scripts/services.sh; installed by scripts/install.sh);
# 2. writes a jobflow-remote project with three SLURM workers (DFT -> cpu partition with
#    2 tasks, training and ML evaluation -> gpu partition, light jobs -> cpu partition) in
#    $DEMO_DIR/jfremote, and initialises its queue database;
# 3. submits STRUCTURE (default examples/Si.cif) with the 'test' preset and the stand-in
#    foundation ('mlip-finetune submit'), starts jobflow-remote's runner daemon and follows
#    'mlip-finetune status' until the flow is finished;
# 4. prints 'mlip-finetune status' and 'mlip-finetune results', read back from the database,
#    then stops the runner (services started here are stopped too unless KEEP_SERVICES=1).
#
# Environment: DEMO_DIR (default ${TMPDIR:-/tmp}/mlipft_demo), PROJECT (default mlipft-demo),
# MAX_WAIT seconds (default 1800), and scripts/services.sh's variables. Needs root for slurmd
# (see scripts/services.sh). On a real cluster use workflows/jfremote_project_slurm.yaml.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
BIN=$REPO/.venv/bin
STRUCTURE=${1:-$REPO/examples/Si.cif}
shift || true
DEMO_DIR=${DEMO_DIR:-${TMPDIR:-/tmp}/mlipft_demo}
PROJECT=${PROJECT:-mlipft-demo}
MAX_WAIT=${MAX_WAIT:-1800}
export MLIP_FINETUNE_SERVICES_DIR=${MLIP_FINETUNE_SERVICES_DIR:-$DEMO_DIR/services}
export SLURM_CONF=$MLIP_FINETUNE_SERVICES_DIR/slurm/slurm.conf
export JFREMOTE_PROJECTS_FOLDER=$DEMO_DIR/jfremote
export PATH=$BIN:$PATH
DB_PORT=${MLIP_FINETUNE_DB_PORT:-27017}
mkdir -p "$DEMO_DIR" "$JFREMOTE_PROJECTS_FOLDER"

started_services=0
if ! bash "$REPO/scripts/services.sh" status >/dev/null 2>&1; then
    bash "$REPO/scripts/services.sh" start
    started_services=1
fi
cleanup() {
    jf -p "$PROJECT" runner shutdown >/dev/null 2>&1 || true
    if [ "$started_services" = 1 ] && [ "${KEEP_SERVICES:-0}" != 1 ]; then
        bash "$REPO/scripts/services.sh" stop
    fi
}
trap cleanup EXIT

echo "== jobflow-remote project $PROJECT in $JFREMOTE_PROJECTS_FOLDER"
python - "$PROJECT" "$DEMO_DIR" "$DB_PORT" "$BIN/jf" <<'EOF'
import sys
from pathlib import Path

from mlip_finetune.remote import local_worker, project_config, write_project

name, demo, port, jf = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
execution = f"{jf} -fe execution run {{}}"  # this venv's jf: the job needs no PATH set-up
resources = {
    "cpu": {"partition": "cpu", "nodes": 1, "ntasks": 2},  # DFT: 2 MPI ranks
    "gpu": {"partition": "gpu", "nodes": 1, "ntasks": 1},  # training, ML phonons/properties
    "small": {"partition": "cpu", "nodes": 1, "ntasks": 1},  # fan-outs, assembly, report
}
workers = {
    worker: local_worker(
        demo / "work" / worker, scheduler="slurm", resources=res, execution_cmd=execution
    )
    for worker, res in resources.items()
}
runner = {"delay_checkout": 2, "delay_check_run_status": 2, "delay_advance_status": 2}
config = project_config(
    name, workers, database=name.replace("-", "_"), port=port,
    base_dir=demo / "project", runner=runner,
)
print(write_project(config, demo / "jfremote"))
EOF
jf -p "$PROJECT" admin reset --yes --output "$(date +%F)"

echo "== submit"
mlip-finetune submit "$STRUCTURE" -p "$PROJECT" -f standin --preset test "$@"
label=$(basename "${STRUCTURE%.*}")

echo "== runner"
jf -p "$PROJECT" runner start --single
deadline=$((SECONDS + MAX_WAIT))
while :; do
    state=$(python - "$PROJECT" "$label" <<'EOF'
import sys

from mlip_finetune.remote import material_status

statuses = material_status(sys.argv[1], sys.argv[2])
print(statuses[0].flow_state if statuses else "NONE")
EOF
)
    case $state in COMPLETED | FAILED | STOPPED | PAUSED) break ;; esac
    if [ "$SECONDS" -ge "$deadline" ]; then
        echo "flow still $state after ${MAX_WAIT} s" >&2
        break
    fi
    sleep 10
done

echo "== mlip-finetune status -p $PROJECT"
mlip-finetune status -p "$PROJECT"
echo "== mlip-finetune results -p $PROJECT"
mlip-finetune results -p "$PROJECT"
[ "$state" = COMPLETED ]
