"""app/upload_gate.py: the quotas at Streamlit's upload route and store, and the Streamlit code they patch.

The route is Streamlit's own (`create_upload_routes`), served by a real Starlette app and driven over ASGI as uvicorn
drives it; tests/e2e/test_upload_quota.py does the same through a browser and a running server.
"""

import asyncio
import inspect
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from streamlit import config
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.state.session_state import SessionState
from streamlit.runtime.uploaded_file_manager import UploadedFileRec
from streamlit.web.server import server
from streamlit.web.server.starlette import starlette_app, starlette_routes

from app import upload_gate
from resnet.upload_quota import MB, QuotaRefused, UploadLedger, UploadQuota
from tests.e2e.app_server import upload_body

ENDPOINT = "/_stcore/upload_file"


class LiveSessions:
    """What the route asks of Streamlit's Runtime: whether a session id belongs to a connected session."""

    def __init__(self, *ids):
        self.ids = set(ids)

    def is_active_session(self, session_id):
        return session_id in self.ids


@pytest.fixture
def account(monkeypatch):
    """A fresh ledger with small quotas, in place of the server's; XSRF off (the browser test keeps it on)."""
    ledger = UploadLedger(UploadQuota(session_mb=3, session_files=5, session_in_flight=2, server_mb=5,
                                      server_files=8, server_in_flight=3, waiting_per_session=2, wait_seconds=0.3))
    monkeypatch.setattr(upload_gate, "_ledger", ledger)
    xsrf = config.get_option("server.enableXsrfProtection")
    config.set_option("server.enableXsrfProtection", False)
    yield ledger
    config.set_option("server.enableXsrfProtection", xsrf)


async def put(app, session: str, file_id: str, data: bytes, *, announce: bool = True) -> tuple[int, str]:
    """One PUT through the ASGI app, the body sent in 64 KB pieces; (status, body text)."""
    body, content_type = upload_body(data)
    headers = [(b"content-type", content_type.encode())]
    if announce:
        headers.append((b"content-length", str(len(body)).encode()))
    scope = {"type": "http", "method": "PUT", "path": f"{ENDPOINT}/{session}/{file_id}", "raw_path": b"",
             "root_path": "", "query_string": b"", "headers": headers, "scheme": "http", "http_version": "1.1",
             "server": ("127.0.0.1", 8501), "client": ("127.0.0.1", 5000)}
    pieces = [body[i:i + 65536] for i in range(0, len(body), 65536)] or [b""]
    sent, status = [], None

    async def receive():
        if pieces:
            await asyncio.sleep(0.02)  # a network's pace: other requests arrive while this one is read
            piece = pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}
        await asyncio.sleep(3600)

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            sent.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(sent).decode()


def run(coroutine):
    """`asyncio.run` in a thread of its own: in a whole-suite run the browser tests' session-wide Playwright keeps an
    event loop running in this thread, where asyncio.run refuses to start another."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def gated_app(manager, *sessions):
    from starlette.applications import Starlette

    routes = upload_gate._guarded_routes(starlette_routes.create_upload_routes)(LiveSessions(*sessions), manager, None)
    return Starlette(routes=routes)


# --- what we patch must still be there, as we patch it ------------------------------------------------------------


def test_streamlit_still_makes_its_store_and_route_where_install_replaces_them():
    # A Streamlit upgrade that moves either must fail here, not silently drop the quotas.
    assert "MemoryUploadedFileManager(UPLOAD_FILE_ENDPOINT)" in inspect.getsource(server.Server.__init__)
    assert "create_upload_routes(runtime, upload_mgr, base_url)" in inspect.getsource(starlette_app)
    put_source = inspect.getsource(starlette_routes.create_upload_routes)
    assert "upload_mgr.add_file(" in put_source and "upload_mgr.remove_file(" in put_source
    assert 'request.path_params["session_id"]' in put_source and '_ROUTE_UPLOAD_FILE' in put_source
    for method in ("add_file", "remove_file", "remove_session_files"):
        assert method in MemoryUploadedFileManager.__dict__
    assert list(inspect.signature(MemoryUploadedFileManager.add_file).parameters) == ["self", "session_id", "file"]
    state_source = Path(inspect.getfile(SessionState)).read_text()
    assert "_new_widget_state: WStates" in state_source and "_old_state: dict[str, Any]" in state_source


def test_install_puts_the_quotas_into_the_server_it_is_about_to_make(monkeypatch):
    monkeypatch.setattr(server, "MemoryUploadedFileManager", server.MemoryUploadedFileManager)
    monkeypatch.setattr(starlette_app, "create_upload_routes", starlette_app.create_upload_routes)
    upload_gate.install()
    upload_gate.install()  # idempotent: one wrapper, not two
    assert server.MemoryUploadedFileManager is upload_gate.QuotaUploadedFileManager
    assert starlette_app.create_upload_routes.guarded
    assert not getattr(inspect.unwrap(starlette_app.create_upload_routes), "__wrapped__", None)


# --- the store ------------------------------------------------------------------------------------------------------


def record(file_id: str, size: int) -> UploadedFileRec:
    return UploadedFileRec(file_id=file_id, name=f"{file_id}.jpg", type="image/jpeg", data=b"x" * size)


def test_the_store_keeps_nothing_it_refuses_and_gives_back_what_is_dropped(account):
    store = upload_gate.QuotaUploadedFileManager(ENDPOINT)
    store.add_file("s", record("a", 2 * MB))
    with pytest.raises(QuotaRefused):
        store.add_file("s", record("b", 2 * MB))
    assert [f.file_id for f in store.get_files("s", ["a", "b"])] == ["a"]
    store.remove_file("s", "a")
    assert account.totals() == (0, 0, 0) and store.get_files("s", ["a"]) == []
    store.add_file("s", record("c", MB))
    store.add_file("t", record("d", MB))
    store.remove_session_files("s")
    assert account.totals()[:2] == (MB, 1) and store.get_files("s", ["c"]) == []


def test_a_running_store_is_switched_in_place():
    store = MemoryUploadedFileManager(ENDPOINT)
    store.add_file("s", record("before", 10))
    assert upload_gate.install_on_running(store) and isinstance(store, upload_gate.QuotaUploadedFileManager)
    assert [f.file_id for f in store.get_files("s", ["before"])] == ["before"]


def test_claimed_ids_are_read_from_the_sessions_widgets_and_the_rest_is_swept(account, monkeypatch):
    state = SessionState()
    widget = WidgetState(id="uploader")
    for file_id in ("held-1", "held-2"):
        info = widget.file_uploader_state_value.uploaded_file_info.add()
        info.file_id, info.name, info.size = file_id, f"{file_id}.jpg", 10
    state._new_widget_state.set_widget_from_proto(widget)
    assert upload_gate.claimed_file_ids(state) == {"held-1", "held-2"}

    store = upload_gate.QuotaUploadedFileManager(ENDPOINT)
    for file_id in ("held-1", "made-up-1", "made-up-2"):
        store.add_file("s", record(file_id, MB // 2))
    monkeypatch.setattr(upload_gate, "UNCLAIMED_SECONDS", -1.0)  # the grace a fresh drop gets, tested in the ledger
    assert store.sweep("s", upload_gate.claimed_file_ids(state)) == MB
    assert [f.file_id for f in store.get_files("s", ["held-1", "made-up-1", "made-up-2"])] == ["held-1"]
    assert account.session_totals("s") == (MB // 2, 1, 0)


# --- the route ------------------------------------------------------------------------------------------------------


def test_the_route_refuses_past_the_quota_with_one_line_and_keeps_nothing_of_it(account):
    store = upload_gate.QuotaUploadedFileManager(ENDPOINT)
    app = gated_app(store, "s")

    async def scenario():
        first = await put(app, "s", "f1", b"a" * (2 * MB))
        over = await put(app, "s", "f2", b"b" * (2 * MB))  # refused on its Content-Length, body unread
        unannounced = await put(app, "s", "f3", b"c" * (2 * MB), announce=False)  # refused when it arrived
        stranger = await put(app, "not-a-session", "f4", b"d")
        return first, over, unannounced, stranger

    first, over, unannounced, stranger = run(scenario())
    assert first[0] == 204
    for status, text in (over, unannounced):
        assert status == 413 and text.startswith("Upload refused:") and "\n" not in text and "3 MB" in text
    assert stranger[0] == 400  # Streamlit's own answer for a session that does not exist
    assert [f.file_id for f in store.get_files("s", ["f1", "f2", "f3"])] == ["f1"]
    assert account.totals() == (2 * MB, 1, 0)
    assert account.refusal_line("s").startswith("2 uploads refused: ")


def test_requests_past_the_places_in_flight_wait_their_turn_and_a_flood_is_refused(account):
    store = upload_gate.QuotaUploadedFileManager(ENDPOINT)
    app = gated_app(store, "s")
    most_in_flight = 0

    async def watch(stop):
        nonlocal most_in_flight
        while not stop.is_set():
            most_in_flight = max(most_in_flight, account.totals()[2])
            await asyncio.sleep(0)

    async def scenario():
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch(stop))
        answers = await asyncio.gather(*(put(app, "s", f"f{i}", b"x" * 1000) for i in range(6)))
        stop.set()
        await watcher
        return answers

    statuses = sorted(status for status, _ in run(scenario()))
    assert most_in_flight <= 2  # the session's places; the others waited before their bodies were read
    # 2 in flight + 2 waiting are served; the 5th and 6th found the waiting line full.
    assert statuses == [204, 204, 204, 204, 429, 429]
    assert account.totals() == (4000, 4, 0)


def test_the_files_of_sessions_streamlit_no_longer_knows_are_let_go(account):
    # Streamlit evicts a closed tab's session from its store without shutting it down; its files stay unless reaped.
    store = upload_gate.QuotaUploadedFileManager(ENDPOINT)
    store.add_file("gone", record("a", MB))
    store.add_file("here", record("b", MB))
    known = LiveSessions("here")
    assert store.forget_ended_sessions(known.is_active_session) == MB
    assert store.get_files("gone", ["a"]) == [] and len(store.get_files("here", ["b"])) == 1
    assert account.totals()[:2] == (MB, 1)


def test_streamlit_still_only_evicts_a_closed_tabs_session():
    # If Streamlit starts shutting evicted sessions down, the reaper becomes a second way to the same end (harmless);
    # if it renames what the reaper asks, this fails.
    from streamlit.runtime import session_manager, websocket_session_manager

    assert "def get_session_info(self, session_id: str)" in inspect.getsource(session_manager.SessionManager)
    source = inspect.getsource(websocket_session_manager.WebsocketSessionManager.disconnect_session)
    assert "self._session_storage.save(" in source
