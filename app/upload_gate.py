"""The upload quotas (`resnet.upload_quota`) enforced where the bytes arrive: Streamlit's upload route and its store.

Streamlit 1.67 answers `PUT /_stcore/upload_file/{session}/{file}` for any live session, for any file id, as often as
it is sent, and keeps each file in memory until the session ends. `install()` (app/serve.py, before the server is
made) replaces two pieces of it:
- the route's PUT endpoint is wrapped: a request waits for a place in flight (or is refused) and is refused when its
  Content-Length cannot fit the session's or the server's quota, all before its body is read;
- the store (`MemoryUploadedFileManager`) becomes `QuotaUploadedFileManager`: a file is counted when it arrives and
  refused when it would cross a quota, and forgotten (its memory given back) when it is deleted, when no widget
  holds it any more (`sweep`, after each script run) and when the session ends.
A refused request gets the refusal's one line as its body, and the session's page shows it on its next run.

A server started with plain `streamlit run app/main.py` gets the store's quotas only (`install_on_running`): its
route was made before any of our code ran.
"""

from __future__ import annotations

import asyncio
import threading

from streamlit.logger import get_logger
from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager
from streamlit.runtime.uploaded_file_manager import UploadedFileRec

from resnet.processes import give_memory_back
from resnet.upload_quota import MB, QuotaRefused, UploadLedger, UploadQuota

_LOG = get_logger("resnet_explorer.uploads")
TRIM_AFTER_BYTES = 8 * 1024 * 1024  # freeing less is not worth a malloc_trim
UNCLAIMED_SECONDS = 30.0  # a file no widget names this long after the session's last upload is forgotten
POLL_SECONDS = 0.05  # how often a waiting request looks for a place in flight

_ledger: UploadLedger | None = None
_ledger_lock = threading.Lock()


def ledger() -> UploadLedger:
    """The server's one account of uploads, with the quotas of the environment (read once)."""
    global _ledger
    with _ledger_lock:
        if _ledger is None:
            _ledger = UploadLedger(UploadQuota.from_environment())
        return _ledger


class QuotaUploadedFileManager(MemoryUploadedFileManager):
    """Streamlit's in-memory store of uploaded files, held to the ledger's quotas."""

    @property
    def ledger(self) -> UploadLedger:
        return ledger()

    def add_file(self, session_id: str, file: UploadedFileRec) -> None:
        self.ledger.admit(session_id, file.file_id, len(file.data))  # raises QuotaRefused: nothing is kept
        super().add_file(session_id, file)

    def remove_file(self, session_id: str, file_id: str) -> None:
        super().remove_file(session_id, file_id)
        _freed(self.ledger.drop(session_id, file_id))

    def remove_session_files(self, session_id: str) -> None:
        super().remove_session_files(session_id)
        freed = self.ledger.drop_session(session_id)
        if freed:
            _LOG.info("session %s ended: %.1f MB of uploads let go", session_id[:8], freed / MB)
        _freed(freed)

    def forget_ended_sessions(self, is_known) -> int:
        """Let go of the files of every session `is_known(session_id)` no longer knows; bytes given back.

        Streamlit 1.67 removes a session's files when it shuts the session down, but a closed tab's session is kept
        for a reconnect (server.disconnectedSessionTTL) and then only evicted from its store, never shut down: its
        files stayed in memory for the server's life."""
        with self._lock:
            sessions = list(self.file_storage)
        freed = 0
        for session_id in sessions:
            if not is_known(session_id):
                super().remove_session_files(session_id)
                freed += self.ledger.drop_session(session_id)
        if freed:
            _LOG.info("ended sessions' uploads let go: %.1f MB", freed / MB)
        _freed(freed)
        return freed

    def sweep(self, session_id: str, claimed: set[str]) -> int:
        """Forget the session's files that no widget holds (see UploadLedger.unclaimed); bytes given back."""
        freed = 0
        for file_id in self.ledger.unclaimed(session_id, claimed, UNCLAIMED_SECONDS):
            super().remove_file(session_id, file_id)
            freed += self.ledger.drop(session_id, file_id)
        _freed(freed)
        return freed


def _freed(n_bytes: int) -> None:
    if n_bytes >= TRIM_AFTER_BYTES:
        give_memory_back()


def guarded_put(endpoint, runtime):
    """The upload route's PUT endpoint behind the ledger: a place in flight first, then Streamlit's own handler."""
    from starlette.responses import PlainTextResponse  # noqa: PLC0415 -- Streamlit's server dependency

    waiting: dict[str, int] = {}  # requests of each session waiting for a place (all on the server's event loop)

    async def put(request):
        session = request.path_params.get("session_id", "")
        if not runtime.is_active_session(session):
            return await endpoint(request)  # Streamlit answers 400 and keeps nothing
        account = ledger()
        announced = _content_length(request)
        try:
            await _wait_for_a_place(account, session, waiting)
            account.reserve(session, announced)
        except QuotaRefused as refusal:
            return _refused(PlainTextResponse, session, refusal)
        try:
            return await endpoint(request)
        except QuotaRefused as refusal:  # raised by the store, once the body was read
            return _refused(PlainTextResponse, session, refusal)
        finally:
            account.release(session, announced)

    return put


async def _wait_for_a_place(account: UploadLedger, session: str, waiting: dict[str, int]) -> None:
    quota = account.quota
    if account.can_start(session):
        return
    if waiting.get(session, 0) >= quota.waiting_per_session:
        raise QuotaRefused("Upload refused: too many uploads waiting from this page; add fewer files at a time.", 429)
    waiting[session] = waiting.get(session, 0) + 1
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + quota.wait_seconds
        while not account.can_start(session):
            if loop.time() > deadline:
                raise QuotaRefused("Upload refused: the server is busy receiving other uploads; try again in a "
                                   "minute.", 503)
            await asyncio.sleep(POLL_SECONDS)
    finally:
        waiting[session] -= 1
        if not waiting[session]:
            del waiting[session]


def _content_length(request) -> int | None:
    try:
        value = int(request.headers.get("content-length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None


def _refused(response_class, session: str, refusal: QuotaRefused):
    # The operator's log gets the session; the visitor gets the line that says what to do.
    _LOG.warning("upload refused for session %s: %s", session[:8], refusal)
    return response_class(str(refusal), status_code=refusal.status)


# --- installing it ---------------------------------------------------------------------------------------------------


def install() -> None:
    """Put the quotas into Streamlit's server before it is made (idempotent)."""
    from streamlit.web.server import server  # noqa: PLC0415
    from streamlit.web.server.starlette import starlette_app  # noqa: PLC0415

    server.MemoryUploadedFileManager = QuotaUploadedFileManager
    if not getattr(starlette_app.create_upload_routes, "guarded", False):
        starlette_app.create_upload_routes = _guarded_routes(starlette_app.create_upload_routes)


def _guarded_routes(create_upload_routes):
    from starlette.routing import Route  # noqa: PLC0415

    def create(runtime, upload_mgr, base_url):
        routes = []
        for route in create_upload_routes(runtime, upload_mgr, base_url):
            if isinstance(route, Route) and "PUT" in (route.methods or ()):
                route = Route(route.path, guarded_put(route.endpoint, runtime), methods=["PUT"])
            routes.append(route)
        return routes

    create.guarded = True
    return create


def install_on_running(uploaded_file_mgr) -> bool:
    """For a server this module did not start: hold its store to the quotas from now on (files already held are
    not counted). False when the store is not Streamlit's in-memory one."""
    if isinstance(uploaded_file_mgr, QuotaUploadedFileManager):
        return True
    if type(uploaded_file_mgr) is not MemoryUploadedFileManager:
        return False
    uploaded_file_mgr.__class__ = QuotaUploadedFileManager
    return True


def forget_ended_sessions(manager, is_known) -> int:
    """The store's files of sessions `is_known` no longer knows, let go (see app/sessions.py); bytes given back."""
    return manager.forget_ended_sessions(is_known) if isinstance(manager, QuotaUploadedFileManager) else 0


def claimed_file_ids(session_state) -> set[str]:
    """The ids of the files that the session's widgets hold (Streamlit's SessionState, serialized or not)."""
    claimed: set[str] = set()
    widget_states = session_state._new_widget_state
    for widget_id in list(widget_states.states):
        proto = widget_states.get_serialized(widget_id)
        if proto is not None and proto.WhichOneof("value") == "file_uploader_state_value":
            claimed.update(info.file_id for info in proto.file_uploader_state_value.uploaded_file_info)
    for value in list(session_state._old_state.values()):
        for item in value if isinstance(value, (list, tuple)) else (value,):
            file_id = getattr(item, "file_id", None)
            if isinstance(file_id, str):
                claimed.add(file_id)
    return claimed


def refusal_line(ctx) -> str | None:
    """What was refused to this session since its last run, in one line (shown once), or None."""
    return ledger().refusal_line(ctx.session_id) if isinstance(ctx.uploaded_file_mgr, QuotaUploadedFileManager) \
        else None


def sweep(ctx) -> int:
    """At the end of a script run: forget the session's files no widget holds; bytes given back."""
    manager = ctx.uploaded_file_mgr
    if not isinstance(manager, QuotaUploadedFileManager):
        return 0
    return manager.sweep(ctx.session_id, claimed_file_ids(ctx.session_state._state))
