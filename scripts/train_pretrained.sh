#!/usr/bin/env bash
# Train every shipped model in pretrained/ with the project's own `denoise train`.
# Usage: scripts/train_pretrained.sh DATA_DIR {gray|color} [all|unet|second|small]
# The U-Net trains in two stages: 160 epochs from scratch into pretrained/base/, then a second
# cosine schedule at a lower peak learning rate that starts from those weights.
# DATA_DIR is the shared data folder (with train/gray400 and train/color432).
# Running it again resumes each model from pretrained/checkpoints/ after its last epoch.
set -euo pipefail
data=${1:?usage: scripts/train_pretrained.sh DATA_DIR gray|color}
kind=${2:?usage: scripts/train_pretrained.sh DATA_DIR gray|color}
case "$kind" in
  gray) folder="$data/train/gray400"; channels=1; dense_latent=32; second_epochs=260 ;;
  color) folder="$data/train/color432"; channels=3; dense_latent=64; second_epochs=240 ;;
  *) echo "kind must be gray or color" >&2; exit 2 ;;
esac
denoise="${DENOISE:-.venv/bin/denoise}"
common=(--data "$folder" --channels "$channels" --noise gaussian:0-55 --batch-size 32 --batches-per-epoch 100)

stage=${3:-all}  # all; unet (both stages); second (the U-Net's second stage only); small (conv family, dense)
unet=(--architecture unet --latent 128 --width 32 --patch-size 96 --batch-size 16)
if [ "$stage" != small ]; then
  [ "$stage" = second ] || "$denoise" train "${common[@]}" "${unet[@]}" --epochs 160 --output "pretrained/base/unet-$kind"
  "$denoise" train "${common[@]}" "${unet[@]}" --epochs "$second_epochs" --learning-rate 3e-4 \
    --initial-weights "pretrained/base/unet-$kind.keras" --output "pretrained/unet-$kind"
fi
[ "$stage" = unet ] || [ "$stage" = second ] && exit 0
for latent in 1 2 4 8 16; do
  "$denoise" train "${common[@]}" --architecture conv --latent "$latent" --width 32 --epochs 10 \
    --output "pretrained/conv-$latent-$kind"
done
"$denoise" train "${common[@]}" --architecture dense --latent "$dense_latent" --batch-size 256 --epochs 10 \
  --learning-rate 3e-3 --output "pretrained/dense-$kind"
