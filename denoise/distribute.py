"""Data-parallel training on the engines Keras already has: ``denoise train --distribute``.

* **JAX:** :class:`keras.distribution.DataParallel` over every device of every process. Several
  hosts (or processes) join with :func:`keras.distribution.initialize`: the coordinator's
  address, the number of processes and this process's id come as arguments or through Keras's
  environment variables (``KERAS_DISTRIBUTION_JOB_ADDRESSES``,
  ``KERAS_DISTRIBUTION_NUM_PROCESSES``, ``KERAS_DISTRIBUTION_PROCESS_ID``).
* **TensorFlow:** ``tf.distribute.MirroredStrategy`` over this host's devices.

Each batch is split between the devices and their gradients averaged, so a run on several
devices follows the same path as on one, up to float rounding: the batch size is the global one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import keras

__all__ = ["DistributeOptions", "data_parallel", "process_count", "process_index"]


@dataclass(frozen=True)
class DistributeOptions:
    """Where the processes of a multi-process (JAX) run find each other; all None on one process.

    Attributes
    ----------
    coordinator : str or None
        ``HOST:PORT`` of process 0.
    num_processes : int or None
        How many processes train together.
    process_id : int or None
        This process's number, 0 for the coordinator.

    """

    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None

    @property
    def multi_process(self) -> bool:
        """Whether this run joins other processes (here or through Keras's environment variables)."""
        count = self.num_processes or int(os.environ.get("KERAS_DISTRIBUTION_NUM_PROCESSES", "1"))
        return count > 1


#: Whether this process has joined the others (JAX allows it once per process).
_joined: list[bool] = []


def process_count() -> int:
    """Return how many processes train together (1 but in a multi-process JAX run)."""
    if keras.backend.backend() != "jax":
        return 1
    import jax

    return jax.process_count()


def process_index() -> int:
    """Return the number of this process in a multi-process run; 0 otherwise."""
    if keras.backend.backend() != "jax":
        return 0
    import jax

    return jax.process_index()


@contextlib.contextmanager
def data_parallel(options: DistributeOptions = DistributeOptions()) -> Iterator[str]:  # noqa: B008 - frozen
    """Build, compile and fit models inside this block to train them data-parallel; yield what runs.

    Raises
    ------
    ValueError
        On another backend than JAX or TensorFlow, or for several processes under TensorFlow.

    """
    backend = keras.backend.backend()
    if backend == "jax":
        if options.multi_process and not _joined:
            # Before anything else touches JAX's devices, which would start it on this process alone.
            keras.distribution.initialize(options.coordinator, options.num_processes, options.process_id)
            _joined.append(True)
        devices = keras.distribution.list_devices()
        previous = keras.distribution.distribution()
        # Each process cuts its own share of every batch (denoise.training), so Keras need not shard.
        parallel = keras.distribution.DataParallel(devices=devices, auto_shard_dataset=not options.multi_process)
        keras.distribution.set_distribution(parallel)
        try:
            yield f"JAX DataParallel over {len(devices)} devices"
        finally:
            keras.distribution.set_distribution(previous)
    elif backend == "tensorflow":
        if options.multi_process:
            raise ValueError("several processes need the JAX backend (KERAS_BACKEND=jax); TensorFlow runs on one host")
        import tensorflow as tf  # only here: the TensorFlow engine's own strategy

        strategy = tf.distribute.MirroredStrategy()
        with strategy.scope():
            yield f"TensorFlow MirroredStrategy over {strategy.num_replicas_in_sync} devices"
    else:
        raise ValueError(f"--distribute runs on the JAX or TensorFlow backend, not {backend}")
