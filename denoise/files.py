"""Writing files so that a reader never sees half of one: a temporary file renamed into place."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

__all__ = ["write_atomically", "write_json"]


def write_atomically(path: Path, write: Callable[[str], object], suffix: str | None = None) -> None:
    """Call ``write(temporary_path)`` beside ``path`` and rename the result onto ``path``.

    The temporary file ends in ``suffix`` (default: ``path``'s own, which writers such as
    Keras's ``save`` check); it is removed if ``write`` fails.
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix if suffix is None else suffix
    )
    os.close(descriptor)
    try:
        write(temporary)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_json(path: Path, content: object) -> None:
    """Write ``content`` as indented JSON to ``path``, atomically."""
    write_atomically(path, lambda temporary: Path(temporary).write_text(json.dumps(content, indent=2) + "\n"))
