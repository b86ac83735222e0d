"""app/sessions.py: a closed tab's session is shut down when its time for a reconnect is up, not just forgotten."""

import inspect
import json
import textwrap
import time

from streamlit.runtime import websocket_session_manager
from streamlit.runtime.app_session import AppSession
from streamlit.runtime.caching.ttl_cache import TTLCache
from streamlit.runtime.memory_session_storage import MemorySessionStorage
from streamlit.runtime.session_manager import SessionInfo
from streamlit.runtime.state.session_state import SessionState
from streamlit.web.server import server

from app.sessions import EndingSessionStorage
from tests.fresh_python import run_python



class Tab:
    """What the storage asks of Streamlit's AppSession: its id, to shut down, and its state (a real SessionState)."""

    def __init__(self, session_id):
        self.id, self.shut_down = session_id, 0
        self._session_state = SessionState()
        self._session_state["photos"] = [b"x" * 1000]

    def shutdown(self):
        self.shut_down += 1


def stored(storage, session_id) -> Tab:
    tab = Tab(session_id)
    storage.save(SessionInfo(client=None, session=tab, script_run_count=1))
    return tab


def test_a_session_whose_time_is_up_is_shut_down_once_and_a_resumed_one_is_not():
    storage = EndingSessionStorage(ttl_seconds=0.05)
    closed, resumed = stored(storage, "closed"), stored(storage, "resumed")
    storage.delete("resumed")  # what Streamlit does when the tab reconnects: the session goes on
    time.sleep(0.1)
    assert storage.reap() == 1
    fresh = stored(storage, "fresh")
    assert (closed.shut_down, resumed.shut_down, fresh.shut_down) == (1, 0, 0)
    assert "photos" not in closed._session_state and "photos" in resumed._session_state  # what it held goes at once
    assert storage.get("closed") is None and storage.get("fresh").session is fresh
    assert storage.reap() == 0 and closed.shut_down == 1
    time.sleep(0.1)
    stored(storage, "another")  # any write reaps too (Streamlit's own saves): the shutdown still comes
    assert fresh.shut_down == 1


def test_a_storage_streamlit_made_is_adopted_with_the_sessions_it_holds():
    storage = MemorySessionStorage(ttl_seconds=0.05)
    tab = stored(storage, "before")
    EndingSessionStorage.adopt(storage)
    assert isinstance(storage, EndingSessionStorage) and storage.get("before").session is tab
    time.sleep(0.1)
    assert storage.reap() == 1 and tab.shut_down == 1


def test_streamlit_still_makes_and_uses_its_storage_as_this_module_expects():
    # If Streamlit changes any of these, the sessions of closed tabs may again never be shut down: fail here.
    assert "MemorySessionStorage(" in inspect.getsource(server.Server.__init__)
    assert "self._cache: MutableMapping[str, SessionInfo] = TTLCache(" in inspect.getsource(MemorySessionStorage)
    assert {"on_remove", "timer", "ttl", "maxsize"} <= set(inspect.signature(TTLCache).parameters)
    assert callable(TTLCache.expire) and callable(SessionState.clear)
    assert "self._session_state" in inspect.getsource(AppSession.__init__)
    manager = inspect.getsource(websocket_session_manager.WebsocketSessionManager)
    assert "self._session_storage.delete(" in manager and "self._session_storage.save(" in manager


def test_a_freeze_at_start_keeps_what_lasts_out_of_collections_and_waits_for_no_session():
    # In its own interpreter: a freeze is for the life of a process, and this one's later tests collect garbage.
    code = textwrap.dedent("""
        import gc, json, weakref
        from app.sessions import freeze_what_lasts

        class Photo:  # in a reference cycle, as a session's state is
            def __init__(self):
                self.me = self

        lasting = [{"kept": n} for n in range(50_000)]
        before = Photo()
        refused = freeze_what_lasts(live_sessions=1)
        after_refusal = gc.get_freeze_count()
        frozen = freeze_what_lasts()  # no Streamlit server made in this process: nobody can have come
        count = gc.get_freeze_count()
        after = Photo()
        before_ref, after_ref = weakref.ref(before), weakref.ref(after)
        del before, after
        gc.collect()
        print(json.dumps({"refused": refused, "after_refusal": after_refusal, "frozen": frozen, "count": count,
                          "before_kept": before_ref() is not None, "after_kept": after_ref() is not None}))
    """)
    result = json.loads(run_python(code))
    assert result["refused"] is False and result["after_refusal"] == 0  # a session alive: nothing frozen
    assert result["frozen"] is True and result["count"] > 50_000  # the lasting objects, and the modules' own
    # What was made after the freeze still goes at a collection; a cycle alive at the freeze never does (which is
    # why a freeze waits for no session to be alive).
    assert result["after_kept"] is False and result["before_kept"] is True
