import io
import zlib

import numpy as np
import pytest
from PIL import Image

from denoise import ImageReadError, read_image, write_png
from denoise.image_io import encode_png
from tests.images import encode, gradient, png_bytes

RANDOM_PIXELS = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
RANDOM_PNG = encode(RANDOM_PIXELS, "PNG")
RANDOM_JPEG = encode(RANDOM_PIXELS, "JPEG")


@pytest.mark.parametrize("image_format", ["PNG", "TIFF", "BMP", "WEBP", "GIF", "JPEG"])
def test_reads_common_formats(image_format):
    source = Image.fromarray(gradient())
    options = {"lossless": True} if image_format == "WEBP" else {}
    loaded = read_image(encode(source, image_format, **options))
    assert loaded.pixels.shape == (40, 60, 3) and loaded.pixels.dtype == np.float32
    tolerance = {"JPEG": 0.05, "GIF": 0.1}.get(image_format, 1e-6)
    assert np.abs(loaded.pixels - gradient() / 255).mean() < tolerance


def test_grey_keeps_one_channel_and_channels_can_be_converted():
    grey = png_bytes(channels=1)
    assert read_image(grey).pixels.shape == (40, 60, 1)
    assert read_image(grey, channels=3).pixels.shape == (40, 60, 3)
    assert read_image(png_bytes(), channels=1).pixels.shape == (40, 60, 1)


def test_exif_orientation_is_applied():
    image = Image.fromarray(gradient(20, 50))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when displayed
    loaded = read_image(encode(image, "JPEG", exif=exif.tobytes()))
    assert loaded.pixels.shape == (50, 20, 3)


def test_alpha_is_set_aside_and_reattached(tmp_path):
    rgba = np.dstack([gradient(), np.full((40, 60), 128, np.uint8)])
    loaded = read_image(encode(Image.fromarray(rgba), "PNG"))
    assert loaded.pixels.shape == (40, 60, 3)
    assert np.allclose(loaded.alpha, 128 / 255)
    write_png(tmp_path / "out.png", loaded.pixels, alpha=loaded.alpha)
    with Image.open(tmp_path / "out.png") as written:
        assert written.mode == "RGBA"
        np.testing.assert_array_equal(np.asarray(written), rgba)


def test_sixteen_bit_grey_round_trip(tmp_path):
    samples = (np.arange(40 * 60, dtype=np.uint32).reshape(40, 60) * 27).astype(np.uint16)
    loaded = read_image(encode(Image.fromarray(samples), "PNG"))
    assert loaded.bit_depth == 16
    write_png(tmp_path / "out.png", loaded.pixels, bit_depth=loaded.bit_depth)
    with Image.open(tmp_path / "out.png") as written:
        np.testing.assert_array_equal(np.asarray(written).astype(np.uint16), samples)


def test_sixteen_bit_colour_png_is_valid():
    samples = np.random.default_rng(0).integers(0, 65535, (7, 9, 3)).astype(np.float32) / 65535
    data = encode_png(samples, bit_depth=16)
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        assert image.size == (9, 7) and image.format == "PNG"
        assert image.info.get("bits", 16) == 16 or image.mode.startswith(("RGB", "I"))
    assert data[24] == 16 and data[25] == 2  # IHDR bit depth 16, colour type RGB


@pytest.mark.parametrize("bit_depth,channels", [(8, 3), (16, 1)])  # Pillow reads 16-bit colour PNG as 8-bit
def test_every_strategy_writes_the_same_pixels(bit_depth, channels):
    samples = np.random.default_rng(1).random((33, 47, channels), dtype=np.float32)
    strategies = (None, zlib.Z_DEFAULT_STRATEGY, zlib.Z_HUFFMAN_ONLY, zlib.Z_RLE)
    default, *others = (read_image(encode_png(samples, bit_depth=bit_depth, strategy=each)) for each in strategies)
    for other in others:
        np.testing.assert_array_equal(default.pixels, other.pixels)
    assert default.bit_depth == bit_depth
    np.testing.assert_allclose(default.pixels, samples, atol=0.5 / (2**bit_depth - 1) + 1e-7)


def test_eight_bit_pngs_are_written_run_length_only_and_sixteen_bit_ones_with_zlibs_default(astronaut):
    for bit_depth, expected in ((8, zlib.Z_RLE), (16, zlib.Z_DEFAULT_STRATEGY)):
        chosen = encode_png(astronaut, bit_depth=bit_depth, strategy=expected)
        assert encode_png(astronaut, bit_depth=bit_depth) == chosen
    # On a photo, run-length coding stays within a few per cent of zlib's full search.
    assert len(encode_png(astronaut)) < 1.05 * len(encode_png(astronaut, strategy=zlib.Z_DEFAULT_STRATEGY))


def test_eight_bit_samples_read_as_value_over_255():
    values = np.arange(256, dtype=np.uint8).reshape(16, 16)
    for image in (Image.fromarray(values), Image.fromarray(np.stack([values] * 3, axis=2))):
        pixels = read_image(encode(image, "PNG")).pixels
        assert pixels.dtype == np.float32 and pixels.flags.c_contiguous
        np.testing.assert_array_equal(pixels[:, :, 0], values.astype(np.float32) / 255)


def test_sixteen_bit_colour_png_is_read_at_eight_bits_and_says_so():
    samples = np.random.default_rng(0).random((7, 9, 3), dtype=np.float32)
    loaded = read_image(encode_png(samples, bit_depth=16))
    assert loaded.bit_depth == 8 and "16-bit colour PNG" in loaded.notes[0]
    np.testing.assert_allclose(loaded.pixels, samples, atol=1 / 255)
    assert read_image(encode_png(samples[:, :, :1], bit_depth=16)).notes == []  # grey keeps 16 bits
    assert read_image(encode_png(samples)).notes == []


def test_animated_gif_uses_first_frame_and_says_so():
    frames = [Image.fromarray(np.full((10, 10, 3), value, np.uint8)) for value in (0, 255)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    loaded = read_image(data)
    assert loaded.pixels.max() == 0
    assert "first of 2 frames" in loaded.notes[0]


@pytest.mark.parametrize(
    "data,message",
    [
        (b"", "not a supported image"),
        (b"hello, world\n", "not a supported image"),
        (b"<html><body>hi</body></html>", "not a supported image"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "not a supported image"),
        (RANDOM_PNG[: len(RANDOM_PNG) // 2], "corrupt or truncated"),
        (RANDOM_JPEG[: len(RANDOM_JPEG) // 2], "corrupt or truncated"),
    ],
)
def test_non_images_are_refused(data, message):
    with pytest.raises(ImageReadError, match=message):
        read_image(data)


def test_decompression_bomb_is_refused_before_decoding():
    # A PNG whose header declares 40000 x 40000 pixels: the guard must fire on the header alone.
    header = png_bytes(1, 1, 1)
    bomb = bytearray(header)
    bomb[16:24] = (40000).to_bytes(4, "big") * 2
    import zlib

    bomb[29:33] = zlib.crc32(bytes(bomb[12:29])).to_bytes(4, "big")
    with pytest.raises(ImageReadError, match="too large"):
        read_image(bytes(bomb))


def test_write_is_atomic_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.png"

    def fail(*arguments, **options):
        raise OSError("disk full")

    monkeypatch.setattr("denoise.files.os.replace", fail)  # write_png writes through denoise.files
    with pytest.raises(OSError):
        write_png(target, np.zeros((4, 4)))
    assert list(tmp_path.iterdir()) == []
