"""`python -m resnet …`: a command line on the same functions the app uses."""

import argparse
import importlib
import sys

from resnet.commands import COMMANDS
from resnet.errors import UserError


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m resnet", description="ResNet Explorer on the command line.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"resnet.commands.{name}").register(sub)
    return top


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
