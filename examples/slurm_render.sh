#!/usr/bin/env bash
# Render 3DIEBench on a SLURM cluster: a job array of N tasks, task K rendering
# `--shard K/N` (every N-th object from K), then one final pass without --shard that checks
# every view, renders whatever is missing (a failed or timed-out task) and writes the split
# files and iebench.json. Run it on a login node; it submits both jobs:
#
#   OBJECTS=/data/ShapeNetCore.v2 OUT=/shared/3DIEBench N=64 examples/slurm_render.sh
#
# OUT must be on a filesystem every node sees. A task that is requeued or resubmitted resumes
# its shard (complete views are kept). Settings (environment variables):
#   N        array tasks (default 32)           CPUS     cores per task (default 16)
#   THREADS  Blender threads per worker (default 2: small images scale poorly beyond it)
#   TIME     time limit per task (default 24:00:00)
#   EXTRA    more `iebench render` options, e.g. "--views 50 --preset default --device gpu"
#            (with --device gpu, add e.g. SBATCH_GRES=gpu:1 to the environment)
set -euo pipefail

: "${OBJECTS:?set OBJECTS to the ShapeNetCore.v2 tree}"
: "${OUT:?set OUT to the dataset root}"
N=${N:-32}
CPUS=${CPUS:-16}
THREADS=${THREADS:-2}
TIME=${TIME:-24:00:00}
EXTRA=${EXTRA:-}

render() {
    # shellcheck disable=SC2086 # EXTRA holds several options
    iebench render --objects "$OBJECTS" --out "$OUT" --quiet \
        --workers $((CPUS / THREADS > 0 ? CPUS / THREADS : 1)) --threads "$THREADS" $EXTRA "$@"
}

if [[ -z "${SLURM_JOB_ID:-}" ]]; then
    common=(--cpus-per-task="$CPUS" --time="$TIME" --requeue)
    array=$(sbatch --parsable "${common[@]}" --job-name=iebench-render --export=ALL \
        --array="0-$((N - 1))" "$0")
    # afterany: the final pass also runs when a task failed, and renders what it left.
    sbatch "${common[@]}" --job-name=iebench-render-final --dependency="afterany:${array}" \
        --export=ALL,IEBENCH_FINAL_PASS=1 "$0"
elif [[ -n "${IEBENCH_FINAL_PASS:-}" ]]; then
    render
else
    render --shard "${SLURM_ARRAY_TASK_ID}/${N}"
fi
