#!/bin/bash
# A further stage of the raw model on photos as cameras take them: train/color432 (small, textured
# images: BSD's photos shrunk) plus the clean references of PolyU's tune scenes (full-resolution
# camera crops, smooth at the pixel scale), each of those three times, all unprocessed to raw
# with denoise.noise's camera noise. PolyU's test scenes stay out: benchmarks/raw.py scores on them.
#
#   scripts/raw_camera_stage.sh ../shared/data   # 30 epochs, about 25 minutes on 2 CPU cores
#   EPOCHS=1 BATCHES=2 scripts/raw_camera_stage.sh ../shared/data /tmp/try   # a dry run
# Resumes from its checkpoint in RUNS when started again.
set -euo pipefail
data=${1:?usage: scripts/raw_camera_stage.sh DATA [RUNS]}
runs=${2:-runs/raw-camera}
python=${PYTHON:-.venv/bin/python}
mixed=$runs/color432-and-polyu-tune
if [ ! -f "$mixed/done" ]; then
  rm -rf "$mixed" "$runs/polyu-tune"
  mkdir -p "$mixed"
  "$python" -m benchmarks.real_noise "$data/test/polyu100" --part tune --write-part "$runs/polyu-tune"
  cp "$data"/train/color432/* "$mixed"/
  for copy in 1 2 3; do
    for path in "$runs"/polyu-tune/clean/*; do cp "$path" "$mixed/polyu-$copy-$(basename "$path")"; done
  done
  touch "$mixed/done"
fi
"$python" -m denoise train --data "$mixed" --channels 3 --domain raw \
  --noise camera:100-3200 camera:800-25600 camera:3200-102400 --architecture unet --latent 128 --width 32 \
  --bottom-blocks 4 --patch-size 128 --batch-size 16 --batches-per-epoch "${BATCHES:-100}" --epochs "${EPOCHS:-30}" \
  --learning-rate 5e-5 --warmup-epochs 1 --weight-by-noise --seed 11 --initial-weights pretrained/raw-bayer.keras \
  --output "$runs/raw-bayer"
