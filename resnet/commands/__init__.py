"""Sub-commands of `python -m resnet`.

Each module here defines `register(subparsers)`, which adds its parser and sets `func` to a callable taking the
parsed arguments and returning an exit code. `COMMANDS` lists them in the order `--help` shows them.
"""

COMMANDS = ("summary", "diagram", "predict", "lesion", "receptive", "shortcuts", "gradients", "bench", "weights",
            "tables", "serve")
