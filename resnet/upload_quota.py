"""How much of the server's memory visitors' uploads may hold: per session and for the whole server.

Streamlit keeps every uploaded file in memory until its session ends, and its upload route bounds each file's size,
nothing else. `UploadLedger` is the account the app's upload route keeps (`app/upload_gate.py`): a request first
takes a place in flight (`reserve`, refused or made to wait before its body is read), then its file is admitted
(`admit`, refused when what the session or the server holds would cross a quota) or dropped; files leave the account
when the visitor removes them, when no widget holds them any more, and when the session ends.

Every refusal is a `QuotaRefused` whose message is the one line the visitor reads; the ledger also counts them per
session so that the page can say, in one line, what happened to files the browser sent while no script was running.
"""

from __future__ import annotations

import dataclasses
import threading
import time

from resnet import settings
from resnet.errors import UserError
from resnet.images import MAX_PHOTOS
from resnet.settings import check_positive

MB = 1024 * 1024

# Environment variable -> UploadQuota field, beside the dataclass so the two cannot drift apart.
ENVIRONMENT = {
    "RESNET_SESSION_UPLOAD_MB": "session_mb",
    "RESNET_SESSION_UPLOAD_FILES": "session_files",
    "RESNET_SESSION_UPLOADS_IN_FLIGHT": "session_in_flight",
    "RESNET_SERVER_UPLOAD_MB": "server_mb",
    "RESNET_SERVER_UPLOAD_FILES": "server_files",
    "RESNET_SERVER_UPLOADS_IN_FLIGHT": "server_in_flight",
}


class QuotaRefused(UserError):
    """An upload refused at the door; `status` is the HTTP status the upload route answers with."""

    def __init__(self, message: str, status: int = 413):
        super().__init__(message)
        self.status = status


@dataclasses.dataclass(frozen=True)
class UploadQuota:
    """The defaults fit a class on a 2-core, 24 GB server: thirty students with ten 5 MB phone photos each on the
    Predict page, and two of them uploading a 200 MB folder to the Gradient lab (30 × 50 + 2 × 200 = 1,900 MB)."""

    session_mb: int = 256  # one lab upload of 200 MB (RESNET_MAX_UPLOAD_TOTAL_MB) and ten 5 MB photos
    session_files: int = 1024  # one lab folder of 1,000 files (RESNET_MAX_UPLOAD_FILES) and the Predict photos
    session_in_flight: int = 2  # upload requests read at once (× 20 MB at most); further files wait their turn
    server_mb: int = 2048
    server_files: int = 2400  # 30 × 10 photos + 2 × 1,000 lab files, and some room
    server_in_flight: int = 12  # × 20 MB per request at most (server.maxUploadSize): 240 MB being read at once
    waiting_per_session: int = 64  # requests of one session waiting for a place in flight; past that, refused
    wait_seconds: float = 120.0  # how long a request may wait for a place before it is refused

    def __post_init__(self):
        check_positive(self, "upload quota")

    @classmethod
    def from_environment(cls, environ=None) -> UploadQuota:
        """Defaults, with any variable of ENVIRONMENT in `environ` (default: os.environ) taking their place."""
        return settings.from_environment(cls, ENVIRONMENT, environ, UserError)

    @property
    def fits_a_class(self) -> bool:
        """Whether thirty students with ten 5 MB photos and two 200 MB lab uploads fit (the defaults' reason)."""
        return self.server_mb >= 30 * 10 * 5 + 2 * 200 and self.session_mb >= 200 + MAX_PHOTOS * 5 and \
            self.server_files >= 30 * MAX_PHOTOS + 2 * 1000


@dataclasses.dataclass
class _Session:
    files: dict[str, int] = dataclasses.field(default_factory=dict)  # file id -> bytes held
    added: dict[str, float] = dataclasses.field(default_factory=dict)  # file id -> when it was admitted
    in_flight: int = 0
    reserved: int = 0  # bytes announced by the requests in flight (their Content-Length)
    refused: int = 0  # requests refused since the page last said so
    last_refusal: str = ""

    @property
    def held(self) -> int:
        return sum(self.files.values())

    @property
    def empty(self) -> bool:
        return not self.files and not self.in_flight and not self.refused


class UploadLedger:
    """Thread-safe account of the bytes and files each session holds, and the upload requests in flight."""

    def __init__(self, quota: UploadQuota, clock=time.monotonic):
        self.quota = quota
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, _Session] = {}
        self._held = 0  # bytes, all sessions
        self._files = 0
        self._in_flight = 0

    # --- what is held ----------------------------------------------------------------------------------------------

    def totals(self) -> tuple[int, int, int]:
        """(bytes held, files held, requests in flight) for the whole server."""
        with self._lock:
            return self._held, self._files, self._in_flight

    def session_totals(self, session: str) -> tuple[int, int, int]:
        with self._lock:
            state = self._sessions.get(session)
            return (state.held, len(state.files), state.in_flight) if state else (0, 0, 0)

    def can_start(self, session: str) -> bool:
        """Whether a request of `session` may be read now (a place in flight, for the session and the server)."""
        with self._lock:
            state = self._sessions.get(session)
            return (state.in_flight if state else 0) < self.quota.session_in_flight and \
                self._in_flight < self.quota.server_in_flight

    # --- a request's life: reserve, admit, release ---------------------------------------------------------------

    def reserve(self, session: str, announced: int | None) -> None:
        """Take a place in flight for a request that announces `announced` bytes (None: unknown); refuse at once
        when the session or the server has no place, or when the announced size cannot fit what is left."""
        with self._lock:
            state = self._sessions.setdefault(session, _Session())
            if state.in_flight >= self.quota.session_in_flight or self._in_flight >= self.quota.server_in_flight:
                raise self._refuse(state, "too many uploads at once from this page; wait for the ones under way, "
                                          "then add the rest", status=429)
            self._check_room(state, announced or 0, files=1, counting_reserved=True)
            state.in_flight += 1
            state.reserved += announced or 0
            self._in_flight += 1

    def release(self, session: str, announced: int | None) -> None:
        """The request is over (admitted, refused or broken off): give back its place in flight."""
        with self._lock:
            state = self._sessions.get(session)
            if state is None:
                return
            state.in_flight -= 1
            state.reserved -= announced or 0
            self._in_flight -= 1
            if state.empty:
                del self._sessions[session]

    def admit(self, session: str, file_id: str, size: int) -> None:
        """Count a received file of `size` bytes as held, or refuse it (nothing is counted then)."""
        with self._lock:
            state = self._sessions.setdefault(session, _Session())
            known = file_id in state.files
            replaced = state.files.get(file_id, 0)
            self._check_room(state, size - replaced, files=0 if known else 1)
            state.files[file_id] = size
            state.added[file_id] = self._clock()
            self._held += size - replaced
            self._files += 0 if known else 1

    def drop(self, session: str, file_id: str) -> int:
        """The file left the session (removed by the visitor, or held by no widget): bytes given back."""
        with self._lock:
            state = self._sessions.get(session)
            if state is None or file_id not in state.files:
                return 0
            size = state.files.pop(file_id)
            state.added.pop(file_id, None)
            self._held -= size
            self._files -= 1
            if state.empty:
                del self._sessions[session]
            return size

    def drop_session(self, session: str) -> int:
        """The session ended: everything it held is given back (bytes returned). Requests still in flight keep
        their places until they end."""
        with self._lock:
            state = self._sessions.get(session)
            if state is None:
                return 0
            freed = state.held
            self._held -= freed
            self._files -= len(state.files)
            state.files.clear()
            state.added.clear()
            state.refused = 0
            if state.empty:
                del self._sessions[session]
            return freed

    def unclaimed(self, session: str, claimed: set[str], older_than: float) -> list[str]:
        """Files of `session` that no widget holds (not in `claimed`), once nothing of the session is in flight and
        its last file arrived more than `older_than` seconds ago: a browser sends every file of a drop before the
        widget value that names them, so files still arriving are never taken for forgotten ones."""
        now = self._clock()
        with self._lock:
            state = self._sessions.get(session)
            if state is None or state.in_flight or not state.added or now - max(state.added.values()) < older_than:
                return []  # a folder's files arrive one by one, and its widget value only after the last
            return [file_id for file_id, added in state.added.items()
                    if file_id not in claimed and now - added > older_than]

    # --- what the page says ----------------------------------------------------------------------------------------

    def refusal_line(self, session: str) -> str | None:
        """One line on what was refused to `session` since the last call (None: nothing): the last refusal, with
        how many there were."""
        with self._lock:
            state = self._sessions.get(session)
            if state is None or not state.refused:
                return None
            count, last = state.refused, state.last_refusal
            state.refused, state.last_refusal = 0, ""
            if state.empty:
                del self._sessions[session]
        return last if count == 1 else last.replace("Upload refused:", f"{count} uploads refused:", 1)

    # --- inside ----------------------------------------------------------------------------------------------------

    def _check_room(self, state: _Session, size: int, *, files: int, counting_reserved: bool = False) -> None:
        quota = self.quota
        session_bytes = state.held + (state.reserved if counting_reserved else 0) + size
        if len(state.files) + (state.in_flight if counting_reserved else 0) + files > quota.session_files:
            raise self._refuse(state, f"this page already holds {len(state.files)} uploaded files, the most one "
                                      f"visitor may ({quota.session_files}); remove some (×) before adding more")
        if session_bytes > quota.session_mb * MB:
            raise self._refuse(state, f"this page's uploads would come to {session_bytes / MB:.0f} MB, over the "
                                      f"{quota.session_mb} MB one visitor may hold; remove some files (×) or send "
                                      "smaller ones")
        if self._files + files > quota.server_files or self._held + size > quota.server_mb * MB:
            raise self._refuse(state, "the server holds as many uploads as it can for everyone right now; try again "
                                      "in a few minutes, or with fewer files", status=503)

    @staticmethod
    def _refuse(state: _Session, reason: str, status: int = 413) -> QuotaRefused:
        message = f"Upload refused: {reason}."
        state.refused += 1
        state.last_refusal = message
        return QuotaRefused(message, status)
