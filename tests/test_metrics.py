import warnings

import numpy as np
import pytest

from denoise.metrics import luminance_chroma_psnr, psnr


@pytest.fixture
def clean() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.uniform(0.2, 0.8, (16, 24, 3))


def test_equal_images_have_an_infinite_psnr_without_a_warning(clean):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert psnr(clean, clean) == np.inf


def test_an_error_shared_by_the_channels_is_all_luminance(clean):
    luminance, chroma = luminance_chroma_psnr(clean, clean + 0.05)
    assert luminance == pytest.approx(psnr(clean, clean + 0.05)) and chroma > 200  # (rounding leaves about 1e-33)


def test_an_error_that_sums_to_zero_over_the_channels_is_all_chroma(clean):
    estimate = clean + np.array([0.05, -0.1, 0.05])
    luminance, chroma = luminance_chroma_psnr(clean, estimate)
    assert luminance > 200 and chroma == pytest.approx(psnr(clean, estimate))


def test_the_two_parts_add_up_to_the_whole_error(clean):
    estimate = clean + np.random.default_rng(1).normal(0, 0.05, clean.shape)
    luminance, chroma = luminance_chroma_psnr(clean, estimate)
    assert 10 ** (-luminance / 10) + 10 ** (-chroma / 10) == pytest.approx(10 ** (-psnr(clean, estimate) / 10))
    assert chroma < luminance  # independent noise: two thirds of it is chroma


def test_grey_or_mismatched_images_raise(clean):
    with pytest.raises(ValueError, match="H x W x 3"):
        luminance_chroma_psnr(clean[:, :, :1], clean[:, :, :1])
    with pytest.raises(ValueError, match="H x W x 3"):
        luminance_chroma_psnr(clean, clean[:8])
