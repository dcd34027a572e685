"""The Streamlit app driven through Streamlit's AppTest, with the shipped models."""

import contextlib
import io
import re
import threading
import traceback
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest
import streamlit.testing.v1.app_test as app_test_module
import tifffile
from PIL import Image
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from denoise import available_models, encode_png
from tests.images import encode, gradient, png_bytes

APP = str(Path(__file__).resolve().parent.parent / "app.py")


class Media:
    """The media files of AppTest's runs, to read back what the browser would fetch."""

    def __init__(self) -> None:
        self.managers: list[MediaFileManager] = []
        self.storages: list[MemoryMediaFileStorage] = []

    def file(self, url: str) -> bytes:
        """The file at ``url``, from the latest run."""
        return self.storages[-1].get_file(url.rsplit("/", 1)[-1]).content

    def click(self, app: AppTest, label_start: str) -> bytes:
        """Click a download button of the latest run: its data is made then, as on a server."""
        button = next(button for button in app.get("download_button") if button.label.startswith(label_start))
        assert not button.proto.url, "the data was made before the click"
        return self.file(self.managers[-1].execute_deferred(button.proto.deferred_file_id))


@pytest.fixture
def media(monkeypatch):
    """Keep the media managers and storages AppTest creates, so their files can be read back."""
    recorded = Media()

    class RecordingManager(MediaFileManager):
        def __init__(self, storage: MemoryMediaFileStorage) -> None:
            super().__init__(storage)
            recorded.managers.append(self)
            recorded.storages.append(storage)

    monkeypatch.setattr(app_test_module, "MediaFileManager", RecordingManager)
    return recorded


def start() -> AppTest:
    app = AppTest.from_file(APP, default_timeout=180)
    app.run()
    assert not app.exception, app.exception
    return app


def upload(app: AppTest, *files: tuple[str, bytes]) -> AppTest:
    app.get("file_uploader")[0].set_value([(name, data, "image/png") for name, data in files]).run()
    assert not app.exception, app.exception
    return app


def test_first_visit_shows_the_sample():
    app = start()
    assert [header.value for header in app.subheader] == ["astronaut-sample.png"]
    assert len(app.metric) == 2 and app.metric[0].value.endswith("dB")
    where = r"on (CPU|GPU).* in (float32|mixed|bfloat16) precision"
    assert any(re.search(where, caption.value) for caption in app.caption)
    assert any("Latent feature maps" in str(image.proto) for image in app.get("image"))
    urls = [item.url for image in app.get("image") for item in image.proto.imgs]
    assert len(urls) >= 6 and all(url.endswith(".png") for url in urls), urls  # never re-encoded as JPEG


def test_reruns_keep_the_keras_session():
    """Streamlit's clear_session after each run would empty TensorFlow's kernel cache (app.py)."""
    app = start()
    before = keras.layers.Dense(1).name
    app.run()
    assert keras.layers.Dense(1).name != before  # a cleared session restarts Keras's name counter


def test_a_page_loads_its_model_once_for_the_result_and_the_latent_maps(monkeypatch):
    import streamlit as st

    import denoise

    loaded = []
    load = denoise.load_model
    monkeypatch.setattr(denoise, "load_model", lambda name, **options: loaded.append(name) or load(name, **options))
    st.cache_resource.clear()  # the models may be loaded by an earlier test: the caches live as long as the process
    app = start()
    assert any("Latent feature maps" in str(image.proto) for image in app.get("image"))
    assert loaded == ["default"]


def test_reruns_leave_standard_error_alone(monkeypatch):
    """Pointing file descriptor 2 away on every rerun would hide what other sessions' threads write."""
    import denoise.quiet

    quieted = []
    monkeypatch.setattr(denoise.quiet, "quiet_native_logs", lambda: quieted.append(1) or contextlib.nullcontext())
    start().run()
    assert quieted == []  # TensorFlow was imported before: nothing left to quiet


def test_upload_good_and_bad_files(media):
    app = upload(
        start(), ("good.png", png_bytes(48, 64)), ("bad.png", b"<html>no</html>"), ("other.png", png_bytes(20, 30, 1))
    )
    assert len(app.error) == 1 and app.error[0].value.startswith("bad.png:")
    assert [header.value for header in app.subheader] == ["good.png", "other.png"]
    result = Image.open(io.BytesIO(media.click(app, "Download good-denoised.png")))
    assert result.format == "PNG" and result.size == (64, 48) and result.mode == "RGB"
    grey = Image.open(io.BytesIO(media.click(app, "Download other-denoised.png")))
    assert grey.size == (30, 20) and grey.mode == "L"


def test_files_of_the_same_name_are_numbered_and_each_gets_its_result(media):
    app = upload(start(), *[("photo.png", png_bytes(8 * size, 8 * size)) for size in (2, 3, 4)])
    assert [header.value for header in app.subheader] == ["photo.png", "photo (2).png", "photo (3).png"]
    third = Image.open(io.BytesIO(media.click(app, "Download photo_3-denoised.png")))
    assert third.size == (32, 32)
    archive = zipfile.ZipFile(io.BytesIO(media.click(app, "Download all as ZIP")))
    assert archive.namelist() == ["photo-denoised.png", "photo_2-denoised.png", "photo_3-denoised.png"]


def test_images_smaller_than_the_ssim_window_are_denoised_and_scored_by_psnr():
    app = upload(start(), ("strip.png", png_bytes(5, 64)), ("dot.png", png_bytes(1, 1)))
    assert not app.error and [header.value for header in app.subheader] == ["strip.png", "dot.png"]
    assert [metric.label for metric in app.metric] == ["PSNR", "PSNR"]


def test_zip_of_all_results(media):
    app = upload(start(), ("a.png", png_bytes(32, 32)), ("b.png", png_bytes(16, 24)))
    archive = zipfile.ZipFile(io.BytesIO(media.click(app, "Download all as ZIP")))
    assert archive.namelist() == ["a-denoised.png", "b-denoised.png"]
    assert Image.open(io.BytesIO(archive.read("b-denoised.png"))).size == (24, 16)
    # PNGs are compressed already: deflating them again on every rerun only cost time.
    assert {entry.compress_type for entry in archive.infolist()} == {zipfile.ZIP_STORED}


def test_reruns_reuse_the_shared_full_size_images_which_no_session_can_change(monkeypatch):
    import denoise.pipeline

    results = []
    run = denoise.pipeline.denoise_image
    monkeypatch.setattr(
        denoise.pipeline,
        "denoise_image",
        lambda *arguments, **options: results.append(run(*arguments, **options)) or results[-1],
    )
    app = start()
    results.clear()  # the sample may be cached from an earlier test: the caches live as long as the process
    photo = encode_png(np.random.default_rng(20261128).random((40, 48, 3), dtype=np.float32))  # in no other test
    app = upload(app, ("photo.png", photo))
    app.slider(key="split-photo.png").set_value(0.3).run()
    upload(app, ("same photo.png", photo))
    assert len(results) == 1  # the slider and the same bytes under another name hit the cache
    for image in (results[0].noisy, results[0].denoised):
        with pytest.raises(ValueError, match="read-only"):
            image[0, 0] = 0


@pytest.mark.parametrize("label", ["Gaussian", "Poisson", "Salt & pepper", "Speckle"])
def test_every_noise_type_and_level(label):
    app = start()
    app.sidebar.selectbox[0].select(label).run()
    slider = app.sidebar.slider[0]
    low = app.metric[0].value
    slider.set_value(slider.max).run()
    assert not app.exception
    assert app.metric[0].value != low  # a new level gives a new result


def test_a_noise_level_of_zero_compares_with_the_original_not_with_minus_infinity():
    app = upload(start(), ("p.png", png_bytes(40, 48)))
    next(slider for slider in app.sidebar.slider if slider.label.startswith("Level")).set_value(0.0).run()
    assert not app.exception
    psnr = next(metric for metric in app.metric if metric.label == "PSNR")
    assert psnr.value.endswith(" dB") and psnr.proto.delta == "no noise at this level"


def test_already_noisy_photo_runs_the_photo_model_once_with_a_strength_slider():
    app = start()
    app.sidebar.selectbox[0].select("none — my photo is already noisy").run()
    upload(app, ("photo.png", png_bytes(48, 64)))
    captions = [item.caption for image in app.get("image") for item in image.proto.imgs]
    assert "Input" in captions and "Original" not in captions and "Noisy" not in captions  # shown once
    assert any(caption.value.startswith("photo-color on") for caption in app.caption)
    strength = next(slider for slider in app.sidebar.slider if slider.label == "Strength")
    strength.set_value(0.0).run()
    assert not app.exception
    assert any("photo-color, strength 0 on" in caption.value for caption in app.caption)


def test_already_noisy_photo_shows_estimated_sigma():
    app = start()
    app.sidebar.selectbox[0].select("none — my photo is already noisy").run()
    noisy = np.clip(np.full((64, 64), 0.5) + np.random.default_rng(0).normal(0, 20 / 255, (64, 64)), 0, 1)
    buffer = io.BytesIO()
    Image.fromarray((noisy * 255).astype(np.uint8)).save(buffer, format="PNG")
    upload(app, ("noisy.png", buffer.getvalue()))
    estimate = app.metric[0].value
    assert estimate.startswith("σ ≈")
    assert 15 < float(estimate.split("≈")[1].split()[0]) < 25


def test_latent_slider_moves_over_shipped_sizes():
    sizes = sorted({card["latent_size"] for card in available_models().values() if card["architecture"] == "conv"})
    app = start()
    app.sidebar.radio[0].set_value("Latent-size family (conv autoencoder)").run()
    assert any("show what a bottleneck costs" in caption.value for caption in app.sidebar.caption)
    latent_slider = app.sidebar.select_slider[0]
    assert list(latent_slider.options) == [str(size) for size in sizes]
    counts = []
    for size in (sizes[0], sizes[-1]):
        latent_slider.set_value(size).run()
        assert not app.exception
        assert any(f"conv-{size}-color on" in caption.value for caption in app.caption)
        text = next(markdown.value for markdown in app.markdown if "latent values for" in markdown.value)
        assert f"× {size}**" in text and "fewer than the input" in text
        counts.append(int(text.split("— ")[1].split(" latent")[0].replace(",", "")))
    assert counts[0] < counts[1]


def test_latent_description_says_compression_or_expansion():
    from denoise.visualize import describe_latent

    assert describe_latent((4, 4, 1), 256).endswith("(16.0× fewer than the input)")
    assert "**4 × 4 × 128** — 2,048 latent values" in describe_latent((4, 4, 128), 1024)
    assert describe_latent((4, 4, 128), 1024).endswith("(2.0× as many as the input)")


def test_before_after_slider_and_comparison():
    app = start()
    app.slider(key="split-astronaut-sample.png").set_value(0.2).run()
    assert not app.exception
    app.sidebar.checkbox[0].check().run()  # non-local means
    assert any("Non-local means — PSNR" in str(image.proto) for image in app.get("image"))
    assert all("per megapixel" in checkbox.proto.help for checkbox in app.sidebar.checkbox)  # what each costs


@pytest.fixture
def shared_runtime(monkeypatch):
    """Let AppTest sessions run in threads.

    AppTest installs a stand-in for Streamlit's process-wide Runtime at the start of every run
    and removes it at the end, so one session finishing would pull it from under the others.
    Here all sessions share one stand-in, as all sessions of a real server share one Runtime.
    They also share one script cache, as on a real server: with a cache per session, eight
    threads parse app.py at once, which Python 3.11.7's AST module does not always survive
    ("AST constructor recursion depth mismatch").

    AppTest also patches ``config.get_option`` (``global.appTest`` on) for the length of each
    run, with ``unittest.mock``: threads leaving their patches in another order than they
    entered them put the real function back under a running session, whose selectbox then
    leaves out what AppTest reads back (about one run in twenty failed with a KeyError of the
    widget's id). Here it is patched once, for the whole test.
    """
    import contextlib
    from unittest.mock import MagicMock

    import streamlit.testing.v1.local_script_runner as local_script_runner
    from streamlit import config
    from streamlit.runtime import Runtime
    from streamlit.runtime.caching.storage.dummy_cache_storage import MemoryCacheStorageManager
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1.util import build_mock_config_get_option

    monkeypatch.setattr(config, "get_option", build_mock_config_get_option({"global.appTest": True}))
    monkeypatch.setattr(app_test_module, "patch_config_options", lambda overrides: contextlib.nullcontext())

    runtime = MagicMock(spec=Runtime)
    runtime.media_file_mgr = MediaFileManager(MemoryMediaFileStorage("/mock/media"))
    runtime.cache_storage_manager = MemoryCacheStorageManager()

    class SharedRuntime:
        """What AppTest sees as ``Runtime``: assignments to ``_instance`` are ignored."""

        _instance = None

    monkeypatch.setattr(app_test_module, "Runtime", SharedRuntime)
    shared_cache = ScriptCache()
    monkeypatch.setattr(local_script_runner, "ScriptCache", lambda: shared_cache)
    monkeypatch.setattr(Runtime, "_instance", runtime)
    return runtime


def test_eight_concurrent_sessions_each_get_their_own_result(shared_runtime):
    """Each session uploads an image of its own size and level; each must see its own result."""

    results, errors = {}, []

    def session(index: int) -> None:
        try:
            level = 20 + 25 * index
            app = AppTest.from_file(APP, default_timeout=300)
            app.run()
            app.sidebar.selectbox[0].select("none — my photo is already noisy").run()
            data = encode_png(np.full((24 + index, 32), level / 255, np.float32))
            app.get("file_uploader")[0].set_value([(f"user-{index}.png", data, "image/png")]).run()
            captions = " ".join(caption.value for caption in app.caption)
            results[index] = ([header.value for header in app.subheader], app.exception, captions)
        except Exception:  # collected, with where it came from, and reported by the main thread
            errors.append(traceback.format_exc())

    threads = [threading.Thread(target=session, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, "\n".join(errors)
    for index in range(8):
        headers, exception, captions = results[index]
        assert not exception and headers == [f"user-{index}.png"]
        assert f"for 32×{24 + index} " in captions


def test_every_hostile_upload_gets_its_own_error_and_the_good_one_goes_through():
    from tests.hostile import HANDLED, REFUSED

    # The uploader itself only offers image extensions, so the SVG arrives disguised as a PNG.
    names = [name if not name.endswith(".svg") else f"{name}.png" for name in REFUSED]
    files = [(name, factory()) for name, factory in zip(names, REFUSED.values(), strict=True)]
    app = upload(start(), *files, ("fine.bmp", HANDLED["plain.bmp"][0]()))
    messages = [error.value for error in app.error]
    assert len(messages) == len(REFUSED)
    for name in names:
        assert sum(message.startswith(f"{name}:") for message in messages) == 1
    assert [header.value for header in app.subheader] == ["fine.bmp"]


def test_seed_changes_the_noise():
    app = start()
    before = [metric.value for metric in app.metric] + [metric.proto.delta for metric in app.metric]
    app.sidebar.number_input[0].set_value(7).run()
    assert not app.exception
    assert [metric.value for metric in app.metric] + [metric.proto.delta for metric in app.metric] != before


def test_fit_width_shrinks_only_wide_images_for_display():
    from denoise.visualize import fit_width

    wide = np.zeros((30, 400, 3), np.float32)
    wide[:, 200:] = 1.0
    shrunk = fit_width(wide, 100)
    assert shrunk.shape == (8, 100, 3) and shrunk.dtype == np.uint8  # 30 x 400 -> 7.5 x 100, rounded
    assert shrunk[:, :45].max() == 0 and shrunk[:, 55:].min() == 255  # each half keeps its value
    grey = np.full((20, 50, 1), 0.5, np.float32)
    assert fit_width(grey, 100).shape == (20, 50) and fit_width(grey, 100)[0, 0] == 128  # narrow: kept
    assert fit_width(np.full((4, 200), 7, np.uint8), 100).tolist() == np.full((2, 100), 7).tolist()
    assert fit_width(np.full((4, 6, 1), 7, np.uint8), 100).tolist() == np.full((4, 6), 7).tolist()  # uint8 kept


def test_large_uploads_are_shown_at_most_display_width_wide(media, monkeypatch):
    from streamlit.elements.lib import image_utils

    reencoded = []  # what Streamlit shrinks or converts itself, on every rerun
    encode = image_utils._pil_to_bytes
    monkeypatch.setattr(
        image_utils, "_pil_to_bytes", lambda image, **options: reencoded.append(image.size) or encode(image, **options)
    )
    import denoise.visualize

    previews = []  # the rough first look at a wide input, shown while the model works
    rough = denoise.visualize.preview
    monkeypatch.setattr(
        denoise.visualize, "preview", lambda *arguments: previews.append(rough(*arguments)) or previews[-1]
    )
    app = upload(start(), ("wide.png", png_bytes(100, 1600)))
    urls = [item.url for image in app.get("image") for item in image.proto.imgs]
    shown = [Image.open(io.BytesIO(media.file(url))) for url in urls]
    assert len(shown) >= 6 and {image.format for image in shown} == {"PNG"} and reencoded == []
    assert max(image.width for image in shown) == 1460  # Streamlit's widest image
    assert [preview.shape for preview in previews] == [(25, 400, 3)]  # every 4th pixel of 100 x 1600
    captions = [item.caption for image in app.get("image") for item in image.proto.imgs]
    assert "Original" in captions and not any("preview" in caption for caption in captions)  # replaced
    app.slider(key="split-wide.png").set_value(0.2).run()
    assert len(previews) == 1  # its display version is kept: shown at once


def test_preview_takes_every_nth_pixel_up_to_the_width():
    from denoise.visualize import preview

    image = np.random.default_rng(0).random((30, 1001, 3), dtype=np.float32)
    rough = preview(image, 500)
    assert rough.shape == (10, 334, 3) and rough.dtype == np.uint8  # every 3rd pixel
    assert rough[1, 2].tolist() == np.rint(image[3, 6] * 255).astype(int).tolist()
    assert preview(image[:, :400], 500).shape == (30, 400, 3)  # narrow enough: every pixel


def test_heat_map_runs_from_black_to_white_at_the_99th_percentile():
    from denoise.visualize import heat_map

    reference = np.zeros((10, 10, 3), np.float32)
    reconstruction = reference.copy()
    reconstruction[:, :, 0] = np.linspace(0, 0.3, 100, dtype=np.float32).reshape(10, 10)
    image, scale = heat_map(reconstruction, reference)
    assert image.shape == (10, 10, 3) and image.dtype == np.uint8
    assert scale == pytest.approx(np.percentile(reconstruction.mean(axis=2), 99))
    assert image[0, 0].tolist() == [0, 0, 0] and image[-1, -1].tolist() == [255, 255, 255]
    brightness = image.astype(int).sum(axis=2).reshape(-1)
    assert (np.diff(brightness) >= 0).all()  # larger errors are never darker
    assert heat_map(reference, reference)[1] == 1.0  # no error: a black map, not a division by zero


def test_passes_slider_averages_orientations():
    app = start()
    passes = app.sidebar.select_slider[1]
    assert passes.label == "Passes" and list(passes.options) == ["1", "2", "4", "8"]
    passes.set_value(2).run()
    assert not app.exception
    assert any("unet-color + unet-low-gray luminance, 2 passes on" in caption.value for caption in app.caption)


def train_page():
    app = start()
    app.switch_page("train_page.py").run()
    assert not app.exception
    return app


def choose(app, label: str, option_start: str):
    radio = next(radio for radio in app.radio if radio.label == label)
    radio.set_value(next(option for option in radio.options if option.startswith(option_start))).run()
    assert not app.exception


def test_the_train_page_trains_a_model_that_the_denoise_page_then_offers():
    import time

    app = train_page()
    assert app.number_input[0].label == "Train for (minutes)"  # the first control is the time budget
    assert any(caption.value == "Fine-tunes the shipped model unet-color." for caption in app.caption)
    app.text_input[0].set_value("apptest-tiny")
    app.number_input[0].set_value(0.1)
    next(button for button in app.button if button.label == "Start training").click().run()
    assert any("Queued as run" in message.value for message in app.success)
    deadline = time.monotonic() + 300
    while not any(header.value == "apptest-tiny: finished" for header in app.subheader):
        assert time.monotonic() < deadline, [header.value for header in app.subheader]
        time.sleep(0.5)
        app.run()
    assert not app.exception
    app = start()  # another session: the model is in the user models folder
    picker = app.sidebar.radio[0]
    assert "Your models (Train page)" in picker.options
    picker.set_value("Your models (Train page)").run()
    assert not app.exception
    assert any(caption.value.startswith("apptest-tiny") for caption in app.caption)


def test_the_train_page_offers_noisy_only_sources_and_training_from_scratch():
    app = train_page()
    choose(app, "Train on", "noisy images only")
    assert any(caption.value == "Fine-tunes the shipped model photo-color." for caption in app.caption)
    assert [uploader.label for uploader in app.get("file_uploader")] == ["Noisy images of your kind"]
    assert any(radio.label == "Their noise is" for radio in app.radio)
    choose(app, "Images are", "grey")
    assert any(caption.value == "Fine-tunes the shipped model unet-gray." for caption in app.caption)
    choose(app, "Train on", "noisy pairs or bursts")
    assert app.get("file_uploader")[0].label.startswith("Aligned noisy shots: name them SCENE-1.png")
    choose(app, "Start from", "scratch")
    assert {"Family"} <= {radio.label for radio in app.radio}
    assert {"Latent size", "Width (conv, U-Net)"} <= {slider.label for slider in app.select_slider}


def test_the_train_page_refuses_bad_uploads_one_by_one():
    app = train_page()
    choose(app, "Images", "my images")
    good = encode_png(np.random.default_rng(5).random((64, 64, 3), dtype=np.float32))
    app.get("file_uploader")[0].set_value(
        [("good.png", good, "image/png"), ("broken.png", b"not an image", "image/png")]
    )
    next(button for button in app.button if button.label == "Start training").click().run()
    errors = [error.value for error in app.error]
    assert not app.exception
    assert any(error.startswith("broken.png:") for error in errors)  # one line for the bad file
    assert any("at least two images" in error for error in errors)  # one good image is not enough


def test_the_served_app_neither_watches_its_files_nor_phones_home():
    """The watcher walked the whole checkout (.venv too) while photos were denoised (docs/benchmarks.md)."""
    import tomllib

    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none" and config["browser"]["gatherUsageStats"] is False


def test_a_family_with_a_quick_family_shows_its_result_first_then_the_full_one(use_tiny_models, tmp_path, monkeypatch):
    import streamlit as st

    import denoise.pipeline
    from tests.conftest import tiny_models_with_manifest

    tiny_models_with_manifest(use_tiny_models, tmp_path / "models", monkeypatch, quick="conv-2")
    ran = []
    denoise_image = denoise.pipeline.denoise_image
    monkeypatch.setattr(
        denoise.pipeline,
        "denoise_image",
        lambda denoiser, *rest, **options: ran.append(denoiser.name) or denoise_image(denoiser, *rest, **options),
    )
    st.cache_resource.clear()  # models and results of the shipped models, loaded by earlier tests
    try:
        app = start()
        assert ran == ["conv-2", "unet"]  # the sample: the quick family first, then the full one
        upload(app, ("quick.png", png_bytes(56, 72)))
        assert ran[2:] == ["conv-2", "unet"]
        captions = [item.caption for image in app.get("image") for item in image.proto.imgs]
        assert "Denoised" in captions and not any(caption.startswith("Quick look") for caption in captions)
        # Once the full result is kept, a rerun shows it at once, with no quick look.
        app.run()
        assert not app.exception and ran[4:] == []
    finally:
        st.cache_resource.clear()  # later tests get the shipped models again


def test_raw_uploads_are_denoised_on_the_mosaic_and_give_a_dng_and_a_16_bit_render(media, astronaut):
    from denoise.raw import encode_dng, read_raw, render
    from tests.raws import jpeg_bytes, linear_dng, synthetic_raw

    raw, _ = synthetic_raw(astronaut[:96, :128], 6400, orientation=6)
    files = [("shot.dng", encode_dng(raw)), ("renamed.NEF", jpeg_bytes()), ("linear.dng", linear_dng())]
    app = start()
    app.get("file_uploader")[0].set_value([(name, data, "application/octet-stream") for name, data in files]).run()
    assert not app.exception, app.exception
    assert len(app.error) == 1 and app.error[0].value.startswith("renamed.NEF: not a raw file")
    assert [header.value for header in app.subheader] == ["shot.dng", "linear.dng.png"]
    assert any("not a Bayer sensor" in info.value for info in app.info)
    caption = next(caption.value for caption in app.caption if "Bayer mosaic" in caption.value)
    assert "noise shot" in caption and "ISO 6400" in caption and "2 passes" in caption  # the raw default
    back = read_raw(media.click(app, "Download shot-denoised.dng"))
    assert back.mosaic.shape == (96, 128) and back.pattern == "RGGB" and back.orientation == 6
    tiff = tifffile.imread(io.BytesIO(media.click(app, "Download shot-denoised.tif")))
    assert tiff.dtype == np.uint16 and tiff.shape == (128, 96, 3)
    assert "The TIFF is finished by the photo model" in caption  # and it is: it is not the DNG's render
    assert np.abs(tiff / 65535 - render(back)).max() > 0.01
    app.sidebar.select_slider[1].set_value(4).run()  # more passes asked: the raw gets them too
    assert any("4 passes" in caption.value for caption in app.caption if "Bayer mosaic" in caption.value)


def test_a_raw_adapts_to_its_own_mosaic_beside_its_first_result(media, astronaut, monkeypatch):
    from denoise.raw import encode_dng, read_raw
    from tests.raws import synthetic_raw

    monkeypatch.setenv("DENOISE_APP_ADAPT_SECONDS", "1")
    raw, _ = synthetic_raw(astronaut[:96, :128], 12800)
    app = upload(start(), ("shot.dng", encode_dng(raw)))
    next(button for button in app.button if button.label == "Adapt to this photo").click().run()
    assert not app.exception, app.exception
    captions = [item.caption for image in app.get("image") for item in image.proto.imgs]
    assert "As shipped (half size)" in captions
    assert any(re.fullmatch(r"Adapted \(\d+ steps, half size\)", caption) for caption in captions)
    adapted = read_raw(media.click(app, "Download shot-adapted.dng"))
    first = read_raw(media.click(app, "Download shot-denoised.dng"))
    assert adapted.mosaic.shape == first.mosaic.shape == (96, 128) and adapted.iso == 12800  # what it gains: test_raw
    adapted_tiff = tifffile.imread(io.BytesIO(media.click(app, "Download shot-adapted.tif")))
    assert adapted_tiff.dtype == np.uint16 and adapted_tiff.shape == (96, 128, 3)


def record_denoise_calls(patch: pytest.MonkeyPatch, calls: list) -> None:
    """Append each denoiser that ``Denoiser.denoise`` is called on to ``calls``, then let it run."""
    from denoise.inference import Denoiser

    original = Denoiser.denoise
    patch.setattr(Denoiser, "denoise", lambda self, *rest: calls.append(self) or original(self, *rest))


def test_adapting_keeps_the_passes_the_sidebar_asks_for(monkeypatch):
    monkeypatch.setenv("DENOISE_APP_ADAPT_SECONDS", "1")
    app = start()
    app.sidebar.select_slider[1].set_value(2).run()
    app = upload(app, ("photo.png", png_bytes(96, 96)))
    calls = []
    record_denoise_calls(monkeypatch, calls)
    next(button for button in app.button if button.label == "Adapt to this photo").click().run()
    assert not app.exception, app.exception
    [adapted] = [denoiser for denoiser in calls if denoiser.name.endswith("adapted")]
    assert adapted.orientations == 2  # compared with the shipped result, which averages 2 too


def test_adapting_a_photo_that_came_noisy_filters_it_and_offers_nothing_to_save(monkeypatch):
    app = start()
    app.sidebar.selectbox[0].select("none — my photo is already noisy").run()
    noisy = np.clip(gradient(96, 96, 3) / 255 + np.random.default_rng(0).normal(0, 0.05, (96, 96, 3)), 0, 1)
    upload(app, ("noisy.png", encode(Image.fromarray((noisy * 255).astype(np.uint8)), "PNG")))
    calls = []
    record_denoise_calls(monkeypatch, calls)
    next(button for button in app.button if button.label == "Adapt to this photo").click().run()
    assert not app.exception, app.exception
    [adapted] = [denoiser for denoiser in calls if denoiser.name.endswith("adapted")]
    assert adapted.piece.name == "photo-color + collaborative Wiener"  # the shipped model guides it
    captions = [item.caption for image in app.get("image") for item in image.proto.imgs]
    assert "Adapted (a collaborative filter of each photo's blocks, its noise measured (no fine-tune))" in captions
    assert any("no model to save" in caption.value for caption in app.caption)
    assert not [button for button in app.button if button.label == "Save to Your models"]


def test_adapt_to_this_photo_shows_both_results_and_saves_the_adapted_model(monkeypatch, tmp_path):
    monkeypatch.setenv("DENOISE_APP_ADAPT_SECONDS", "1")
    monkeypatch.setenv("DENOISE_USER_MODELS", str(tmp_path))
    app = upload(start(), ("photo.png", png_bytes(96, 96)))
    next(button for button in app.button if button.label == "Adapt to this photo").click().run()
    assert not app.exception, app.exception
    captions = [item.caption for image in app.get("image") for item in image.proto.imgs]
    assert any(caption.startswith("As shipped — PSNR") for caption in captions)
    assert any(re.match(r"Adapted \(\d+ steps \+ collaborative filter\) — PSNR", caption) for caption in captions)
    # Its result is computed once, not again on every rerun of the page (a save, a click anywhere).
    calls = []
    with monkeypatch.context() as patch:
        record_denoise_calls(patch, calls)
        next(text for text in app.text_input if text.label == "Save as").set_value("my-shoot").run()
    assert not app.exception, app.exception
    assert not [denoiser for denoiser in calls if denoiser.name.endswith("adapted")]
    # Adapting again replaces the kept result with the new model's.
    with monkeypatch.context() as patch:
        record_denoise_calls(patch, calls)
        next(button for button in app.button if button.label == "Adapt to this photo").click().run()
    assert not app.exception, app.exception
    assert len([denoiser for denoiser in calls if denoiser.name.endswith("adapted")]) == 1
    next(button for button in app.button if button.label == "Save to Your models").click().run()
    assert not app.exception, app.exception
    assert any("Saved as my-shoot" in message.value for message in app.success)
    assert (tmp_path / "my-shoot.keras").is_file() and (tmp_path / "my-shoot.json").is_file()
