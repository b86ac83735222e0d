"""Saving the Answer role's network once: ResNet → OpenVINO IR with its preprocessing inside, and the dense kernel
its heat maps need, into a cache folder keyed by architecture and weights (`ir_folder`).

This is the one step of the Answer role that needs TensorFlow (to build the network and trace it), so it runs in a
process of its own (`python -m resnet.serving.export`, or `python -m resnet serve --export`): the replica that
answers then reads the IR and never imports TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

MANIFEST = "manifest.json"


def export(arch: str, weights: str | None, seed: int, folder: Path, *, weights_problem: str | None = None) -> Path:
    """Build `arch` with the weights file `weights` (None: random weights of `seed`), and save into `folder` the
    IR (uint8 RGB crops in; probabilities and the last feature map out), the CAM kernel and a manifest. The folder
    appears whole or not at all: two replicas starting at once may both export, and the second rename loses."""
    import openvino

    from resnet.architectures import build, get
    from resnet.engines import TensorFlowEngine, with_pixel_steps
    from resnet.explaining import cam_head

    spec = get(arch)
    model = build(arch, weights=weights) if weights else build(arch, seed=seed)
    head = cam_head(model)
    source = TensorFlowEngine(model, "tf", features=head is not None)
    converted = openvino.convert_model(source.concrete_function(), share_weights=False)
    converted = with_pixel_steps(converted, spec.preprocessing)  # the answering engine's own

    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        # fp32 weights: the default fp16 compression moves answers by ~7e-5, past the 1e-5 the tier promises.
        openvino.save_model(converted, staging / "model.xml", compress_to_fp16=False)
        if head is not None:
            np.save(staging / "cam_kernel.npy", head.kernel.astype(np.float32))
        manifest = {"arch": arch, "weights": str(weights) if weights else f"random weights (seed {seed})",
                    "pretrained": weights is not None, "weights_problem": weights_problem,
                    "preprocessing": spec.preprocessing, "input_size": list(model.input_shape[1:3]),
                    "classes": int(model.output_shape[-1]), "cam_layer": head.layer if head else None}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
        try:
            os.rename(staging, folder)
        except OSError:
            if not (folder / MANIFEST).is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resnet.serving.export", description=__doc__.splitlines()[0])
    parser.add_argument("--arch", required=True)
    parser.add_argument("--weights", default=None, help="a weights file (default: random weights)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--problem", default=None, help="why ImageNet weights were not used")
    parser.add_argument("--out", required=True, type=Path)
    args = parser.parse_args(argv)
    export(args.arch, args.weights, args.seed, args.out, weights_problem=args.problem)
    return 0


if __name__ == "__main__":
    sys.exit(main())
