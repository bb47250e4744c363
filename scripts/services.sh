#!/usr/bin/env bash
# Test services for the cluster path (tests/remote, marker "cluster"; workflows/*.yaml):
#   * a one-node SLURM cluster: munged (own key and socket) + slurmctld + slurmd, partitions
#     "cpu" (default) and "gpu" on this host, 2 CPUs, no accounting database;
#   * SecantusDB, a MongoDB-wire-protocol server, on 127.0.0.1 (queue and results store of
#     jobflow-remote; data kept across restarts in the state directory).
#
# Usage: scripts/services.sh start|stop|status [all|slurm|db]
#
# Idempotent: "start" leaves running services alone (a stopped SLURM starts again with a
# clear job state: stopping slurmd ended its jobs), "stop" only stops processes whose pid
# files are in the state directory (processes this script started). Everything (configs,
# keys, sockets, spool, pid files, logs) lives in one directory:
#   MLIP_FINETUNE_SERVICES_DIR    state directory (default ${TMPDIR:-/tmp}/mlip_finetune_services)
#   MLIP_FINETUNE_DB_PORT         SecantusDB port (default 27017)
#   MLIP_FINETUNE_SLURMCTLD_PORT  slurmctld port (default 6817)
#   MLIP_FINETUNE_SLURMD_PORT     slurmd port (default 6818)
#   MLIP_FINETUNE_SLURM_CPUS      CPUs of the one node (default 2)
#   SECANTUSD                     SecantusDB launcher (default .venv/bin/secantusd-py)
# Client commands (sbatch, squeue, sinfo, jobflow-remote's runner) need
#   export SLURM_CONF=$MLIP_FINETUNE_SERVICES_DIR/slurm/slurm.conf
# which "start" and "status" print. Needs: scripts/install_services.sh (slurm-wlm, munge),
# root (slurmd runs jobs as the submitting user; SlurmUser=root).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
DIR=${MLIP_FINETUNE_SERVICES_DIR:-${TMPDIR:-/tmp}/mlip_finetune_services}
DB_PORT=${MLIP_FINETUNE_DB_PORT:-27017}
CTLD_PORT=${MLIP_FINETUNE_SLURMCTLD_PORT:-6817}
SLURMD_PORT=${MLIP_FINETUNE_SLURMD_PORT:-6818}
CPUS=${MLIP_FINETUNE_SLURM_CPUS:-2}
SECANTUSD=${SECANTUSD:-$REPO/.venv/bin/secantusd-py}
NODE=$(hostname -s)
MUNGE_DIR=$DIR/munge
SLURM_DIR=$DIR/slurm
DB_DIR=$DIR/secantus
SLURM_CONF_FILE=$SLURM_DIR/slurm.conf
# named after the launcher: pid_alive compares it with the process name (15 chars at most)
DB_PID=$DB_DIR/$(basename "$SECANTUSD").pid

log() { printf '%s\n' "$*" >&2; }

# pid_alive FILE: true if FILE holds the pid of a running process of the program the pid
# file is named after (munged.pid -> munged, ...), so a stale pid file reused by another
# process is never taken for (or stopped as) a service.
pid_alive() {
    local file=$1 pid comm
    [ -s "$file" ] || return 1
    pid=$(cat "$file")
    comm=$(ps -p "$pid" -o comm= 2>/dev/null) || return 1
    [ "$comm" = "$(basename "$file" .pid)" ]
}

# wait_for SECONDS COMMAND...: poll COMMAND every 0.2 s until it succeeds or time runs out.
wait_for() {
    local tries=$(($1 * 5))
    shift
    for _ in $(seq "$tries"); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

stop_pidfile() {  # stop_pidfile NAME FILE
    local name=$1 file=$2
    if pid_alive "$file"; then
        local pid
        pid=$(cat "$file")
        kill "$pid"
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
        log "stopped $name (pid $pid)"
    else
        log "$name not running"
    fi
    rm -f "$file"
}

require() {
    local missing=()
    for cmd in "$@"; do command -v "$cmd" >/dev/null 2>&1 || missing+=("$cmd"); done
    if [ ${#missing[@]} -gt 0 ]; then
        log "missing: ${missing[*]} (run scripts/install_services.sh)"
        exit 3
    fi
}

write_slurm_conf() {
    mkdir -p "$SLURM_DIR/state" "$SLURM_DIR/spool"
    cat >"$SLURM_CONF_FILE" <<EOF
# One-node test cluster written by scripts/services.sh (settings measured in INFRA.md).
ClusterName=mlipft
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$MUNGE_DIR/munge.socket
StateSaveLocation=$SLURM_DIR/state
SlurmdSpoolDir=$SLURM_DIR/spool
SlurmctldPidFile=$SLURM_DIR/slurmctld.pid
SlurmdPidFile=$SLURM_DIR/slurmd.pid
SlurmctldLogFile=$SLURM_DIR/slurmctld.log
SlurmdLogFile=$SLURM_DIR/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$SLURM_DIR/jobcomp.txt
MpiDefault=none
ReturnToService=2
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS State=UNKNOWN
# CPU jobs (DFT) and light jobs.
PartitionName=cpu Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
# Stands in for a GPU partition (no GRES here): training and large ML evaluations.
PartitionName=gpu Nodes=$NODE Default=NO MaxTime=INFINITE State=UP
EOF
}

start_munge() {
    mkdir -p "$MUNGE_DIR"
    chmod 700 "$MUNGE_DIR"
    if pid_alive "$MUNGE_DIR/munged.pid"; then
        log "munged already running (pid $(cat "$MUNGE_DIR/munged.pid"))"
        return
    fi
    [ -s "$MUNGE_DIR/munge.key" ] || mungekey --create --keyfile="$MUNGE_DIR/munge.key"
    chmod 600 "$MUNGE_DIR/munge.key"
    munged --force --socket="$MUNGE_DIR/munge.socket" --key-file="$MUNGE_DIR/munge.key" \
        --pid-file="$MUNGE_DIR/munged.pid" --log-file="$MUNGE_DIR/munged.log" \
        --seed-file="$MUNGE_DIR/munged.seed"
    wait_for 10 test -S "$MUNGE_DIR/munge.socket" || {
        log "munged did not start; see $MUNGE_DIR/munged.log"
        exit 1
    }
    log "started munged (pid $(cat "$MUNGE_DIR/munged.pid"))"
}

node_ready() {
    local state
    state=$(SLURM_CONF=$SLURM_CONF_FILE sinfo -h -n "$NODE" -o %T 2>/dev/null | head -n1)
    case $state in idle* | mixed* | alloc* | allocated* | completing*) return 0 ;; esac
    return 1
}

start_slurm() {
    require munged mungekey slurmctld slurmd sinfo sbatch
    start_munge
    mkdir -p "$SLURM_DIR"
    write_slurm_conf
    if pid_alive "$SLURM_DIR/slurmctld.pid"; then
        log "slurmctld already running (pid $(cat "$SLURM_DIR/slurmctld.pid"))"
    else
        # -c: start from a clear state; jobs of an earlier run died with its slurmd, and
        # recovered ones would hold CPUs until slurmctld notices (minutes)
        slurmctld -c -f "$SLURM_CONF_FILE"
        wait_for 20 pid_alive "$SLURM_DIR/slurmctld.pid" || {
            log "slurmctld did not start; see $SLURM_DIR/slurmctld.log"
            exit 1
        }
        log "started slurmctld (pid $(cat "$SLURM_DIR/slurmctld.pid"))"
    fi
    if pid_alive "$SLURM_DIR/slurmd.pid"; then
        log "slurmd already running (pid $(cat "$SLURM_DIR/slurmd.pid"))"
    else
        slurmd -c -f "$SLURM_CONF_FILE"
        wait_for 20 pid_alive "$SLURM_DIR/slurmd.pid" || {
            log "slurmd did not start; see $SLURM_DIR/slurmd.log"
            exit 1
        }
        log "started slurmd (pid $(cat "$SLURM_DIR/slurmd.pid"))"
    fi
    if ! wait_for 30 node_ready; then
        # a node left DOWN/DRAIN by an earlier unclean stop: return it to service
        SLURM_CONF=$SLURM_CONF_FILE scontrol update NodeName="$NODE" State=RESUME || true
        wait_for 15 node_ready || {
            log "node $NODE is not idle; see $SLURM_DIR/slurm*.log and 'sinfo -R'"
            exit 1
        }
    fi
    log "SLURM ready: export SLURM_CONF=$SLURM_CONF_FILE"
}

stop_slurm() {
    stop_pidfile slurmd "$SLURM_DIR/slurmd.pid"
    stop_pidfile slurmctld "$SLURM_DIR/slurmctld.pid"
    stop_pidfile munged "$MUNGE_DIR/munged.pid"
}

db_ping() {
    "$REPO/.venv/bin/python" - "$DB_PORT" <<'EOF'
import sys
from pymongo import MongoClient
client = MongoClient("127.0.0.1", int(sys.argv[1]), serverSelectionTimeoutMS=1000)
client.admin.command("ping")
EOF
}

start_db() {
    mkdir -p "$DB_DIR"
    if pid_alive "$DB_PID"; then
        log "SecantusDB already running (pid $(cat "$DB_PID"), port $DB_PORT)"
        return
    fi
    [ -x "$SECANTUSD" ] || {
        log "missing: $SECANTUSD (pip install -e '.[dev]')"
        exit 3
    }
    nohup "$SECANTUSD" --host 127.0.0.1 --port "$DB_PORT" --storage-path "$DB_DIR/data" \
        >>"$DB_DIR/secantusd.log" 2>&1 &
    echo $! >"$DB_PID"
    wait_for 60 db_ping || {
        log "SecantusDB did not answer on 127.0.0.1:$DB_PORT; see $DB_DIR/secantusd.log"
        exit 1
    }
    log "started SecantusDB (pid $(cat "$DB_PID")): mongodb://127.0.0.1:$DB_PORT"
}

stop_db() {
    stop_pidfile SecantusDB "$DB_PID"
}

status() {
    local rc=0 what=$1
    if [ "$what" != db ]; then
        for name in munge/munged slurm/slurmctld slurm/slurmd; do
            if pid_alive "$DIR/$name.pid"; then
                echo "${name#*/}: running (pid $(cat "$DIR/$name.pid"))"
            else
                echo "${name#*/}: stopped"
                rc=1
            fi
        done
        if [ $rc -eq 0 ]; then
            SLURM_CONF=$SLURM_CONF_FILE sinfo || rc=1
            echo "export SLURM_CONF=$SLURM_CONF_FILE"
        fi
    fi
    if [ "$what" != slurm ]; then
        if pid_alive "$DB_PID" && db_ping; then
            echo "SecantusDB: running (pid $(cat "$DB_PID")), mongodb://127.0.0.1:$DB_PORT"
        else
            echo "SecantusDB: stopped"
            rc=1
        fi
    fi
    return $rc
}

cmd=${1:-status}
what=${2:-all}
case $what in all | slurm | db) ;; *)
    log "unknown service '$what' (all | slurm | db)"
    exit 2
    ;;
esac
mkdir -p "$DIR"
case $cmd in
start)
    [ "$what" = db ] || start_slurm
    [ "$what" = slurm ] || start_db
    ;;
stop)
    [ "$what" = db ] || stop_slurm
    [ "$what" = slurm ] || stop_db
    ;;
status) status "$what" ;;
*)
    log "usage: $0 start|stop|status [all|slurm|db]"
    exit 2
    ;;
esac
