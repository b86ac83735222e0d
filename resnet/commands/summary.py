"""`python -m resnet summary`: the per-layer table (shapes, parameters, MACs, receptive field, memory) and totals."""

from __future__ import annotations

import json
import sys

import pandas as pd

from resnet import table
from resnet.commands.options import add_model_arguments, model_spec
from resnet.naming import stage_name


def register(subparsers) -> None:
    p = subparsers.add_parser("summary", help="per-layer table: shapes, parameters, MACs, receptive field, memory",
                              description="Print one row per layer and the totals per stage and overall. MACs count "
                                          "convolutions and dense layers for one image; the receptive field and "
                                          "jump are in input pixels.")
    add_model_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON document with every column")
    p.set_defaults(func=main)


def main(args) -> int:
    rows = table.layer_table(model_spec(args).build())
    stages = table.stage_totals(rows)
    whole = table.totals(rows)
    if args.json:
        json.dump({"spec": vars(model_spec(args)), "layers": rows.to_dict(orient="records"),
                   "stages": stages.reset_index().to_dict(orient="records"), "totals": whole}, sys.stdout)
        print()
        return 0
    print(format_layers(rows))
    print()
    print(format_stages(stages))
    print()
    print(f"Total: {whole['layers']} layers, {whole['params']:,} parameters ({whole['trainable_params']:,} trainable, "
          f"{whole['non_trainable_params']:,} non-trainable), {table.human(whole['macs'])} MACs "
          f"({whole['macs']:,}), activations {table.human(whole['activation_bytes'])}B per image")
    return 0


def _shape(shape) -> str:
    return "×".join(map(str, shape))


def format_layers(rows: pd.DataFrame) -> str:
    shown = pd.DataFrame({
        "layer": rows.name,
        "type": rows.type,
        "stage": [stage_name(stage) for stage in rows.stage],
        "block": rows.block.map(lambda block: block or ""),
        "output": rows.output_shape.map(_shape),
        "params": rows.params.map("{:,}".format),
        "trainable": rows.trainable_params.map("{:,}".format),
        "non-train.": rows.non_trainable_params.map("{:,}".format),
        "MACs": rows.macs.map("{:,}".format),
        "RF px": rows.receptive_field,
        "jump": rows.jump,
        "memory": rows.activation_bytes.map(lambda n: f"{table.human(n)}B"),
    })
    return shown.to_string(index=False)


def format_stages(stages: pd.DataFrame) -> str:
    shown = pd.DataFrame({
        "stage": stages.stage_name,
        "blocks": stages.blocks,
        "layers": stages.layers,
        "output": stages.output_shape.map(_shape),
        "params": stages.params.map("{:,}".format),
        "MACs": stages.macs.map("{:,}".format),
        "RF px": stages.receptive_field,
        "jump": stages.jump,
        "memory": stages.activation_bytes.map(lambda n: f"{table.human(n)}B"),
    })
    return shown.to_string(index=False)
