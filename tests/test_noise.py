import numpy as np
import pytest

from denoise import add_noise, parse_noise


@pytest.fixture
def flat() -> np.ndarray:
    return np.full((256, 256), 0.5, np.float32)


def test_gaussian_std_within_two_percent(flat):
    noisy = add_noise(flat, "gaussian", 25, seed=1, clip=False)
    assert abs(noisy.std() * 255 / 25 - 1) < 0.02
    assert abs(noisy.mean() - 0.5) < 0.002


def test_gaussian_unclipped_leaves_range_and_clipped_does_not():
    dark = np.zeros((64, 64, 3), np.float32)
    assert add_noise(dark, "gaussian", 50, seed=0, clip=False).min() < 0
    assert add_noise(dark, "gaussian", 50, seed=0).min() == 0


@pytest.mark.parametrize("shape", [(300, 1000, 3), (700, 401), (1, 1)])
@pytest.mark.parametrize("clip", [True, False])
def test_gaussian_noise_made_in_bands_is_one_full_size_draw(shape, clip):
    """Benchmarks depend on each seed's noise: drawing it in bands of rows must not change it."""
    clean = np.random.default_rng(3).random(shape, dtype=np.float32)
    expected = clean + np.random.default_rng(7).normal(0.0, 25 / 255, shape).astype(np.float32)
    noisy = add_noise(clean, "gaussian", 25, seed=7, clip=clip)
    np.testing.assert_array_equal(noisy, np.clip(expected, 0, 1) if clip else expected)
    assert noisy.dtype == np.float32 and clean.min() >= 0  # the input is left alone


def test_salt_and_pepper_fraction(flat):
    noisy = add_noise(flat, "salt_pepper", 0.1, seed=2)
    changed = noisy != 0.5
    assert abs(changed.mean() - 0.1) < 0.005
    assert set(np.unique(noisy[changed])) == {0.0, 1.0}


def test_salt_and_pepper_hits_all_channels_together():
    colour = np.full((64, 64, 3), 0.5, np.float32)
    changed = add_noise(colour, "salt_pepper", 0.2, seed=0) != 0.5
    assert (changed.all(axis=2) == changed.any(axis=2)).all()


def test_poisson_variance_matches_peak(flat):
    peak = 30
    noisy = add_noise(flat, "poisson", peak, seed=3, clip=False)
    assert abs(noisy.mean() - 0.5) < 0.005
    assert abs(noisy.var() / (0.5 / peak) - 1) < 0.05


def test_speckle_variance(flat):
    noisy = add_noise(flat, "speckle", 0.04, seed=4, clip=False)
    assert abs(noisy.var() / (0.25 * 0.04) - 1) < 0.05


@pytest.mark.parametrize(
    "kind,level",
    [("gaussian", 10), ("poisson", 20), ("salt_pepper", 0.05), ("speckle", 0.1), ("camera", 3200), ("correlated", 15)],
)
@pytest.mark.parametrize("shape", [(20, 30), (20, 30, 1), (20, 30, 3), (21, 31, 3)])
def test_shape_dtype_and_seed(kind, level, shape):
    image = np.random.default_rng(0).random(shape).astype(np.float32)
    first = add_noise(image, kind, level, seed=7)
    assert first.shape == shape and first.dtype == np.float32
    assert 0 <= first.min() and first.max() <= 1
    np.testing.assert_array_equal(first, add_noise(image, kind, level, seed=7))
    assert not np.array_equal(first, add_noise(image, kind, level, seed=8))


@pytest.mark.parametrize("kind,level", [("laplace", 1), ("gaussian", -1), ("poisson", 0), ("salt_pepper", 2)])
def test_bad_arguments_raise_value_error(flat, kind, level):
    with pytest.raises(ValueError):
        add_noise(flat, kind, level)


def test_parse_noise():
    assert parse_noise("gaussian:25") == ("gaussian", 25.0)
    for text in ["gaussian", "blur:3", "gaussian:lots"]:
        with pytest.raises(ValueError):
            parse_noise(text)


# --- camera and correlated noise ----------------------------------------------------------


@pytest.fixture
def no_jpeg(monkeypatch):
    """Camera noise without its random JPEG step, so the statistics below are the sensor's."""
    import denoise.noise

    monkeypatch.setattr(denoise.noise, "JPEG_PROBABILITY", 0.0)


def test_sensor_noise_variance_grows_with_intensity():
    from denoise.noise import camera_noise_variance, sensor_noise

    rng = np.random.default_rng(3)
    dark, bright = np.full((200_000,), 0.05), np.full((200_000,), 0.6)
    variances = [np.var(sensor_noise(signal, 25600, rng) - signal) for signal in (dark, bright)]
    shot, read = camera_noise_variance(25600)
    assert variances[1] > 3 * variances[0]
    # Poisson-Gaussian: the difference of the variances is the shot noise times the difference of the signals.
    assert abs((variances[1] - variances[0]) / (0.55 * shot) - 1) < 0.05


def test_camera_noise_grows_with_iso(no_jpeg):
    image = np.full((128, 128, 3), 0.4, np.float32)
    strengths = [(add_noise(image, "camera", iso, seed=4) - image).std() for iso in (400, 3200, 25600)]
    assert strengths[0] < strengths[1] < strengths[2]


def _correlations(residual: np.ndarray) -> tuple[float, float]:
    neighbours = np.corrcoef(residual[:, :-1, 1].ravel(), residual[:, 1:, 1].ravel())[0, 1]
    channels = np.corrcoef(residual[..., 0].ravel(), residual[..., 1].ravel())[0, 1]
    return float(neighbours), float(channels)


def test_camera_noise_is_correlated_like_real_photos(no_jpeg):
    image = np.full((256, 256, 3), 0.4, np.float32)
    neighbours, channels = _correlations(add_noise(image, "camera", 6400, seed=5) - image)
    # PolyU's real noise: about 0.6-0.7 between neighbours and 0.4-0.8 between channels;
    # white noise would give 0 for both.
    assert 0.4 < neighbours < 0.9
    assert 0.2 < channels < 0.9


def test_correlated_gaussian_has_its_sigma_and_is_correlated():
    image = np.full((256, 256, 3), 0.5, np.float32)
    residuals = [add_noise(image, "correlated", 10, seed=seed, clip=False) - image for seed in range(6)]
    assert all(abs(residual.std() * 255 / 10 - 1) < 0.05 for residual in residuals)
    neighbours = [_correlations(residual)[0] for residual in residuals]
    assert max(neighbours) > 0.3


def test_camera_pipeline_round_trip_is_close_to_identity():
    from denoise.noise import CameraPipeline

    image = np.random.default_rng(1).uniform(0.02, 0.85, (16, 16, 3))
    camera = CameraPipeline.random(np.random.default_rng(2), count=2)
    batch = np.stack([image, image[::-1]])
    assert np.abs(camera.process(camera.unprocess(batch)) - batch).max() < 1e-6


def test_demosaic_keeps_recorded_pixels_and_flat_images():
    from denoise.noise import bayer_masks, demosaic

    flat = np.full((10, 12), 0.3)
    assert np.allclose(demosaic(flat), 0.3)
    mosaic = np.random.default_rng(3).random((10, 12))
    rgb = demosaic(mosaic)
    assert np.allclose(rgb[bayer_masks(10, 12)], np.broadcast_to(mosaic[..., None], (10, 12, 3))[bayer_masks(10, 12)])


def test_camera_noise_rejects_a_non_positive_iso():
    with pytest.raises(ValueError, match="positive"):
        add_noise(np.zeros((8, 8, 3), np.float32), "camera", 0)


def test_pixel_shuffled_estimate_reads_correlated_noise_closer_and_white_noise_alike():
    from denoise.classical import PHOTO_NOISE_STRIDE, estimate_noise_sigma

    image = np.full((256, 256, 3), 0.5, np.float32)
    correlated = add_noise(image, "correlated", 10, seed=1, clip=False)
    for seed in range(2, 8):  # a draw that blurs the noise between neighbours
        if _correlations(correlated - image)[0] > 0.5:
            break
        correlated = add_noise(image, "correlated", 10, seed=seed, clip=False)
    true = (correlated - image).std()
    white_noise_estimate = estimate_noise_sigma(correlated)
    photo_estimate = estimate_noise_sigma(correlated, stride=PHOTO_NOISE_STRIDE)
    assert white_noise_estimate < 0.6 * true and photo_estimate > 0.8 * true
    white = add_noise(image, "gaussian", 10, seed=0, clip=False)
    assert estimate_noise_sigma(white, stride=PHOTO_NOISE_STRIDE) * 255 == pytest.approx(10, rel=0.1)


def test_pixel_shuffled_estimate_lowers_its_stride_for_small_images():
    from denoise.classical import estimate_noise_sigma

    small = add_noise(np.full((12, 40), 0.5, np.float32), "gaussian", 20, seed=0, clip=False)
    assert estimate_noise_sigma(small, stride=4) * 255 == pytest.approx(20, rel=0.35)
