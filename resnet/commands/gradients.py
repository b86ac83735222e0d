"""`python -m resnet gradients`: per-kernel gradient norms at initialisation or over a short run, and the
`--compare` report of He et al.'s degradation order. After a run, each net is judged on its held-out images
(`--holdout`), and on request its lesions, the line from its initial weights and a 2-D slice are measured there, and
the net saved (`--save`)."""

from __future__ import annotations

import json
import sys

import resnet
from resnet.errors import UserError
from resnet.training import INITIALIZERS, OPTIMIZERS, Run, RunConfig, run_document
from resnet.trained import TrainedNet

COMPARE_TAIL = 10  # a net's "final loss" is its mean training loss over the last steps: one batch is too noisy


def register(subparsers) -> None:
    p = subparsers.add_parser("gradients", help="gradient norms per layer of a residual net or its plain twin",
                              description="Train a net for a few steps (or none: --steps 0 gives the norms at "
                                          "initialisation) and print loss, accuracy and every kernel's gradient norm.")
    p.add_argument("--arch", default="resnet56", help="architecture name (default resnet56)")
    p.add_argument("--plain", action="store_true", help="the plain twin: same layers, no shortcuts")
    p.add_argument("--no-bn", dest="batch_norm", action="store_false", help="drop every BatchNormalization")
    p.add_argument("--init", choices=INITIALIZERS, default=None, help="kernel initialiser (default: the net's own)")
    p.add_argument("--compare", metavar="D1,D2",
                   help="train resnetD and plainD for each depth and report the final losses in He et al.'s order")
    p.add_argument("--steps", type=int, default=0, help="training steps; 0 = norms at initialisation (default)")
    p.add_argument("--batch", type=int, default=64, help="batch size (default 64)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lr", type=float, default=RunConfig.learning_rate,
                   help=f"learning rate (default {RunConfig.learning_rate})")
    p.add_argument("--optimizer", choices=OPTIMIZERS, default=RunConfig.optimizer)
    p.add_argument("--data", default="offline",
                   help="offline (generated shapes, default), noise (random probe images), cifar10, or a folder "
                        "with one sub-folder per class")
    p.add_argument("--image-size", type=int, default=None, help="image side in pixels (default: the net's own)")
    p.add_argument("--holdout", type=float, default=RunConfig.holdout,
                   help=f"share of each class never trained on, judged after the run (default {RunConfig.holdout}; "
                        "generated data draws its own held-out images)")
    p.add_argument("--lesions", action="store_true",
                   help="held-out accuracy with each residual block removed (the plain twin: the same positions)")
    p.add_argument("--line", type=int, default=0, metavar="POINTS",
                   help="held-out loss at POINTS places on the line from the initial (0) to the trained (1) weights, "
                        "from -0.5 to 1.5")
    p.add_argument("--slice", type=int, default=0, metavar="SIDE",
                   help="held-out loss on a SIDE×SIDE filter-normalised 2-D slice around the trained weights (odd)")
    p.add_argument("--sanity", action="store_true",
                   help="Grad-CAM's rank correlation with the trained map as blocks are randomised top down")
    p.add_argument("--save", metavar="DIR", help="write each trained net to DIR/NAME.keras")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    p.set_defaults(func=main)


def _config(args, arch: str, variants: tuple) -> RunConfig:
    initializer = args.init
    if initializer is None and arch in resnet.ARCHITECTURES:
        initializer = resnet.ARCHITECTURES[arch].style.kernel_initializer
    return RunConfig(arch=arch, variants=variants, batch_norm=args.batch_norm, initializer=initializer,
                     seed=args.seed, batch_size=args.batch, optimizer=args.optimizer, learning_rate=args.lr,
                     steps=args.steps, data=args.data, image_size=args.image_size, holdout=args.holdout,
                     lesions=args.lesions, line_points=args.line, slice_side=args.slice, sanity=args.sanity)


def main(args) -> int:
    if args.compare:
        return _compare(args)
    run = Run(_config(args, args.arch, ("plain",) if args.plain else ("residual",)))
    records = []
    for step_records in run.steps():
        records.extend(step_records)
        if not args.json:
            for record in step_records:
                _print_record(record)
    trained = run.trained()
    if args.save:
        for net in trained.values():
            path = net.save(args.save)
            if not args.json:
                print(f"saved {net.name} to {path}")
    if args.json:
        json.dump(run_document(run.config, records, run.stopped, trained), sys.stdout)
        print()
    else:
        for net in trained.values():
            _print_trained(net)
    return 0


def _print_trained(net: TrainedNet) -> None:
    result = net.result
    print(f"{net.name} on {sum(result.counts)} held-out images: loss {result.loss:.4f}  accuracy {result.accuracy:.3f}")
    for name, count, accuracy in zip(result.class_names, result.counts, result.class_accuracy):
        print(f"  {name:<24} {count:4d} images  accuracy {accuracy:.3f}")
    for lesion in net.lesions or ():
        print(f"  without {lesion.block:<16} accuracy {lesion.accuracy:.3f}")
    for point in net.line or ():
        print(f"  line alpha {point.alpha:+.2f}  loss {point.loss:.4f}")
    if net.slice is not None:
        print(f"  2-D slice {len(net.slice.alphas)}×{len(net.slice.betas)}: loss {net.slice.loss.min():.4f} to "
              f"{net.slice.loss.max():.4f}, {net.slice.centre:.4f} at the trained weights")
    for step in net.sanity or ():
        print(f"  CAM with {step.randomised:<14} randomised: rank correlation {step.rank_correlation:+.3f}")


def _print_record(record) -> None:
    when = "at initialisation" if record.step == 0 else f"step {record.step}"
    print(f"{record.net} {when}: loss {record.loss:.4f}  accuracy {record.accuracy:.3f}  ({record.seconds:.2f} s)")
    for depth, (layer, norm) in enumerate(record.norms, start=1):
        print(f"  {depth:3d} {layer:<24} {norm:.3e}")
    sys.stdout.flush()


def _depths(text: str) -> list[int]:
    try:
        depths = [int(part) for part in text.split(",")]
    except ValueError:
        raise UserError(f"--compare takes depths separated by commas, like 20,56; not {text!r}") from None
    if len(depths) < 2:
        raise UserError("--compare needs at least two depths, like 20,56")
    return sorted(depths)


def _compare(args) -> int:
    depths = _depths(args.compare)
    if args.steps < COMPARE_TAIL:
        raise UserError(f"--compare needs --steps of at least {COMPARE_TAIL} (a short run, e.g. --steps 100)")
    final = {}
    for depth in depths:
        run = Run(_config(args, f"resnet{depth}", ("residual", "plain")))
        losses = {}
        for step_records in run.steps():
            for record in step_records:
                losses.setdefault(record.net, []).append(record.loss)
            if not args.json:
                print(f"  step {step_records[0].step}: " + "  ".join(f"{r.net} {r.loss:.3f}" for r in step_records),
                      file=sys.stderr)
        for net, values in losses.items():
            final[net] = sum(values[-COMPARE_TAIL:]) / len(values[-COMPARE_TAIL:])
    report = compare_report(final, depths)
    if args.json:
        settings = {name: getattr(args, name) for name in ("steps", "batch", "seed", "lr", "optimizer", "data",
                                                            "batch_norm", "init", "image_size")}
        json.dump({"settings": settings, "final_loss": final, **report}, sys.stdout)
        print()
        return 0
    print(f"final training loss (mean of the last {COMPARE_TAIL} steps of {args.steps}):")
    for net, loss in final.items():
        print(f"  {net:<10} {loss:.4f}")
    for check in report["checks"]:
        print(f"{'yes' if check['holds'] else 'NO '}  {check['claim']}")
    return 0


def compare_report(final: dict, depths: list[int]) -> dict:
    """He et al.'s order between the shallowest and deepest depth: the deeper plain net trains worse, the deeper
    residual net does not."""
    shallow, deep = depths[0], depths[-1]
    plain_shallow, plain_deep = final[f"plain{shallow}"], final[f"plain{deep}"]
    res_shallow, res_deep = final[f"resnet{shallow}"], final[f"resnet{deep}"]
    return {"checks": [
        {"claim": f"plain-{deep} ({plain_deep:.4f}) above plain-{shallow} ({plain_shallow:.4f})",
         "holds": plain_deep > plain_shallow},
        {"claim": f"ResNet-{deep} ({res_deep:.4f}) not above ResNet-{shallow} ({res_shallow:.4f})",
         "holds": res_deep <= res_shallow},
    ]}
