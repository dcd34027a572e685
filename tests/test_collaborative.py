import numpy as np
import pytest
from skimage import data

from denoise import add_noise, psnr
from denoise.collaborative import collaborative_wiener
from denoise.compose import Classical, GuidedWiener


@pytest.fixture(scope="module")
def bricks() -> tuple[np.ndarray, np.ndarray]:
    """A brick wall (repeated structure, as Urban100's buildings) and its noisy copy at sigma 25."""
    clean = data.brick()[:96, :128].astype(np.float32) / 255
    return clean, add_noise(clean, "gaussian", 25, seed=0, clip=False)


def imperfect_pilot(clean: np.ndarray) -> np.ndarray:
    """A pilot with errors of its own (as a network's result has), independent of the image's noise."""
    return clean + np.random.default_rng(1).normal(0, 6 / 255, clean.shape).astype(np.float32)


def test_the_filter_guided_by_a_pilot_beats_the_noisy_image_and_the_pilot(bricks):
    clean, noisy = bricks
    pilot = imperfect_pilot(clean)
    filtered = collaborative_wiener(noisy, pilot, 25 / 255)
    assert filtered.shape == noisy.shape and filtered.dtype == np.float32
    assert psnr(clean, np.clip(filtered, 0, 1)) > psnr(clean, np.clip(pilot, 0, 1)) + 1.0 > psnr(clean, noisy) + 10
    # Colour: filtered in an opponent space with blocks matched on its luminance, the same gain.
    colour = np.repeat(clean[..., None], 3, axis=2) * np.array([1.0, 0.8, 0.6], np.float32)
    noisy_colour = add_noise(colour, "gaussian", 25, seed=2, clip=False)
    pilot_colour = imperfect_pilot(colour)
    filtered_colour = collaborative_wiener(noisy_colour, pilot_colour, 25 / 255)
    assert filtered_colour.shape == colour.shape
    assert psnr(colour, np.clip(filtered_colour, 0, 1)) > psnr(colour, np.clip(pilot_colour, 0, 1)) + 1.0


def test_a_noise_free_image_with_its_own_pilot_comes_back_nearly_as_it_was(bricks):
    clean, _ = bricks  # only coefficients weaker than the (tiny) noise are shrunk
    assert psnr(clean, np.clip(collaborative_wiener(clean, clean, 1 / 255), 0, 1)) > 45


@pytest.mark.parametrize(
    "noisy, pilot, sigma, message",
    [
        (np.zeros((32, 32)), np.zeros((32, 30)), 0.1, "the pilot's shape"),
        (np.zeros((6, 32)), np.zeros((6, 32)), 0.1, "at least 8 pixels"),
        (np.zeros((32, 32, 2)), np.zeros((32, 32, 2)), 0.1, "1 or 3 channels"),
        (np.zeros((32, 32)), np.zeros((32, 32)), 0.0, "sigma must be positive"),
    ],
)
def test_the_filter_refuses_what_it_cannot_filter(noisy, pilot, sigma, message):
    with pytest.raises(ValueError, match=message):
        collaborative_wiener(noisy, pilot, sigma)


def test_the_guided_wiener_piece_wraps_any_denoiser_and_leaves_large_images_to_it(bricks):
    from skimage.restoration import denoise_tv_chambolle

    clean, noisy = bricks
    inner = Classical(lambda image, sigma: denoise_tv_chambolle(image, weight=0.08, channel_axis=-1), "tv")
    piece = GuidedWiener(inner, sigma=25 / 255)
    assert piece.name == "tv + collaborative Wiener"
    pilot, result = inner(noisy[..., None]), piece(noisy[..., None])
    np.testing.assert_array_equal(result, collaborative_wiener(noisy[..., None], pilot, 25 / 255))
    assert psnr(clean, np.clip(result[..., 0], 0, 1)) > psnr(clean, np.clip(pilot[..., 0], 0, 1)) + 0.5
    small_limit = GuidedWiener(inner, sigma=25 / 255, max_megapixels=0.01)  # 96 x 128 is 0.012 MP
    np.testing.assert_array_equal(small_limit(noisy[..., None]), pilot)
    with pytest.raises(ValueError, match="sigma must be above 0"):
        GuidedWiener(inner, sigma=0.0)
