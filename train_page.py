"""The app's Train page: train a model on your own kind of images, watch it learn, use it.

Run through ``app.py`` (``st.navigation``). The page only arranges widgets: the training runs
in the server's :class:`denoise.training_jobs.TrainingQueue`, one at a time, in a thread that
never calls Streamlit; a fragment polls it every second for the curves.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

import denoise
from denoise.image_io import convert_channels
from denoise.samples import SAMPLE_SETS, sample_set
from denoise.training_jobs import (
    TrainingJob,
    TrainingQueue,
    TrainingRequest,
    burst_scene,
    starting_model,
    user_models_dir,
)

#: What a run can train on, by the page's label (:data:`denoise.training_jobs.SOURCES`).
SOURCES = {
    "clean images, with noise added": "clean",
    "noisy images only": "noisy",
    "noisy pairs or bursts": "bursts",
}
FAMILIES = {"Conv autoencoder": "conv", "U-Net": "unet", "Dense patch autoencoder": "dense"}
UPLOAD_TYPES = ["png", "jpg", "jpeg", "tif", "tiff", "bmp", "webp", "gif"]
MY_IMAGES = "my images (upload below)"
STATE_LABELS = {
    "queued": "waiting in the queue",
    "running": "training",
    "finished": "finished",
    "stopped": "stopped",
    "failed": "failed",
}
DEFAULTS = TrainingRequest(name="my-model", images=())


@st.cache_resource
def training_queue() -> TrainingQueue:
    """Return the server's one training queue: one run at a time, whichever session asked."""
    return TrainingQueue(user_models_dir())


def uploaded_images(files: list, colour: bool) -> tuple[list[np.ndarray], list[str]]:
    """Decode uploads as grey or colour; refuse each bad one with one line, keep the others.

    Returns the images and their file names.
    """
    images, names = [], []
    for file in files:
        try:
            images.append(denoise.read_image(file.getvalue(), channels=3 if colour else 1).pixels)
        except denoise.ImageReadError as error:
            st.error(f"{file.name}: {error}")
            continue
        names.append(file.name)
    return images, names


def request_controls() -> TrainingRequest | None:
    """Draw the controls; return the request when "Start training" is clicked with usable images."""
    minutes = st.number_input(
        "Train for (minutes)", 0.1, 600.0, DEFAULTS.minutes, 0.5, help="It stops then, keeping its best state."
    )
    source = SOURCES[st.radio("Train on", list(SOURCES), horizontal=True)]
    colour = st.radio("Images are", ["colour", "grey"], horizontal=True) == "colour"
    noise, correlated, sample = DEFAULTS.noise, DEFAULTS.correlated, MY_IMAGES
    if source == "clean":
        columns = st.columns(2)
        kinds = {kind.label: key for key, kind in denoise.NOISE_KINDS.items()}
        kind = kinds[columns[0].selectbox("Noise to train against", list(kinds))]
        spec = denoise.NOISE_KINDS[kind]
        low, high = columns[1].slider(
            f"Levels — {spec.unit}", spec.minimum, spec.maximum, (spec.minimum, spec.default), spec.step
        )
        noise = (f"{kind}:{low:g}-{high:g}",)
        sample = st.radio("Images", [*SAMPLE_SETS, MY_IMAGES], horizontal=True)
    elif source == "noisy":
        correlated = (
            st.radio(
                "Their noise is",
                ["independent from pixel to pixel (raw data, microscopy, astronomy)", "blotchy (camera JPEGs)"],
                help="Blotchy noise has been spread over neighbouring pixels by a camera's processing.",
            )
            == "blotchy (camera JPEGs)"
        )
    channels = 3 if colour else 1
    fine_tune = st.radio("Start from", ["the shipped model (fine-tune)", "scratch"], horizontal=True) != "scratch"
    family, latent, width = DEFAULTS.architecture, DEFAULTS.latent, DEFAULTS.width
    if fine_tune:
        st.caption(f"Fine-tunes the shipped model {starting_model(source, noise, channels)}.")
    else:
        columns = st.columns(3)
        family = FAMILIES[columns[0].radio("Family", list(FAMILIES))]
        latent = columns[1].select_slider("Latent size", [1, 2, 4, 8, 16, 32, 64], value=DEFAULTS.latent)
        width = columns[2].select_slider("Width (conv, U-Net)", [8, 16, 32], value=DEFAULTS.width)
    labels = {
        "clean": "Clean images of your kind",
        "noisy": "Noisy images of your kind",
        "bursts": "Aligned noisy shots: name them SCENE-1.png, SCENE-2.png, … (two or more per scene)",
    }
    files = []
    if sample == MY_IMAGES:
        files = st.file_uploader(labels[source], type=UPLOAD_TYPES, accept_multiple_files=True)
    name = st.text_input("Model name", value=DEFAULTS.name, help="Letters, digits, - and _; it is saved under it.")
    if not st.button("Start training", type="primary"):
        return None
    if sample != MY_IMAGES:
        images, names = [convert_channels(image, channels) for image in sample_set(sample)], []
    else:
        images, names = uploaded_images(files or [], colour)
    return TrainingRequest(
        name=name.strip(),
        images=tuple(images),
        source=source,
        scenes=tuple(burst_scene(file_name) for file_name in names) if source == "bursts" else (),
        noise=noise,
        correlated=correlated,
        fine_tune=fine_tune,
        architecture=family,
        latent=latent,
        width=width,
        minutes=float(minutes),
    )


def curves(job: TrainingJob) -> None:
    """Draw a job's loss and its validation score against the two reference lines."""
    minutes = [epoch["seconds"] / 60 for epoch in job.epochs]
    columns = st.columns(2)
    columns[0].line_chart({"minutes": minutes, "loss": [epoch["loss"] for epoch in job.epochs]}, x="minutes")
    scores = {
        "minutes": minutes,
        "this run": [epoch["val_psnr"] for epoch in job.epochs],
        "starting model": [epoch["start_psnr"] for epoch in job.epochs],
        "noisy input": [epoch["input_psnr"] for epoch in job.epochs],
    }
    columns[1].line_chart(scores, x="minutes", y_label="validation PSNR (dB)")
    if job.request.source == "clean":
        columns[1].caption("PSNR against the clean held-out images: the run keeps its best state.")
    else:
        columns[1].caption(
            "No clean images exist, so each output is scored against another noisy view of the same "
            "scene (a second shot, or neighbouring pixels): the figures sit below true PSNR, but "
            "higher is still better. The run keeps its best state."
        )


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
        start = "fine-tuning the shipped model" if request.fine_tune else f"{request.architecture} from scratch"
        elapsed = job.epochs[-1]["seconds"] / 60 if job.epochs else 0.0
        st.caption(
            f"{start}, {request.objective}, {len(request.images)} images, {elapsed:.1f} of {request.minutes:g} minutes"
        )
        if job.epochs:
            curves(job)
        if job.state in ("queued", "running"):
            if st.button("Stop", key=f"stop-{job.number}"):
                queue.stop(job.number)
        elif job.state == "failed":
            st.error(job.message)
        else:
            st.success(f"{job.message}. It is in the Denoise page's model picker, under “Your models”.")


st.title("Train your own model")
st.caption(
    "For your own kind of images (microscopy, astronomy, scans): clean ones with the noise to "
    "train against, or noisy ones alone. By default it fine-tunes the shipped model, so it starts "
    "from a good denoiser and keeps its best state. One training runs at a time on this server; "
    "others wait in the queue. Leaving this page does not stop it."
)
request = request_controls()
if request is not None:
    try:
        number = training_queue().submit(request)
    except ValueError as error:
        st.error(str(error))
    else:
        st.success(f"Queued as run {number}.")
show_jobs()
