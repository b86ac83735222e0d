"""How this app has Streamlit run its scripts, where Streamlit's defaults cost a classroom dearly.

After every script run (every widget change of every session) Streamlit 1.67 calls `keras.backend.clear_session()`
when Keras is imported, for apps that build a new model per run: it collects all of Python's garbage and clears
TensorFlow's kernel cache, about 0.26 s of a 2-core server each time (measured with py-spy, tests/load/README.md),
and the next Grad-CAM then rebuilds its kernels. Our networks are built once per server and shared, so there is
nothing to clear. (The other per-run collection, `runner.postScriptGC`, is switched off in .streamlit/config.toml.)

And while it runs, Streamlit polls its config files (the project's and the user's config.toml) five times a second
each, to reload them when they change: 4 of the 6 ms of CPU a second an idle server spent on two cores, and a thread
woken 10 times a second beside every visitor's run. A classroom server takes its configuration when it starts.
"""

from streamlit.runtime.scriptrunner import script_runner
from streamlit.web import bootstrap


def _clean_problem_modules_but_keras() -> None:
    """Streamlit's own clean-up after a run, less Keras: matplotlib's figures are still closed."""
    import sys  # noqa: PLC0415

    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close("all")


def keep_keras_state() -> None:
    """Stop Streamlit from clearing Keras' session after each script run (idempotent)."""
    script_runner._clean_problem_modules = _clean_problem_modules_but_keras


def _watch_no_config_files(flag_options) -> None:  # noqa: ARG001 -- bootstrap's signature
    """Streamlit's `_install_config_watchers`, watching nothing: the configuration is read once, at the start."""


def no_config_polling() -> None:
    """Stop Streamlit from polling its config files while the server runs (idempotent; before `cli.main()`)."""
    bootstrap._install_config_watchers = _watch_no_config_files
