"""End to end in a real browser: Debian's chromium driven by Playwright against `streamlit run`."""

import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from benchmarks.app_load import CHROMIUM_ARGUMENTS
from benchmarks.app_timing import streamlit_server
from denoise import add_noise, psnr, read_image, write_png

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SCREENSHOT = ROOT / "docs" / "app-screenshot.png"

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def server():
    with streamlit_server() as (url, _):
        yield url


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGUMENTS,
        )
        yield browser
        browser.close()


@pytest.fixture
def page(server, browser, request, tmp_path_factory):
    """A fresh page on the app; when the test fails, a screenshot of it at that moment.

    The screenshot's path is printed, so a failure seen only in CI says what was on screen.
    """
    failed_before = request.session.testsfailed
    page = browser.new_page(viewport={"width": 1400, "height": 1800}, accept_downloads=True)
    page.goto(server)
    yield page
    if request.session.testsfailed > failed_before:
        path = tmp_path_factory.mktemp("failed") / f"{request.node.name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"screenshot of the failed page: {path}")
    page.close()


#: How many times a test clicks a button whose click Streamlit may drop (:func:`click_until`).
CLICKS = 3


def click_until(attempt: Callable[[], None], button: str) -> None:
    """Run ``attempt`` (a click and a wait for its effect) until it succeeds, at most :data:`CLICKS` times.

    Streamlit can drop a click that lands while the server is still busy with earlier reruns:
    on this loaded 2-core machine the click's message reached the server and nothing happened,
    about one time in four for "Start training", and once for a download button with the page
    fully drawn. A user clicks again, and so does this; ``attempt`` raises Playwright's timeout
    when its effect does not come.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    for _ in range(CLICKS):
        try:
            attempt()
            return
        except PlaywrightTimeoutError:
            continue
    raise AssertionError(f"{CLICKS} clicks on {button!r} and nothing happened")


def start_training(page, name: str) -> None:
    """Click "Start training" until the page lists the run called ``name``.

    A second click on a run that did start is refused (the name is taken) and changes nothing.
    """
    listed = page.get_by_role("heading", name=re.compile(f"^{re.escape(name)}: "))

    def attempt() -> None:
        page.get_by_role("button", name="Start training").click()
        listed.wait_for(timeout=30_000)

    click_until(attempt, "Start training")


def download(page, button: str, path: Path) -> None:
    """Click the download button named ``button`` until the browser gets its file; save it at ``path``."""

    def attempt() -> None:
        with page.expect_download(timeout=30_000) as download_info:
            page.get_by_role("button", name=button).click()
        download_info.value.save_as(path)

    click_until(attempt, button)


def test_upload_move_sliders_and_download(page, tmp_path, camera):
    clean = camera[96:352, 64:384]  # 256 x 320 grey
    upload_path = tmp_path / "camera.png"
    write_png(upload_path, clean)
    page.get_by_text("astronaut-sample.png").first.wait_for(timeout=120_000)

    page.locator("input[type=file]").set_input_files(str(upload_path))
    page.get_by_role("heading", name="camera.png").wait_for(timeout=120_000)

    # Noise level: default 25, five steps right makes 30.
    page.locator("input[type=range][aria-label^='Level']").focus()
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.get_by_text("30.00").first.wait_for(timeout=30_000)

    # Latent size: switch to the conv family and step the slider one size down.
    page.get_by_text("Latent-size family (conv autoencoder)").click()
    latent_slider = page.locator("input[type=range][aria-label^='Latent size']")
    latent_slider.wait_for(state="attached")
    page.wait_for_function("() => !document.querySelector(\"input[aria-label^='Latent size']\").disabled")
    latent_slider.focus()
    page.keyboard.press("ArrowLeft")
    page.get_by_text("conv-").first.wait_for(timeout=60_000)
    page.get_by_text("Best quality (U-Net)").click()
    page.get_by_text("unet-gray on").first.wait_for(timeout=60_000)
    page.get_by_text("32 × 40 × 128").first.wait_for(timeout=60_000)  # the U-Net's latent section is drawn
    # Wait for the whole page: original, noisy, denoised, split, latent grid and error map, all loaded.
    page.wait_for_function(
        "() => document.images.length >= 6 && [...document.images].every(image => image.complete)", timeout=60_000
    )
    # Every image on the page loaded: none was deleted by a run that a slider move cut short.
    broken = page.evaluate("() => [...document.images].filter(image => image.naturalWidth === 0).map(i => i.src)")
    assert broken == []

    downloaded = tmp_path / "downloaded.png"
    download(page, "Download camera-denoised.png", downloaded)
    page.screenshot(path=str(tmp_path / "screenshot.png"), full_page=True)
    SCREENSHOT.parent.mkdir(exist_ok=True)
    shutil.copy(tmp_path / "screenshot.png", SCREENSHOT)

    with Image.open(downloaded) as result:
        assert result.format == "PNG" and result.size == (320, 256)
    denoised = read_image(downloaded).pixels[:, :, 0]
    noisy = add_noise(read_image(upload_path).pixels, "gaussian", 30, seed=0)[:, :, 0]
    assert psnr(clean, denoised) > psnr(clean, noisy) + 3
    assert np.asarray(Image.open(io.BytesIO(SCREENSHOT.read_bytes()))).size > 0


def test_train_a_tiny_model_in_the_browser_then_denoise_with_it(page):
    page.get_by_role("link", name="Train").click()
    page.get_by_role("heading", name="Train your own model").wait_for(timeout=120_000)
    page.get_by_role("textbox", name="Model name").fill("browser-tiny")
    budget = page.get_by_role("spinbutton", name="Train for (minutes)")
    budget.fill("0.1")
    budget.press("Enter")
    page.get_by_text("Fine-tunes the shipped model unet-color.").wait_for(timeout=60_000)
    start_training(page, "browser-tiny")
    page.get_by_text("browser-tiny: finished").wait_for(timeout=300_000)
    page.get_by_role("link", name="Denoise").click()
    page.get_by_text("Your models (Train page)").first.wait_for(timeout=120_000)
    page.get_by_text("Your models (Train page)").first.click()
    # Other tests may have trained models too: pick this one.
    page.locator("[data-testid='stSelectbox']").filter(has_text="Your model").click()
    page.get_by_role("option", name="browser-tiny").click()
    page.get_by_text("browser-tiny on").first.wait_for(timeout=120_000)


def test_train_on_noisy_images_only_in_the_browser(page, tmp_path, astronaut):
    rng = np.random.default_rng(4)
    paths = []
    for index, (top, left) in enumerate(((0, 0), (96, 160), (256, 256))):
        noisy = np.clip(astronaut[top : top + 96, left : left + 128] + rng.normal(0, 0.08, (96, 128, 3)), 0, 1)
        paths.append(tmp_path / f"noisy-{index}.png")
        write_png(paths[-1], noisy)
    page.get_by_role("link", name="Train").click()
    page.get_by_role("heading", name="Train your own model").wait_for(timeout=120_000)
    page.get_by_text("noisy images only").click()
    page.get_by_text("Fine-tunes the shipped model photo-color.").wait_for(timeout=60_000)
    page.locator("input[type=file]").set_input_files([str(path) for path in paths])
    page.get_by_text("noisy-2.png").wait_for(timeout=60_000)
    page.get_by_role("textbox", name="Model name").fill("browser-noisy")
    budget = page.get_by_role("spinbutton", name="Train for (minutes)")
    budget.fill("0.1")
    budget.press("Enter")
    start_training(page, "browser-noisy")
    page.get_by_text("browser-noisy: finished").wait_for(timeout=300_000)
    # No clean image: the page says what its scores are against.
    page.get_by_text("No clean images exist").first.wait_for(timeout=60_000)
