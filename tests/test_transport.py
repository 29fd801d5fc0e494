"""Socket wrappers over real sockets on 127.0.0.1 / ipc://: latest-wins, survival of bad peers, control, CURVE.

Every wait is bounded; nothing here can hang past a few seconds.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import zmq

from realtime.messages import (
    MAX_CLOCK_SKEW_MS,
    MAX_MESSAGE_BYTES,
    ActionInfo,
    ControlReply,
    ControlRequest,
    LabelEvent,
    MessageError,
    NoPerson,
    SkeletonWindow,
    decode,
    label_topic,
    now_ms,
)
from realtime.transport import (
    DEFAULT_PORTS,
    MAX_SEQ_GAP,
    MAX_SUBSCRIPTIONS,
    MAX_TRACKED_STREAMS,
    ControlClient,
    ControlServer,
    CurveKeys,
    LatestWinsPublisher,
    LatestWinsSubscriber,
    check_endpoint,
    default_endpoint,
    generate_curve_keys,
    local_endpoint,
    read_curve_key_files,
    write_curve_key_files,
)

LOCAL = "tcp://127.0.0.1:*"


@pytest.fixture
def ctx():
    context = zmq.Context()
    yield context
    context.destroy(linger=0)  # closes anything a failed test left open, without waiting


def no_person(seq: int, source_id: str = "cam0") -> NoPerson:
    return NoPerson(seq=seq, source_id=source_id, capture_timestamp_ms=1000.0 + seq)


def label(seq: int, source_id: str) -> LabelEvent:
    return LabelEvent(seq=seq, source_id=source_id, capture_timestamp_ms=1.0, label="wave", score=0.9, seen=True)


_JOINTS = np.zeros((30, 1, 25, 3), dtype=np.float32)  # (T, M, V, 3): 9 kB
_JOINTS.flags.writeable = False  # read-only: messages share it instead of copying


def small_window(seq: int) -> SkeletonWindow:
    joints = _JOINTS
    return SkeletonWindow(seq=seq, source_id="cam0", capture_timestamp_ms=1.0, fps=30.0, joints=joints)


def sync(publish, subscribers, timeout_s: float = 5.0) -> None:
    """Publish probes until every subscriber got one: ZeroMQ subscriptions take a moment to arrive."""
    pending = list(subscribers)
    deadline = time.monotonic() + timeout_s
    while pending:
        assert time.monotonic() < deadline, "subscriber never connected"
        publish()
        pending = [sub for sub in pending if sub.receive(timeout_ms=20) is None]


def drain(subscriber, timeout_ms: float = 100) -> list:
    received = []
    for _ in range(100_000):
        message = subscriber.receive(timeout_ms=timeout_ms)
        if message is None:
            return received
        received.append(message)
    raise AssertionError("subscriber never ran dry")


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


# --- endpoints ----------------------------------------------------------------------------------


def test_default_endpoints_are_loopback():
    assert default_endpoint("windows") == "tcp://127.0.0.1:5560"
    assert default_endpoint("labels") == "tcp://127.0.0.1:5561"
    assert default_endpoint("control") == "tcp://127.0.0.1:5562"
    assert default_endpoint("poses") == "tcp://127.0.0.1:5563"
    assert len(set(DEFAULT_PORTS.values())) == len(DEFAULT_PORTS)
    with pytest.raises(ValueError, match="labelz"):
        default_endpoint("labelz")


@pytest.mark.parametrize("endpoint", ["tcp://0.0.0.0:5999", "tcp://*:5999", "tcp://192.168.1.10:5999", "tcp://eth0:5999"])
def test_binding_a_public_address_needs_allow_remote(ctx, endpoint):
    with pytest.raises(ValueError, match="allow_remote") as caught:
        LatestWinsPublisher(endpoint, context=ctx)
    assert endpoint in str(caught.value)
    with pytest.raises(ValueError, match="allow_remote"):
        LatestWinsSubscriber(endpoint, bind=True, context=ctx)
    with pytest.raises(ValueError, match="allow_remote"):
        ControlServer(endpoint, context=ctx)
    assert check_endpoint(endpoint, bind=True, allow_remote=True) == endpoint
    assert check_endpoint(endpoint.replace("*", "10.0.0.1"), bind=False)  # connecting out is not binding


@pytest.mark.parametrize("endpoint", ["tcp://127.0.0.1:5999", "tcp://localhost:5999", "tcp://[::1]:5999", "ipc:///tmp/x"])
def test_loopback_and_ipc_binds_are_allowed(endpoint):
    assert check_endpoint(endpoint, bind=True) == endpoint


@pytest.mark.parametrize("endpoint", ["udp://127.0.0.1:5999", "127.0.0.1:5999", "tcp://127.0.0.1", "tcp://"])
def test_malformed_endpoints_are_refused(endpoint):
    with pytest.raises(ValueError, match="endpoint"):
        check_endpoint(endpoint, bind=False)


def test_options_are_checked_and_applied(ctx):
    with pytest.raises(ValueError, match="hwm"):
        LatestWinsPublisher(LOCAL, context=ctx, hwm=0)
    with pytest.raises(ValueError, match="topics"):
        LatestWinsSubscriber("tcp://127.0.0.1:5999", topics=(), context=ctx)
    with LatestWinsPublisher(LOCAL, context=ctx) as pub, LatestWinsSubscriber(pub.endpoint, context=ctx) as sub:
        assert pub.endpoint.startswith("tcp://127.0.0.1:") and not pub.endpoint.endswith("*")
        assert pub.socket.getsockopt(zmq.SNDHWM) == 2
        assert sub.socket.getsockopt(zmq.RCVHWM) == 2
        assert sub.socket.getsockopt(zmq.MAXMSGSIZE) == MAX_MESSAGE_BYTES
    assert pub.closed and sub.closed
    pub.close()  # twice is fine
    with pytest.raises(RuntimeError, match="closed"):
        pub.publish(no_person(0))


# --- publish / subscribe ------------------------------------------------------------------------


def test_window_round_trip_over_ipc(ctx, tmp_path):
    endpoint = f"ipc://{tmp_path}/windows.sock"
    with LatestWinsPublisher(endpoint, context=ctx) as pub, LatestWinsSubscriber(endpoint, context=ctx) as sub:
        sync(lambda: pub.publish(no_person(0)), [sub])
        sent = SkeletonWindow(
            seq=1, source_id="cam0", capture_timestamp_ms=5.0, fps=30.0,
            joints=np.arange(20 * 2 * 25 * 3, dtype=np.float32).reshape(20, 2, 25, 3),
        )  # fmt: skip
        got = None
        for _ in range(50):
            assert pub.publish(sent)
            got = sub.receive(timeout_ms=50)
            if isinstance(got, SkeletonWindow):
                break
        assert got == sent
        assert sub.malformed == 0


def test_label_topic_filters_one_source(ctx):
    with (
        LatestWinsPublisher(LOCAL, context=ctx, hwm=50) as pub,
        LatestWinsSubscriber(pub.endpoint, topics=(label_topic("cam0"),), context=ctx, hwm=50) as cam0,
        LatestWinsSubscriber(pub.endpoint, topics=(label_topic("cam1"),), context=ctx, hwm=50) as cam1,
        LatestWinsSubscriber(pub.endpoint, topics=(label_topic(),), context=ctx, hwm=50) as both,
    ):
        seq = iter(range(1, 10_000))

        def publish_both():
            n = next(seq)
            pub.publish(label(n, "cam0"))
            pub.publish(label(n, "cam1"))
            pub.publish(no_person(n))  # not a label: nobody here subscribed to it

        sync(publish_both, [cam0, cam1, both])
        publish_both()
        assert {m.source_id for m in drain(cam0)} == {"cam0"}
        assert {m.source_id for m in drain(cam1)} == {"cam1"}
        assert all(isinstance(m, LabelEvent) for m in drain(both))


def test_receive_latest_returns_the_newest_and_counts_stale(ctx):
    with (
        LatestWinsPublisher(LOCAL, context=ctx, hwm=100) as pub,
        LatestWinsSubscriber(pub.endpoint, context=ctx, hwm=100) as sub,
    ):
        sync(lambda: pub.publish(no_person(0)), [sub])
        drain(sub, timeout_ms=20)
        before = sub.received
        for seq in range(1, 11):
            pub.publish(no_person(seq))
        time.sleep(0.05)
        returned = []
        deadline = time.monotonic() + 3
        while not returned or returned[-1].seq != 10:
            assert time.monotonic() < deadline
            message = sub.receive_latest(timeout_ms=100)
            if message is not None:
                returned.append(message)
        assert returned[-1].seq == 10
        assert sub.stale >= 1
        assert sub.stale == sub.received - before - len(returned)
        assert sub.lost == 0


def test_stalled_subscriber_neither_blocks_nor_bloats_the_publisher(ctx):
    with (
        LatestWinsPublisher(LOCAL, context=ctx) as pub,
        LatestWinsSubscriber(pub.endpoint, context=ctx) as sub,
    ):
        sync(lambda: pub.publish(small_window(0)), [sub])
        drain(sub, timeout_ms=20)
        sent_before = pub.sent
        rss_before = rss_bytes()
        started = time.monotonic()
        for seq in range(1, 20_001):  # 180 MB if anything queued it all
            pub.publish(small_window(seq))
        elapsed = time.monotonic() - started
        growth = rss_bytes() - rss_before
        assert pub.sent - sent_before + pub.dropped == 20_000
        assert elapsed < 10.0, f"publishing took {elapsed:.1f} s"
        assert growth < 50 * 1024 * 1024, f"RSS grew by {growth / 1e6:.0f} MB"
        received = drain(sub, timeout_ms=200)
        assert len(received) < 5_000  # queues (and TCP buffers) stayed small: most was dropped
        # What was dropped shows: as loss, or, past a gap of MAX_SEQ_GAP, as a new stream (restart).
        assert pub.dropped > 0 or sub.lost > 0 or sub.restarts > 0
        print(f"20k publishes in {elapsed * 1000:.0f} ms, RSS +{growth / 1e6:.1f} MB, "
              f"subscriber got {len(received)}, lost {sub.lost}, publisher dropped {pub.dropped}")  # fmt: skip


def test_subscriber_survives_garbage_from_a_raw_socket(ctx):
    raw = ctx.socket(zmq.PUB)
    raw.bind(LOCAL)
    endpoint = raw.getsockopt_string(zmq.LAST_ENDPOINT)
    good = no_person(1)
    rng = np.random.default_rng(1)
    window_frames = small_window(2).to_frames()
    header = json.loads(window_frames[1])
    header["arrays"][0]["shape"] = [30, 1, 25, 4]  # says more bytes than the frame holds
    nan_joints = np.zeros((30, 1, 25, 3), dtype=np.float32)
    nan_joints[3, 0, 7] = np.inf
    garbage = [
        [rng.bytes(64)],
        [rng.bytes(8), rng.bytes(100), rng.bytes(30)],
        [b"action.label.cam0", rng.bytes(200)],
        [window_frames[0], json.dumps(header).encode(), window_frames[2]],
        [window_frames[0], window_frames[1], nan_joints.tobytes()],
        [window_frames[0], window_frames[1], window_frames[2][:-4]],
        [b"x"] * 50,  # far too many frames
    ]
    with LatestWinsSubscriber(endpoint, context=ctx, hwm=32) as sub:
        sync(lambda: raw.send_multipart(good.to_frames()), [sub])
        drain(sub, timeout_ms=20)
        for frames in garbage:
            raw.send_multipart(frames)
        raw.send_multipart(no_person(99).to_frames())
        message = sub.receive(timeout_ms=3000)
        assert isinstance(message, NoPerson) and message.seq == 99
        assert sub.malformed == len(garbage)
        assert "frames" in sub.last_error
    raw.close(linger=0)


def test_subscriber_survives_an_oversized_message(ctx):
    raw = ctx.socket(zmq.PUB)
    raw.bind(LOCAL)
    endpoint = raw.getsockopt_string(zmq.LAST_ENDPOINT)
    with LatestWinsSubscriber(endpoint, context=ctx, hwm=8) as sub:
        sync(lambda: raw.send_multipart(no_person(1).to_frames()), [sub])
        drain(sub, timeout_ms=20)
        raw.send_multipart([b"skeleton.window.cam0", bytes(MAX_MESSAGE_BYTES + 1)])
        # libzmq drops the connection; the subscriber reconnects and hears the next message.
        sync(lambda: raw.send_multipart(no_person(2).to_frames()), [sub])
        assert sub.reconnects >= 1 and sub.malformed == 0
    raw.close(linger=0)


# --- control ------------------------------------------------------------------------------------


class Actions:
    """A stand-in for the recognizer's class list."""

    def __init__(self) -> None:
        self.seen = {"wave": True, "clap": True}

    def __call__(self, request: ControlRequest) -> ControlReply:
        if request.command == "list":
            return ControlReply.success(request.seq, actions=[ActionInfo(n, s) for n, s in self.seen.items()])
        if request.command == "add":
            self.seen[request.name] = False
            return ControlReply.success(request.seq)
        if request.command == "remove":
            del self.seen[request.name]  # KeyError for an unknown name: the server must survive it
            return ControlReply.success(request.seq)
        return ControlReply.success(request.seq, status={"actions": len(self.seen)})


@contextlib.contextmanager
def serving(ctx, endpoint, handler, curve=None):
    """Run a ControlServer in its own thread (it is not thread-safe, so it lives there)."""
    ready, stop = threading.Event(), threading.Event()
    box = {}

    def run():
        with ControlServer(endpoint, context=ctx, curve=curve) as server:
            box["server"] = server
            box["endpoint"] = server.endpoint
            ready.set()
            while not stop.is_set():
                server.poll(handler, timeout_ms=20)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(5)
    try:
        yield box
    finally:
        stop.set()
        thread.join(5)
        assert not thread.is_alive()


def test_control_round_trip_and_handler_errors(ctx):
    with serving(ctx, LOCAL, Actions()) as box, ControlClient(box["endpoint"], timeout_ms=3000, context=ctx) as client:
        listed = client.call("list")
        assert listed.ok and {a.name for a in listed.actions} == {"wave", "clap"}
        assert client.call("add", name="juggle", ld="hands toss balls", gd="juggling").ok
        assert ActionInfo("juggle", False) in client.call("list").actions
        failed = client.call("remove", name="moonwalk")
        assert not failed.ok and "KeyError" in failed.error
        assert client.call("remove", name="juggle").ok
        assert client.call("status").status == {"actions": 2}
        assert box["server"].failed == 1


def test_control_server_answers_malformed_requests_and_keeps_serving(ctx):
    with serving(ctx, LOCAL, Actions()) as box:
        raw = ctx.socket(zmq.REQ)
        raw.connect(box["endpoint"])
        for frames in ([b"garbage"], [b"control.request", b"{not json"], [b"action.label.cam0", b"{}"], [b"x"] * 20):
            raw.send_multipart(frames)
            assert raw.poll(3000), "server stopped answering"
            reply = decode(raw.recv_multipart())
            assert isinstance(reply, ControlReply) and not reply.ok
            assert reply.error.startswith("malformed request")
        raw.close(linger=0)
        with ControlClient(box["endpoint"], timeout_ms=3000, context=ctx) as client:
            assert client.call("list").ok
        assert box["server"].malformed == 4


def test_control_client_times_out_then_recovers(ctx, tmp_path):
    endpoint = f"ipc://{tmp_path}/control.sock"
    with ControlClient(endpoint, timeout_ms=200, context=ctx) as client:
        started = time.monotonic()
        with pytest.raises(TimeoutError, match="did not answer 'list' within 200 ms"):
            client.call("list")
        assert time.monotonic() - started < 2.0
        client.timeout_ms = 3000
        with serving(ctx, endpoint, Actions()):
            assert client.call("list").ok  # the reset socket is usable at once


def test_control_client_rejects_non_requests(ctx):
    with ControlClient("tcp://127.0.0.1:5999", timeout_ms=10, context=ctx) as client:
        with pytest.raises(TypeError):
            client.request(no_person(0))
        with pytest.raises(MessageError, match="command"):
            client.call("dance")


# --- CURVE --------------------------------------------------------------------------------------


def test_curve_keys_are_checked():
    keys = generate_curve_keys()
    other = generate_curve_keys()
    with pytest.raises(ValueError, match="server_secret does not belong"):
        CurveKeys(server_public=keys.server_public, client_public=keys.client_public, server_secret=other.server_secret)
    with pytest.raises(ValueError, match="Z85"):
        CurveKeys(server_public="x" * 39, client_public=keys.client_public)
    assert keys.for_client().server_secret is None and keys.for_server().client_secret is None
    with pytest.raises(ValueError, match="client_secret"):
        keys.for_server().for_client()


def test_key_files_give_each_side_only_its_own_secret_and_are_never_overwritten(tmp_path, ctx):
    paths = write_curve_key_files(tmp_path / "keys")
    assert sorted(p.name for p in paths) == ["client.key", "client.key_secret", "server.key", "server.key_secret"]
    assert (tmp_path / "keys" / "server.key_secret").stat().st_mode & 0o077 == 0
    server, client = read_curve_key_files(tmp_path / "keys", "server"), read_curve_key_files(tmp_path / "keys", "client")
    assert server.server_secret and server.client_secret is None
    assert client.client_secret and client.server_secret is None
    with (
        LatestWinsPublisher(LOCAL, context=ctx, curve=server) as pub,
        LatestWinsSubscriber(pub.endpoint, context=ctx, curve=client) as sub,
    ):
        sync(lambda: pub.publish(no_person(1)), [sub])
    with pytest.raises(FileExistsError, match="server.key"):
        write_curve_key_files(tmp_path / "keys")
    (tmp_path / "notes.txt").write_text("not a folder")
    with pytest.raises(FileExistsError, match=r"notes\.txt: a file, not a folder for the keys"):
        write_curve_key_files(tmp_path / "notes.txt")


def test_a_missing_or_foreign_key_file_is_named(tmp_path):
    write_curve_key_files(tmp_path)
    (tmp_path / "client.key").unlink()
    with pytest.raises(ValueError, match=r"client\.key is missing"):
        read_curve_key_files(tmp_path, "server")
    (tmp_path / "client.key").write_text("not a certificate\n")
    with pytest.raises(ValueError, match=r"client\.key"):
        read_curve_key_files(tmp_path, "server")
    with pytest.raises(ValueError, match="side"):
        read_curve_key_files(tmp_path, "both")


def test_a_wildcard_bind_is_reached_through_loopback():
    assert local_endpoint("tcp://0.0.0.0:5561") == "tcp://127.0.0.1:5561"
    assert local_endpoint("tcp://*:5561") == "tcp://127.0.0.1:5561"
    assert local_endpoint("tcp://10.0.0.2:5561") == "tcp://10.0.0.2:5561"
    assert local_endpoint("ipc:///tmp/labels") == "ipc:///tmp/labels"


def test_curve_lets_in_only_the_keyed_client(ctx):
    keys = generate_curve_keys()
    stranger = generate_curve_keys()
    wrong_client = CurveKeys(
        server_public=keys.server_public, client_public=stranger.client_public, client_secret=stranger.client_secret
    )
    with LatestWinsPublisher(LOCAL, context=ctx, curve=keys.for_server()) as pub:
        with pytest.raises(ValueError, match="client_secret"):
            LatestWinsSubscriber(pub.endpoint, context=ctx, curve=keys.for_server())
        with (
            LatestWinsSubscriber(pub.endpoint, context=ctx, curve=keys.for_client()) as keyed,
            LatestWinsSubscriber(pub.endpoint, context=ctx) as plain,
            LatestWinsSubscriber(pub.endpoint, context=ctx, curve=wrong_client) as impostor,
        ):
            sync(lambda: pub.publish(no_person(1)), [keyed])
            end = time.monotonic() + 0.3
            while time.monotonic() < end:
                pub.publish(no_person(2))
                assert plain.receive(timeout_ms=10) is None
                assert impostor.receive(timeout_ms=10) is None
            assert keyed.receive(timeout_ms=100) is not None


def test_a_curve_server_can_open_right_after_the_last_one_closed(ctx):
    # Closing the last CURVE server stops the context's ZAP authenticator; libzmq frees its
    # address a moment later, so the next server used to fail with "Address already in use".
    keys = generate_curve_keys().for_server()
    for _ in range(100):
        with LatestWinsPublisher(LOCAL, context=ctx, curve=keys):
            pass


def test_curve_control_link(ctx):
    keys = generate_curve_keys()
    with serving(ctx, LOCAL, Actions(), curve=keys.for_server()) as box:
        with ControlClient(box["endpoint"], timeout_ms=3000, context=ctx, curve=keys.for_client()) as client:
            assert client.call("list").ok
        with ControlClient(box["endpoint"], timeout_ms=300, context=ctx) as plain:
            with pytest.raises(TimeoutError):
                plain.call("list")



# --- hostile peers (issue 11, items 2, 8 and 9) ---------------------------------------------------

# A local client that subscribes to many distinct prefixes and stays. An XSUB socket remembers
# its subscriptions and sends them all again whenever it reconnects (while its process uses it).
FLOODER = """
import os, sys, time, zmq
ctx = zmq.Context()
sock = ctx.socket(zmq.XSUB)
sock.setsockopt(zmq.SNDHWM, 0)
sock.connect(sys.argv[1])
for _ in range(int(sys.argv[2])):
    sock.send(b"\\x01action.label." + os.urandom(24).hex().encode())
print("sent", flush=True)
end = time.monotonic() + 120
while time.monotonic() < end:
    if sock.poll(50):
        sock.recv()
"""


def test_a_subscription_flood_is_bounded_and_labels_keep_flowing(ctx):
    limit = 200
    with (
        LatestWinsPublisher(LOCAL, context=ctx, max_subscriptions=limit) as pub,
        LatestWinsSubscriber(pub.endpoint, topics=(label_topic("cam0"),), context=ctx) as sub,
    ):
        assert MAX_SUBSCRIPTIONS >= 100 and pub.max_subscriptions == limit
        seq = iter(range(1, 10**9))
        sync(lambda: pub.publish(label(next(seq), "cam0")), [sub])
        assert pub.counters()["subscriptions"] == 1  # "action.label.cam0"; counters() reads waiting notices
        flooder = subprocess.Popen([sys.executable, "-c", FLOODER, pub.endpoint, "3000"], stdout=subprocess.PIPE)
        try:
            assert flooder.stdout.readline() == b"sent\n"
            peak, after_reset = 0, 0
            for _ in range(20_000):  # bounded; each turn waits at most 5 ms
                pub.publish(label(next(seq), "cam0"))
                peak = max(peak, pub.subscriptions)
                got = sub.receive(timeout_ms=5)
                if got is not None and pub.subscription_resets:
                    after_reset += 1
                if pub.subscription_resets >= 2 and after_reset >= 5:
                    break
            counters = pub.counters()
            assert counters["subscription_resets"] >= 2, counters  # the flooder came back and was cut off again
            assert counters["subscriptions_dropped"] > limit
            assert peak <= limit, peak
            assert after_reset >= 5, (after_reset, counters)  # the honest subscriber keeps getting labels
        finally:
            flooder.kill()
            flooder.wait(10)


def _send_raw(raw, messages):
    for message in messages:
        raw.send_multipart(message.to_frames())


def test_lost_counts_only_plausible_gaps(ctx):
    raw = ctx.socket(zmq.PUB)
    raw.setsockopt(zmq.SNDHWM, 1000)
    raw.bind(LOCAL)
    endpoint = raw.getsockopt_string(zmq.LAST_ENDPOINT)
    with LatestWinsSubscriber(endpoint, context=ctx, hwm=1000) as sub:
        sync(lambda: raw.send_multipart(no_person(0, "probe").to_frames()), [sub])
        drain(sub, timeout_ms=20)
        huge = 10**12
        seqs = [1, 2, 4, huge, 5, 0, 6, 7]  # one real gap (3); a spoofed jump ahead and one back, each alone
        _send_raw(raw, [no_person(n, "cam7") for n in seqs])
        assert [m.seq for m in drain(sub)] == seqs
        assert (sub.lost, sub.restarts) == (1, 0)
        _send_raw(raw, [no_person(n, "cam7") for n in (0, 1, 2)])  # the publisher really restarted
        drain(sub)
        assert (sub.lost, sub.restarts) == (1, 1)
        far = 2 + MAX_SEQ_GAP + 10  # a jump too large to be loss, confirmed by its successor: a new stream
        _send_raw(raw, [no_person(n, "cam7") for n in (far, far + 1, far + 3)])
        drain(sub)
        assert (sub.lost, sub.restarts) == (2, 2)
        _send_raw(raw, [no_person(n, f"src{n}") for n in range(MAX_TRACKED_STREAMS + 50)])
        drain(sub)
        assert sub.counters()["streams"] <= MAX_TRACKED_STREAMS
    raw.close(linger=0)


def test_implausible_capture_times_are_dropped_and_counted(ctx):
    raw = ctx.socket(zmq.PUB)
    raw.bind(LOCAL)
    endpoint = raw.getsockopt_string(zmq.LAST_ENDPOINT)
    with LatestWinsSubscriber(endpoint, context=ctx, hwm=100, max_clock_skew_ms=MAX_CLOCK_SKEW_MS) as sub:
        sync(lambda: raw.send_multipart(NoPerson(seq=0, source_id="cam0", capture_timestamp_ms=now_ms()).to_frames()),
             [sub])  # fmt: skip
        drain(sub, timeout_ms=20)
        now = now_ms()
        times = [now - 10.0, 0.0, now + 10 * MAX_CLOCK_SKEW_MS, now - 10 * MAX_CLOCK_SKEW_MS, now]
        _send_raw(raw, [NoPerson(seq=i + 1, source_id="cam0", capture_timestamp_ms=t) for i, t in enumerate(times)])
        assert [m.seq for m in drain(sub)] == [1, 5]
        assert sub.implausible == 3 and "capture_timestamp_ms" in sub.last_error
        assert sub.lost == 0  # what was dropped here is not loss on the way
    raw.close(linger=0)


def test_control_client_counts_malformed_replies(ctx):
    raw = ctx.socket(zmq.REP)
    raw.bind(LOCAL)
    endpoint = raw.getsockopt_string(zmq.LAST_ENDPOINT)

    def answer_garbage():
        if raw.poll(5000):
            raw.recv_multipart()
            raw.send_multipart([b"control.reply", b'{"seq": ' + b"9" * 5000 + b"}"])

    thread = threading.Thread(target=answer_garbage, daemon=True)
    thread.start()
    with ControlClient(endpoint, timeout_ms=3000, context=ctx) as client:
        with pytest.raises(MessageError, match="digits"):
            client.call("list")
        assert client.counters() == {"requests": 1, "malformed": 1, "timeouts": 0}
    thread.join(5)
    raw.close(linger=0)


def test_every_wrapper_reports_its_counters(ctx):
    with (
        LatestWinsPublisher(LOCAL, context=ctx) as pub,
        LatestWinsSubscriber(pub.endpoint, context=ctx) as sub,
        ControlServer(LOCAL, context=ctx) as server,
    ):
        assert set(pub.counters()) == {"sent", "dropped", "subscriptions", "subscription_resets",
                                       "subscriptions_dropped"}  # fmt: skip
        assert set(sub.counters()) == {"received", "stale", "lost", "restarts", "malformed", "implausible",
                                       "reconnects", "streams"}  # fmt: skip
        assert set(server.counters()) == {"served", "malformed", "failed"}
        assert all(value == 0 for value in server.counters().values())


def test_the_documented_key_split_works_on_both_machines(tmp_path, ctx):
    write_curve_key_files(tmp_path / "keys")
    # The README: the recognizer's machine holds server.key_secret and client.key; a remote
    # subscriber holds server.key and client.key_secret.
    server_dir, client_dir = tmp_path / "server", tmp_path / "client"
    split = {server_dir: ("server.key_secret", "client.key"), client_dir: ("server.key", "client.key_secret")}
    for folder, names in split.items():
        folder.mkdir()
        for name in names:
            shutil.copy(tmp_path / "keys" / name, folder / name)
    server = read_curve_key_files(server_dir, "server")
    remote = read_curve_key_files(client_dir, "client")
    # Processes beside the recognizer (fsvae-live's status line, capture's overlay) read the same folder.
    local = read_curve_key_files(server_dir, "local")
    assert local == server.for_local_client() and local.client_public == server.server_public
    assert local.server_secret is None and remote.server_secret is None
    with (
        LatestWinsPublisher(LOCAL, context=ctx, curve=server) as pub,
        LatestWinsSubscriber(pub.endpoint, context=ctx, curve=remote) as far,
        LatestWinsSubscriber(pub.endpoint, context=ctx, curve=local) as near,
        LatestWinsSubscriber(pub.endpoint, context=ctx, curve=generate_curve_keys().for_client()) as stranger,
    ):
        sync(lambda: pub.publish(no_person(1)), [far, near])
        assert stranger.receive(timeout_ms=200) is None
    with serving(ctx, LOCAL, Actions(), curve=server) as box:
        for keys in (remote, local):
            with ControlClient(box["endpoint"], timeout_ms=3000, context=ctx, curve=keys) as client:
                assert client.call("list").ok
