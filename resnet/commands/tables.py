"""`python -m resnet tables`: count every network's per-layer table into the explorer's cache, once.

A page whose networks run elsewhere (RESNET_SERVE_URL) holds no Keras: its Architecture page reads these tables from
the cache (`resnet.table.stored_layer_table`). The image build and `make serve` run this; an in-process server
writes the tables it counts there too.
"""

from __future__ import annotations

import gc
import time

from resnet import paths, table
from resnet.architectures import ARCHITECTURES, ModelSpec


def register(subparsers) -> None:
    p = subparsers.add_parser("tables", help="count every network's per-layer table into the cache (for thin pages)",
                              description="Build each network of the table (and its plain twin) at its own input "
                                          "size and class count, count its per-layer table and keep it in the "
                                          "explorer's cache ($RESNET_CACHE_DIR/tables), where a page served without "
                                          "the network reads it.")
    p.add_argument("--arch", nargs="+", choices=list(ARCHITECTURES), default=list(ARCHITECTURES), metavar="NAME",
                   help="networks to count (default: every one)")
    p.set_defaults(func=main)


def default_specs(names) -> list[ModelSpec]:
    """What the Architecture and front pages open on: each network and its plain twin, at its own size, with top."""
    return [ModelSpec(arch=name, plain=plain) for name in names for plain in (False, True)]


def main(args) -> int:
    specs = default_specs(args.arch)
    start = time.perf_counter()
    counted = 0
    for spec in specs:
        if table.stored_layer_table(spec) is None:
            table.cached_layer_table(spec)
            counted += 1
            gc.collect()  # a network's layers refer to each other: its weights go at a collection
    print(f"{len(specs)} tables in {paths.table_cache()} ({counted} counted now, in "
          f"{time.perf_counter() - start:.1f} s)")
    return 0
