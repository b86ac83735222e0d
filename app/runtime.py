"""How this app has Streamlit run its scripts, where Streamlit's defaults cost a classroom dearly.

After every script run (every widget change of every session) Streamlit 1.67 calls `keras.backend.clear_session()`
when Keras is imported, for apps that build a new model per run: it collects all of Python's garbage and clears
TensorFlow's kernel cache, about 0.26 s of a 2-core server each time (measured with py-spy, tests/load/README.md),
and the next Grad-CAM then rebuilds its kernels. Our networks are built once per server and shared, so there is
nothing to clear. (The other per-run collection, `runner.postScriptGC`, is switched off in .streamlit/config.toml.)

And while it runs, Streamlit polls its config files (the project's and the user's config.toml) five times a second
each, to reload them when they change: 4 of the 6 ms of CPU a second an idle server spent on two cores, and a thread
woken 10 times a second beside every visitor's run. A classroom server takes its configuration when it starts.

And every run hands the script a deep copy of each widget's value, so that a script cannot change what the widget
holds: for an uploader, a copy of every byte of every file on it for as long as the page runs. A visitor's 13 photos
of 19 MB (247 MB in the store) grew the server by 550 MB instead of 300 MB, and the Gradient lab's 200 MB folder was
copied again at every click. A file's bytes cannot be changed in place, so the copy can share them.
"""

import copy
import io

from streamlit.runtime.scriptrunner import script_runner
from streamlit.runtime.uploaded_file_manager import UploadedFile
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


def _uploaded_file_copy(self: UploadedFile, memo: dict) -> UploadedFile:
    """A copy of an uploaded file that shares its bytes: BytesIO copies a buffer over bytes only when it is written
    to, so a script that writes into its copy, or reads it, leaves the widget's file as it was."""
    twin = type(self).__new__(type(self))
    memo[id(self)] = twin
    io.BytesIO.__init__(twin, self.getvalue())  # the record's bytes themselves, unless this file was written to
    twin.__dict__.update(copy.deepcopy(self.__dict__, memo))  # its name, id, type, size and URLs
    twin.seek(self.tell())
    return twin


def share_uploaded_bytes() -> None:
    """Make the copy of an uploaded file Streamlit hands each run share the file's bytes (idempotent)."""
    UploadedFile.__deepcopy__ = _uploaded_file_copy
