#!/bin/bash
# The BSD68 noisy-only comparison: the same grey U-Net trained from scratch on one fixed noisy copy of
# train/gray400 (sigma 25, no clean image seen: neighbor2neighbor without, then with Huang et al.'s
# regularizer at gamma 2; Recorrupted-to-Recorrupted with the known sigma) and supervised on its clean
# images with fresh sigma-25 noise, the same number of batches each; then each scored on BSD68 at sigma 25.
# The copies are kept twice: as 16-bit PNGs, whose noise is clipped at black and white (the first
# runs), and unclipped as .npy arrays, as the supervised run and the evaluation see the noise.
# The unclipped recorrupted run is also scored as its authors score theirs (50 recorrupted copies).
# Each run resumes from its checkpoint in runs/noisy-only-bsd68/ when started again.
#
#   scripts/noisy_only_bsd68.sh ../shared/data   # 70 epochs each: 40 to 100 minutes a run on 2 CPU cores
#   EPOCHS=2 BATCHES=2 REPORT=/tmp/try/report scripts/noisy_only_bsd68.sh ../shared/data /tmp/try   # a dry run
#   ONLY="recorrupted-unclipped-gray" scripts/noisy_only_bsd68.sh ../shared/data   # some runs; the report keeps the others' rows
# PYTHON (default .venv/bin/python), BATCH_SIZE (16) and WORKERS (1) let it run on the GPU machine:
# docs/training.md, "Noisy-only from scratch on the GPU machine", has the device command.
# TRAIN_ONLY=1 trains and scores nothing (the GPU machine has no test images); SCORE_ONLY=1 scores
# runs trained elsewhere (their .keras and card in RUNS) without training; SECONDS_LIMIT caps each run.
set -euo pipefail
data=${1:?usage: scripts/noisy_only_bsd68.sh DATA [RUNS]}
runs=${2:-runs/noisy-only-bsd68}
epochs=${EPOCHS:-70}
batches=${BATCHES:-100}
python=${PYTHON:-.venv/bin/python}
noisy=$runs/gray400-noisy25              # 16-bit PNGs: the noise clipped at black and white
unclipped=$runs/gray400-noisy25-unclipped  # .npy arrays: the same noise, as the evaluation adds it
mkdir -p "$runs" "$noisy" "$unclipped"
if [ ! -f "$unclipped/done" ]; then
  "$python" - "$data/train/gray400" "$noisy" "$unclipped" <<'PYTHON'
import sys
from pathlib import Path

import numpy as np

import denoise

source, clipped, unclipped = (Path(argument) for argument in sys.argv[1:])
for index, path in enumerate(sorted(source.glob("*.png"))):
    clean = denoise.read_image(path, channels=1).pixels
    noisy = denoise.add_noise(clean, "gaussian", 25, seed=index, clip=False)  # one fixed copy per image
    denoise.write_png(clipped / path.name, noisy, bit_depth=16)  # 16 bits: the noise is not rounded away
    np.save(unclipped / f"{path.stem}.npy", noisy[:, :, 0])
PYTHON
  touch "$noisy/done" "$unclipped/done"
fi
common=(--channels 1 --architecture unet --latent 128 --width 32 --patch-size 96 --batch-size "${BATCH_SIZE:-16}"
  --batches-per-epoch "$batches" --epochs "$epochs" --learning-rate 1e-3 --warmup-epochs 1 --seed 30
  --workers "${WORKERS:-1}" ${SECONDS_LIMIT:+--seconds "$SECONDS_LIMIT"})
# train_and_score NAME TRAIN-ARGUMENTS...: a run whose BSD68 score is there is finished and
# skipped; one with a checkpoint resumes. The score is written to a temporary name and moved into
# place only when the evaluation succeeds, so a failed one is retried on the next invocation.
train_and_score() {
  local name=$1
  shift
  [ -f "$runs/$name-bsd68.json" ] && return
  [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]] && return
  [ -n "${SCORE_ONLY:-}" ] || "$python" -m denoise train "$@" "${common[@]}" --output "$runs/$name"
  [ -z "${TRAIN_ONLY:-}" ] || return 0
  "$python" -m denoise eval "$data/test/bsd68" --sigma 25 --model "$runs/$name.keras" --json \
    > "$runs/$name-bsd68.json.partial"
  mv "$runs/$name-bsd68.json.partial" "$runs/$name-bsd68.json"
}
# score_averaged NAME: a finished recorrupted run scored again on the mean of its results on 50
# recorrupted copies of each image, as Pang et al. evaluate theirs (denoise eval --recorruptions).
score_averaged() {
  local name=$1
  if [ -n "${TRAIN_ONLY:-}" ] || [ -f "$runs/$name-averaged-bsd68.json" ] || [ ! -f "$runs/$name.keras" ]; then
    return 0
  fi
  "$python" -m denoise eval "$data/test/bsd68" --sigma 25 --model "$runs/$name.keras" --recorruptions 50 --json \
    > "$runs/$name-averaged-bsd68.json.partial"
  mv "$runs/$name-averaged-bsd68.json.partial" "$runs/$name-averaged-bsd68.json"
}
train_and_score neighbor2neighbor-gray --data "$noisy" --noisy-data --objective neighbor2neighbor --noise gaussian:25
train_and_score neighbor2neighbor-regularized-gray --data "$noisy" --noisy-data --objective neighbor2neighbor \
  --regularizer 2 --noise gaussian:25
train_and_score recorrupted-gray --data "$noisy" --noisy-data --objective recorrupted --noise gaussian:25
train_and_score recorrupted-unclipped-gray --data "$unclipped" --noisy-data --objective recorrupted --noise gaussian:25
score_averaged recorrupted-unclipped-gray
train_and_score neighbor2neighbor-unclipped-gray --data "$unclipped" --noisy-data --objective neighbor2neighbor \
  --noise gaussian:25
train_and_score supervised-gray --data "$data/train/gray400" --noise gaussian:25
[ -z "${TRAIN_ONLY:-}" ] || exit 0
report=${REPORT:-results/noisy-only-bsd68}
# Rows of runs whose folders are gone stay from the last report.
"$python" -m benchmarks.noisy_only_bsd68 "$runs" --keep "$report.json" --output "$report"
