import numpy as np
import pytest
from scipy import ndimage

from denoise import load_model
from denoise.strength import MAX_STRENGTH, apply_strength


def blur(image: np.ndarray) -> np.ndarray:
    """A stand-in denoiser: any image-to-image function can be wrapped."""
    return ndimage.gaussian_filter(image, sigma=(1.5, 1.5, 0))


@pytest.fixture
def noisy() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.clip(0.5 + rng.normal(0, 0.1, (32, 40, 3)), 0, 1).astype(np.float32)


def test_strength_zero_is_the_input_and_one_is_the_denoiser(noisy):
    calls = []
    np.testing.assert_array_equal(apply_strength(lambda image: calls.append(1) or image, noisy, 0.0), noisy)
    assert not calls  # strength 0 costs no model run
    np.testing.assert_allclose(apply_strength(blur, noisy, 1.0), np.clip(blur(noisy), 0, 1))


def test_strength_one_copies_only_what_needs_clipping(noisy):
    inside = blur(noisy)
    assert apply_strength(lambda image: inside, noisy, 1.0) is inside  # no copy of a large image
    outside = inside.copy()
    outside[0, 0], outside[0, 1] = -0.2, 1.3  # a denoiser may overshoot
    clipped = apply_strength(lambda image: outside, noisy, 1.0)
    assert clipped is not outside and clipped.min() == 0 and clipped.max() == 1
    assert outside.min() == np.float32(-0.2)  # the denoiser's own array is left as it was
    assert apply_strength(lambda image: image, noisy, 1.0) is not noisy  # never the caller's input


@pytest.mark.parametrize("strength", [0.5, 1.5])
def test_a_blend_is_worked_in_the_denoisers_result_and_never_in_the_input(noisy, strength):
    original, results = noisy.copy(), []
    blended = apply_strength(lambda image: results.append(blur(image)) or results[-1], noisy, strength)
    assert np.shares_memory(blended, results[-1])  # no third image-sized array
    np.testing.assert_array_equal(noisy, original)
    expected = noisy + strength * (blur(noisy) - noisy) if strength < 1 else None
    if expected is not None:
        np.testing.assert_allclose(blended, np.clip(expected, 0, 1), atol=1e-6)
    kept = blur(noisy)
    kept.flags.writeable = False  # a denoiser's array it keeps (a cache) is copied, not written
    apply_strength(lambda image: kept, noisy, strength)
    np.testing.assert_array_equal(kept, blur(noisy))
    np.testing.assert_array_equal(apply_strength(lambda image: image, noisy, strength), noisy)
    np.testing.assert_array_equal(noisy, original)


def test_more_strength_removes_more(noisy):
    strengths = [0.0, 0.25, 0.5, 1.0, 1.5, MAX_STRENGTH]
    removed = [np.abs(apply_strength(blur, noisy, strength) - noisy).mean() for strength in strengths]
    assert all(earlier < later for earlier, later in zip(removed, removed[1:], strict=False))


@pytest.mark.parametrize("strength", [-0.1, MAX_STRENGTH + 0.1, float("nan")])
def test_strength_out_of_range_is_refused(noisy, strength):
    with pytest.raises(ValueError, match="strength must be between 0 and 2"):
        apply_strength(blur, noisy, strength)


def test_a_denoiser_takes_a_strength(use_tiny_models, noisy):
    denoiser = load_model("photo")
    np.testing.assert_array_equal(denoiser.denoise(noisy, 0.0), noisy)
    np.testing.assert_array_equal(denoiser.denoise(noisy, 1.0), denoiser.denoise(noisy))
    removed = [np.abs(denoiser.denoise(noisy, strength) - noisy).mean() for strength in (0.5, 1.0)]
    assert removed[0] < removed[1]
