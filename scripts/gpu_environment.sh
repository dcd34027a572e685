# Sourced from the repository root by the scripts that run on the GPU machine (gpu_session.sh,
# gpu_stages.sh, gpu_latent.sh, gpu_noisy_only.sh): the JAX backend, unbuffered output, GPU memory
# taken as needed, and Keras installed from the wheels scripts/gpu_prepare.sh put in .whl/ where
# the machine lacks it (it has no network).
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 XLA_PYTHON_CLIENT_PREALLOCATE=false
if ! python3 -c "import keras" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH="/tmp/site:${PYTHONPATH:-}"
fi
export PYTHONPATH="$PWD:${PYTHONPATH:-}"
