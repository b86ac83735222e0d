"""app/runtime.py and .streamlit/config.toml: what keeps Streamlit from undoing the server's warm state each run."""

import sys
import tomllib
from pathlib import Path

import keras
import numpy as np
from streamlit.runtime.scriptrunner import script_runner

from app.runtime import keep_keras_state

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
