"""What a visitor reads when something on the server is missing or broken, and what the operator reads instead.

A served page is read by anyone in the room: it never shows the server's paths, URLs, environment variable names or
exception text. Those go to the server's log (the terminal that ran `make run`), and the visitor reads what the
problem means for them and that the person running the server can fix it.
"""

from __future__ import annotations

from streamlit.logger import get_logger

LOG = get_logger("resnet_explorer")
FIX_IT = "the person running this server can fix it (the README says how)"


def for_the_operator(summary: str, details: str) -> None:
    """A problem the visitor was told about in plain words, with everything the operator needs, in the log."""
    LOG.warning("%s: %s", summary, details)


def server_problem(what: str, exc: BaseException) -> str:
    """Log `exc` with its traceback; return the visitor's line: what failed, and who can look into it."""
    LOG.error("%s", what, exc_info=exc)
    return f"{what}: something went wrong on the server; its log says why, and {FIX_IT}."


def misconfigured(what: str, exc: BaseException) -> str:
    """A setting of the operator's that is not valid (a RESNET_* variable): the log says which and why; the visitor
    reads what it stops."""
    LOG.warning("%s: %s", what, exc)
    return f"{what}: one of this server's settings is not valid; {FIX_IT}."


def weights_missing(title: str) -> str:
    """The Predict page's line when the server has no ImageNet weights for the network."""
    return (f"This server has no ImageNet weights for {title}, so every result below comes from random weights: "
            f"UNTRAINED, not a real prediction. The explanations still show how the network computes; for real "
            f"answers, {FIX_IT} and restart it.")


def tier_down(exc: BaseException) -> str:
    """The line a visitor reads when a lecture hall's network tier does not answer; the operator reads why."""
    LOG.warning("the network tier did not answer: %s", exc)
    return ("The network server is not answering just now, so this cannot be computed; try again in a minute "
            f"(if it lasts, {FIX_IT}).")
