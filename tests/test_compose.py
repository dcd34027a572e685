"""The composable pieces, on their own and around classical methods as around models."""

import numpy as np
import pytest

from denoise import add_noise, load_model
from denoise.classical import non_local_means, total_variation
from denoise.compose import (
    MOSAIC_ORIENTATIONS,
    ORIENTATIONS,
    ByChannels,
    Classical,
    ConvolutionalModel,
    LuminanceBlend,
    MatchChannels,
    MosaicEnsemble,
    NoiseRouted,
    RecorruptedAverage,
    SelfEnsemble,
    Tiled,
    leaf_inputs,
    luminance,
    orient,
    orient_mosaic,
    replace_leaf,
    reporting_tiles,
    tile_counter,
)
from denoise.inference import read_model_file
from denoise.models import build_model, receptive_field


@pytest.fixture
def noisy_colour(astronaut) -> np.ndarray:
    return add_noise(astronaut[:100, :140], "gaussian", 25, seed=0, clip=False)


def test_orientations_are_undone_exactly():
    image = np.arange(5 * 7 * 3, dtype=np.float32).reshape(5, 7, 3)
    views = [orient(image, orientation) for orientation in ORIENTATIONS]
    assert len({view.tobytes() + bytes(view.shape) for view in views}) == 8  # all different
    for orientation, view in zip(ORIENTATIONS, views, strict=True):
        np.testing.assert_array_equal(orient(view, orientation, undo=True), image)


@pytest.mark.parametrize("name", ["default", "dense"])
def test_averaged_orientations_are_the_mean_of_turned_results(use_tiny_models, noisy_colour, name):
    once = load_model(name)
    copies = [orient(once.denoise(orient(noisy_colour, view)), view, undo=True) for view in ORIENTATIONS[:4]]
    averaged = load_model(name, orientations=4).denoise(noisy_colour)
    # Here each copy is clipped to [0, 1] before the mean; the denoiser clips the mean.
    unclipped = np.all([(copy > 0) & (copy < 1) for copy in copies], axis=0)
    assert unclipped.mean() > 0.5
    np.testing.assert_allclose(averaged[unclipped], np.mean(copies, axis=0)[unclipped], atol=1e-5)
    assert np.abs(averaged - once.denoise(noisy_colour)).max() > 1e-4  # the copies differ


def test_the_self_ensemble_wraps_a_classical_method(camera):
    noisy = add_noise(camera[:64, :80, None], "gaussian", 25, seed=0, clip=False)
    method = Classical(total_variation, "tv", sigma=25 / 255)
    ensemble = SelfEnsemble(method, orientations=8)
    copies = [orient(method(orient(noisy, view)), view, undo=True) for view in ORIENTATIONS]
    np.testing.assert_allclose(ensemble(noisy), np.mean(copies, axis=0), atol=1e-6)
    assert ensemble.name == "tv"
    with pytest.raises(ValueError, match="orientations must be one of 1, 2, 4, 8"):
        SelfEnsemble(method, orientations=3)


def test_the_recorrupted_average_is_the_mean_over_copies_with_fresh_noise(camera):
    from denoise.objectives import RECORRUPTION_ALPHA

    image = camera[:64, :80, None]
    identity = Classical(lambda pixels, sigma: pixels.copy(), "identity", sigma=0.0)
    average = RecorruptedAverage(identity, sigma=0.1, count=64)
    result = average(image)
    added = result - image  # the mean of 64 draws of alpha sigma z: alpha sigma / 8 apart from 0
    assert abs(added.std() - RECORRUPTION_ALPHA * 0.1 / 8) < 0.1 * RECORRUPTION_ALPHA * 0.1 / 8
    np.testing.assert_array_equal(average(image), result)  # seeded per call
    assert average.name == "identity" and average.tile_passes == 64 * identity.tile_passes
    with pytest.raises(ValueError, match="count must be at least 1"):
        RecorruptedAverage(identity, sigma=0.1, count=0)
    with pytest.raises(ValueError, match="sigma must be above 0"):
        RecorruptedAverage(identity, sigma=0.0)


def test_each_mosaic_orientation_keeps_the_pattern_and_is_undone():
    from denoise.raw import pack, unpack

    rng = np.random.default_rng(0)
    colour = np.tile([[0, 1], [1, 2]], (5, 7))  # RGGB: red 0, green 1, blue 2
    mosaic = (colour * 10 + rng.random(colour.shape)).astype(np.float32)
    packed = np.concatenate([pack(mosaic), pack(mosaic) + 100], axis=-1)  # two groups of four
    for orientation in MOSAIC_ORIENTATIONS:
        flip_rows, flip_columns, transpose = orientation
        # The same view built on the mosaic: one reflected pixel on each flipped side, the flip, the transpose.
        extended = np.pad(mosaic, ((int(flip_rows),) * 2, (int(flip_columns),) * 2), mode="reflect")
        view = extended[:: -1 if flip_rows else 1, :: -1 if flip_columns else 1]
        view = view.T if transpose else view
        turned = orient_mosaic(packed, orientation)
        np.testing.assert_array_equal(turned[..., :4], pack(np.ascontiguousarray(view)))
        np.testing.assert_array_equal(turned[..., 4:], turned[..., :4] + 100)
        assert all((turned[..., plane] // 10 == code).all() for plane, code in enumerate([0, 1, 1, 2]))  # RGGB
        np.testing.assert_array_equal(orient_mosaic(turned, orientation, undo=True), packed)
        back = orient_mosaic(turned[..., :4], orientation, undo=True)  # a result of four planes
        np.testing.assert_array_equal(unpack(back, "RGGB", mosaic.shape), mosaic)


def test_the_mosaic_ensemble_averages_pattern_keeping_views():
    image = np.random.default_rng(0).random((6, 9, 4), dtype=np.float32)
    identity = Classical(lambda pixels, sigma: pixels.copy(), "identity", sigma=0.0)
    for orientations in (1, 2, 4, 8):
        ensemble = MosaicEnsemble(identity, orientations)
        np.testing.assert_allclose(ensemble(image), image, atol=1e-6)
        assert ensemble.tile_passes == orientations * identity.tile_passes

    # A piece that treats positions and channels differently: the mean of its runs on each view.
    def lopsided(pixels, sigma):
        return pixels * np.arange(1, pixels.shape[1] + 1, dtype=np.float32)[None, :, None] * [1, 2, 3, 4]

    method = Classical(lopsided, "lopsided", sigma=0.0)
    views = [orient_mosaic(method(orient_mosaic(image, view)), view, undo=True) for view in MOSAIC_ORIENTATIONS[:4]]
    np.testing.assert_allclose(MosaicEnsemble(method, 4)(image), np.mean(views, axis=0), rtol=1e-6)
    assert not np.allclose(views[0], views[2])  # the half turn is a different run
    with pytest.raises(ValueError, match="one of 1, 2, 4, 8"):
        MosaicEnsemble(identity, 3)
    with pytest.raises(ValueError, match="groups of four"):
        MosaicEnsemble(identity, 2)(image[..., :3])


def test_tiling_a_classical_method_with_its_reach_gives_the_untiled_result(camera):
    noisy = add_noise(camera[:150, :130, None], "gaussian", 25, seed=0, clip=False)
    method = Classical(non_local_means, "nlm", sigma=25 / 255)
    # Fast non-local means compares 5 x 5 patches up to 6 pixels away: it reaches 6 + 2 pixels.
    tiled = Tiled(method, tile_size=48, margin=8)
    np.testing.assert_allclose(tiled(noisy), method(noisy), atol=1e-5)
    narrow = Tiled(method, tile_size=48, margin=1)
    assert np.abs(narrow(noisy) - method(noisy)).max() > 1e-3  # too little margin shows


def test_the_tiles_of_a_large_photo_come_in_four_shapes_and_cover_it_once():
    tiled = Tiled(Classical(non_local_means, "nlm", sigma=0.1), tile_size=1024, margin=104)
    layout = tiled.layout(3000, 4000)
    assert len(layout) == 12
    assert {(rows.stop - rows.start, columns.stop - columns.start) for rows, columns, _, _ in layout} == {
        (1104, 1104),
        (1104, 1208),
        (1208, 1104),
        (1208, 1208),
    }
    covered = np.zeros((3000, 4000), int)
    for rows, columns, kept_rows, kept_columns in layout:
        covered[rows, columns][kept_rows, kept_columns] += 1
        # Context on every side of the kept part, or the image's edge.
        assert kept_rows.start >= 104 or rows.start == 0
        assert rows.stop - rows.start - kept_rows.stop >= 104 or rows.stop == 3000
    assert (covered == 1).all()


def test_receptive_field_is_where_the_output_stops_moving():
    model = build_model("conv", 1, 2, width=4)
    radius = receptive_field(model)
    assert 8 <= radius <= 64
    image = np.random.default_rng(0).random((1, 160, 160, 1), np.float32)
    changed = image.copy()
    changed[0, 80, 80] += 0.5
    moved = np.abs(np.asarray(model(changed)) - np.asarray(model(image)))[0, :, :, 0] > 1e-6
    rows, columns = np.nonzero(moved)
    assert max(np.abs(rows - 80).max(), np.abs(columns - 80).max()) <= radius
    with pytest.raises(ValueError, match="not on flattened patches"):
        receptive_field(build_model("dense", 1, 4))


def test_a_tiled_model_takes_its_margin_from_its_receptive_field(use_tiny_models, astronaut):
    entry = read_model_file(use_tiny_models / "unet-color.keras")
    piece = ConvolutionalModel(entry.model, entry.name)
    assert piece.receptive_field == receptive_field(entry.model) and piece.receptive_field > 64
    tiled = Tiled(piece, tile_size=64)
    assert tiled.receptive_field == piece.receptive_field
    image = astronaut[:400, :360]
    np.testing.assert_allclose(tiled(image), piece(image), atol=1e-5)


def test_tiles_are_reported_as_they_finish(camera):
    method = Classical(total_variation, "tv", sigma=0.1)
    reports = []
    with reporting_tiles(lambda done, tiles: reports.append((done, tiles))):
        Tiled(method, tile_size=40, margin=4)(camera[:100, :100, None])
    assert reports == [(done, 9) for done in range(1, 10)]
    Tiled(method, tile_size=40, margin=4)(camera[:100, :100, None])  # outside the context: no reports
    assert len(reports) == 9


def test_match_channels_runs_a_grey_piece_on_each_channel(astronaut):
    method = Classical(total_variation, "tv", sigma=0.1)
    matched = MatchChannels(method, channels=1)
    expected = np.concatenate([method(astronaut[:32, :32, [c]]) for c in range(3)], axis=2)
    np.testing.assert_allclose(matched(astronaut[:32, :32]), expected, atol=1e-6)
    assert matched.resolve(astronaut[:32, :32, :1]) is method  # nothing to fit


def test_noise_routing_and_luminance_blend_compose_around_classical_methods(camera, astronaut):
    gentle, strong = Classical(total_variation, "gentle", 0.01), Classical(total_variation, "strong", 0.2)
    routed = NoiseRouted(strong, gentle, below_sigma=10)
    low = add_noise(camera[:64, :64, None], "gaussian", 3, seed=0, clip=False)
    high = add_noise(camera[:64, :64, None], "gaussian", 30, seed=0, clip=False)
    assert routed.resolve(low).name == "gentle" and routed.resolve(high).name == "strong"
    np.testing.assert_array_equal(routed(low), gentle(low))
    blend = LuminanceBlend(Classical(total_variation, "colour", 0.1), routed, weight=0.5)
    colour = add_noise(astronaut[:64, :64], "gaussian", 30, seed=0, clip=False)
    assert blend.resolve(colour).name == "colour + strong luminance"
    result = blend(colour)
    own = blend.colour(colour)
    np.testing.assert_allclose(luminance(result), 0.5 * luminance(own) + 0.5 * strong(luminance(colour)), atol=1e-5)
    np.testing.assert_allclose(result - luminance(result), own - luminance(own), atol=1e-5)  # colour differences kept
    by_channels = ByChannels({1: routed, 3: blend})
    assert by_channels.resolve(colour).name == "colour + strong luminance"
    np.testing.assert_array_equal(by_channels(low), gentle(low))


def test_replace_leaf_swaps_one_piece_anywhere_and_keeps_the_others():
    gentle, strong, colour = (Classical(total_variation, name, 0.1) for name in ("gentle", "strong", "colour"))
    other = Classical(total_variation, "other", 0.1)
    tree = ByChannels({1: Tiled(NoiseRouted(strong, gentle, below_sigma=10)), 3: LuminanceBlend(colour, strong, 0.5)})
    swapped = replace_leaf(tree, strong, other)
    assert swapped.pieces[3].grey is other and swapped.pieces[3].colour is colour
    assert swapped.pieces[1].inner.inner is other and swapped.pieces[1].inner.low_noise is gentle
    assert tree.pieces[3].grey is strong  # the original tree is left as it was
    assert replace_leaf(tree, Classical(total_variation, "absent", 0.1), other).name == tree.name


def test_leaf_inputs_say_what_each_model_runs_on_and_how_strong_its_noise_is(camera, astronaut):
    grey = ConvolutionalModel(build_model("conv", 1, 2, width=4), "grey")
    colour = ConvolutionalModel(build_model("conv", 3, 2, width=4), "colour")
    low = ConvolutionalModel(build_model("conv", 1, 2, width=4), "low")
    tree = ByChannels({1: NoiseRouted(grey, low, below_sigma=10), 3: Tiled(LuminanceBlend(colour, grey, 0.5))})
    image = add_noise(astronaut[:64, :64], "gaussian", 30, seed=0, clip=False)
    [(first, first_input, first_scale), (second, second_input, second_scale)] = leaf_inputs(tree, image)
    assert first is colour and first_input is image and first_scale == 1.0
    assert second is grey and second_scale == pytest.approx(1 / np.sqrt(3))
    np.testing.assert_array_equal(second_input, luminance(image))
    quiet = add_noise(camera[:64, :64, None], "gaussian", 2, seed=0, clip=False)
    assert [(leaf.name, scale) for leaf, _, scale in leaf_inputs(tree, quiet)] == [("low", 1.0)]  # routed
    per_channel = list(leaf_inputs(MatchChannels(grey, channels=1), image))
    assert [leaf for leaf, _, _ in per_channel] == [grey] * 3
    np.testing.assert_array_equal(per_channel[2][1], image[:, :, [2]])


def test_a_tile_counter_counts_every_pass_of_a_self_ensemble_together():
    identity = Classical(lambda image, sigma: image, "identity")
    piece = SelfEnsemble(Tiled(identity, tile_size=8, margin=0), orientations=2)
    reports = []
    with reporting_tiles(tile_counter(piece.tile_passes, lambda done, total: reports.append((done, total)))):
        piece(np.zeros((16, 8, 1), np.float32))  # two tiles per pass, two passes
    assert reports == [(1, 4), (2, 4), (3, 4), (4, 4)]
