import numpy as np
import pytest

from denoise import load_model
from denoise.pipeline import denoise_image, score_result


def test_pipeline_skips_the_noise_estimate_on_tiny_images(use_tiny_models):
    denoiser = load_model("default")
    tiny = denoise_image(denoiser, np.full((3, 5, 1), 0.5, np.float32))
    assert score_result(tiny).estimated_sigma is None and tiny.denoised.shape == (3, 5, 1)
    larger = denoise_image(denoiser, np.random.default_rng(0).random((32, 32, 1), np.float32))
    assert score_result(larger).estimated_sigma > 0


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 300, 3), (6, 40, 1), (40, 6, 3)])
def test_pipeline_scores_images_smaller_than_the_ssim_window_by_psnr_only(use_tiny_models, shape):
    clean = np.full(shape, 0.5, np.float32)
    result = denoise_image(load_model("default"), clean + 0.1)
    scores = score_result(result, clean).values
    assert set(scores) == {"psnr_noisy", "psnr_denoised"} and result.denoised.shape == shape
    assert scores["psnr_noisy"] == pytest.approx(20.0, abs=1e-3)


def test_pipeline_scores_noisy_and_denoised_against_the_clean_image(use_tiny_models):
    from denoise.metrics import psnr, ssim

    clean = np.linspace(0.2, 0.8, 48 * 40 * 3, dtype=np.float32).reshape(48, 40, 3)
    noisy = np.clip(clean + np.random.default_rng(1).normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    result = denoise_image(load_model("default"), noisy)
    scores = score_result(result, clean)
    assert scores.values == {
        "psnr_noisy": psnr(clean, noisy),
        "psnr_denoised": psnr(clean, result.denoised),
        "ssim_noisy": ssim(clean, noisy),
        "ssim_denoised": ssim(clean, result.denoised),
    }
    assert scores.values["ssim_noisy"] != scores.values["ssim_denoised"] and scores.estimated_sigma is None
