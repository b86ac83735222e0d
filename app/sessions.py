"""Sessions that end: what Streamlit keeps of a closed tab, and for how long.

When a tab closes, Streamlit 1.67 keeps its session for a reconnect (`server.disconnectedSessionTTL`, 120 s) in a
`MemorySessionStorage`, and when that time is up the storage only forgets it: the session is never shut down, so its
uploaded files, the pictures it was sent (Streamlit's media store) and its session state stayed in the server's
memory for the server's life. A class of thirty closing their tabs left thirty sessions' photos behind.

`EndingSessionStorage` shuts a session down when its time is up, as Streamlit does for a session closed outright;
`start_reaper` (one thread per server) asks it every few seconds, on the server's event loop where every other use
of the storage happens, to let go of the sessions whose time is up, and lets go of any uploaded files whose session
Streamlit no longer knows (`app.upload_gate`).
"""

from __future__ import annotations

import gc
import threading
import time

from streamlit.logger import get_logger
from streamlit.runtime.caching.ttl_cache import TTLCache
from streamlit.runtime.memory_session_storage import MemorySessionStorage

from app import upload_gate
from resnet.processes import give_memory_back

_LOG = get_logger("resnet_explorer.sessions")
REAP_SECONDS = 5.0
# Streamlit's runtime loop keeps its last list of active sessions in its frame until something happens on the server,
# so an ended session may only become garbage a little later: collect on a few ticks after each end.
COLLECTIONS_AFTER_AN_END = 6

_reaper: threading.Thread | None = None
_reaper_lock = threading.Lock()


class EndingSessionStorage(MemorySessionStorage):
    """Streamlit's storage of disconnected sessions, which shuts a session down when its time is up."""

    def __init__(self, maxsize: int = 128, ttl_seconds: int = 2 * 60) -> None:
        super().__init__(maxsize=maxsize, ttl_seconds=ttl_seconds)
        self._adopt()

    def _adopt(self) -> None:
        self._resumed: set[str] = set()  # deleted by Streamlit itself (a reconnect, a logout): not ours to end
        self.ended = 0  # sessions shut down since the reaper last collected their garbage
        self._cache = _with_on_remove(self._cache, self._removed)

    @classmethod
    def adopt(cls, storage: MemorySessionStorage) -> EndingSessionStorage:
        """A storage Streamlit already made (a server started by `streamlit run`), switched in place."""
        if not isinstance(storage, cls):
            storage.__class__ = cls
            storage._adopt()
        return storage

    def delete(self, session_id: str) -> None:
        self._resumed.add(session_id)
        try:
            super().delete(session_id)
        finally:
            self._resumed.discard(session_id)

    def reap(self) -> int:
        """Shut down every session whose time is up (run on the server's event loop); how many were."""
        return len(self._cache.expire())

    def _removed(self, session_id: str, info) -> None:
        if session_id in self._resumed:
            return
        try:
            info.session.shutdown()
            # Its state goes now, not when the session object does: Streamlit's runtime loop keeps its last list of
            # sessions until something happens on the server, and with it this session and the photos in its widgets.
            state = getattr(info.session, "_session_state", None)
            if state is not None:
                state.clear()
            self.ended += 1
            _LOG.info("session %s ended: its time for a reconnect is up", session_id[:8])
        except Exception:  # noqa: BLE001 -- one session's shutdown must not stop the others'
            _LOG.exception("session %s could not be shut down", session_id[:8])


def _with_on_remove(cache: TTLCache, on_remove) -> TTLCache:
    """The same cache (same entries, bounds and clock) with `on_remove` called for every entry it removes."""
    fresh = TTLCache(maxsize=cache.maxsize, ttl=cache.ttl, timer=cache.timer, on_remove=on_remove)
    for key in list(cache._data):  # an adopted storage may already hold sessions
        fresh._data[key], fresh._expirations[key] = cache._data[key], cache._expirations[key]
    return fresh


def collect_ended_sessions() -> None:
    """An AppSession is a web of reference cycles, and the server runs no collection after each script run
    (`runner.postScriptGC = false`): without this, an ended session's state (its photos among it) waits for Python's
    next full collection, which an idle server may not run for a long time."""
    gc.collect()
    give_memory_back()


def freeze_what_lasts(live_sessions: int | None = None) -> bool:
    """Move every object alive now out of reach of Python's cycle collector (`gc.freeze`), unless a visitor's session
    is alive (`live_sessions`, None: ask Streamlit's runtime). True if frozen. Meant for a server's start, once its
    libraries are imported and before anyone comes, and again once its network answers (app/serve.py).

    TensorFlow and Keras alone leave ~350,000 objects that live as long as the server, and every full collection
    walked them all: 0.23 s of CPU each on two cores, 0.02 s once frozen. Full collections are Python's own, whenever
    enough new objects survived, and this module's after each session's end. Objects made afterwards, visitors'
    sessions among them, are collected as before; a session alive at the freeze would not be (its photos are in
    reference cycles), so then nothing is frozen."""
    if live_sessions is None:
        live_sessions = _live_sessions()
    if live_sessions:
        _LOG.info("not freezing the server's long-lived objects: %d session(s) already here", live_sessions)
        return False
    gc.collect()  # what is garbage already must not be frozen with the rest
    gc.freeze()
    _LOG.info("%d objects kept for the server's life are out of the cycle collector's way", gc.get_freeze_count())
    return True


def _live_sessions() -> int:
    from streamlit import runtime  # noqa: PLC0415

    if not runtime.exists():  # the server is not made yet: no visitor can have come
        return 0
    return len(runtime.get_instance()._session_mgr.list_sessions())  # connected, and kept for a reconnect


def install() -> None:
    """Have the server that is about to be made keep its disconnected sessions in an EndingSessionStorage."""
    from streamlit.web.server import server  # noqa: PLC0415

    server.MemorySessionStorage = EndingSessionStorage


def start_reaper(runtime) -> threading.Thread:
    """Once per server: every REAP_SECONDS, end the sessions whose time is up, and let go of files no known session
    holds."""
    global _reaper
    with _reaper_lock:
        if _reaper is None:
            storage = getattr(runtime._session_mgr, "_session_storage", None)
            if type(storage) is MemorySessionStorage:
                EndingSessionStorage.adopt(storage)

            def known(session_id: str) -> bool:
                return runtime._session_mgr.get_session_info(session_id) is not None

            def reap() -> None:
                collections_due = 0
                while True:
                    time.sleep(REAP_SECONDS)
                    loop = runtime._get_async_objs().eventloop
                    if isinstance(storage, EndingSessionStorage) and not loop.is_closed():
                        loop.call_soon_threadsafe(storage.reap)
                        if storage.ended:  # shut down since the last tick
                            storage.ended, collections_due = 0, COLLECTIONS_AFTER_AN_END
                    if collections_due:
                        collections_due -= 1
                        collect_ended_sessions()
                    upload_gate.forget_ended_sessions(runtime.uploaded_file_mgr, known)

            _reaper = threading.Thread(target=reap, daemon=True, name="session-reaper")
            _reaper.start()
        return _reaper
