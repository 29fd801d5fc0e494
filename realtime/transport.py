"""Thin ZeroMQ socket wrappers, each named for what it promises.

- :class:`LatestWinsPublisher` / :class:`LatestWinsSubscriber`: PUB/SUB with
  tiny queues. A slow or stalled reader never blocks or bloats the writer:
  libzmq drops what does not fit, and the reader can skip to the newest
  message. Nothing here guarantees delivery; ``seq`` gaps show what was lost.
- :class:`ControlServer` / :class:`ControlClient`: REQ/REP for commands; every
  request gets exactly one reply or the client gets a ``TimeoutError``.

Messages are the dataclasses of :mod:`realtime.messages`; nothing is pickled.
Every wrapper is NOT thread-safe (ZeroMQ sockets are not): create and use it in
one thread. Close it with :meth:`close` or a ``with`` block; closing drops
unsent messages at once (LINGER 0).

Binding to anything other than loopback or ``ipc://`` needs
``allow_remote=True``; remote links should use CURVE (:class:`CurveKeys`),
where PUB and REP sockets are the CURVE servers and only the client key in
the keys is let in.
"""

from __future__ import annotations

import hmac
import ipaddress
import itertools
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import zmq
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils.monitor import recv_monitor_message
from zmq.utils import z85

from realtime.messages import (
    MAX_FRAMES,
    MAX_MESSAGE_BYTES,
    ControlReply,
    ControlRequest,
    MessageError,
    decode,
)

# Chosen above the ports other tools commonly take (5555 is the ZeroMQ tutorials').
DEFAULT_PORTS: dict[str, int] = {
    "windows": 5560,  # capture -> inference: skeleton.window.*, skeleton.no_person.*
    "labels": 5561,  # inference -> anyone: action.label.*, log.*
    "control": 5562,  # REQ/REP commands to the inference process
    "poses": 5563,  # external tracker -> capture: pose.frame.*
}
DEFAULT_HOST = "127.0.0.1"
_SCHEMES = ("tcp", "ipc", "inproc")
_MAX_DRAIN = 10_000  # receive_latest stops draining after this many, so a flood cannot pin it


def default_endpoint(name: str) -> str:
    """``tcp://127.0.0.1:<port>`` for a stream named in :data:`DEFAULT_PORTS`."""
    try:
        return f"tcp://{DEFAULT_HOST}:{DEFAULT_PORTS[name]}"
    except KeyError:
        raise ValueError(f"no default endpoint named {name!r}; known: {', '.join(DEFAULT_PORTS)}") from None


def check_endpoint(endpoint: str, *, bind: bool, allow_remote: bool = False) -> str:
    """Return ``endpoint`` if it may be used; ValueError naming it otherwise.

    Only ``tcp://``, ``ipc://`` and ``inproc://`` are accepted. A bind to a TCP
    address other than loopback (127.0.0.0/8, ``localhost``, ``[::1]``)
    exposes the socket to the network and needs ``allow_remote=True``.
    """
    if not isinstance(endpoint, str) or "://" not in endpoint:
        raise ValueError(f"endpoint {endpoint!r} must look like tcp://HOST:PORT or ipc://PATH")
    scheme, _, address = endpoint.partition("://")
    if scheme not in _SCHEMES:
        raise ValueError(f"endpoint {endpoint!r}: transport {scheme!r} is not supported (use {', '.join(_SCHEMES)})")
    if not address:
        raise ValueError(f"endpoint {endpoint!r} has no address")
    if scheme != "tcp":
        return endpoint
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port:
        raise ValueError(f"endpoint {endpoint!r} must be tcp://HOST:PORT")
    if bind and not allow_remote and not _is_loopback(host):
        raise ValueError(
            f"binding {endpoint!r} would accept connections from the network; bind to {DEFAULT_HOST} "
            "or ipc://, or allow it explicitly (--allow-remote, or allow_remote=True in code) and consider "
            "CURVE keys (--curve-keys)"
        )
    return endpoint


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # "*", interface names, hostnames: not provably loopback


# ---------------------------------------------------------------------------------------------
# CURVE


def _check_z85_key(name: str, key: str) -> None:
    if not isinstance(key, str) or len(key) != 40:
        raise ValueError(f"CURVE key {name} must be a 40-character Z85 string, got {key!r:.50}")
    try:
        if len(z85.decode(key)) != 32:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"CURVE key {name} is not valid Z85") from None


@dataclass(frozen=True)
class CurveKeys:
    """CURVE key pairs (Z85 strings) for one link: the server's and its one allowed client's.

    PUB and REP sockets act as the server and need ``server_secret`` and
    ``client_public``; SUB and REQ sockets act as the client and need
    ``server_public``, ``client_public`` and ``client_secret``. Give each side
    only what it needs (:meth:`for_server`, :meth:`for_client`). A client
    presenting any other key is refused by the server.
    """

    server_public: str
    client_public: str
    server_secret: str | None = None
    client_secret: str | None = None

    def __post_init__(self) -> None:
        for side in ("server", "client"):
            public, secret = getattr(self, f"{side}_public"), getattr(self, f"{side}_secret")
            _check_z85_key(f"{side}_public", public)
            if secret is not None:
                _check_z85_key(f"{side}_secret", secret)
                if zmq.curve_public(secret.encode("ascii")).decode("ascii") != public:
                    raise ValueError(f"CURVE key {side}_secret does not belong to {side}_public")

    def for_server(self) -> CurveKeys:
        """The keys a PUB/REP side needs (without the client's secret)."""
        if self.server_secret is None:
            raise ValueError("these CurveKeys have no server_secret")
        return replace(self, client_secret=None)

    def for_client(self) -> CurveKeys:
        """The keys a SUB/REQ side needs (without the server's secret)."""
        if self.client_secret is None:
            raise ValueError("these CurveKeys have no client_secret")
        return replace(self, server_secret=None)


def generate_curve_keys() -> CurveKeys:
    """A fresh server key pair and client key pair."""
    if not zmq.has("curve"):
        raise RuntimeError("this libzmq was built without CURVE support")
    server_public, server_secret = zmq.curve_keypair()
    client_public, client_secret = zmq.curve_keypair()
    return CurveKeys(
        server_public=server_public.decode("ascii"),
        client_public=client_public.decode("ascii"),
        server_secret=server_secret.decode("ascii"),
        client_secret=client_secret.decode("ascii"),
    )


CURVE_KEY_NAMES = ("server", "client")  # <name>.key holds the public key, <name>.key_secret both


def write_curve_key_files(folder: str | Path) -> list[Path]:
    """Create a fresh server and client key pair as ZeroMQ certificate files in ``folder``.

    Writes ``server.key``, ``server.key_secret``, ``client.key`` and
    ``client.key_secret`` (plain text; the secret files readable by their owner
    only). The recognizer's machine needs ``server.key_secret`` and
    ``client.key``; a remote subscriber needs ``server.key`` and
    ``client.key_secret``. Existing keys are never overwritten.

    Raises:
        FileExistsError: one of the four files is already there.
    """
    import zmq.auth

    folder = Path(folder)
    paths = [folder / f"{name}.{suffix}" for name in CURVE_KEY_NAMES for suffix in ("key", "key_secret")]
    taken = [str(path) for path in paths if path.exists()]
    if taken:
        raise FileExistsError(f"not overwriting existing CURVE keys: {', '.join(taken)}")
    if not zmq.has("curve"):
        raise RuntimeError("this libzmq was built without CURVE support")
    folder.mkdir(parents=True, exist_ok=True)
    for name in CURVE_KEY_NAMES:
        _, secret_file = zmq.auth.create_certificates(str(folder), name)
        Path(secret_file).chmod(0o600)
    return paths


def read_curve_key_files(folder: str | Path, side: str) -> CurveKeys:
    """The keys one side of a link needs, from :func:`write_curve_key_files`' folder.

    ``side="server"`` (the recognizer's PUB and REP sockets) reads the server's
    secret and the client's public key; ``side="client"`` (a subscriber or
    control client) the server's public key and the client's secret.

    Raises:
        ValueError: unknown side, or a file that is missing or not a key certificate (named).
    """
    import zmq.auth

    if side not in CURVE_KEY_NAMES:
        raise ValueError(f"side must be 'server' or 'client', got {side!r}")
    other = "client" if side == "server" else "server"
    keys: dict[str, str] = {}
    for name, suffix in ((side, "key_secret"), (other, "key")):
        path = Path(folder) / f"{name}.{suffix}"
        if not path.is_file():
            raise ValueError(f"CURVE key file {path} is missing (create the keys with `fsvae keys {folder}`)")
        try:
            public, secret = zmq.auth.load_certificate(str(path))
        except Exception as error:  # noqa: BLE001 - zmq raises plain exceptions for bad certificates
            raise ValueError(f"CURVE key file {path} is not a ZeroMQ key certificate: {error}") from None
        if suffix == "key_secret" and secret is None:
            raise ValueError(f"CURVE key file {path} holds no secret key")
        keys[f"{name}_public"] = public.decode("ascii")
        if suffix == "key_secret":
            keys[f"{name}_secret"] = secret.decode("ascii")
    return CurveKeys(**keys)


def local_endpoint(endpoint: str) -> str:
    """Where a process on this machine connects to a socket bound at ``endpoint``.

    A TCP wildcard host (``*``, ``0.0.0.0``, ``[::]``) becomes 127.0.0.1; anything else is unchanged.
    """
    for wildcard in ("tcp://*:", "tcp://0.0.0.0:", "tcp://[::]:"):
        if endpoint.startswith(wildcard):
            return f"tcp://{DEFAULT_HOST}:{endpoint[len(wildcard):]}"
    return endpoint


class _AllowOneClient:
    """ZAP credentials provider letting in exactly one client public key."""

    def __init__(self, client_public: str) -> None:
        self._key = client_public.encode("ascii")

    def callback(self, domain: str, key: bytes) -> bool:
        return hmac.compare_digest(key, self._key)


class _ZapRegistry:
    """One ZAP authenticator thread per context (libzmq allows one), shared by its CURVE servers.

    Each server socket gets its own ZAP domain holding its one allowed client key.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[zmq.Context, ThreadAuthenticator, set[str]]] = {}
        self._domains = itertools.count()

    def allow(self, context: zmq.Context, client_public: str) -> str:
        with self._lock:
            entry = self._entries.get(id(context))
            if entry is None:
                authenticator = ThreadAuthenticator(context)
                authenticator.start()
                entry = self._entries[id(context)] = (context, authenticator, set())
            domain = f"fsvae-{next(self._domains)}"
            entry[1].configure_curve_callback(domain, _AllowOneClient(client_public))
            entry[2].add(domain)
            return domain

    def forget(self, context: zmq.Context, domain: str) -> None:
        with self._lock:
            entry = self._entries.get(id(context))
            if entry is None:
                return
            _, authenticator, domains = entry
            authenticator.credentials_providers.pop(domain, None)
            domains.discard(domain)
            if not domains:
                authenticator.stop()
                del self._entries[id(context)]


_ZAP = _ZapRegistry()


# ---------------------------------------------------------------------------------------------
# Shared plumbing.


class _Socket:
    """One ZeroMQ socket with endpoint checks, CURVE, LINGER 0 on close and ``with`` support."""

    _CURVE_SERVER_TYPES = (zmq.PUB, zmq.REP)

    def __init__(
        self,
        socket_type: int,
        endpoint: str,
        *,
        bind: bool,
        context: zmq.Context | None,
        curve: CurveKeys | None,
        allow_remote: bool,
        options: dict[int, Any],
        subscriptions: Iterable[str] = (),
    ) -> None:
        self._requested_endpoint = check_endpoint(endpoint, bind=bind, allow_remote=allow_remote)
        if curve is not None and not isinstance(curve, CurveKeys):
            raise TypeError(f"curve must be CurveKeys or None, got {type(curve).__name__}")
        self._bind = bind
        self._type = socket_type
        self._context = context if context is not None else zmq.Context.instance()
        self._curve = curve
        self._options = options
        self._subscriptions = tuple(subscriptions)
        self._zap_domain: str | None = None
        self._socket: zmq.Socket | None = None
        self._socket = self._open()

    def _open(self) -> zmq.Socket:
        socket = self._context.socket(self._type)
        try:
            for option, value in self._options.items():
                socket.setsockopt(option, value)
            if self._curve is not None:
                self._apply_curve(socket, self._curve)
            for topic in self._subscriptions:
                socket.setsockopt(zmq.SUBSCRIBE, topic.encode("ascii"))
            if self._bind:
                socket.bind(self._requested_endpoint)
            else:
                socket.connect(self._requested_endpoint)
        except Exception as error:
            socket.close(linger=0)
            self._release_zap()
            if isinstance(error, zmq.ZMQError):
                error.add_note(f"while {'binding' if self._bind else 'connecting'} {self._requested_endpoint}")
            raise
        return socket

    def _apply_curve(self, socket: zmq.Socket, keys: CurveKeys) -> None:
        if self._type in self._CURVE_SERVER_TYPES:
            if keys.server_secret is None:
                raise ValueError(f"{type(self).__name__} is a CURVE server and needs server_secret (CurveKeys.for_server)")
            if self._zap_domain is None:
                self._zap_domain = _ZAP.allow(self._context, keys.client_public)
            # Fail closed: refuse clients if the authenticator is ever missing.
            socket.setsockopt(zmq.ZAP_ENFORCE_DOMAIN, 1)
            socket.zap_domain = self._zap_domain.encode("ascii")
            socket.curve_secretkey = keys.server_secret.encode("ascii")
            socket.curve_publickey = keys.server_public.encode("ascii")
            socket.curve_server = True
        else:
            if keys.client_secret is None:
                raise ValueError(f"{type(self).__name__} is a CURVE client and needs client_secret (CurveKeys.for_client)")
            socket.curve_serverkey = keys.server_public.encode("ascii")
            socket.curve_publickey = keys.client_public.encode("ascii")
            socket.curve_secretkey = keys.client_secret.encode("ascii")

    def _release_zap(self) -> None:
        if self._zap_domain is not None:
            _ZAP.forget(self._context, self._zap_domain)
            self._zap_domain = None

    @property
    def socket(self) -> zmq.Socket:
        """The underlying socket, e.g. to register with a ``zmq.Poller``."""
        if self._socket is None:
            raise RuntimeError(f"{type(self).__name__} on {self._requested_endpoint} is closed")
        return self._socket

    @property
    def endpoint(self) -> str:
        """The endpoint, resolved after a bind (``tcp://127.0.0.1:*`` becomes the real port)."""
        if self._socket is not None and self._bind:
            return self._socket.getsockopt_string(zmq.LAST_ENDPOINT)
        return self._requested_endpoint

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._socket is None

    def close(self) -> None:
        """Close the socket at once, dropping anything unsent (LINGER 0); safe to call twice."""
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        self._release_zap()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _check_hwm(hwm: int) -> int:
    if isinstance(hwm, bool) or not isinstance(hwm, int) or hwm < 1:
        # 0 would mean "unbounded" to libzmq: the opposite of latest-wins.
        raise ValueError(f"hwm must be an integer >= 1 (0 means unbounded in ZeroMQ), got {hwm!r}")
    return hwm


def _check_timeout(timeout_ms: float | None, allow_none: bool = True) -> float | None:
    if timeout_ms is None and allow_none:
        return None
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float)) or not timeout_ms >= 0:
        raise ValueError(f"timeout_ms must be a number >= 0{' or None' if allow_none else ''}, got {timeout_ms!r}")
    return float(timeout_ms)


def _recv_frames(socket: zmq.Socket) -> tuple[list[zmq.Frame], int] | None:
    """One whole multipart message without blocking: (first frames kept, total frame count).

    At most MAX_FRAMES + 1 frames are kept, so a peer sending a million empty
    frames cannot make us hold them; the rest are read and discarded.
    """
    try:
        frame = socket.recv(flags=zmq.NOBLOCK, copy=False)
    except zmq.Again:
        return None
    frames = [frame]
    count = 1
    while frame.more:
        # The rest of a multipart message is already here: ZeroMQ delivers it whole.
        frame = socket.recv(copy=False)
        count += 1
        if len(frames) <= MAX_FRAMES:
            frames.append(frame)
    return frames, count


def _decode_frames(received: tuple[list[zmq.Frame], int]) -> Any:
    frames, count = received
    if count > MAX_FRAMES:
        raise MessageError(None, "frames", f"expected at most {MAX_FRAMES} frames, got {count}")
    return decode(frames)


# ---------------------------------------------------------------------------------------------
# PUB/SUB


class LatestWinsPublisher(_Socket):
    """PUB socket for a stream where only fresh messages matter. NOT thread-safe.

    Each subscriber's queue holds at most about ``hwm`` messages; when it is
    full libzmq drops the new message for that subscriber alone, so a stalled
    reader never blocks :meth:`publish` or grows this process's memory.
    ``dropped`` counts messages libzmq refused outright (a PUB socket drops
    per subscriber without telling; subscribers see those as ``seq`` gaps,
    :attr:`LatestWinsSubscriber.lost`). A subscriber connecting later misses
    what was sent before, so every message is self-contained.
    """

    def __init__(
        self,
        endpoint: str,
        bind: bool = True,
        context: zmq.Context | None = None,
        hwm: int = 2,
        curve: CurveKeys | None = None,
        *,
        allow_remote: bool = False,
    ) -> None:
        self.hwm = _check_hwm(hwm)
        self.sent = 0
        self.dropped = 0
        super().__init__(
            zmq.PUB, endpoint, bind=bind, context=context, curve=curve, allow_remote=allow_remote,
            options={zmq.SNDHWM: hwm},
        )  # fmt: skip

    def publish(self, message: Any) -> bool:
        """Send ``message`` without blocking; False (and ``dropped`` + 1) if it could not be queued.

        The message is serialised completely before its first frame is sent, so
        a serialisation error never leaves half a multipart message behind.
        """
        if not hasattr(message, "to_frames"):
            raise TypeError(f"publish takes a realtime.messages message, got {type(message).__name__}")
        frames = message.to_frames()
        try:
            self.socket.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.Again:
            self.dropped += 1
            return False
        self.sent += 1
        return True


class LatestWinsSubscriber(_Socket):
    """SUB socket that prefers the newest message to a complete history. NOT thread-safe.

    ``topics`` are ZeroMQ prefixes (``("",)`` takes everything). The receive
    queue holds about ``hwm`` messages; older ones are dropped by libzmq while
    this process is busy. Malformed messages are dropped and counted
    (``malformed``, ``last_error``), never raised. A message larger than
    MAX_MESSAGE_BYTES makes libzmq drop the connection without ever
    reconnecting; a connecting subscriber watches for disconnects and
    reconnects itself (``reconnects``), a binding one is reconnected to by its
    publishers. Counters: ``received`` (good messages read), ``stale`` (good
    messages :meth:`receive_latest` skipped), ``lost`` (seq gaps within a
    stream: messages dropped before they reached us).
    """

    def __init__(
        self,
        endpoint: str,
        topics: Iterable[str] = ("",),
        bind: bool = False,
        hwm: int = 2,
        curve: CurveKeys | None = None,
        *,
        context: zmq.Context | None = None,
        allow_remote: bool = False,
    ) -> None:
        if isinstance(topics, str):
            topics = (topics,)
        topics = tuple(topics)
        if not topics:
            raise ValueError('topics is empty, so nothing would arrive; use ("",) to receive every topic')
        for topic in topics:
            if not isinstance(topic, str) or not topic.isascii():
                raise ValueError(f"topic {topic!r} must be an ASCII string")
        self.topics = topics
        self.hwm = _check_hwm(hwm)
        self.received = 0
        self.stale = 0
        self.lost = 0
        self.malformed = 0
        self.last_error: str | None = None
        self.reconnects = 0
        self._last_seq: dict[tuple[str, str], int] = {}
        super().__init__(
            zmq.SUB, endpoint, bind=bind, context=context, curve=curve, allow_remote=allow_remote,
            options={zmq.RCVHWM: hwm, zmq.MAXMSGSIZE: MAX_MESSAGE_BYTES}, subscriptions=topics,
        )  # fmt: skip
        self._monitor: zmq.Socket | None = None
        self._poller = zmq.Poller()
        self._poller.register(self.socket, zmq.POLLIN)
        if not bind:
            # libzmq ends a connection for an oversized message as a protocol error and, unlike
            # after a network error, never reconnects it; the monitor tells us to do it ourselves.
            self._monitor = self.socket.get_monitor_socket(zmq.EVENT_DISCONNECTED)
            self._poller.register(self._monitor, zmq.POLLIN)

    def _reconnect_if_dropped(self) -> None:
        dropped = False
        while self._monitor is not None and self._monitor.poll(0, zmq.POLLIN):
            dropped |= recv_monitor_message(self._monitor)["event"] == zmq.EVENT_DISCONNECTED
        if dropped:
            # Harmless after an ordinary disconnect too: it only restarts the connecting.
            self.socket.disconnect(self._requested_endpoint)
            self.socket.connect(self._requested_endpoint)
            self.reconnects += 1

    def close(self) -> None:
        """Close the socket (and its connection monitor) at once; safe to call twice."""
        if self._monitor is not None and self._socket is not None:
            self._socket.disable_monitor()
            self._monitor.close(linger=0)
            self._monitor = None
        super().close()

    def _read_one(self) -> Any | None:
        """Decode one waiting message; None if nothing waits or it was malformed."""
        received = _recv_frames(self.socket)
        if received is None:
            return None
        try:
            message = _decode_frames(received)
        except MessageError as error:
            self.malformed += 1
            self.last_error = str(error)
            return None
        self.received += 1
        self._track(message)
        return message

    def _track(self, message: Any) -> None:
        stream = getattr(message, "stream", None)
        if stream is None:
            return
        previous = self._last_seq.get(stream)
        # A seq at or below the last one means the publisher restarted: start counting afresh.
        if previous is not None and message.seq > previous + 1:
            self.lost += message.seq - previous - 1
        self._last_seq[stream] = message.seq

    def receive(self, timeout_ms: float | None = 0) -> Any | None:
        """The next good message, waiting up to ``timeout_ms`` (None: forever); None if none came."""
        timeout = _check_timeout(timeout_ms)
        deadline = None if timeout is None else time.monotonic() + timeout / 1000.0
        first = True
        while True:
            if deadline is None:
                wait = None
            else:
                # Always poll once, even with a zero timeout: the deadline has
                # passed by the time we get here, yet messages may be queued.
                wait = max((deadline - time.monotonic()) * 1000.0, 0.0)
                if wait == 0.0 and not first:
                    return None
            first = False
            self._reconnect_if_dropped()
            ready = dict(self._poller.poll(None if wait is None else int(wait)))
            if not ready:
                return None
            if self.socket not in ready:
                continue  # only the monitor spoke; handled at the top of the loop
            message = self._read_one()
            if message is not None:
                return message

    def receive_latest(self, timeout_ms: float | None = 0) -> Any | None:
        """The newest good message: waits up to ``timeout_ms`` for one, then drains the queue.

        Every good message skipped on the way counts in ``stale``. Meant for
        one stream: with several sources behind one subscription, subscribe
        per source instead (``skeleton_topics("cam0")``).
        """
        newest = self.receive(timeout_ms)
        if newest is None:
            return None
        for _ in range(_MAX_DRAIN):
            if not self.socket.poll(0, zmq.POLLIN):
                break
            message = self._read_one()
            if message is not None:
                self.stale += 1
                newest = message
        return newest


# ---------------------------------------------------------------------------------------------
# REQ/REP


ControlHandler = Callable[[ControlRequest], ControlReply]


class ControlServer(_Socket):
    """REP socket answering every :class:`ControlRequest` with one :class:`ControlReply`. NOT thread-safe.

    A malformed request, a handler that raises or returns something else, all
    get an error reply (``ok`` false); the server never dies of a request.
    Counters: ``served``, ``malformed``, ``failed`` (handler errors), ``last_error``.
    """

    def __init__(
        self,
        endpoint: str,
        bind: bool = True,
        context: zmq.Context | None = None,
        curve: CurveKeys | None = None,
        *,
        allow_remote: bool = False,
    ) -> None:
        self.served = 0
        self.malformed = 0
        self.failed = 0
        self.last_error: str | None = None
        super().__init__(
            zmq.REP, endpoint, bind=bind, context=context, curve=curve, allow_remote=allow_remote,
            options={zmq.MAXMSGSIZE: MAX_MESSAGE_BYTES},
        )  # fmt: skip

    def poll(self, handler: ControlHandler, timeout_ms: float | None = 0) -> bool:
        """Answer one request with ``handler`` if one arrives within ``timeout_ms``; True if answered.

        The reply's ``seq`` is set to the request's, whatever the handler put there.
        """
        timeout = _check_timeout(timeout_ms)
        if not self.socket.poll(None if timeout is None else int(timeout), zmq.POLLIN):
            return False
        received = _recv_frames(self.socket)
        if received is None:
            return False
        # REP must send exactly one reply after each receive, so every path below ends in one.
        try:
            request = _decode_frames(received)
            if not isinstance(request, ControlRequest):
                raise MessageError(request.topic, "topic", "expected a control.request message")
        except MessageError as error:
            self.malformed += 1
            self.last_error = str(error)
            reply = ControlReply.failure(0, f"malformed request: {error}")
        else:
            reply = self._answer(handler, request)
        self.socket.send_multipart(reply.to_frames())
        self.served += 1
        return True

    def _answer(self, handler: ControlHandler, request: ControlRequest) -> ControlReply:
        try:
            reply = handler(request)
            if not isinstance(reply, ControlReply):
                raise TypeError(f"handler returned {type(reply).__name__}, not ControlReply")
            reply = replace(reply, seq=request.seq) if reply.seq != request.seq else reply
            reply.to_frames()  # an oversized reply must fail here, not leave REP without an answer
            return reply
        except Exception as error:  # noqa: BLE001 - a handler bug must not kill the control loop
            self.failed += 1
            self.last_error = f"{request.command}: {type(error).__name__}: {error}"
            return ControlReply.failure(request.seq, f"{request.command} failed: {type(error).__name__}: {error}")


class ControlClient(_Socket):
    """REQ socket sending one :class:`ControlRequest` at a time. NOT thread-safe.

    If the server does not answer within ``timeout_ms``, :meth:`request` closes
    and reopens the socket (lazy pirate) and raises ``TimeoutError``; the next
    request starts clean.
    """

    def __init__(
        self,
        endpoint: str,
        timeout_ms: float = 2000,
        *,
        context: zmq.Context | None = None,
        curve: CurveKeys | None = None,
    ) -> None:
        self.timeout_ms = _check_timeout(timeout_ms, allow_none=False)
        self._seq = itertools.count(1)
        super().__init__(
            zmq.REQ, endpoint, bind=False, context=context, curve=curve, allow_remote=False,
            options={zmq.MAXMSGSIZE: MAX_MESSAGE_BYTES},
        )  # fmt: skip

    def request(self, request: ControlRequest) -> ControlReply:
        """Send ``request`` and return the server's reply.

        Raises TimeoutError if no reply comes within ``timeout_ms`` (the
        request may or may not have been carried out), MessageError if the
        reply is malformed or answers another request.
        """
        if not isinstance(request, ControlRequest):
            raise TypeError(f"request must be a ControlRequest, got {type(request).__name__}")
        frames = request.to_frames()
        try:
            self.socket.send_multipart(frames, flags=zmq.NOBLOCK)
            answered = self.socket.poll(int(self.timeout_ms), zmq.POLLIN)
        except zmq.Again:
            answered = False
        except BaseException:
            self._reset()  # e.g. Ctrl-C while waiting: a REQ left mid-exchange would refuse the next send
            raise
        received = _recv_frames(self.socket) if answered else None
        if received is None:
            self._reset()
            raise TimeoutError(
                f"control server at {self._requested_endpoint} did not answer {request.command!r} within "
                f"{self.timeout_ms:g} ms (is the recognizer running? the request may or may not have been applied)"
            )
        reply = _decode_frames(received)
        if not isinstance(reply, ControlReply):
            raise MessageError(reply.topic, "topic", "expected a control.reply message")
        if reply.seq != request.seq and reply.seq != 0:
            raise MessageError(reply.topic, "seq", f"reply {reply.seq} does not answer request {request.seq}")
        return reply

    def call(self, command: str, **arguments: str) -> ControlReply:
        """Build a request numbered by this client (``name=``, ``ld=``, ``gd=``) and send it."""
        return self.request(ControlRequest(seq=next(self._seq), command=command, **arguments))

    def _reset(self) -> None:
        # A REQ socket that sent without a reply is stuck; a fresh one drops any late answer.
        if self._socket is not None:
            self._socket.close(linger=0)
        self._socket = None
        self._socket = self._open()
