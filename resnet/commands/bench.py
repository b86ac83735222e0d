"""`python -m resnet bench`: the speed targets, measured as medians and ratios in one run."""

from __future__ import annotations

from resnet import bench
from resnet.bench import SECTIONS, format_section
from resnet.commands.options import print_json
from resnet.errors import UserError


def register(subparsers) -> None:
    names = [section.__name__ for section in SECTIONS]
    p = subparsers.add_parser(
        "bench", help="forward pass per engine, bytes → top-5, first calls, memory (medians and ratios)",
        description="Time the forward pass of each engine (tf.function, BatchNorm folded, OpenVINO), the app's "
                    "bytes → top-5 path, first-call latency and the other speed targets. Cases of one table are "
                    "interleaved, so their ratios hold on a busy machine even when absolute times drift.")
    p.add_argument("--runs", type=int, default=20, help="rounds per table (default 20)")
    p.add_argument("--only", action="append", choices=names, metavar="SECTION",
                   help=f"run only this section (repeatable): {', '.join(names)}")
    p.add_argument("--json", action="store_true", help="print one JSON document instead of tables")
    p.set_defaults(func=main)


def main(args) -> int:
    if args.runs < 1:
        raise UserError(f"--runs must be at least 1, not {args.runs}")
    sections = bench.run(args.runs, args.only, on_section=None if args.json else _print_section)
    if args.json:
        print_json(bench.to_json(sections))
    return 0


def _print_section(section) -> None:
    print(format_section(section), end="\n\n", flush=True)
