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


@pytest.mark.parametrize("kind,level", [("gaussian", 10), ("poisson", 20), ("salt_pepper", 0.05), ("speckle", 0.1)])
@pytest.mark.parametrize("shape", [(20, 30), (20, 30, 1), (20, 30, 3)])
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
