"""The server's training queue: one run at a time in a background thread, curves, stop, refusals."""

import numpy as np
import pytest
from skimage import data as sample_images
from skimage.transform import resize

from denoise import load_model
from denoise.training_jobs import TrainingQueue, TrainingRequest


@pytest.fixture(scope="module")
def images() -> tuple[np.ndarray, ...]:
    sources = (sample_images.astronaut(), sample_images.coffee(), sample_images.chelsea())
    return tuple(resize(source, (64, 80), anti_aliasing=True).astype(np.float32) for source in sources)


def request(images, name="tiny", epochs=2, **changes) -> TrainingRequest:
    fields = dict(
        name=name,
        architecture="conv",
        latent=2,
        width=8,
        noise=("gaussian:10-30",),
        epochs=epochs,
        batches_per_epoch=2,
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
        ({"epochs": 0}, "between 1 and 1000"),
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
