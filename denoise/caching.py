"""A cache shared by every session of a server, bounded in bytes, that also paces heavy work.

The app keeps decoded uploads, noisy images and results so that moving a slider back is
instant. Kept without a bound, one 12-megapixel photo with the noise slider swept held about
6 GB. :class:`SharedCache` keeps its values in one least-recently-used cache whose size is
counted in bytes (:func:`size_in_bytes`, with ``cachetools``), and:

* computes each value once even when several sessions ask for it at the same moment (the
  others wait for it);
* lets at most ``workers`` computations run at once (nested calls share their caller's turn),
  so eight sessions uploading at once do not each hold a 12-megapixel photo's temporaries;
* keys NumPy arrays by identity (it holds only a weak reference to them), since hashing a
  large image on every call would cost more than the work it saves, and dataclasses by their
  fields. Arrays handed out are shared between sessions, so callers make them read-only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import sys
import threading
import weakref
from collections.abc import Callable, Hashable, Iterator
from typing import Any, TypeVar

import cachetools
import numpy as np

__all__ = ["SharedCache", "size_in_bytes"]

Function = TypeVar("Function", bound=Callable[..., Any])


def size_in_bytes(value: object) -> int:
    """Return the bytes a value holds: its arrays and byte strings, in tuples, lists, dicts and dataclasses."""
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, (tuple, list)):
        return sum(size_in_bytes(item) for item in value) + sys.getsizeof(value)
    if isinstance(value, dict):
        return sum(size_in_bytes(item) for item in value.values()) + sys.getsizeof(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(size_in_bytes(getattr(value, item.name)) for item in dataclasses.fields(value))
    return sys.getsizeof(value)


class _ArrayKey:
    """An array in a cache key, by identity; dead arrays match nothing."""

    __slots__ = ("_identity", "_reference")

    def __init__(self, array: np.ndarray) -> None:
        self._identity = id(array)
        self._reference = weakref.ref(array)

    def __hash__(self) -> int:
        return self._identity

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _ArrayKey):
            return NotImplemented
        mine = self._reference()
        return mine is not None and mine is other._reference()


def _key_part(argument: object) -> Hashable:
    """Return what stands for an argument in a key.

    An array stands by identity (:class:`_ArrayKey`); a dataclass by its class's name and the
    fields it compares, so that a script that defines its classes anew on every run (as a
    Streamlit page does) still finds what the last run kept.
    """
    if isinstance(argument, np.ndarray):
        return _ArrayKey(argument)
    if dataclasses.is_dataclass(argument) and not isinstance(argument, type):
        fields = (item.name for item in dataclasses.fields(argument) if item.compare)
        return (type(argument).__qualname__, *(_key_part(getattr(argument, name)) for name in fields))
    return argument


@dataclasses.dataclass
class _Pending:
    """A value one thread is computing; others wait on ``done``."""

    done: threading.Event = dataclasses.field(default_factory=threading.Event)
    value: object = None
    error: Exception | None = None
    abandoned: bool = False


class SharedCache:
    """Memoize functions into one cache of at most ``max_bytes``, with at most ``workers`` computing at once.

    Parameters
    ----------
    max_bytes : int
        What the kept values may hold in all (:func:`size_in_bytes`); the least recently used
        go first. A value larger than this is returned but not kept.
    workers : int
        How many computations may run at once.

    """

    def __init__(self, max_bytes: int, workers: int) -> None:
        self.max_bytes = max_bytes
        self._values: cachetools.LRUCache = cachetools.LRUCache(max_bytes, getsizeof=size_in_bytes)
        self._lock = threading.Lock()
        self._pending: dict[Hashable, _Pending] = {}
        self._turns = threading.BoundedSemaphore(workers)
        self._holding = threading.local()

    @property
    def current_bytes(self) -> int:
        """What the kept values hold now."""
        with self._lock:
            return int(self._values.currsize)

    def clear(self) -> None:
        """Forget every kept value."""
        with self._lock:
            self._values.clear()

    @contextlib.contextmanager
    def _turn(self) -> Iterator[None]:
        """Wait for a turn to compute, unless this thread holds one already."""
        if getattr(self._holding, "turn", False):
            yield
            return
        with self._turns:
            self._holding.turn = True
            try:
                yield
            finally:
                self._holding.turn = False

    def memoize(self, function: Function) -> Function:
        """Decorate ``function``: its results are kept by its positional arguments (hashable values or arrays).

        Keyword arguments are passed on but are not part of the key: callbacks such as a
        progress bar's, which only the call that computes the value hears from. The decorated
        function's ``kept(*arguments)`` says whether the value for those arguments is kept now,
        without computing it.
        """

        def key_of(arguments: tuple[object, ...]) -> Hashable:
            return (function.__qualname__, *(_key_part(argument) for argument in arguments))

        def kept(*arguments: object) -> bool:
            key = key_of(arguments)
            with self._lock:
                return key in self._values

        @functools.wraps(function)
        def cached(*arguments: object, **passed_on: object) -> object:
            key = key_of(arguments)
            while True:
                with self._lock:
                    with contextlib.suppress(KeyError):
                        return self._values[key]
                    pending = self._pending.get(key)
                    computing = pending is None
                    if computing:
                        pending = self._pending[key] = _Pending()
                if computing:
                    break
                pending.done.wait()
                if pending.abandoned:  # its thread was stopped (a session's rerun): compute it here
                    continue
                if pending.error is not None:
                    raise pending.error
                return pending.value
            try:
                with self._turn():
                    pending.value = function(*arguments, **passed_on)
            except Exception as error:
                pending.error = error
                raise
            except BaseException:  # the computing thread was stopped: the waiting ones try again
                pending.abandoned = True
                raise
            finally:
                with self._lock:
                    if pending.error is None and not pending.abandoned:
                        with contextlib.suppress(ValueError):  # larger than the whole cache: not kept
                            self._values[key] = pending.value
                    del self._pending[key]
                pending.done.set()
            return pending.value

        cached.kept = kept  # type: ignore[attr-defined]
        return cached  # type: ignore[return-value]
