"""app/runtime.py and .streamlit/config.toml: what keeps Streamlit from undoing the server's warm state each run."""

import sys
import tomllib
from pathlib import Path

import keras
import numpy as np
from streamlit.runtime.scriptrunner import script_runner
from streamlit.watcher import polling_path_watcher
from streamlit.web import bootstrap

from app.runtime import keep_keras_state, no_config_polling

ROOT = Path(__file__).resolve().parents[1]


def test_streamlit_still_has_the_clean_up_we_replace():
    # A Streamlit upgrade that renames or moves it must fail here, not silently bring the cost back.
    assert callable(script_runner._clean_problem_modules)
    source = Path(script_runner.__file__).read_text()
    assert "_log_if_error(_clean_problem_modules)" in source and "clear_session()" in source


def suffix(name: str) -> int:
    """dense → 0, dense_7 → 7: Keras numbers unnamed layers of a kind from a global counter."""
    return int(name.rsplit("_", 1)[1]) if "_" in name else 0


def test_after_keep_keras_state_a_scripts_end_leaves_keras_and_its_kernels_alone():
    original = script_runner._clean_problem_modules
    try:
        keep_keras_state()
        inputs = keras.Input((4,), name="before_clean_up")
        layer = keras.layers.Dense(2, name="kept_dense")
        model = keras.Model(inputs, layer(inputs))
        x = np.ones((1, 4), "float32")
        expected = model(x).numpy()
        layer_before = keras.layers.Dense(1)
        script_runner._clean_problem_modules()  # what Streamlit calls after every run
        assert "keras" in sys.modules
        # Keras' global state was not reset: its name counter goes on from where it was.
        assert suffix(keras.layers.Dense(1).name) == suffix(layer_before.name) + 1
        np.testing.assert_array_equal(model(x).numpy(), expected)
    finally:
        script_runner._clean_problem_modules = original


def test_the_per_run_garbage_collection_is_off():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_streamlit_still_polls_its_config_files_where_we_stop_it():
    # If Streamlit moves its config watching elsewhere, the server polls again: fail here, not in a CPU figure.
    source = Path(bootstrap.__file__).read_text()
    assert source.count("_install_config_watchers(flag_options)") == 2  # its two ways to run an app
    assert 'watcher_type="poll"' in source and "def _install_config_watchers(flag_options" in source


def test_after_no_config_polling_a_starting_server_watches_no_config_file():
    original = bootstrap._install_config_watchers
    watching = []
    real_watcher = polling_path_watcher.PollingPathWatcher.__init__
    try:
        # Recorded, not replaced: a real watcher is made if anything asks for one.
        def recorded(self, path, *args, **kwargs):
            watching.append(str(path))
            real_watcher(self, path, *args, **kwargs)
            self._active = False  # and stopped at once: this test's process must not poll

        polling_path_watcher.PollingPathWatcher.__init__ = recorded
        original({})  # Streamlit's own: it watches at least the project's config.toml
        assert any(path.endswith("config.toml") for path in watching), watching
        watching.clear()
        no_config_polling()
        bootstrap._install_config_watchers({})
        assert watching == []
    finally:
        polling_path_watcher.PollingPathWatcher.__init__ = real_watcher
        bootstrap._install_config_watchers = original
