import numpy as np
import pytest

from denoise import add_noise


def test_noise_estimate_and_classical_methods(camera):
    from denoise.classical import estimate_noise_sigma, non_local_means, total_variation

    noisy = add_noise(camera[:128, :128, None], "gaussian", 25, seed=3, clip=False)
    assert abs(estimate_noise_sigma(noisy) * 255 - 25) < 3
    for method in (non_local_means, total_variation):
        denoised = method(noisy)
        assert denoised.shape == noisy.shape
        assert np.mean((denoised - camera[:128, :128, None]) ** 2) < np.mean((noisy - camera[:128, :128, None]) ** 2)
    assert estimate_noise_sigma(np.full((32, 32, 3), 0.5, np.float32)) < 1e-6  # flat: no noise
    assert estimate_noise_sigma(np.full((24, 32, 1), 20 / 255, np.float32)) == 0.0  # skimage: NaN
    with pytest.raises(ValueError, match="too small to estimate"):
        estimate_noise_sigma(noisy[:5, :40])


def test_noise_estimate_is_scikit_images_and_quiet_on_flat_channels(camera):
    import warnings

    from skimage.restoration import estimate_sigma

    from denoise.classical import estimate_noise_sigma

    colour = add_noise(np.repeat(camera[:96, :96, None], 3, axis=2), "gaussian", 15, seed=4, clip=False)
    expected = estimate_sigma(colour, channel_axis=-1, average_sigmas=True)
    assert estimate_noise_sigma(colour) == pytest.approx(expected, rel=1e-6)
    one_flat = colour.copy()
    one_flat[:, :, 1] = 0.5  # a flat channel adds no noise to the mean instead of making it NaN
    assert estimate_noise_sigma(one_flat) == pytest.approx(2 / 3 * estimate_noise_sigma(colour[:, :, ::2]), rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning to silence: flat images are checked first
        assert estimate_noise_sigma(np.full((24, 32, 1), 20 / 255, np.float32)) == 0.0
