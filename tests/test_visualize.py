"""What the app draws: display conversion, shrinking, latent grids and error maps."""

import numpy as np

from denoise.visualize import fit_width, to_display


def test_display_conversion_rounds_and_clips_as_before_in_bands():
    image = np.random.default_rng(1).normal(0.5, 0.6, (1301, 257, 3)).astype(np.float32)  # several bands
    expected = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(to_display(image), expected)
    np.testing.assert_array_equal(to_display(image[:, :, :1]), expected[:, :, 0])  # grey: H x W
    np.testing.assert_array_equal(to_display(image.astype(np.float64)), expected)


def test_fit_width_shrinks_only_wide_images_keeping_the_aspect_ratio():
    wide = np.zeros((300, 4000, 3), np.float32)
    assert fit_width(wide, 1460).shape == (110, 1460, 3)
    narrow = np.zeros((30, 40, 1), np.float32)
    assert fit_width(narrow, 1460).shape == (30, 40)
