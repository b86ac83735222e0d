"""app/runtime.py and .streamlit/config.toml: what keeps Streamlit from undoing the server's warm state each run."""

import copy
import sys
import tomllib
from pathlib import Path

import keras
import numpy as np
import pytest
from streamlit.proto.Common_pb2 import FileURLs
from streamlit.runtime import uploaded_file_manager
from streamlit.runtime.scriptrunner import script_runner
from streamlit.runtime.state import session_state
from streamlit.runtime.uploaded_file_manager import UploadedFile, UploadedFileRec
from streamlit.testing.v1 import AppTest
from streamlit.watcher import polling_path_watcher
from streamlit.web import bootstrap

from app.runtime import keep_keras_state, no_config_polling, share_uploaded_bytes

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


# --- uploads handed to each run ---------------------------------------------------------------------------------------


@pytest.fixture
def streamlits_own_copy():
    """UploadedFile as Streamlit ships it for the test (another test module may have shared its bytes already)."""
    ours = UploadedFile.__dict__.get("__deepcopy__")
    if ours is not None:
        del UploadedFile.__deepcopy__
    yield
    if ours is not None:
        UploadedFile.__deepcopy__ = ours
    elif "__deepcopy__" in UploadedFile.__dict__:
        del UploadedFile.__deepcopy__


def test_streamlit_still_deep_copies_each_widget_value_and_has_no_copy_of_its_own_for_files():
    # If Streamlit stops copying, the fix has nothing left to do; if it gives UploadedFile a copy of its own, ours
    # replaces it and must be looked at again.
    assert "widget_value = deepcopy(widget_value)" in Path(session_state.__file__).read_text()
    assert "__deepcopy__" not in Path(uploaded_file_manager.__file__).read_text()


def uploaded(data: bytes, name: str = "photo.jpg") -> UploadedFile:
    return UploadedFile(UploadedFileRec(file_id=f"id-{name}", name=name, type="image/jpeg", data=data),
                        FileURLs(file_id=f"id-{name}", upload_url="/u", delete_url="/d"))


def test_a_copy_of_an_uploaded_file_shares_its_bytes_and_stays_apart(streamlits_own_copy):
    data = bytes(range(256)) * 4096
    original = uploaded(data)
    assert copy.deepcopy(original).getvalue() is not data  # what every run cost before: a copy of the bytes
    share_uploaded_bytes()
    original.seek(100)
    twin = copy.deepcopy(original)
    assert twin.getvalue() is data
    assert (twin.file_id, twin.name, twin.type, twin.size, twin.tell()) == ("id-photo.jpg", "photo.jpg", "image/jpeg",
                                                                            len(data), 100)
    assert twin == original and twin._file_urls == original._file_urls and twin._file_urls is not original._file_urls
    twin.seek(0)
    twin.write(b"written by a script")
    assert twin.read(3) == data[19:22]
    assert original.getvalue() is data and original.tell() == 100  # the widget's file is as it was
    assert copy.deepcopy([original, original])[1].getvalue() is data  # one copy per object, as deepcopy's memo says


def uploader_script():
    import streamlit as st
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    for file in st.file_uploader("Photos", accept_multiple_files=True) or []:
        stored = ctx.uploaded_file_mgr.get_files(ctx.session_id, [file.file_id])[0].data
        st.text(f"{file.name}: {'shared' if file.getvalue() is stored else 'copied'}, starts {file.read(4)!r}")
        file.seek(0)
        file.write(b"XXXX")  # a script that writes into what it was handed


def test_a_run_is_handed_the_stores_bytes_and_what_it_writes_stays_in_that_run(streamlits_own_copy):
    app = AppTest.from_function(uploader_script, default_timeout=30)
    app.run()
    app.file_uploader[0].upload("a.jpg", b"JPEGDATA" * 1000, "image/jpeg").run()
    assert [t.value for t in app.text] == ["a.jpg: copied, starts b'JPEG'"]  # Streamlit's own copy
    share_uploaded_bytes()
    app.run()
    app.run()  # the second run still reads the bytes the visitor sent, not the first run's XXXX
    assert [t.value for t in app.text] == ["a.jpg: shared, starts b'JPEG'"]
