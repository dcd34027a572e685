"""The server's training queue: one run at a time in a background thread, curves, stop, refusals."""

import numpy as np
import pytest
from skimage import data as sample_images
from skimage.transform import resize

from denoise import load_model
from denoise.cards import read_card
from denoise.samples import SAMPLE_SETS, sample_set
from denoise.training_jobs import TrainingQueue, TrainingRequest, burst_scene, starting_model


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, ...]:
    sources = (sample_images.astronaut(), sample_images.coffee(), sample_images.chelsea())
    return tuple(resize(source, (64, 80), anti_aliasing=True).astype(np.float32) for source in sources)


def request(images, name="tiny", epochs=2, **changes) -> TrainingRequest:
    """A tiny conv model from scratch: seconds per run."""
    fields = dict(
        name=name,
        fine_tune=False,
        architecture="conv",
        latent=2,
        width=8,
        noise=("gaussian:10-30",),
        epochs=epochs,
        minutes=10.0,
        images=images,
    )
    return TrainingRequest(**(fields | changes))


def test_runs_train_in_order_report_each_epoch_and_write_a_usable_model(images, tmp_path):
    queue = TrainingQueue(tmp_path / "models")
    first, second = queue.submit(request(images, "first")), queue.submit(request(images, "second", epochs=1))
    assert [job.state for job in queue.jobs()][1] == "queued"  # one at a time: the second waits
    done = queue.wait(first, timeout=300)
    assert done.state == "finished" and [epoch["epoch"] for epoch in done.epochs] == [1, 2]
    assert all(np.isfinite(epoch["val_psnr"]) for epoch in done.epochs)
    assert done.model_path == tmp_path / "models" / "first.keras" and (tmp_path / "models" / "first.json").exists()
    assert queue.wait(second, timeout=300).state == "finished"
    assert not list((tmp_path / "models" / "checkpoints").glob("*"))  # no resumable leftovers
    denoiser = load_model(done.model_path)
    assert denoiser.denoise(images[0]).shape == images[0].shape


def test_a_queued_run_can_be_stopped_before_it_starts_and_a_running_one_early(images, tmp_path):
    queue = TrainingQueue(tmp_path / "models")
    running = queue.submit(request(images, "long", epochs=200))
    waiting = queue.submit(request(images, "never"))
    queue.stop(waiting)
    while not queue.jobs()[0].epochs:  # let the long run finish an epoch
        queue.wait(running, timeout=0.5)
    queue.stop(running)
    stopped = queue.wait(running, timeout=300)
    assert stopped.state == "stopped" and len(stopped.epochs) < 200 and stopped.model_path.exists()
    assert queue.wait(waiting, timeout=60).message == "stopped before it began"
    assert not (tmp_path / "models" / "never.keras").exists()


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"name": "../escape"}, "a model name has"),
        ({"images": ()}, "at least two images"),
        ({"noise": ("gaussian:banana",)}, "noise levels must be numbers"),
        ({"epochs": 0}, "1 to 1000 epochs"),
        ({"minutes": 0.0}, "more than 0 minutes"),
        ({"source": "dreams"}, "unknown source"),
        ({"start_model": "../../etc/passwd"}, "no shipped model is called"),
        ({"source": "bursts", "scenes": ("a", "a", "b")}, "two scenes with two or more shots"),
        ({"source": "bursts", "scenes": ("a",)}, "needs its scene"),
    ],
)
def test_bad_requests_are_refused_in_one_line(images, tmp_path, changes, message):
    queue = TrainingQueue(tmp_path / "models")
    changes = dict(changes)
    with pytest.raises(ValueError, match=message) as refusal:
        queue.submit(request(changes.pop("images", images), **changes))
    assert "\n" not in str(refusal.value) and queue.jobs() == []


def test_a_name_in_use_is_refused_and_a_failing_run_does_not_stop_the_queue(images, tmp_path):
    queue = TrainingQueue(tmp_path / "models")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "taken.keras").write_text("a user's file")
    with pytest.raises(ValueError, match="exists already"):
        queue.submit(request(images, "taken"))
    failing = queue.submit(request(images, "odd", architecture="transformer"))
    after = queue.submit(request(images, "after", epochs=1))
    failed = queue.wait(failing, timeout=120)
    assert failed.state == "failed" and "unknown architecture" in failed.message and "\n" not in failed.message
    assert queue.wait(after, timeout=300).state == "finished"


def test_the_default_run_ends_better_than_it_started(tmp_path):
    """The page's defaults, on its first sample set: a one-minute fine-tune of the shipped model."""
    images = tuple(sample_set(next(iter(SAMPLE_SETS))))
    queue = TrainingQueue(tmp_path / "models")
    job = queue.wait(queue.submit(TrainingRequest(name="default", images=images)), timeout=600)
    assert job.state == "finished", job.message
    start, noisy = job.epochs[0]["start_psnr"], job.epochs[0]["input_psnr"]
    best = max(epoch["val_psnr"] for epoch in job.epochs)
    assert best > start + 0.1 and start > noisy  # better than the shipped model, which beats the noise
    assert job.epochs[-1]["seconds"] < 60 + 30  # the budget ends it (one batch and a validation late at most)
    card = read_card(job.model_path.with_suffix(".json"))
    assert card["validation_psnr"] == pytest.approx(best, abs=1e-3) and card["best_epoch"] > 0
    assert card["initialized_from"]["file"].endswith("unet-color.keras")


@pytest.mark.parametrize(
    "source, correlated, scenes",
    [("noisy", False, ()), ("noisy", True, ()), ("bursts", False, ("a-1", "a-2", "b-1", "b-2"))],
)
def test_noisy_only_sources_train_without_clean_images(tmp_path, source, correlated, scenes):
    clean = sample_set(next(iter(SAMPLE_SETS)))[:2]
    rng = np.random.default_rng(0)
    noisy = tuple(
        np.clip(image + rng.normal(0, 0.1, image.shape), 0, 1).astype(np.float32)
        for image in (clean if source == "noisy" else [clean[0], clean[0], clean[1], clean[1]])
    )
    queue = TrainingQueue(tmp_path / "models")
    chosen = request(noisy, source=source, correlated=correlated, scenes=tuple(map(burst_scene, scenes)), epochs=1)
    job = queue.wait(queue.submit(chosen), timeout=300)
    assert job.state == "finished", job.message
    assert all(np.isfinite(job.epochs[0][key]) for key in ("val_psnr", "input_psnr", "start_psnr"))
    card = read_card(job.model_path.with_suffix(".json"))
    assert card["training"]["objective"] == chosen.objective and card["training"]["noisy_data"]


def test_a_time_budget_stops_a_run_and_fine_tunes_start_from_the_matching_shipped_model(images, tmp_path):
    queue = TrainingQueue(tmp_path / "models")
    job = queue.wait(queue.submit(request(images, epochs=1000, minutes=0.05)), timeout=300)
    assert job.state == "finished" and 1 <= len(job.epochs) < 1000
    assert starting_model("clean", ("gaussian:0-25",), 3) == "unet-color"
    assert starting_model("clean", ("gaussian:0-25",), 1) == "unet-gray"
    assert starting_model("clean", ("camera:800-3200",), 3) == "photo-color"
    assert starting_model("noisy", (), 3) == "photo-color" and starting_model("bursts", (), 1) == "unet-gray"


def test_burst_scenes_come_from_file_names():
    assert [burst_scene(name) for name in ("pond-1.png", "pond_02.jpg", "pond 3.tif", "cat.png")] == [
        "pond",
        "pond",
        "pond",
        "cat",
    ]
