"""Keep TensorFlow's and XLA's start-up logs away from users of the command line.

Importing TensorFlow and running its first model write lines such as "oneDNN custom operations
are on" and "failed call to cuInit" to the process's standard error, from C++, where Python's
``sys.stderr`` cannot catch them. :func:`quiet_native_logs` points file descriptor 2 at
``/dev/null`` while the libraries load and the model is read, then puts it back, so that
what the command says itself (one line per refused file) reaches the user alone.
:func:`first_line` makes that one line of an exception.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator

__all__ = ["first_line", "quiet_native_logs"]

#: Environment that lowers the libraries' own log levels, for the messages they print later.
QUIET_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "3"}


@contextlib.contextmanager
def quiet_native_logs() -> Iterator[None]:
    """Silence standard error at the file-descriptor level inside the block, and the libraries' loggers after it."""
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for name in ("tensorflow", "absl", "jax", "keras", "apache_beam"):
        logging.getLogger(name).setLevel(logging.ERROR)
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            try:
                yield
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def first_line(error: BaseException) -> str:
    """Return the first line of an exception's message, or its type's name if it has none."""
    text = str(error)
    return text.splitlines()[0] if text else type(error).__name__
