"""Numbers an operator sets through environment variables, read into a frozen dataclass of defaults (resnet.limits,
resnet.upload_quota): one reader for both, so that every bad value is refused the same way, in one line that names
the variable, before anything is served with it."""

from __future__ import annotations

import dataclasses
import os


def check_positive(instance, what: str) -> None:
    """For a dataclass's __post_init__: every field above zero (a limit of 0 would refuse everything)."""
    for field in dataclasses.fields(instance):
        value = getattr(instance, field.name)
        if value <= 0:
            raise ValueError(f"{what} {field.name} must be positive, got {value}")


def from_environment(cls, variables: dict[str, str], environ, refused: type[Exception]):
    """`cls()` with each field that a variable of `variables` (variable -> field) sets in `environ` (default:
    os.environ) taken from it; a value that is not a number of the field's kind, or not above zero, is `refused`."""
    environ = os.environ if environ is None else environ
    kinds = {field.name: float if field.type in (float, "float") else int for field in dataclasses.fields(cls)}
    overrides = {}
    for variable, name in variables.items():
        if variable not in environ:
            continue
        kind, text = kinds[name], environ[variable]
        what = "a number" if kind is float else "a whole number"
        try:
            value = kind(text)
        except ValueError:
            raise refused(f"{variable}={text!r} is not {what}; unset it or give one") from None
        if not value > 0:
            raise refused(f"{variable}={text!r} must be above 0; unset it or give {what} above 0")
        overrides[name] = value
    return cls(**overrides)
