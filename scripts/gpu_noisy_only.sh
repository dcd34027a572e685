#!/usr/bin/env bash
# Run on the GPU machine, from the repository root, after `scripts/gpu_prepare.sh DATA gray`
# here, with .whl and .gpu-data/train/gray400 carried:
#   EPOCHS=100 BATCHES=100 scripts/gpu_noisy_only.sh SECONDS
# The two runs of scripts/noisy_only_bsd68.sh that its goal compares (Recorrupted-to-Recorrupted on
# the unclipped noisy copies, and supervised on the clean images), side by side, batches of 64
# patches instead of 16, each stopped by SECONDS if it runs over. Nothing is scored there (it has
# no test images): their .keras files come back under $OUT with a tarball of their cards and epoch
# logs, and here `SCORE_ONLY=1 ... scripts/noisy_only_bsd68.sh ../shared/data RUNS` scores them.
set -euo pipefail
budget=${1:?usage: scripts/gpu_noisy_only.sh SECONDS}
out=${OUT:?set OUT to the folder for the results}
source scripts/gpu_environment.sh  # the JAX backend; Keras from .whl/ where missing
runs=/tmp/noisy-only-bsd68
rm -rf "$runs"  # a warm machine keeps /tmp: an earlier call's checkpoints would be resumed
export PYTHON=python3 TRAIN_ONLY=1 BATCH_SIZE=64 WORKERS=${WORKERS:-7} SECONDS_LIMIT=$budget
ONLY=none scripts/noisy_only_bsd68.sh .gpu-data "$runs"  # the noisy copies, once
status=0
pids=()
for name in recorrupted-unclipped-gray supervised-gray; do
  ONLY=$name scripts/noisy_only_bsd68.sh .gpu-data "$runs" > "$runs/$name.txt" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
for name in recorrupted-unclipped-gray supervised-gray; do
  grep -E "^epoch|Error" "$runs/$name.txt" | tail -n 5 || tail -n 20 "$runs/$name.txt"
  cp "$runs/$name.keras" "$out/" || status=1
done
(cd "$runs" && tar czf "$out/cards.tgz" ./*.json checkpoints/*.log.json ./*.txt) || status=1
exit "$status"
