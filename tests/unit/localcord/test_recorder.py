"""The recorder: call filters, injected faults used up by matching calls, frame lookups."""

from __future__ import annotations

from localcord.models import Call, GatewayFrame
from localcord.recorder import Recorder, call_matcher


def call(method: str, path: str, at: float = 0.0) -> Call:
    return Call(method=method, path=path, query={}, json=None, files=[], time=at, headers={})


def frame(op: int | None, t: str | None, at: float = 0.0, direction: str = "send") -> GatewayFrame:
    return GatewayFrame(direction=direction, op=op, t=t, s=None, d=None, time=at, connection=1)


def test_call_filters():
    post = call("POST", "/webhooks/1/tok")
    get = call("GET", "/channels/5/messages")
    assert call_matcher("POST /webhooks/*")(post) and not call_matcher("POST /webhooks/*")(get)
    assert call_matcher("/channels/*")(get) and not call_matcher("/channels/*")(post)
    assert call_matcher(None)(post) and call_matcher(None)(get)
    assert call_matcher(lambda c: c.method == "GET")(get) and not call_matcher(lambda c: c.method == "GET")(
        post
    )


def test_calls_are_numbered_and_filtered_by_time():
    rec = Recorder()
    for i, path in enumerate(["/a", "/b", "/a"]):
        rec.record_call(call("GET", path, at=float(i)))
    assert [c.index for c in rec.calls] == [0, 1, 2]
    assert [c.time for c in rec.calls_matching("/a")] == [0.0, 2.0]
    assert [c.time for c in rec.calls_matching("/a", since=1.0)] == [2.0]


def test_a_fault_answers_only_its_count_of_matching_calls():
    rec = Recorder()
    fault = rec.rate_limit("POST /channels/*/messages", count=2, retry_after=0.3)
    other = call("GET", "/users/@me")
    assert rec.take_fault(other) is None
    first, second, third = (call("POST", "/channels/1/messages") for _ in range(3))
    assert rec.take_fault(first) is fault and fault.remaining == 1 and not fault.exhausted
    assert rec.take_fault(second) is fault and fault.exhausted
    assert rec.take_fault(third) is None
    assert fault.hits == [first, second] and rec.faults == []
    assert fault.headers()["Retry-After"] == "1" and fault.body()["retry_after"] == 0.3


def test_a_server_error_fault_has_a_discord_body():
    rec = Recorder()
    rec.fail("PATCH /channels/*", status=502)
    fault = rec.take_fault(call("PATCH", "/channels/1/messages/2"))
    assert fault is not None and fault.status == 502
    assert fault.body() == {"message": "502: Bad Gateway", "code": 0} and fault.headers() == {}


def test_frames_by_event_opcode_name_time_and_direction():
    rec = Recorder()
    rec.record_frame(frame(10, None, at=0.0))  # HELLO
    rec.record_frame(frame(2, None, at=1.0, direction="recv"))  # IDENTIFY
    rec.record_frame(frame(0, "READY", at=2.0))
    rec.record_frame(frame(11, None, at=3.0))  # HEARTBEAT_ACK
    assert rec.first_frame("READY").time == 2.0
    assert rec.first_frame("IDENTIFY", direction="recv").time == 1.0
    assert rec.first_frame("IDENTIFY", direction="send") is None
    assert rec.first_frame("HEARTBEAT_ACK", since=2.5).time == 3.0
    assert rec.first_frame("HELLO", since=0.5) is None
    assert rec.first_frame(lambda f: f.op == 0).t == "READY"


def test_recent_calls_name_the_last_twelve():
    rec = Recorder()
    assert rec.recent_calls() == "recent calls:\n  (none)"
    for i in range(14):
        rec.record_call(call("GET", f"/c{i}"))
    text = rec.recent_calls()
    assert "GET /c13" in text and "GET /c2 " in text and "GET /c1 " not in text
