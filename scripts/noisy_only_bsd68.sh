#!/bin/bash
# The BSD68 noisy-only comparison: the same grey U-Net trained from scratch on one fixed noisy copy of
# train/gray400 (sigma 25, neighbor2neighbor: no clean image seen; without, then with Huang et al.'s
# regularizer at gamma 2) and supervised on its clean images with fresh sigma-25 noise, the same
# number of batches each; then each scored on BSD68 at sigma 25.
# Each run resumes from its checkpoint in runs/noisy-only-bsd68/ when started again.
#
#   scripts/noisy_only_bsd68.sh ../shared/data   # 70 epochs each: about 40 + 100 + 80 minutes on 2 CPU cores
#   EPOCHS=2 BATCHES=2 REPORT=/tmp/try/report scripts/noisy_only_bsd68.sh ../shared/data /tmp/try   # a dry run
# PYTHON (default .venv/bin/python), BATCH_SIZE (16) and WORKERS (1) let it run on the GPU machine:
# docs/training.md, "Noisy-only from scratch on the GPU machine", has the device command.
set -euo pipefail
data=${1:?usage: scripts/noisy_only_bsd68.sh DATA [RUNS]}
runs=${2:-runs/noisy-only-bsd68}
epochs=${EPOCHS:-70}
batches=${BATCHES:-100}
python=${PYTHON:-.venv/bin/python}
noisy=$runs/gray400-noisy25
mkdir -p "$runs" "$noisy"
if [ ! -f "$noisy/done" ]; then
  "$python" - "$data/train/gray400" "$noisy" <<'PYTHON'
import sys
from pathlib import Path

import denoise

source, target = Path(sys.argv[1]), Path(sys.argv[2])
for index, path in enumerate(sorted(source.glob("*.png"))):
    clean = denoise.read_image(path, channels=1).pixels
    noisy = denoise.add_noise(clean, "gaussian", 25, seed=index)  # one fixed copy per image
    denoise.write_png(target / path.name, noisy, bit_depth=16)  # 16 bits: the noise is not rounded away
PYTHON
  touch "$noisy/done"
fi
common=(--channels 1 --architecture unet --latent 128 --width 32 --patch-size 96 --batch-size "${BATCH_SIZE:-16}"
  --batches-per-epoch "$batches" --epochs "$epochs" --learning-rate 1e-3 --warmup-epochs 1 --seed 30
  --workers "${WORKERS:-1}")
# train_and_score NAME TRAIN-ARGUMENTS...: a run whose BSD68 score is there is finished and
# skipped; one with a checkpoint resumes. The score is written to a temporary name and moved into
# place only when the evaluation succeeds, so a failed one is retried on the next invocation.
train_and_score() {
  local name=$1
  shift
  [ -f "$runs/$name-bsd68.json" ] && return
  "$python" -m denoise train "$@" "${common[@]}" --output "$runs/$name"
  "$python" -m denoise eval "$data/test/bsd68" --sigma 25 --model "$runs/$name.keras" --json \
    > "$runs/$name-bsd68.json.partial"
  mv "$runs/$name-bsd68.json.partial" "$runs/$name-bsd68.json"
}
train_and_score neighbor2neighbor-gray --data "$noisy" --noisy-data --objective neighbor2neighbor --noise gaussian:25
train_and_score neighbor2neighbor-regularized-gray --data "$noisy" --noisy-data --objective neighbor2neighbor \
  --regularizer 2 --noise gaussian:25
train_and_score supervised-gray --data "$data/train/gray400" --noise gaussian:25
"$python" -m benchmarks.noisy_only_bsd68 "$runs" --output "${REPORT:-results/noisy-only-bsd68}"
