import numpy as np
import pytest
from skimage import data

from denoise import add_noise, psnr
from denoise.collaborative import collaborative_wiener, noise_spectrum
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
        (np.zeros((32, 32, 3)), np.zeros((32, 32, 3)), np.ones((1, 8, 8)), "expected \\(3, 8, 8\\)"),
        (np.zeros((32, 32)), np.zeros((32, 32)), np.zeros((1, 8, 8)), "positive in every coefficient"),
        (np.zeros((32, 32)), np.zeros((32, 32)), np.full((1, 8, 8), np.nan), "positive in every coefficient"),
    ],
)
def test_the_filter_refuses_what_it_cannot_filter(noisy, pilot, sigma, message):
    with pytest.raises(ValueError, match=message):
        collaborative_wiener(noisy, pilot, sigma)


def correlated_noise(shape: tuple[int, ...], level: float, seed: int) -> np.ndarray:
    """Noise that neighbouring pixels share (as demosaicing leaves it): white noise blurred, of std ``level``."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    planes = [gaussian_filter(rng.normal(size=shape[:2]), 1.0) for _ in range(shape[2] if len(shape) == 3 else 1)]
    noise = np.stack(planes, axis=-1).reshape(shape)
    return (noise * level / noise.std()).astype(np.float32)


def test_the_noise_spectrum_is_measured_in_the_residual(bricks):
    clean, _ = bricks
    white = np.random.default_rng(3).normal(0, 25 / 255, clean.shape).astype(np.float32)
    spectrum = noise_spectrum(clean + white, clean, scale=1.0)
    assert spectrum.shape == (1, 8, 8) and spectrum.dtype == np.float32
    # White noise: about sigma squared in every coefficient (12 x 16 blocks measure it).
    np.testing.assert_allclose(spectrum.mean(), (25 / 255) ** 2, rtol=0.05)
    assert 0.6 < spectrum.min() / (25 / 255) ** 2 and spectrum.max() / (25 / 255) ** 2 < 1.5
    # Shared by neighbours: low frequencies hold the noise, the highest almost none.
    blotchy = noise_spectrum(clean + correlated_noise(clean.shape, 10 / 255, seed=4), clean, scale=1.0)
    assert blotchy[0, 0, 1] > 1000 * blotchy[0, 7, 7]
    assert np.allclose(noise_spectrum(clean + white, clean), 16 * spectrum)  # the default scale
    assert noise_spectrum(clean + white + 0.1, clean, scale=1.0) == pytest.approx(spectrum)  # a shift is no noise
    # A spectrum of sigma squared everywhere filters as sigma does.
    pilot = imperfect_pilot(clean)
    np.testing.assert_allclose(
        collaborative_wiener(clean + white, pilot, np.full((1, 8, 8), (25 / 255) ** 2)),
        collaborative_wiener(clean + white, pilot, 25 / 255),
        atol=1e-6,
    )


def test_the_filter_with_the_measured_spectrum_beats_the_pilot_on_correlated_colour_noise(bricks):
    clean, _ = bricks
    colour = np.stack([clean, clean * 0.8, clean * 0.6], axis=-1)
    noisy = colour + correlated_noise(colour.shape, 6 / 255, seed=5)
    pilot = colour + np.random.default_rng(1).normal(0, 4 / 255, colour.shape).astype(np.float32)
    spectrum = noise_spectrum(noisy, pilot)
    assert spectrum.shape == (3, 8, 8)
    filtered = np.clip(collaborative_wiener(noisy, pilot, spectrum), 0, 1)
    assert psnr(colour, filtered) > psnr(colour, np.clip(pilot, 0, 1)) + 3 > psnr(colour, noisy)


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
    # Without a known sigma, the noise measured in the image's residual from the pilot.
    measured = GuidedWiener(inner)(noisy[..., None])
    spectrum = noise_spectrum(noisy[..., None], pilot)
    np.testing.assert_array_equal(measured, collaborative_wiener(noisy[..., None], pilot, spectrum))
    assert psnr(clean, np.clip(measured[..., 0], 0, 1)) > psnr(clean, np.clip(pilot[..., 0], 0, 1))
    tiny = noisy[:6, :6, None]  # smaller than a block: the pilot
    np.testing.assert_array_equal(GuidedWiener(inner)(tiny), inner(tiny))
