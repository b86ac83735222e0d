"""`python -m resnet summary` and `python -m resnet diagram`, run through the real argument parser."""

import json

import pytest

import resnet
from resnet.__main__ import main


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RESNET_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "diagrams"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_json_has_every_column_and_totals_that_match_keras(capsys):
    code, out, _ = run(capsys, "summary", "--arch", "resnet20", "--json")
    assert code == 0
    document = json.loads(out)
    model = resnet.build("resnet20")
    assert [row["name"] for row in document["layers"]] == [layer.name for layer in model.layers]
    assert set(document["layers"][0]) == set(resnet.table.COLUMNS)
    assert document["totals"]["params"] == model.count_params() == sum(row["params"] for row in document["layers"])
    conv1 = next(row for row in document["layers"] if row["name"] == "conv1_conv")
    assert conv1["macs"] == 32 * 32 * 3 * 3 * 3 * 16
    assert (conv1["receptive_field"], conv1["jump"], conv1["output_shape"]) == (3, 1, [32, 32, 16])
    assert [stage["stage_name"] for stage in document["stages"]] == ["stem", "conv2", "conv3", "conv4", "head"]


def test_summary_text_lists_layers_stages_and_totals(capsys):
    code, out, _ = run(capsys, "summary", "--arch", "resnet20", "--input-size", "64", "--classes", "7")
    assert code == 0
    conv1 = next(line for line in out.splitlines() if line.split()[:1] == ["conv1_conv"])
    assert conv1.split()[1:6] == ["Conv2D", "stem", "64×64×16", "432", "432"]  # the stem has no block
    assert f"{64 * 64 * 3 * 3 * 3 * 16:,}" in conv1
    params = resnet.build("resnet20", input_shape=(64, 64, 3), classes=7).count_params()
    assert f"Total: 71 layers, {params:,} parameters" in out


def test_summary_of_the_plain_headless_twin(capsys):
    code, out, _ = run(capsys, "summary", "--arch", "resnet20", "--plain", "--no-top", "--json")
    names = [row["name"] for row in json.loads(out)["layers"]]
    assert code == 0 and "predictions" not in names and not any(name.endswith("_add") for name in names)


def test_an_unknown_architecture_is_one_line_and_exit_2(capsys):
    for command in (["summary"], ["diagram", "-o", "x.svg"]):
        code, out, err = run(capsys, *command, "--arch", "resnet9000")
        assert code == 2 and out == ""
        assert err.startswith("error: unknown architecture 'resnet9000'") and err.count("\n") == 1


def test_diagram_writes_svg_and_png(capsys, tmp_path, cache):
    svg, png = tmp_path / "block.svg", tmp_path / "block.png"
    code, out, _ = run(capsys, "diagram", "--arch", "resnet20", "--block", "projection", "--show-shapes", "-o",
                       str(svg))
    assert code == 0 and out.startswith(f"wrote {svg}")
    text = svg.read_text()
    assert "<svg" in text and "conv3_block1_0_pad" in text and "Output shape" in text
    assert run(capsys, "diagram", "--arch", "resnet20", "--block", "projection", "-o", str(png))[0] == 0
    assert png.read_bytes().startswith(b"\x89PNG")


def test_diagram_collapsed_draws_every_block_once(capsys, tmp_path, cache):
    target = tmp_path / "blocks.svg"
    assert run(capsys, "diagram", "--arch", "resnet20", "--collapsed", "--expand", "conv3_block2", "-o",
               str(target))[0] == 0
    text = target.read_text()
    for stage in (2, 3, 4):
        for block in (1, 2, 3):
            if (stage, block) != (3, 2):
                assert text.count(f"<title>conv{stage}_block{block}</title>") == 1
    assert "<title>conv3_block2_add</title>" in text


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--stage", "9"], "error: this network has no stage 9"),
        (["--expand", "conv3_block2"], "error: --expand works with --collapsed only"),
        (["--collapsed", "--expand", "conv7_block1"], "error: nothing to expand called conv7_block1"),
    ],
)
def test_diagram_refuses_views_the_network_lacks(capsys, tmp_path, cache, argv, message):
    code, _, err = run(capsys, "diagram", "--arch", "resnet20", *argv, "-o", str(tmp_path / "x.svg"))
    assert code == 2 and err.startswith(message)


def test_diagram_needs_a_known_format(capsys, tmp_path):
    code, _, err = run(capsys, "diagram", "--arch", "resnet20", "-o", str(tmp_path / "x.pdf"))
    assert code == 2 and "name the file .svg or .png" in err
