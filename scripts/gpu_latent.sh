#!/usr/bin/env bash
# Run on the GPU machine (the device tool), from the repository root, with .whl and the training
# folders carried (.gpu-data/train/gray400 and a colour folder; see scripts/gpu_prepare.sh):
#   scripts/gpu_latent.sh SECONDS EPOCHS [COLOUR_FOLDER]
# Trains the latent family further, all twelve side by side on the one GPU, each from its
# shipped weights: conv-1/2/4/8/16 (grey and colour; batches of 128 patches of 48x48) and the
# dense models (batches of 1024 patches of 8x8), EPOCHS epochs of 100 batches each with a
# one-epoch warm-up and a cosine decay, Gaussian noise 0-55 as before. Runs still going at
# SECONDS are stopped, keeping their best epoch so far. Writes $OUT/latent.tar (each model, its
# card and its epoch log, under latent/) and $OUT/latent.log: the device tool returns 8 files at most.
set -euo pipefail
budget=${1:?usage: scripts/gpu_latent.sh SECONDS EPOCHS [COLOUR_FOLDER]}
epochs=${2:?usage: scripts/gpu_latent.sh SECONDS EPOCHS [COLOUR_FOLDER]}
colour=${3:-.gpu-data/train/color432}
out=${OUT:?set OUT to the folder for the results}
source scripts/gpu_environment.sh  # the JAX backend; Keras from .whl/ where missing
run=/tmp/latent
rm -rf "$run"  # a warm machine keeps /tmp: an earlier call's checkpoints would be resumed
mkdir -p "$run/latent"
pids=()
for kind in gray color; do
  case "$kind" in gray) data=.gpu-data/train/gray400; channels=1 ;; color) data=$colour; channels=3 ;; esac
  for latent in 1 2 4 8 16 dense; do
    if [ "$latent" = dense ]; then
      name=dense-$kind
      size=(--architecture dense --latent "$([ "$kind" = gray ] && echo 32 || echo 64)" --batch-size 1024 --learning-rate 3e-3)
    else
      name=conv-$latent-$kind
      size=(--architecture conv --latent "$latent" --width 32 --patch-size 48 --batch-size 128 --learning-rate 1e-3)
    fi
    timeout --signal=INT "$budget" python3 -m denoise train --data "$data" --channels "$channels" \
      --noise gaussian:0-55 "${size[@]}" --batches-per-epoch 100 --epochs "$epochs" --warmup-epochs 1 \
      --seed 1 --initial-weights "pretrained/$name.keras" --output "$run/latent/$name" > "$run/$name.txt" 2>&1 &
    pids+=($!)
  done
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
for log in "$run"/*.txt; do echo "== $(basename "$log" .txt)"; grep -E "^epoch|Error" "$log" | tail -n 2 || true; done \
  | tee "$out/latent.log"
cp "$run"/latent/checkpoints/*.log.json "$run/latent/" 2>/dev/null || true
tar -C "$run" -cf "$out/latent.tar" --exclude=checkpoints latent
exit "$status"
