"""The blocks read from the architecture table are the blocks in the built networks, and walking them block by block
computes the network and leaves its graph as it was."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import resnet
from resnet.errors import UserError
from resnet.residual_blocks import BlockWalk, find_blocks, residual_blocks

SHAPE = (64, 64, 3)


def shortcut_in_graph(model, block):
    """The kind of shortcut the built network has, read from its layers rather than from the table."""
    names = {layer.name for layer in model.layers}
    for suffix, kind in (("_0_conv", "projection"), ("_0_pad", "zeros"), ("_0_pool", "pooled")):
        if block.name + suffix in names:
            return kind
    return "identity"


@pytest.mark.parametrize("name, kinds", [
    ("resnet50", {"projection": 4, "identity": 12}),
    ("resnet50v2", {"projection": 4, "pooled": 3, "identity": 9}),
    ("resnet18", {"projection": 3, "identity": 5}),
    ("resnet20", {"zeros": 2, "identity": 7}),
])
def test_the_table_names_every_block_of_the_built_network_and_its_shortcut(name, kinds):
    model = resnet.build(name, input_shape=SHAPE if name != "resnet20" else None)
    blocks = residual_blocks(name)
    adds = [layer.name for layer in model.layers if isinstance(layer, keras.layers.Add)]
    assert [block.add_layer for block in blocks] == adds
    assert all(model.get_layer(block.out_layer) for block in blocks)
    assert [block.kind for block in blocks] == [shortcut_in_graph(model, block) for block in blocks]
    assert {kind: sum(b.kind == kind for b in blocks) for kind in kinds} == kinds and len(blocks) == sum(kinds.values())


def test_keras_and_course_names():
    assert [b.name for b in residual_blocks("resnet50")][:4] == ["conv2_block1", "conv2_block2", "conv2_block3",
                                                                  "conv3_block1"]
    course = residual_blocks("resnet50_course")
    assert (course[0].name, course[0].add_layer, course[-1].out_layer) == ("res2a", "res2a_add", "res5c_out")
    assert residual_blocks("resnet50v2")[0].add_layer == "conv2_block1_out"  # V2 leaves the sum un-activated


def test_find_blocks_keeps_network_order_and_refuses_unknown_names_in_one_line():
    assert [b.name for b in find_blocks("resnet50", ["conv4_block1", "conv2_block3", "conv4_block1"])] == [
        "conv2_block3", "conv4_block1"]
    with pytest.raises(UserError) as caught:
        find_blocks("resnet50", ["conv3_block2", "conv3_block9"])
    message = str(caught.value)
    assert "conv3_block9" in message and "conv2_block1 … conv5_block3 (16 in all)" in message and "\n" not in message


@pytest.fixture(scope="module")
def resnet50():
    from tests.conftest import randomise

    return randomise(resnet.build("resnet50", input_shape=SHAPE), seed=4)


def test_the_walk_computes_the_network_and_adds_no_node_to_its_graph(resnet50, images):
    walk = BlockWalk(resnet50, "resnet50")
    summands = []
    output = tf.function(lambda x: walk(x, summands=summands))(images).numpy()
    # The walk's graph is traced as one tf.function, the model's call runs layer by layer: oneDNN may pick other
    # kernels for each (an AVX-512 machine differed by 1.5e-6 in a probability of 0.135), so float32 rounding only.
    np.testing.assert_allclose(output, resnet50(images, training=False).numpy(), rtol=0, atol=1e-5)
    assert len(summands) == 16
    # Grad-CAM, the per-layer table and BatchNorm folding read the graph: one node per layer, as built.
    assert all(len(layer._inbound_nodes) == 1 for layer in resnet50.layers)


def test_a_plain_twin_has_no_blocks_to_walk():
    with pytest.raises(UserError, match="no layer conv2_block1_add"):
        BlockWalk(resnet.build("resnet20", plain=True), "resnet20")
