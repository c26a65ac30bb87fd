#!/usr/bin/env bash
# Train on a lent GPU from what `make gpu-pack` (scripts/gpu_pack.py) put in .gpu: the device tool
# runs this in a copy of the repository, e.g.
#   run(command="bash scripts/gpu_train.sh", carry=[".gpu"], timeout_s=600)
# It installs the packed wheels where the image lacks them, trains the packed experiment for
# RESTORE_GPU_MINUTES (default 7) of training time, exports the weights in float16 to $OUT/model.pt
# every minute and at the end (a cut run leaves the last minute's), and copies the run's
# metrics.csv and log beside them. Continue here with
#   restore-train experiment=photo_v3 init_weights=<the fetched model.pt>
# Extra arguments are Hydra overrides; tests run it on a CPU at a tiny scale:
#   RESTORE_GPU_PACK=<pack> RESTORE_GPU_TRAINER=cpu bash scripts/gpu_train.sh trainer.max_steps=2
set -euo pipefail
cd "$(dirname "$0")/.."
PACK=$(cd "${RESTORE_GPU_PACK:-.gpu}" 2>/dev/null && pwd) || { echo "gpu_train.sh: no pack at ${RESTORE_GPU_PACK:-.gpu}: run make gpu-pack first" >&2; exit 2; }
OUT=${OUT:-$PWD/runs/gpu_out}
MINUTES=${RESTORE_GPU_MINUTES:-7}
PY=${PYTHON:-python3}
[ -f "$PACK/data/OVERRIDES" ] || { echo "gpu_train.sh: $PACK/data/OVERRIDES missing: run make gpu-pack first" >&2; exit 2; }
if ! "$PY" -c "import hydra, kornia" 2>/dev/null; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/restore_site "$PACK"/wheels/*.whl
  export PYTHONPATH=/tmp/restore_site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1
export RESTORE_DATA_DIR=$PACK/data
export RESTORE_LOG_DIR=${RESTORE_LOG_DIR:-/tmp/restore_runs}
mkdir -p "$OUT"
# shellcheck disable=SC2046  # the packed overrides are words
"$PY" -m restore.train $(cat "$PACK/data/OVERRIDES") \
  "trainer=${RESTORE_GPU_TRAINER:-gpu}" "+trainer.max_time=$(printf "00:00:%02d:00" "$MINUTES")" \
  "callbacks.export_weights.path=$OUT/model.pt" callbacks.export_weights.every_minutes=1 \
  callbacks.export_weights.dtype=float16 "$@" 2>&1 | tee "$OUT/train.log"
status=${PIPESTATUS[0]}
run=$(ls -td "$RESTORE_LOG_DIR"/*/*/ 2>/dev/null | head -1)
[ -n "$run" ] && find "$run" -name metrics.csv -exec cp {} "$OUT/metrics.csv" \;
exit "$status"
