#!/usr/bin/env bash
# Run on the GPU machine (the device tool), from the repository root, after
# scripts/gpu_prepare.sh, with .whl and that kind's .gpu-data folders carried:
#   scripts/gpu_session.sh {gray|color} [EPOCHS [BENCHMARK_OPTIONS...]]
# 1. installs Keras from .whl if it is missing, and runs everything with KERAS_BACKEND=jax;
# 2. benchmarks.device_speed: ms for a 12-megapixel colour photo, training patches/s (the
#    BENCHMARK_OPTIONS are passed on to it);
# 3. with EPOCHS > 0: a further training stage of the shipped U-Net of that kind (batches of
#    64 patches of 96x96, $BATCHES_PER_EPOCH batches per epoch, default 200; a 2-epoch
#    warm-up and the loss weighted by noise, like the shipped third stage), then
#    `denoise eval` of the result on the kind's test set at sigma 15, 25 and 50.
# Everything it writes (JSON, the model, its card and log) goes under $OUT.
set -euo pipefail
kind=${1:?usage: scripts/gpu_session.sh gray|color [EPOCHS]}
epochs=${2:-0}
shift $(($# < 2 ? $# : 2))
batches=${BATCHES_PER_EPOCH:-200}
out=${OUT:?set OUT to the folder for the results}
case "$kind" in
  gray) train=gray400; test=bsd68; channels=1 ;;
  color) train=color432; test=cbsd68; channels=3 ;;
  *) echo "kind must be gray or color" >&2; exit 2 ;;
esac
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
if ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
python3 -m benchmarks.device_speed --batches 50 --output "$out/device-speed" "$@"
[ "$epochs" -gt 0 ] || exit 0
python3 -m denoise train --data ".gpu-data/train/$train" --channels "$channels" --noise gaussian:0-55 \
  --architecture unet --latent 128 --width 32 --patch-size 96 --batch-size 64 --batches-per-epoch "$batches" \
  --epochs "$epochs" --learning-rate 3e-4 --warmup-epochs 2 --weight-by-noise \
  --initial-weights "pretrained/unet-$kind.keras" --output "$out/unet-$kind"
python3 -m denoise eval ".gpu-data/test/$test" --sigma 15 25 50 --model "$out/unet-$kind.keras" --json \
  > "$out/eval-unet-$kind.json"
cat "$out/eval-unet-$kind.json"
