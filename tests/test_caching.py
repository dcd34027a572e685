"""The shared, byte-bounded cache the app keeps its images and results in."""

import threading
from dataclasses import dataclass, field

import numpy as np
import pytest

from denoise.caching import SharedCache, size_in_bytes


@dataclass(frozen=True)
class Pair:
    first: np.ndarray
    second: np.ndarray
    label: str = "x"


def test_sizes_count_arrays_and_bytes_inside_containers():
    image = np.zeros((100, 100, 3), np.float32)
    assert size_in_bytes(image) == 120_000
    assert size_in_bytes(Pair(image, image)) >= 240_000
    assert size_in_bytes((image, b"12345")) >= 120_005
    assert size_in_bytes({"a": image}) >= 120_000


def test_values_are_kept_until_the_byte_budget_pushes_the_oldest_out():
    cache = SharedCache(max_bytes=3_000_000, workers=2)
    calls = []

    @cache.memoize
    def image(seed: int) -> np.ndarray:
        calls.append(seed)
        return np.full((500, 500), seed, np.float32)  # 1 MB each

    first = image(1)
    assert image(1) is first and calls == [1]
    image(2), image(3), image(4)  # 4 MB asked for, 3 MB allowed: the least recently used goes
    assert cache.current_bytes <= 3_000_000
    assert not image.kept(1) and image.kept(4)  # asking computes nothing
    image(1)
    assert calls == [1, 2, 3, 4, 1] and image.kept(1)
    huge = SharedCache(max_bytes=100, workers=1).memoize(lambda: np.zeros(1000))
    assert huge().shape == (1000,)  # too large to keep: returned all the same


def test_arrays_are_keys_by_identity_and_dead_ones_match_nothing():
    cache = SharedCache(max_bytes=10_000_000, workers=1)
    calls = []

    @cache.memoize
    def total(array: np.ndarray) -> float:
        calls.append(1)
        return float(array.sum())

    array = np.ones(10)
    assert total(array) == total(array) == 10 and len(calls) == 1
    assert total(np.ones(10)) == 10 and len(calls) == 2  # equal content, another array: computed
    del array
    assert total(np.full(10, 2.0)) == 20  # whatever id it gets, it is not the dead array


def test_keyword_arguments_are_passed_on_but_not_keys():
    cache = SharedCache(max_bytes=10_000, workers=1)
    heard = []

    @cache.memoize
    def work(value: int, progress=None) -> int:
        progress(value)
        return value * 2

    assert work(3, progress=heard.append) == 6 and work(3, progress=heard.append) == 6
    assert heard == [3]  # the second call was a hit


def test_concurrent_callers_of_one_key_wait_for_one_computation_and_share_its_error():
    cache = SharedCache(max_bytes=10_000, workers=4)
    started, release = threading.Event(), threading.Event()
    calls = []

    @cache.memoize
    def slow(key: str) -> str:
        calls.append(key)
        started.set()
        release.wait(10)
        if key == "bad":
            raise ValueError("refused")
        return key.upper()

    results = []
    threads = [threading.Thread(target=lambda: results.append(slow("good"))) for _ in range(4)]
    for thread in threads:
        thread.start()
    assert started.wait(10)
    release.set()
    for thread in threads:
        thread.join(10)
    assert results == ["GOOD"] * 4 and calls == ["good"]
    with pytest.raises(ValueError, match="refused"):
        slow("bad")
    with pytest.raises(ValueError, match="refused"):
        slow("bad")  # errors are not kept: it runs again
    assert calls == ["good", "bad", "bad"]


def test_at_most_workers_compute_at_once_and_nested_calls_share_a_turn():
    cache = SharedCache(max_bytes=10_000, workers=2)
    running, most = [0], [0]
    lock = threading.Lock()
    gate = threading.Barrier(2, timeout=10)

    @cache.memoize
    def inner(key: int) -> int:
        return key

    @cache.memoize
    def outer(key: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        if key < 2:
            gate.wait()  # the first two run together
        value = inner(key)  # nested: no second turn needed, so no deadlock
        with lock:
            running[0] -= 1
        return value

    threads = [threading.Thread(target=outer, args=(key,)) for key in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert most[0] == 2 and not any(thread.is_alive() for thread in threads)


def test_dataclasses_are_keys_by_their_fields_even_when_their_class_is_defined_again():
    cache = SharedCache(max_bytes=10_000, workers=1)
    calls = []

    @cache.memoize
    def work(choice: object) -> int:
        calls.append(choice)
        return 1

    for _ in range(2):  # as a Streamlit page defines its classes on every run

        @dataclass(frozen=True)
        class Choice:
            name: str
            data: bytes = field(default=b"", compare=False)

        work(Choice("a", b"x")), work(Choice("a", b"y"))
    work(Choice("b"))
    assert [choice.name for choice in calls] == ["a", "b"]


def test_a_stopped_computation_is_not_kept_and_a_waiting_caller_computes_it_itself():
    class Stopped(BaseException):  # as Streamlit stops a session's script for a rerun
        pass

    cache = SharedCache(max_bytes=10_000, workers=2)
    started, release = threading.Event(), threading.Event()
    calls = []

    @cache.memoize
    def work(key: str) -> str:
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            started.set()
            release.wait(10)
            raise Stopped
        return key.upper()

    def first() -> None:
        with pytest.raises(Stopped):
            work("a")

    stopped = threading.Thread(target=first, name="stopped")
    stopped.start()
    assert started.wait(10)
    results = []
    waiting = threading.Thread(target=lambda: results.append(work("a")), name="waiting")
    waiting.start()
    release.set()
    stopped.join(10)
    waiting.join(10)
    assert results == ["A"] and calls == ["stopped", "waiting"]
