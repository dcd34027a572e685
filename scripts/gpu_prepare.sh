#!/usr/bin/env bash
# Prepare, on this machine, what scripts/gpu_session.sh needs on the GPU machine, which has
# JAX with CUDA but no Keras, no PyWavelets and no network: those wheels of requirements.lock in .whl/,
# and training images in .gpu-data/train/ (colour always, for the training timing; grey too
# when asked for; test/bsd68 in .gpu-data/test/ for bsd68; PolyU's tune half, noisy/ and clean/, in
# .gpu-data/polyu-tune/ for polyu-tune, as lossless WebP to fit the carry). Both are ignored by git;
# pass them to the device tool's `carry`.
# Usage: scripts/gpu_prepare.sh DATA_DIR [gray] [color] [bsd68] [polyu-tune]
set -euo pipefail
data=${1:?usage: scripts/gpu_prepare.sh DATA_DIR [gray] [color] [bsd68] [polyu-tune]}
shift
folders=(train/color432)
python=${PYTHON:-.venv/bin/python}
polyu=
for kind in "$@"; do
  case "$kind" in
    gray) folders+=(train/gray400) ;;
    color) ;;
    bsd68) folders+=(test/bsd68) ;;
    polyu-tune) polyu=1 ;;
    *) echo "kind must be gray, color, bsd68 or polyu-tune, got $kind" >&2; exit 2 ;;
  esac
done
pins=$(grep -iE '^(keras|namex|optree|PyWavelets)==' requirements.lock)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl $pins
mkdir -p .gpu-data/train .gpu-data/test
carry=(.whl)
for folder in "${folders[@]}"; do
  rm -rf ".gpu-data/$folder"
  cp -r "$data/$folder" ".gpu-data/$folder"
  carry+=(".gpu-data/$folder")
done
if [ -n "$polyu" ]; then
  rm -rf .gpu-data/polyu-tune
  "$python" -m benchmarks.real_noise "$data/test/polyu100" --part tune --write-part .gpu-data/polyu-tune
  "$python" -c "
import pathlib
from PIL import Image
for path in sorted(pathlib.Path('.gpu-data/polyu-tune').glob('*/*.png')):
    Image.open(path).save(path.with_suffix('.webp'), lossless=True, quality=100, method=6)
    path.unlink()
"
  carry+=(.gpu-data/polyu-tune)
fi
du -sh "${carry[@]}"
echo "carry: ${carry[*]}"
