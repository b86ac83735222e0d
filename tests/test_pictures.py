"""resnet.pictures: a heat map over the crop, feature maps tiled into one grey picture."""

from pathlib import Path

import numpy as np

from resnet import images
from resnet.explaining import FeatureMaps
from PIL import Image

from resnet.pictures import feature_grid, heat_colours, overlay

CAT = Path(__file__).resolve().parents[1] / "assets" / "samples" / "cat_chelsea.jpg"


def test_overlay_is_the_crop_tinted_by_the_heat_map():
    crop = images.crop_for_model(images.read_image_file(CAT))
    heat = np.zeros((7, 7), np.float32)
    heat[2, 5] = 1.0
    tinted = overlay(crop, heat)
    assert tinted.shape == (224, 224, 3) and tinted.dtype == np.uint8
    y, x = 2 * 32 + 16, 5 * 32 + 16  # centre of the hot cell in crop pixels
    assert int(tinted[y, x, 0]) - int(tinted[y, x, 2]) > int(crop[y, x, 0]) - int(crop[y, x, 2])  # redder there
    cold_y, cold_x = 6 * 32 + 16, 16
    assert int(tinted[cold_y, cold_x, 2]) - int(tinted[cold_y, cold_x, 0]) > (int(crop[cold_y, cold_x, 2])
                                                                                - int(crop[cold_y, cold_x, 0]))


def test_overlay_matches_the_blend_computed_in_floats():
    crop = images.crop_for_model(images.read_image_file(CAT))
    heat = np.random.default_rng(3).random((7, 7)).astype(np.float32)
    upsampled = np.asarray(Image.fromarray(heat, mode="F").resize((224, 224), Image.Resampling.BILINEAR))
    exact = 0.55 * crop.astype(np.float64) + 0.45 * heat_colours(np.clip(upsampled, 0, 1))
    difference = np.abs(overlay(crop, heat).astype(np.float64) - exact)
    assert difference.max() <= 2.5 and difference.mean() < 1.0  # the colour table's 256 levels, Pillow's rounding


def test_feature_grid_tiles_channels_row_by_row():
    maps = np.random.default_rng(0).random((10, 5, 6)).astype("float32")
    grid = feature_grid(maps, columns=4, gap=1)
    assert grid.shape == (3 * 5 + 2, 4 * 6 + 3)
    np.testing.assert_array_equal(grid[0:5, 7:13], maps[1])
    np.testing.assert_array_equal(grid[12:17, 7:13], maps[9])
    assert np.isnan(grid[12:17, 14:]).all() and np.isnan(grid[5]).all()  # empty tiles and gaps stay blank


def test_feature_picture_is_the_grid_in_grey_enlarged_by_whole_pixels():
    maps = np.random.default_rng(1).random((3, 7, 7)).astype("float32")
    maps[0] = 0.0
    maps[0, 0, 0] = 1.0
    picture = FeatureMaps("layer", (0, 1, 2), maps).picture(columns=2, min_width=100)
    factor = 100 // 15 + 1  # the grid is 15 pixels wide: 2 maps and a gap
    assert picture.dtype == np.uint8 and picture.shape == (15 * factor, 15 * factor)
    assert (picture[:factor, :factor] == 255).all() and (picture[factor:7 * factor, :7 * factor] == 0).all()
    assert (picture[:, 7 * factor:8 * factor] == 255).all()  # the gap between the columns is white
    assert (picture[8 * factor:, 8 * factor:] == 255).all()  # so is the empty fourth tile
    np.testing.assert_array_equal(picture[8 * factor:15 * factor:factor, :7 * factor:factor],
                                  np.rint(maps[2] * 255).astype(np.uint8))
