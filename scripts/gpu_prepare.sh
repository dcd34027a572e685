#!/usr/bin/env bash
# Prepare, on this machine, what scripts/gpu_session.sh needs on the GPU machine, which has
# JAX with CUDA but no Keras and no network: the Keras wheels of requirements.lock in .whl/,
# and the training and test images of one kind in .gpu-data/ (both ignored by git; pass them
# to the device tool's `carry`).
# Usage: scripts/gpu_prepare.sh DATA_DIR {gray|color}
set -euo pipefail
data=${1:?usage: scripts/gpu_prepare.sh DATA_DIR gray|color}
kind=${2:?usage: scripts/gpu_prepare.sh DATA_DIR gray|color}
case "$kind" in
  gray) train=gray400; test=bsd68 ;;
  color) train=color432; test=cbsd68 ;;
  *) echo "kind must be gray or color" >&2; exit 2 ;;
esac
pins=$(grep -iE '^(keras|namex|optree)==' requirements.lock)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl $pins
mkdir -p ".gpu-data/train" ".gpu-data/test"
cp -r "$data/train/$train" ".gpu-data/train/"
cp -r "$data/test/$test" ".gpu-data/test/"
du -sh .whl ".gpu-data/train/$train" ".gpu-data/test/$test"
echo "carry: .whl .gpu-data/train/$train .gpu-data/test/$test"
