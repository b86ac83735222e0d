"""Figures of lesions, shortcut signals and receptive fields, from hand-made results."""

import numpy as np

from resnet.inference import UNTRAINED_LABEL, ClassScore
from resnet.lesion import LesionResult
from resnet.receptive import Box
from resnet.residual_blocks import residual_blocks
from resnet.residual_charts import field_picture, lesion_depth_figure, shortcut_figure, top_pair_figure
from resnet.shortcuts import BlockSignal

BLOCKS = residual_blocks("resnet20")  # 9 blocks; conv3_block1 and conv4_block1 have zero-padding shortcuts


def lesion_result():
    intact = np.array([0.1, 0.7, 0.2])
    removed = tuple((block.name,) for block in BLOCKS) + (("conv2_block1", "conv3_block2"),)
    kept = np.linspace(0.6, 0.1, len(removed))
    lesioned = np.stack([[0.9 - k, k, 0.1] for k in kept])
    return LesionResult(removed=removed, intact=intact, lesioned=lesioned)


def test_each_block_removed_is_one_bar_coloured_by_its_shortcut_with_the_intact_line():
    result = lesion_result()
    figure = lesion_depth_figure(result, BLOCKS, ClassScore(1, "n1", "one", 0.7), pretrained=True)
    bars = {trace.name.split(" ")[0]: trace for trace in figure.data}
    assert set(bars) == {"identity", "zero-padding"}
    zeros = bars["zero-padding"]
    assert list(zeros.x) == ["conv3_block1", "conv4_block1"]
    assert np.allclose(zeros.y, result.kept[[3, 6]])  # the set of two blocks is not a bar
    assert sum(len(trace.x) for trace in figure.data) == 9
    assert list(figure.layout.xaxis.categoryarray) == [b.name for b in BLOCKS]
    [line] = figure.layout.shapes
    assert line.y0 == line.y1 == 0.7 and "intact 70.0%" in figure.layout.annotations[0].text
    assert figure.layout.title.text == "Probability of “one (#1)” with each block removed"
    untrained = lesion_depth_figure(result, BLOCKS, ClassScore(1, "n1", "one", 0.7), pretrained=False)
    assert untrained.layout.title.text.endswith(UNTRAINED_LABEL)


def test_top_pair_shows_both_networks_side_by_side():
    intact = (ClassScore(1, "n1", "one", 0.7), ClassScore(2, "n2", "two", 0.2))
    lesioned = (ClassScore(2, "n2", "two", 0.5), ClassScore(1, "n1", "one", 0.4))
    figure = top_pair_figure(intact, lesioned, "conv3_block2", pretrained=False)
    left, right = figure.data
    assert list(left.y) == ["one (#1)", "two (#2)"] and list(right.x) == [0.5, 0.4]
    assert [a.text for a in figure.layout.annotations] == ["Intact", "Without conv3_block2"]
    assert UNTRAINED_LABEL in figure.layout.title.text


def test_shortcut_figure_is_the_ratio_per_block_with_the_line_at_one():
    signals = [BlockSignal(b.name, b.kind, 2.0, 0.5 + i) for i, b in enumerate(BLOCKS)]
    figure = shortcut_figure(signals, pretrained=True)
    values = {x: y for trace in figure.data for x, y in zip(trace.x, trace.y)}
    assert values == {s.block: s.ratio for s in signals} and values["conv2_block1"] == 0.25
    assert figure.layout.shapes[0].y0 == 1 and list(figure.layout.xaxis.categoryarray) == [b.name for b in BLOCKS]


def test_field_picture_draws_the_box_where_it_lies_inside_the_image():
    heat = np.zeros((8, 8))
    heat[3, 4] = 2.0
    picture = field_picture(heat, Box(-2, 1, 5, 6), min_width=16)  # enlarged twice; its top is off the image
    assert picture.shape == (16, 16, 3) and picture.dtype == np.uint8
    white = (picture == 255).all(axis=-1)
    assert white[0:12, 2].all() and white[0:12, 13].all()  # left and right edges, from the image's top
    assert white[11, 2:14].all() and not white[0, 5:11].any()  # bottom edge drawn, top edge (at -2) not
    assert picture[6:8, 8:10].max() > 0 and picture[2, 8].max() == 0  # the peak is coloured, no gradient is black
    crop = np.full((8, 8, 3), 100, np.uint8)
    over = field_picture(heat, Box(0, 0, 7, 7), crop, min_width=8)
    assert (over[0, 3] == 255).all() and (over[5, 5] == 100).all()  # the crop shows where there is no gradient
