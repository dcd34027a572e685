#!/usr/bin/env bash
# Train every shipped model in pretrained/ with the project's own `denoise train`.
# Usage: scripts/train_pretrained.sh DATA_DIR {gray|color} [all|unet|second|...|seventh|low|luminance|small]
# The U-Net trains in stages, each from the weights of the one before with a new cosine
# schedule: 160 epochs from random weights into pretrained/base/; a second stage at a lower
# peak learning rate into pretrained/stage2/; a third that weights each patch's error inversely
# to its noise (so low noise levels count as much as high ones) into pretrained/stage3/; a
# fourth in batches of 64 into pretrained/stage4/. The fourth stage ran on the GPU machine
# (scripts/gpu_session.sh, 6.5 minutes); here on two CPU cores it takes many hours.
# Grey has a fifth, a sixth and a seventh stage on the CPU (new data seeds, batches of 32); the
# seventh draws half its patches' noise from 0-30 instead of 0-55 and ships. Colour has a fifth
# and a sixth on the CPU whose loss weights the error's luminance part by 0.2 (the default takes
# most of a colour image's luminance from the grey U-Net); the sixth ships. The fifth was
# stopped after epoch 246 of 300 (pretrained/stage5/unet-gray.json says why); run it to the end
# for the full schedule. "low" trains grey's low-noise model (unet-low-gray) from the shipped
# seventh stage on noise from 0-30 only, and links it from pretrained/unet-gray.json; "luminance"
# (colour) writes the link by which the grey U-Net also denoises colour images' luminance.
# DATA_DIR is the shared data folder (with train/gray400 and train/color432).
# Running it again resumes each model from its checkpoints folder after its last epoch.
set -euo pipefail
data=${1:?usage: scripts/train_pretrained.sh DATA_DIR gray|color}
kind=${2:?usage: scripts/train_pretrained.sh DATA_DIR gray|color}
case "$kind" in
  gray) folder="$data/train/gray400"; channels=1; dense_latent=32; second_epochs=260 ;;
  color) folder="$data/train/color432"; channels=3; dense_latent=64; second_epochs=240 ;;
  *) echo "kind must be gray or color" >&2; exit 2 ;;
esac
denoise="${DENOISE:-.venv/bin/denoise}"
data_options=(--data "$folder" --channels "$channels" --noise gaussian:0-55)
common=("${data_options[@]}" --batches-per-epoch 100)

# all; unet (its stages, low-noise model and links); second ... seventh, low, luminance (that one
# only); small (conv, dense)
stages=(all unet second third fourth fifth sixth seventh low luminance small)
stage=${3:-all}
runs() {  # true if the chosen stage is one of the arguments
  local name
  for name in "$@"; do [ "$stage" = "$name" ] && return 0; done
  return 1
}
if ! runs "${stages[@]}"; then
  echo "stage must be one of: ${stages[*]}" >&2
  exit 2
fi
unet_model=(--architecture unet --latent 128 --width 32 --patch-size 96)
unet=("${common[@]}" "${unet_model[@]}" --batch-size 16)
if runs all unet; then
  "$denoise" train "${unet[@]}" --epochs 160 --output "pretrained/base/unet-$kind"
fi
if runs all unet second; then
  "$denoise" train "${unet[@]}" --epochs "$second_epochs" --learning-rate 3e-4 \
    --initial-weights "pretrained/base/unet-$kind.keras" --output "pretrained/stage2/unet-$kind"
fi
if runs all unet third; then
  "$denoise" train "${unet[@]}" --epochs 200 --learning-rate 2e-4 --warmup-epochs 3 --weight-by-noise \
    --initial-weights "pretrained/stage2/unet-$kind.keras" --output "pretrained/stage3/unet-$kind"
fi
if runs all unet fourth; then
  "$denoise" train "${data_options[@]}" "${unet_model[@]}" \
    --batch-size 64 --batches-per-epoch 200 --epochs 106 --learning-rate 3e-4 \
    --warmup-epochs 2 --weight-by-noise --workers 2 \
    --initial-weights "pretrained/stage3/unet-$kind.keras" --output "pretrained/stage4/unet-$kind"
fi
# The grey U-Net's later CPU stages: EPOCHS PEAK_RATE SEED FROM OUTPUT NOISE...
grey_cpu_stage() {
  local epochs=$1 rate=$2 seed=$3 from=$4 output=$5
  shift 5
  "$denoise" train --data "$folder" --channels 1 --noise "$@" "${unet_model[@]}" \
    --batch-size 32 --batches-per-epoch 100 --epochs "$epochs" --learning-rate "$rate" --warmup-epochs 2 \
    --weight-by-noise --seed "$seed" --initial-weights "$from" --output "$output"
}
if runs all unet fifth && [ "$kind" = gray ]; then
  grey_cpu_stage 300 1.5e-4 5 pretrained/stage4/unet-gray.keras pretrained/stage5/unet-gray gaussian:0-55
fi
if runs all unet sixth && [ "$kind" = gray ]; then
  grey_cpu_stage 220 1e-4 6 pretrained/stage5/unet-gray.keras pretrained/stage6/unet-gray gaussian:0-55
fi
if runs all unet seventh && [ "$kind" = gray ]; then  # a second noise range: half the patches from 0-30
  grey_cpu_stage 140 1e-4 7 pretrained/stage6/unet-gray.keras pretrained/unet-gray gaussian:0-55 gaussian:0-30
fi
# The colour U-Net's later CPU stages, with the error's luminance part weighted 0.2 in the loss:
# EPOCHS SEED FROM OUTPUT
colour_cpu_stage() {
  "$denoise" train "${data_options[@]}" "${unet_model[@]}" \
    --batch-size 32 --batches-per-epoch 100 --epochs "$1" --learning-rate 1e-4 --warmup-epochs 2 \
    --weight-by-noise --luminance-loss-weight 0.2 --seed "$2" --initial-weights "$3" --output "$4"
}
if runs all unet fifth && [ "$kind" = color ]; then
  colour_cpu_stage 50 10 pretrained/stage4/unet-color.keras pretrained/stage5/unet-color
fi
if runs all unet sixth && [ "$kind" = color ]; then
  colour_cpu_stage 60 11 pretrained/stage5/unet-color.keras pretrained/unet-color
fi
# The grey U-Net's low-noise model (unet-low-gray), which its card names for images whose estimated
# noise is low: the shipped seventh stage trained further on noise from 0-30 only.
if runs all unet low && [ "$kind" = gray ]; then
  grey_cpu_stage 130 1e-4 8 pretrained/unet-gray.keras pretrained/unet-low-gray gaussian:0-30
  # pretrained/families.json names it for the unet family's grey member: images whose estimated
  # noise sigma is below 22 go to it. The same manifest gives the grey U-Net's luminance weight
  # 0.75 in colour results (the best on the held-out colour images: benchmarks/luminance_weights.py).
fi
runs all small || exit 0
for latent in 1 2 4 8 16; do
  "$denoise" train "${common[@]}" --architecture conv --latent "$latent" --width 32 --batch-size 32 --epochs 10 \
    --output "pretrained/conv-$latent-$kind"
done
"$denoise" train "${common[@]}" --architecture dense --latent "$dense_latent" --batch-size 256 --epochs 10 \
  --learning-rate 3e-3 --output "pretrained/dense-$kind"
