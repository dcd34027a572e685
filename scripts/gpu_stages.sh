#!/usr/bin/env bash
# Run on the GPU machine, from the repository root, after
# `scripts/gpu_prepare.sh DATA polyu-tune`, with .whl, .gpu-data/train/color432 and
# .gpu-data/polyu-tune carried:
#   scripts/gpu_stages.sh SECONDS
# Within about SECONDS, side by side on the one GPU, a further stage of each of two shipped
# models from their weights, each with the data, noise and loss of its last CPU stage (see its
# card) but batches of 64 instead of 16:
# - raw-bayer: train/color432 plus PolyU's tune clean crops, each three times, unprocessed to raw
#   (the folder scripts/raw_camera_stage.sh builds, so that the validation patches are the same);
# - photo-fast-color: distilled from photo-color on synthetic camera noise, half of each batch
#   from PolyU's tune pairs.
# First a probe stage of two short epochs (compiling, and timing an epoch of each run side by
# side); then the main stage from the probe's weights, with as many epochs as fit into the time
# left (its cosine schedule ends when the time does), cut by --seconds if it runs over.
# Writes under $OUT (8 files at most): per model its .keras, card and epoch log, and stages.log.
set -euo pipefail
budget=${1:?usage: scripts/gpu_stages.sh SECONDS}
out=${OUT:?set OUT to the folder for the results}
workers=${WORKERS:-7}
batches=${BATCHES_PER_EPOCH:-200}
started=$SECONDS
source scripts/gpu_environment.sh  # the JAX backend; Keras from .whl/ where missing
run=/tmp/gpu-stages
rm -rf "$run"  # a warm machine keeps /tmp: an earlier call's checkpoints would be resumed
mixed=$run/color432-and-polyu-tune
mkdir -p "$mixed"
cp .gpu-data/train/color432/* "$mixed"/
for copy in 1 2 3; do
  for path in .gpu-data/polyu-tune/clean/*; do cp "$path" "$mixed/polyu-$copy-$(basename "$path")"; done
done

train() {  # NAME STAGE EPOCHS BATCHES INITIAL [--seconds S]: one stage of one model, in the background
  local name=$1 stage=$2 epochs=$3 per_epoch=$4 initial=$5
  shift 5
  local common=(--architecture unet --batch-size 64 --batches-per-epoch "$per_epoch" --epochs "$epochs"
    --warmup-epochs 1 --weight-by-noise --workers "$workers" --initial-weights "$initial" "$@")
  case "$name" in
    raw-bayer)
      python3 -m denoise train --data "$mixed" --channels 3 --domain raw \
        --noise camera:100-3200 camera:800-25600 camera:3200-102400 --latent 128 --width 32 --bottom-blocks 4 \
        --patch-size 128 --learning-rate "${RAW_RATE:-1e-4}" --seed 12 "${common[@]}" --output "$run/$stage/$name" ;;
    photo-fast-color)
      python3 -m denoise train --data .gpu-data/train/color432 --pairs .gpu-data/polyu-tune --pairs-fraction 0.5 \
        --channels 3 --noise camera:100-3200 camera:3200-102400 correlated:0-20 gaussian:0-30 --latent 64 --width 16 \
        --bottom-blocks 4 --patch-size 96 --learning-rate "${FAST_RATE:-3e-4}" --seed 33 \
        --teacher pretrained/photo-color.keras "${common[@]}" --output "$run/$stage/$name" ;;
  esac > "$run/$stage-$name.txt" 2>&1
}

names=(raw-bayer photo-fast-color)
status=0
pids=()
for name in "${names[@]}"; do train "$name" probe 2 "$batches" "pretrained/$name.keras" & pids+=($!); done
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
for name in "${names[@]}"; do grep -E "^epoch|Error" "$run/probe-$name.txt" || tail -n 20 "$run/probe-$name.txt"; done
[ "$status" -eq 0 ] || exit "$status"

# The probe's second epoch, timed side by side, gives each run's seconds per epoch of the
# main stage's size (validation and saving counted in); the main stage gets the time left, less a minute to load and compile.
left=$((budget - (SECONDS - started) - 60))
[ "$left" -gt 30 ] || left=30
for name in "${names[@]}"; do
  epochs=$(python3 -c "
import json
log = json.load(open('$run/probe/checkpoints/$name.log.json'))
print(max(3, int($left / (log[1]['seconds'] - log[0]['seconds']))))")
  echo "$name: $epochs epochs of $batches batches in $left s"
  train "$name" main "$epochs" "$batches" "$run/probe/$name.keras" --seconds "$left" &
  pids+=($!)
done
for pid in "${pids[@]:2}"; do wait "$pid" || status=$?; done
for name in "${names[@]}"; do
  grep -E "^epoch|Error" "$run/main-$name.txt" | tail -n 8 || tail -n 20 "$run/main-$name.txt"
  cp "$run/main/$name.keras" "$run/main/$name.json" "$out/" || status=1
  cp "$run/main/checkpoints/$name.log.json" "$out/" || status=1
done
cat "$run"/*.txt > "$out/stages.log" || true
exit "$status"
