#!/usr/bin/env bash
# Run on the GPU machine (the device tool), from the repository root, after
# scripts/gpu_prepare.sh, with .whl and the .gpu-data folders carried:
#   scripts/gpu_session.sh SECONDS [KIND...]        (KIND: gray, color, photo; none = timings only)
# Within about SECONDS in all:
# 1. installs Keras from .whl if it is missing, and runs everything with KERAS_BACKEND=jax;
# 2. benchmarks.device_speed: ms for a 12-megapixel colour photo (direct calls on tiles of 1024
#    and on the whole photo, and compiled calls on the whole photo in float32 (auto on a GPU),
#    mixed and bfloat16),
#    the photo's round trip to the GPU and back without a model, and training patches/s;
# 3. for each KIND, side by side on the one GPU: a further training stage of a shipped U-Net
#    (batches of 64 patches of 96x96, $BATCHES_PER_EPOCH batches per epoch, default 200;
#    a 2-epoch warm-up and the loss weighted by noise, like the shipped third stage), with as
#    many epochs as the measured patches/s fit into the time left. A run that overruns is
#    stopped; its best epoch so far is kept. With TRAINING_RATE set (patches/s of each run
#    side by side, as measured by an earlier run), that rate is used; SKIP_SPEED=1 skips step 2.
#    With BOTTOM_BLOCKS above 4, the U-Nets grow that many residual blocks at 1/8 resolution,
#    the new ones starting as identities (denoise train --bottom-blocks).
#    gray and color continue the shipped U-Nets on Gaussian noise (colour with --recolour: every
#    hue and saturation); photo starts from the colour U-Net and learns real camera noise
#    (denoise.noise's camera and correlated kinds, and some white Gaussian) into unet-photo.
#    Camera noise costs more CPU per patch, so photo's rate counts PHOTO_RATE_SHARE (default 0.5)
#    of the measured rate.
# What it writes goes under $OUT, 8 files at most (the device tool's limit): device-speed.json,
# and per kind the model, its card and its epoch log (unet-KIND.keras, .json, .log.json).
set -euo pipefail
budget=${1:?usage: scripts/gpu_session.sh SECONDS [gray|color ...]}
shift
kinds=("$@")
batches=${BATCHES_PER_EPOCH:-200}
batch_size=${BATCH_SIZE:-64}
patch_size=${PATCH_SIZE:-96}
photo=${PHOTO_SIZE:-3000 4000}
workers=${WORKERS:-6}
bottom_blocks=${BOTTOM_BLOCKS:-4}
out=${OUT:?set OUT to the folder for the results}
for kind in "${kinds[@]}"; do
  case "$kind" in gray | color | photo) ;; *) echo "kind must be gray, color or photo, got $kind" >&2; exit 2 ;; esac
done
source scripts/gpu_environment.sh  # the JAX backend; Keras from .whl/ where missing
started=$SECONDS
# shellcheck disable=SC2086  # the photo size is two words on purpose
[ -n "${SKIP_SPEED:-}" ] || python3 -m benchmarks.device_speed --size $photo \
  --variants ${VARIANTS:-direct:1024 direct:4096 compiled:4096 compiled:4096:mixed compiled:4096:bfloat16} \
  --data .gpu-data/train/color432 --batches "${SPEED_BATCHES:-50}" --epochs 2 --batch-size "$batch_size" --patch-size "$patch_size" \
  --workers "$workers" --output "$out/device-speed" || echo "device_speed failed; training goes on" >&2
[ ${#kinds[@]} -gt 0 ] || exit 0

# Epochs that fit: the time left, less a minute for loading and compiling and half a minute
# for the copies, at the given or measured rate (or 1,000 patches/s without one) shared by the runs.
left=$((budget - (SECONDS - started) - 90))
epochs_for() {  # epochs of one run that fit, given its share of the measured rate
  python3 -c "
import json, pathlib
report = pathlib.Path('$out/device-speed.json')
rate = json.loads(report.read_text())['training']['patches_per_second'] if report.exists() else 1000
rate = (float('${TRAINING_RATE:-0}') or rate / ${#kinds[@]}) * $1
print(max(3, int($left * rate / ($batches * $batch_size))))"
}
echo "training ${kinds[*]} within $((left + 60)) s"
run=/tmp/gpu-session
rm -rf "$run"  # a warm machine keeps /tmp: an earlier call's checkpoints would be resumed
mkdir -p "$run"
pids=()
for kind in "${kinds[@]}"; do
  share=1
  name=unet-$kind
  from=pretrained/unet-$kind.keras
  noise=(gaussian:0-55)
  extra=()
  case "$kind" in
    gray) train=gray400; channels=1 ;;
    color) train=color432; channels=3; extra=(--recolour) ;;
    photo) train=color432; channels=3; from=pretrained/unet-color.keras; share=${PHOTO_RATE_SHARE:-0.5}
      noise=(camera:100-3200 camera:3200-102400 correlated:0-20 gaussian:0-30) ;;
  esac
  epochs=$(epochs_for "$share")
  echo "$kind: $epochs epochs of $batches batches"
  timeout --signal=INT $((left + 60)) python3 -m denoise train --data ".gpu-data/train/$train" \
    --channels "$channels" --noise "${noise[@]}" --architecture unet --latent 128 --width 32 \
    --bottom-blocks "$bottom_blocks" --patch-size "$patch_size" --batch-size "$batch_size" --batches-per-epoch "$batches" \
    --epochs "$epochs" --learning-rate 3e-4 --warmup-epochs 2 --weight-by-noise --workers "$workers" "${extra[@]}" \
    --initial-weights "$from" --output "$run/$name" > "$run/$kind.txt" 2>&1 &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
for kind in "${kinds[@]}"; do
  grep -E "^epoch|Error|error" "$run/$kind.txt" | tail -n 5 || true
  cp "$run/unet-$kind.keras" "$run/unet-$kind.json" "$out/" || status=1
  cp "$run/checkpoints/unet-$kind.log.json" "$out/" || status=1
done
exit "$status"
