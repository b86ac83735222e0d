"""Errors a user can act on.

Every message is one line that says what was wrong and what to do. The CLI prints it and exits non-zero; the
app shows it in an `st.error` box and keeps serving. Anything that is *not* a `UserError` is a bug in our code.
"""


class UserError(Exception):
    """A problem with the user's input or environment, with a one-line message meant for them."""


class ImageError(UserError):
    """An uploaded or named file that cannot be classified (not an image, truncated, too large, too small…)."""


class WeightsUnavailable(UserError):
    """Pretrained weights were asked for but cannot be found, fetched or verified."""


class UnknownArchitecture(UserError):
    """A name that is not in the architecture table."""


class RunRefused(UserError):
    """A training run that a limit refuses (too many steps, too many concurrent runs…)."""
