"""The network tier as a Ray Serve application builder, for a Serve config file: deploy/kuberay.yaml's serveConfigV2
names `resnet.serve_app:build`. Serve calls a builder with one dictionary (the config's `args`); `python -m resnet
serve` calls `resnet.serving.deployments.application` itself.
"""

from __future__ import annotations

ARGS = ("arch", "weights", "seed", "roles", "answer_replicas", "folder")


def build(args: dict):
    """`application(**args)`, refusing a name it does not take in one line (a typo in a config file)."""
    from resnet.serving.deployments import application  # noqa: PLC0415 -- Ray Serve, an optional install

    unknown = sorted(set(args) - set(ARGS))
    if unknown:
        raise ValueError(f"unknown args {', '.join(unknown)}; use some of {', '.join(ARGS)}")
    options = dict(args)
    if "roles" in options:
        options["roles"] = tuple(options["roles"])
    return application(**options)
