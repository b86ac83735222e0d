"""resnet/upload_quota.py: the account of what visitors' uploads hold, per session and for the server."""

import threading

import pytest

from resnet.errors import UserError
from resnet.upload_quota import ENVIRONMENT, MB, QuotaRefused, UploadLedger, UploadQuota


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def small(**overrides) -> UploadQuota:
    values = dict(session_mb=10, session_files=4, session_in_flight=2, server_mb=25, server_files=10,
                  server_in_flight=3)
    return UploadQuota(**{**values, **overrides})


def upload(ledger: UploadLedger, session: str, file_id: str, size: int) -> None:
    """One request as the route makes it: a place in flight, the file admitted, the place given back."""
    ledger.reserve(session, size)
    try:
        ledger.admit(session, file_id, size)
    finally:
        ledger.release(session, size)


def test_the_defaults_fit_a_class_and_the_environment_overrides_them():
    assert UploadQuota().fits_a_class
    quota = UploadQuota.from_environment({"RESNET_SESSION_UPLOAD_MB": "40", "RESNET_SERVER_UPLOADS_IN_FLIGHT": "2"})
    assert (quota.session_mb, quota.server_in_flight, quota.session_files) == (40, 2, UploadQuota().session_files)
    assert not UploadQuota(server_mb=1000).fits_a_class


@pytest.mark.parametrize("value", ["lots", "0", "-5", "2.5"])
def test_a_bad_variable_is_one_line_that_names_it(value):
    with pytest.raises(UserError) as refused:
        UploadQuota.from_environment({"RESNET_SESSION_UPLOAD_FILES": value})
    assert "\n" not in str(refused.value) and ("RESNET_SESSION_UPLOAD_FILES" in str(refused.value)
                                               or "session_files" in str(refused.value))


def test_a_session_holds_up_to_its_bytes_and_the_refusal_says_what_to_do():
    ledger = UploadLedger(small())
    upload(ledger, "a", "f1", 4 * MB)
    upload(ledger, "a", "f2", 4 * MB)
    with pytest.raises(QuotaRefused) as refused:
        upload(ledger, "a", "f3", 4 * MB)
    assert refused.value.status == 413
    assert "10 MB" in str(refused.value) and "remove" in str(refused.value)
    assert ledger.session_totals("a") == (8 * MB, 2, 0)  # the refused file was never counted
    upload(ledger, "b", "f1", 4 * MB)  # another session is not touched by a's quota
    assert ledger.totals() == (12 * MB, 3, 0)


def test_the_announced_size_is_refused_before_the_body_is_read():
    ledger = UploadLedger(small())
    upload(ledger, "a", "f1", 8 * MB)
    with pytest.raises(QuotaRefused):
        ledger.reserve("a", 3 * MB)  # 8 + 3 > 10: refused on its Content-Length
    assert ledger.session_totals("a") == (8 * MB, 1, 0)
    ledger.reserve("a", None)  # a request that announces nothing still takes its place; its file is checked on arrival
    with pytest.raises(QuotaRefused):
        ledger.admit("a", "f2", 3 * MB)
    ledger.release("a", None)
    assert ledger.session_totals("a") == (8 * MB, 1, 0)


def test_a_file_id_sent_twice_is_counted_once():
    ledger = UploadLedger(small())
    upload(ledger, "a", "same", 3 * MB)
    upload(ledger, "a", "same", 5 * MB)
    assert ledger.session_totals("a") == (5 * MB, 1, 0)
    assert ledger.totals()[:2] == (5 * MB, 1)


def test_files_are_counted_per_session_and_for_the_server():
    ledger = UploadLedger(small())
    for i in range(4):
        upload(ledger, "a", f"f{i}", 1)
    with pytest.raises(QuotaRefused, match="4"):
        upload(ledger, "a", "one too many", 1)
    for session in "bc":
        for i in range(3):
            upload(ledger, session, f"f{i}", 1)
    with pytest.raises(QuotaRefused) as refused:  # 10 files on the server: a fresh session meets the server's quota
        upload(ledger, "d", "f0", 1)
    assert refused.value.status == 503 and "server" in str(refused.value)


def test_the_server_bytes_quota_holds_across_sessions():
    ledger = UploadLedger(small())
    upload(ledger, "a", "f", 9 * MB)
    upload(ledger, "b", "f", 9 * MB)
    with pytest.raises(QuotaRefused):
        upload(ledger, "c", "f", 9 * MB)
    upload(ledger, "c", "f", 7 * MB)
    assert ledger.totals()[0] == 25 * MB


def test_places_in_flight_per_session_and_for_the_server():
    ledger = UploadLedger(small())
    ledger.reserve("a", 1)
    ledger.reserve("a", 1)
    assert not ledger.can_start("a") and ledger.can_start("b")
    with pytest.raises(QuotaRefused) as refused:
        ledger.reserve("a", 1)
    assert refused.value.status == 429
    ledger.reserve("b", 1)  # the server's third and last place
    assert not ledger.can_start("c")
    ledger.release("a", 1)
    assert ledger.can_start("c") and ledger.can_start("a")
    assert ledger.totals()[2] == 2


def test_dropping_gives_back_and_the_session_ends_clean():
    ledger = UploadLedger(small())
    upload(ledger, "a", "f1", 4 * MB)
    upload(ledger, "a", "f2", 4 * MB)
    assert ledger.drop("a", "f1") == 4 * MB
    assert ledger.drop("a", "f1") == 0  # once only
    upload(ledger, "a", "f3", 6 * MB)  # room again
    assert ledger.drop_session("a") == 10 * MB
    assert ledger.totals() == (0, 0, 0) and ledger.session_totals("a") == (0, 0, 0)
    assert not ledger._sessions  # nothing kept for a session that is gone


def test_unclaimed_files_are_only_those_no_widget_holds_once_the_uploads_are_over():
    clock = Clock()
    ledger = UploadLedger(small(), clock=clock)
    upload(ledger, "a", "kept", 1)
    upload(ledger, "a", "made-up", 1)
    assert ledger.unclaimed("a", {"kept"}, older_than=30) == []  # too fresh: its widget value may be on its way
    clock.now += 31
    ledger.reserve("a", 1)  # a folder still arriving: nothing is taken for forgotten
    assert ledger.unclaimed("a", {"kept"}, older_than=30) == []
    ledger.release("a", 1)
    assert ledger.unclaimed("a", {"kept"}, older_than=30) == ["made-up"]


def test_refusals_are_told_once_in_one_line():
    ledger = UploadLedger(small())
    upload(ledger, "a", "f1", 9 * MB)
    with pytest.raises(QuotaRefused) as first:
        upload(ledger, "a", "big", 5 * MB)
    assert ledger.refusal_line("a") == str(first.value)
    for _ in range(3):
        with pytest.raises(QuotaRefused):
            upload(ledger, "a", "big", 5 * MB)
    line = ledger.refusal_line("a")
    assert line.startswith("3 uploads refused: this page's uploads") and "\n" not in line
    assert ledger.refusal_line("a") is None and ledger.refusal_line("nobody") is None


def test_many_threads_never_hold_more_than_the_quota():
    ledger = UploadLedger(small(session_mb=1000, session_files=1000, server_mb=50, server_files=1000,
                                session_in_flight=100, server_in_flight=100))
    admitted = []

    def send(session):
        for i in range(20):
            try:
                upload(ledger, session, f"{session}{i}", MB)
                admitted.append(1)
            except QuotaRefused:
                pass

    threads = [threading.Thread(target=send, args=(f"s{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(admitted) == 50 and ledger.totals() == (50 * MB, 50, 0)


def test_every_quota_is_documented_with_its_default():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    security, readme = (root / "SECURITY.md").read_text(), (root / "README.md").read_text()
    defaults = UploadQuota()
    for variable, field_name in ENVIRONMENT.items():
        assert variable in security and variable in readme, variable
        row = next(line for line in security.splitlines() if variable in line and line.startswith("|"))
        assert str(getattr(defaults, field_name)) in row, row
