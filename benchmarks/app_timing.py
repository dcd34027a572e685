"""How long the app takes: cold start, upload to result (1 and 12 megapixels), a slider move.

- cold start: from launching ``streamlit run app.py`` until the server answers its health
  check, and the first full script run (imports, model load, the sample image denoised) in a
  fresh process through Streamlit's AppTest;
- upload to result: AppTest uploads a 1000 x 1000 RGB PNG and runs the whole page (denoise,
  latent maps, heat map, PNG for download), repeated for fresh images; then once for a
  12-megapixel photo, whose before/after slider is then moved three times (reruns whose model
  results all come from the cache).

Example::

    python -m benchmarks.app_timing --output results/app-timing
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parent.parent
#: The server's environment, as the README's command starts it: two malloc arenas, so that the
#: threads of many sessions do not each keep freed memory in an arena of their own.
SERVER_ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "2", "MALLOC_ARENA_MAX": "2"}


@contextlib.contextmanager
def streamlit_server(timeout: float = 120) -> Iterator[tuple[str, int]]:
    """Run ``streamlit run app.py`` on a free local port; yield its URL and process id once it is healthy."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **SERVER_ENVIRONMENT},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"streamlit did not start within {timeout:g} s") from None
                time.sleep(0.1)
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def server_start_seconds() -> float:
    """Seconds from ``streamlit run`` to a healthy server."""
    started = time.perf_counter()
    with streamlit_server():
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    """Measure and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--output", default="results/app-timing")
    arguments = parser.parse_args(argv)

    server_seconds = server_start_seconds()
    started = time.perf_counter()
    from streamlit.testing.v1 import AppTest

    import denoise
    from benchmarks.benchmark import command_line, machine, write_report

    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
    app.run()
    first_run_seconds = time.perf_counter() - started
    upload_seconds = []
    for repeat in range(arguments.repeats):
        photo = np.random.default_rng(repeat).random((1000, 1000, 3)).astype(np.float32) * 0.5 + 0.25
        data = denoise.encode_png(photo)
        started = time.perf_counter()
        app.get("file_uploader")[0].set_value([(f"photo-{repeat}.png", data, "image/png")]).run()
        upload_seconds.append(time.perf_counter() - started)
        if app.exception:
            raise RuntimeError(app.exception)
    large_seconds, slider_seconds = large_photo_seconds(app)
    report = {
        "command": command_line("app_timing", argv),
        "machine": machine(),
        "server_start_seconds": round(server_seconds, 2),
        "first_page_seconds": round(first_run_seconds, 2),
        "upload_to_result_1mp_seconds": [round(seconds, 2) for seconds in upload_seconds],
        "upload_to_result_1mp_median": round(float(np.median(upload_seconds)), 2),
        "upload_to_result_12mp_seconds": round(large_seconds, 2),
        "before_after_slider_12mp_seconds": [round(seconds, 2) for seconds in slider_seconds],
    }
    print("| measure | seconds |\n|---|---|")
    print(f"| server start (`streamlit run` to healthy) | {server_seconds:.1f} |")
    print(f"| first page in a fresh process (imports, model load, sample) | {first_run_seconds:.1f} |")
    print(
        f"| upload to result, 1 MP RGB (median of {arguments.repeats}) | {report['upload_to_result_1mp_median']:.2f} |"
    )
    print(f"| upload to result, 12 MP RGB | {large_seconds:.2f} |")
    print(f"| before/after slider moved, 12 MP RGB (median of 3) | {np.median(slider_seconds):.2f} |")
    write_report(arguments.output, report)
    return 0


def large_photo_seconds(app: AppTest) -> tuple[float, list[float]]:
    """Upload a 12-megapixel (4000 x 3000) photo to ``app``, then move its before/after slider three times.

    Returns the seconds from upload to result and of each slider move (a rerun in which every
    model result comes from the cache: what is left is the page's own work).
    """
    import denoise
    from benchmarks.memory import noisy_photo

    photo = noisy_photo(3000, 4000)  # the photo benchmarks.device_speed times at 12 megapixels
    started = time.perf_counter()
    app.get("file_uploader")[0].set_value(
        [("large.png", denoise.encode_png(photo, compress_level=1), "image/png")]
    ).run()
    upload_seconds = time.perf_counter() - started
    slider_seconds = []
    for position in (0.3, 0.6, 0.4):
        slider = next(slider for slider in app.slider if slider.label.startswith("Before"))
        started = time.perf_counter()
        slider.set_value(position).run()
        slider_seconds.append(time.perf_counter() - started)
    if app.exception:
        raise RuntimeError(app.exception)
    return upload_seconds, slider_seconds


if __name__ == "__main__":
    sys.exit(main())
