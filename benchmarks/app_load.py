r"""The app under load in a real browser: memory with eight sessions, and a 12-megapixel photo's wait.

Starts ``streamlit run app.py`` and drives Debian's chromium with Playwright:

1. **Upload to result:** a session uploads a 12-megapixel JPEG (4000 x 3000) and waits until
   the denoised image and the line under it are on screen (the scores, latent maps and error
   map come after it). The app writes the model call's own time in that line, so the ratio of
   the two is measured in one run. Three fresh sessions do this one after another, each with a
   photo of its own; the first also pays the server's one-time costs (TensorFlow tracing the
   model for tiles of a new shape), and the median is reported.
2. **Eight sessions:** eight sessions at once each upload their own 12-megapixel JPEG and
   move the noise slider (25, then 30 by default, each time waiting for the whole page). The
   server's resident memory is sampled every 0.2 s; the peak and any error shown on a page
   are reported.
3. **Adapting** (``--adapt``): after the timed uploads, one more session uploads a photo, waits
   for its whole page, clicks "Adapt to this photo" and times the click until the adapted
   result is on screen.

Examples::

    python -m benchmarks.app_load --output results/app-load
    python -m benchmarks.app_load --sessions 0 --timed-uploads 1 --adapt \
        --noise-type "none — my photo is already noisy" --output results/app-load-adapt
"""

from __future__ import annotations

import argparse
import asyncio
import re
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image

from benchmarks.app_timing import streamlit_server
from benchmarks.benchmark import command_line, machine, write_report
from benchmarks.memory import noisy_photo

WIDTH, HEIGHT = 4000, 3000
#: The line the app writes under a result: "... 9.81 s for 4000×3000 (0.82 s per megapixel)".
RESULT_LINE = re.compile(r"([0-9.]+) s for (\d+)×(\d+)")
#: The caption the app writes under a quick look: "Quick look (photo-fast-color, 1.3 s); ...".
QUICK_LINE = re.compile(r"^Quick look \([^,]+, ([0-9.]+) s\)")
#: Headless Chromium on a machine with no network (its background connections would be refused).
CHROMIUM_ARGUMENTS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def make_photos(folder: Path, count: int) -> list[Path]:
    """Write ``count`` different noisy 12-megapixel JPEGs (the same scene, flipped and shifted)."""
    base = np.round(noisy_photo(HEIGHT, WIDTH) * 255).astype(np.uint8)
    paths = []
    for index in range(count):
        image = np.roll(base[:, ::-1] if index % 2 else base, 97 * index, axis=1)
        path = folder / f"photo-{index}.jpg"
        Image.fromarray(image).save(path, quality=90)
        paths.append(path)
    return paths


class MemorySampler:
    """Sample a process's resident memory (``VmRSS``) in a thread; keep the peak."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.peak_bytes = 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def resident_bytes(self) -> int:
        """Return the process's resident memory now."""
        status = Path(f"/proc/{self.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            resident = self.resident_bytes()
            self.peak_bytes = max(self.peak_bytes, resident)
            self.samples.append((round(time.monotonic() - started, 1), resident))
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exception: object) -> None:
        self._stop.set()
        self._thread.join()


async def result_line(  # noqa: ANN201
    page,  # noqa: ANN001
    previous: str | None = None,
    timeout: float = 1800,
    *,
    whole_page: bool = True,
) -> str:
    """Wait until the page shows a result line other than ``previous``; with ``whole_page``, until the run ends.

    The line comes right under the denoised image; the scores, latent maps and error map
    follow it.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = await page.locator("text=/ s for \\d+×\\d+/").all_inner_texts()
        busy = await page.get_by_text("Denoising…").count()
        running = await page.locator("[data-testid='stStatusWidget']").count() if whole_page else 0
        if lines and lines[0] != previous and not busy and not running:
            return lines[0]
        await asyncio.sleep(0.2)
    raise TimeoutError("no result within the time allowed")


async def page_errors(page) -> list[str]:  # noqa: ANN001
    """Return the first line of each error and exception a page shows."""
    alerts = await page.locator("[data-testid='stException'], [data-testid='stAlertContentError']").all_inner_texts()
    return [alert.splitlines()[0] for alert in alerts]


async def open_session(browser, url: str, noise_type: str | None = None):  # noqa: ANN001, ANN201
    """Open a fresh page (its own Streamlit session) and wait until it has drawn the whole sample page.

    With ``noise_type`` (a label of the sidebar's "Noise type"), choose it first and wait for
    the sample page that it draws.
    """
    page = await browser.new_page(viewport={"width": 1400, "height": 1800})
    page.set_default_timeout(900_000)  # eight sessions at once on two cores wait their turn
    await page.goto(url)
    # The download button is the last thing drawn for an image, after its latent maps: an upload
    # before it would wait for the sample's model work still under way.
    download = page.get_by_text("Download astronaut-sample-denoised.png")
    await download.wait_for(timeout=300_000)
    line = await result_line(page)
    if noise_type is not None:
        await page.locator("[data-testid='stSelectbox']").filter(has_text="Noise type").locator("input").click()
        await page.get_by_role("option", name=noise_type).click()
        await result_line(page, line)
        await download.wait_for(timeout=300_000)
        await result_line(page)
    return page


async def upload_to_result(browser, url: str, photo: Path, noise_type: str | None = None) -> dict:  # noqa: ANN001
    """Time one 12-megapixel upload until its result line shows; read the model call's time from it.

    Also times the first sight of the upload (its progress bar) and, where the model's family
    has a quick family, its quick look (the quicker model's result, shown while the full one runs).
    """
    page = await open_session(browser, url, noise_type)
    sample_line = await result_line(page)
    started = time.perf_counter()
    await page.locator("input[type=file]").set_input_files(str(photo))
    await page.get_by_text(re.compile("^(Denoising|Quick look)…")).first.wait_for()
    first_sight = time.perf_counter() - started
    quick_look = quick_model = None
    if await page.get_by_text(re.compile("^Quick look")).count():
        caption = page.get_by_text(re.compile(r"^Quick look \(")).first
        await caption.wait_for()
        quick_look = round(time.perf_counter() - started, 2)
        quick_model = float(QUICK_LINE.search(await caption.inner_text()).group(1))
    line = await result_line(page, sample_line, whole_page=False)
    seconds = time.perf_counter() - started
    model_seconds = float(RESULT_LINE.search(line).group(1))
    await page.close()
    return {
        "upload_to_progress_bar_seconds": round(first_sight, 2),
        "upload_to_quick_look_seconds": quick_look,
        "quick_model_call_seconds": quick_model,
        "upload_to_result_seconds": round(seconds, 2),
        "model_call_seconds": model_seconds,
        "ratio": round(seconds / model_seconds, 3),
        "result_line": line,
    }


async def upload_and_adapt(browser, url: str, photo: Path, noise_type: str | None = None) -> dict:  # noqa: ANN001
    """Upload a photo, wait for its whole page, then time "Adapt to this photo" until the adapted result shows."""
    page = await open_session(browser, url, noise_type)
    sample_line = await result_line(page)
    await page.locator("input[type=file]").set_input_files(str(photo))
    await result_line(page, sample_line)
    # Its download button comes last, after the latent maps: the page is whole, the sample's gone.
    await page.get_by_text(f"Download {photo.stem}-denoised.png").wait_for()
    await result_line(page)
    await page.locator("[data-testid='stExpander'] summary").filter(has_text="Adapt to this photo").last.click()
    started = time.perf_counter()
    await page.get_by_role("button", name="Adapt to this photo").last.click()
    caption = page.get_by_text(re.compile(r"^Adapted \(\d+ steps\)")).first
    await caption.wait_for()
    seconds = time.perf_counter() - started
    shown = await caption.inner_text()
    errors = await page_errors(page)
    await page.close()
    return {"click_to_adapted_result_seconds": round(seconds, 2), "caption": shown, "errors": errors}


async def timed_uploads(browser, url: str, photos: list[Path], noise_type: str | None) -> dict:  # noqa: ANN001
    """Time each photo's upload in a fresh session, one after another; give each and the median."""
    runs = [await upload_to_result(browser, url, photo, noise_type) for photo in photos]
    middle = sorted(runs, key=lambda run: run["ratio"])[len(runs) // 2]
    return {**middle, "runs": runs}


async def sweep(browser, url: str, photo: Path, steps: int, levels_per_step: int) -> dict:  # noqa: ANN001
    """One session: upload a photo, then move the noise slider ``steps`` times; return its results and errors."""
    page = await open_session(browser, url)
    line = await result_line(page)
    await page.locator("input[type=file]").set_input_files(str(photo))
    line = await result_line(page, line)
    lines = [line]
    for _ in range(steps):
        await page.locator("input[type=range][aria-label^='Level']").focus()
        for _ in range(levels_per_step):
            await page.keyboard.press("ArrowRight")
        line = await result_line(page, line)
        lines.append(line)
    errors = await page_errors(page)
    await page.close()
    return {"results": len(lines), "errors": errors}


async def run(
    url: str,
    photos: list[Path],
    timed: list[Path],
    steps: int,
    levels_per_step: int,
    pid: int,
    noise_type: str | None,
    adapt: Path | None = None,
) -> dict:
    """Measure against one server: ``timed`` photos' uploads, adapting to ``adapt``, then a session per photo.

    The timed uploads and the adapting choose ``noise_type`` first; ``adapt`` None: no adapting.
    """
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGUMENTS)
        timing = await timed_uploads(browser, url, timed, noise_type)
        adapting = None if adapt is None else await upload_and_adapt(browser, url, adapt, noise_type)
        sampler = MemorySampler(pid)
        before = sampler.resident_bytes()
        started = time.perf_counter()
        with sampler:
            sessions = await asyncio.gather(
                *(sweep(browser, url, photo, steps, levels_per_step) for photo in photos), return_exceptions=True
            )
        seconds = time.perf_counter() - started
        await browser.close()
    failures = [repr(session) for session in sessions if isinstance(session, BaseException)]
    finished = [session for session in sessions if not isinstance(session, BaseException)]
    return {
        "upload_to_result": timing,
        **({"adapt": adapting} if adapting is not None else {}),
        "sessions": {
            "count": len(photos),
            "noise_levels_per_session": steps + 1,
            "results_shown": sum(session["results"] for session in finished),
            "errors_shown": [error for session in finished for error in session["errors"]],
            "failures": failures,
            "seconds": round(seconds, 1),
            "resident_before_megabytes": round(before / 2**20),
            "peak_resident_megabytes": round(sampler.peak_bytes / 2**20),
            "samples": [(at, round(resident / 2**20)) for at, resident in sampler.samples[::10]],
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Measure, print a table and write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--steps", type=int, default=1, help="noise slider moves per session after the upload")
    parser.add_argument("--levels-per-step", type=int, default=5, help="slider steps (1 each) per move")
    parser.add_argument("--timed-uploads", type=int, default=3, help="12 MP uploads timed, one after another")
    parser.add_argument(
        "--noise-type",
        help="the sidebar's Noise type for the timed uploads, e.g. 'none — my photo is already noisy' "
        "(the photo model and its quick look); default: the page's own",
    )
    parser.add_argument("--adapt", action="store_true", help="also time 'Adapt to this photo' on one more upload")
    parser.add_argument("--output", default="results/app-load")
    arguments = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        photos = make_photos(Path(folder), arguments.timed_uploads + arguments.sessions + arguments.adapt)
        timed, loaded = photos[: arguments.timed_uploads], photos[arguments.timed_uploads :]
        adapt = loaded.pop() if arguments.adapt else None
        with streamlit_server(timeout=300) as (url, pid):
            measured = asyncio.run(
                run(url, loaded, timed, arguments.steps, arguments.levels_per_step, pid, arguments.noise_type, adapt)
            )
    timing, sessions = measured["upload_to_result"], measured["sessions"]
    report = {
        "command": command_line("app_load", argv),
        "machine": machine(),
        "image": f"{WIDTH}x{HEIGHT} RGB JPEG",
        **measured,
    }
    each = ", ".join(f"{run['ratio']:.2f}" for run in timing["runs"])
    rows = [
        ("12 MP upload → progress bar (median upload)", f"{timing['upload_to_progress_bar_seconds']:.1f} s"),
        (
            "12 MP upload → quick look (median upload)",
            "-"
            if timing["upload_to_quick_look_seconds"] is None
            else f"{timing['upload_to_quick_look_seconds']:.1f} s",
        ),
        (
            "quick model call alone (its caption)",
            "-" if timing["quick_model_call_seconds"] is None else f"{timing['quick_model_call_seconds']:.1f} s",
        ),
        ("12 MP upload → result (median upload)", f"{timing['upload_to_result_seconds']:.1f} s"),
        ("model call alone (the app's own line)", f"{timing['model_call_seconds']:.1f} s"),
        (f"ratio (goal ≤ 1.3); each upload in turn: {each}", f"{timing['ratio']:.2f}"),
        (
            "sessions at once, each a 12 MP photo",
            f"{sessions['count']} × {sessions['noise_levels_per_session']} levels",
        ),
        (
            "results shown / errors / failures",
            f"{sessions['results_shown']} / {len(sessions['errors_shown'])} / {len(sessions['failures'])}",
        ),
        (
            "server resident memory: before → peak (goal < 6 GB)",
            f"{sessions['resident_before_megabytes']} → {sessions['peak_resident_megabytes']} MB",
        ),
    ]
    if "adapt" in measured:
        adapting = measured["adapt"]
        rows.append(
            ("12 MP: 'Adapt to this photo' → adapted result", f"{adapting['click_to_adapted_result_seconds']:.1f} s")
        )
    print("| measurement | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    write_report(arguments.output, report)
    ok = not sessions["failures"] and not sessions["errors_shown"] and not measured.get("adapt", {}).get("errors")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
