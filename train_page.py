"""The app's Train page: train a model on your own kind of images, watch it learn, use it.

Run through ``app.py`` (``st.navigation``). The page only arranges widgets: the training runs
in the server's :class:`denoise.training_jobs.TrainingQueue`, one at a time, in a thread that
never calls Streamlit; a fragment polls it every second for the curves.
"""

from __future__ import annotations

import numpy as np
import streamlit as st
from skimage import data as sample_images

import denoise
from denoise.training_jobs import TrainingQueue, TrainingRequest, user_models_dir

#: Small sample sets that scikit-image ships (nothing is downloaded).
SAMPLE_SETS = {
    "colour photos (astronaut, cat, coffee, rocket)": ("astronaut", "chelsea", "coffee", "rocket"),
    "grey images (camera, coins, moon, page)": ("camera", "coins", "moon", "page"),
}
FAMILIES = {"Conv autoencoder": "conv", "U-Net": "unet", "Dense patch autoencoder": "dense"}
UPLOAD_TYPES = ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp", "gif"]
STATE_LABELS = {
    "queued": "waiting in the queue",
    "running": "training",
    "finished": "finished",
    "stopped": "stopped",
    "failed": "failed",
}


@st.cache_resource
def training_queue() -> TrainingQueue:
    """Return the server's one training queue: one run at a time, whichever session asked."""
    return TrainingQueue(user_models_dir())


def sample_images_of(names: tuple[str, ...]) -> list[np.ndarray]:
    """Return scikit-image's sample images as float32 H x W x C in [0, 1]."""
    images = []
    for name in names:
        pixels = np.asarray(getattr(sample_images, name)(), np.float32) / 255
        images.append(pixels if pixels.ndim == 3 else pixels[:, :, None])
    return images


def with_channels(image: np.ndarray, colour: bool) -> np.ndarray:
    """Return an H x W x C image as colour (grey repeated) or grey (the channels' mean)."""
    if colour and image.shape[2] == 1:
        return np.repeat(image, 3, axis=2)
    if not colour and image.shape[2] == 3:
        return image.mean(axis=2, keepdims=True)
    return image


def uploaded_images(files: list, colour: bool) -> list[np.ndarray]:
    """Decode uploads as grey or colour; refuse each bad one with one line, keep the others."""
    images = []
    for file in files:
        try:
            pixels = denoise.read_image(file.getvalue()).pixels
        except denoise.ImageReadError as error:
            st.error(f"{file.name}: {error}")
            continue
        images.append(np.ascontiguousarray(with_channels(pixels, colour), np.float32))
    return images


def request_form() -> TrainingRequest | None:
    """Draw the form; return the request when it is submitted with usable images."""
    with st.form("train"):
        name = st.text_input("Model name", value="my-model", help="Letters, digits, - and _; it is saved under it.")
        columns = st.columns(3)
        family = FAMILIES[columns[0].radio("Family", list(FAMILIES))]
        latent = columns[1].select_slider("Latent size", [1, 2, 4, 8, 16, 32, 64], value=8)
        width = columns[2].select_slider("Width (conv, U-Net)", [8, 16, 32], value=16)
        columns = st.columns(3)
        kinds = {kind.label: key for key, kind in denoise.NOISE_KINDS.items()}
        kind = kinds[columns[0].selectbox("Noise to train against", list(kinds))]
        spec = denoise.NOISE_KINDS[kind]
        low, high = columns[1].slider(
            f"Levels — {spec.unit}", spec.minimum, spec.maximum, (spec.minimum, spec.default), spec.step
        )
        colour = columns[2].radio("Images are", ["colour", "grey"]) == "colour"
        columns = st.columns(2)
        epochs = int(columns[0].number_input("Epochs", 1, 200, 5))
        batches = int(columns[1].number_input("Batches of 16 patches per epoch", 1, 500, 20))
        source = st.radio("Train on", ["my images", *SAMPLE_SETS], horizontal=True)
        files = st.file_uploader("Clean images of your kind", type=UPLOAD_TYPES, accept_multiple_files=True)
        if not st.form_submit_button("Start training"):
            return None
    if source == "my images":
        images = uploaded_images(files or [], colour)
    else:
        images = [with_channels(image, colour) for image in sample_images_of(SAMPLE_SETS[source])]
    noise = (f"{kind}:{low:g}-{high:g}",)
    return TrainingRequest(name.strip(), family, latent, width, noise, epochs, batches, tuple(images))


@st.fragment(run_every=1.0)
def show_jobs() -> None:
    """Show every run of the server, newest first, with its curves; redrawn every second."""
    queue = training_queue()
    jobs = queue.jobs()
    if not jobs:
        st.caption("No training yet on this server.")
        return
    waiting = [job.number for job in jobs if job.state == "queued"]
    for job in reversed(jobs):
        request = job.request
        label = STATE_LABELS[job.state]
        if job.state == "queued":
            label += f" ({waiting.index(job.number) + 1} of {len(waiting)})"
        st.subheader(f"{request.name}: {label}")
        st.caption(
            f"{request.architecture}, latent {request.latent}, {request.noise[0]}, {len(request.images)} images, "
            f"epoch {len(job.epochs)} of {request.epochs}"
        )
        if job.epochs:
            columns = st.columns(2)
            losses = [epoch["loss"] for epoch in job.epochs]
            columns[0].line_chart({"loss": losses}, x_label="epoch")
            scores = [epoch["val_psnr"] for epoch in job.epochs]
            columns[1].line_chart({"validation PSNR (dB)": scores}, x_label="epoch")
        if job.state in ("queued", "running"):
            if st.button("Stop", key=f"stop-{job.number}"):
                queue.stop(job.number)
        elif job.state == "failed":
            st.error(job.message)
        else:
            st.success(f"{job.message}. It is in the Denoise page's model picker, under “Your models”.")


st.title("Train your own model")
st.caption(
    "For your own kind of images (microscopy, astronomy, scans): upload clean ones, pick the noise "
    "to train against, and watch the model learn. One training runs at a time on this server; "
    "others wait in the queue. Leaving this page does not stop it."
)
request = request_form()
if request is not None:
    try:
        number = training_queue().submit(request)
    except ValueError as error:
        st.error(str(error))
    else:
        st.success(f"Queued as run {number}.")
show_jobs()
