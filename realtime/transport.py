"""Thin ZeroMQ socket wrappers, each named for what it promises.

- :class:`LatestWinsPublisher` / :class:`LatestWinsSubscriber`: PUB/SUB with
  tiny queues. A slow or stalled reader never blocks or bloats the writer:
  libzmq drops what does not fit, and the reader can skip to the newest
  message. Nothing here guarantees delivery; ``seq`` gaps show what was lost.
  The publisher bounds what subscribers can make it hold
  (:data:`MAX_SUBSCRIPTIONS`), the subscriber what a lying publisher can make
  it count (:data:`MAX_SEQ_GAP`, :data:`MAX_TRACKED_STREAMS`, ``max_clock_skew_ms``).
- :class:`ControlServer` / :class:`ControlClient`: REQ/REP for commands; every
  request gets exactly one reply or the client gets a ``TimeoutError``.

Every wrapper counts what it dropped or refused; :meth:`counters` gives them
all as one dict, for status reports.

Messages are the dataclasses of :mod:`realtime.messages`; nothing is pickled.
Every wrapper is NOT thread-safe (ZeroMQ sockets are not): create and use it in
one thread. Close it with :meth:`close` or a ``with`` block; closing drops
unsent messages at once (LINGER 0).

Binding to anything other than loopback or ``ipc://`` needs
``allow_remote=True``; remote links should use CURVE (:class:`CurveKeys`),
where the binding side of a link is the CURVE server (the recognizer's PUB
and REP sockets, and its windows SUB where remote captures connect to it) and
lets in only the client key of the keys, and the server's own key pair (for
processes on the server's machine, :meth:`CurveKeys.for_local_client`).
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
    capture_time_plausible,
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

# What subscribers can make a publisher hold. libzmq keeps every distinct subscription prefix of
# every connected subscriber, unbounded (a million made one process grow by 5 GB). A publisher
# past either limit cuts every subscriber off (closes and re-binds its socket, which frees them
# all); honest subscribers reconnect by themselves within a fraction of a second.
MAX_SUBSCRIPTIONS = 1024  # distinct prefixes held at once, all subscribers together
MAX_SUBSCRIPTION_BYTES = 64 * 1024  # their total length
# ZMQ_MAXMSGSIZE of a publisher: its only inbound messages are subscriptions (topics are at most
# 128 bytes), plus the CURVE handshake (about 600 bytes); a peer sending more is disconnected.
MAX_SUBSCRIPTION_MESSAGE_BYTES = 1024
# ZMQ_RCVHWM of a publisher: the subscriptions queued per connection. So small, libzmq files them
# only a couple at a time, after a round trip between its threads, and a flood cannot outrun the
# count between reads (with 100, one read let tens of thousands of a flood's subscriptions in at
# once: 100 MB). Not 1: with 1, CURVE connections checked by ZAP never complete (libzmq 4.3.5).
_SUBSCRIPTION_HWM = 2

# What a publisher (honest or not) can make a subscriber count.
MAX_SEQ_GAP = 1000  # a larger jump in seq is not loss but a new stream (see LatestWinsSubscriber)
MAX_TRACKED_STREAMS = 1024  # streams whose last seq is remembered; the least recent is forgotten


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

    def for_local_client(self) -> CurveKeys:
        """Client keys for a process on the server's own machine, made from the server's key pair.

        That machine holds ``server.key_secret`` and ``client.key`` only
        (the remote client's secret stays with the remote client); a process
        there that subscribes to the server's labels or sends it commands
        (``fsvae-live``'s status line, capture's overlay) presents the server's
        own key pair as its client key. Every CURVE server of these keys lets
        that key in besides ``client_public``: only a holder of
        ``server_secret``, who could be the server anyway, can present it.
        """
        if self.server_secret is None:
            raise ValueError("these CurveKeys have no server_secret (for_local_client is for the server's machine)")
        return CurveKeys(server_public=self.server_public, client_public=self.server_public,
                         client_secret=self.server_secret)  # fmt: skip


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
CURVE_SIDES = ("server", "client", "local")


def write_curve_key_files(folder: str | Path) -> list[Path]:
    """Create a fresh server and client key pair as ZeroMQ certificate files in ``folder``.

    Writes ``server.key``, ``server.key_secret``, ``client.key`` and
    ``client.key_secret`` (plain text; the secret files readable by their owner
    only). The recognizer's machine needs ``server.key_secret`` and
    ``client.key``; a remote subscriber needs ``server.key`` and
    ``client.key_secret``. Existing keys are never overwritten.

    Raises:
        FileExistsError: one of the four files is already there, or ``folder`` is a file.
    """
    import zmq.auth

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{folder}: a file, not a folder for the keys")
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

    The recognizer's machine holds ``server.key_secret`` and ``client.key``; a
    remote subscriber or control client ``server.key`` and ``client.key_secret``.

    - ``side="server"``: the recognizer's PUB and REP sockets; reads
      ``server.key_secret`` and ``client.key``.
    - ``side="local"``: a subscriber or control client on the recognizer's
      machine (``fsvae-live``'s status line, capture's overlay); reads
      ``server.key_secret`` only and gives :meth:`CurveKeys.for_local_client`.
    - ``side="client"``: a subscriber or control client elsewhere; reads
      ``server.key`` and ``client.key_secret``.

    Raises:
        ValueError: unknown side, or a file that is missing or not a key certificate (named).
    """
    if side not in CURVE_SIDES:
        raise ValueError(f"side must be one of {', '.join(map(repr, CURVE_SIDES))}, got {side!r}")
    if side == "local":
        server = _read_key_file(Path(folder), "server", "key_secret")
        return CurveKeys(server_public=server[0], client_public=server[0], server_secret=server[1]).for_local_client()
    other = "client" if side == "server" else "server"
    keys: dict[str, str] = {}
    for name, suffix in ((side, "key_secret"), (other, "key")):
        public, secret = _read_key_file(Path(folder), name, suffix)
        keys[f"{name}_public"] = public
        if secret is not None:
            keys[f"{name}_secret"] = secret
    return CurveKeys(**keys)


def _read_key_file(folder: Path, name: str, suffix: str) -> tuple[str, str | None]:
    """(public, secret) of ``folder/<name>.<suffix>``; the secret is None for a ``.key`` file."""
    import zmq.auth

    path = folder / f"{name}.{suffix}"
    if not path.is_file():
        raise ValueError(f"CURVE key file {path} is missing (create the keys with `fsvae keys {folder}`)")
    try:
        public, secret = zmq.auth.load_certificate(str(path))
    except Exception as error:  # noqa: BLE001 - zmq raises plain exceptions for bad certificates
        raise ValueError(f"CURVE key file {path} is not a ZeroMQ key certificate: {error}") from None
    if suffix == "key_secret" and secret is None:
        raise ValueError(f"CURVE key file {path} holds no secret key")
    return public.decode("ascii"), (secret.decode("ascii") if suffix == "key_secret" else None)


def local_endpoint(endpoint: str) -> str:
    """Where a process on this machine connects to a socket bound at ``endpoint``.

    A TCP wildcard host (``*``, ``0.0.0.0``, ``[::]``) becomes 127.0.0.1; anything else is unchanged.
    """
    for wildcard in ("tcp://*:", "tcp://0.0.0.0:", "tcp://[::]:"):
        if endpoint.startswith(wildcard):
            return f"tcp://{DEFAULT_HOST}:{endpoint[len(wildcard):]}"
    return endpoint


class _AllowClients:
    """ZAP credentials provider letting in exactly the given client public keys."""

    def __init__(self, client_publics: Iterable[str]) -> None:
        self._keys = [key.encode("ascii") for key in client_publics]

    def callback(self, domain: str, key: bytes) -> bool:
        return any(hmac.compare_digest(key, allowed) for allowed in self._keys)


class _ZapRegistry:
    """One ZAP authenticator thread per context (libzmq allows one), shared by its CURVE servers.

    Each server socket gets its own ZAP domain holding the client keys it lets in.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, tuple[zmq.Context, ThreadAuthenticator, set[str]]] = {}
        self._domains = itertools.count()

    def allow(self, context: zmq.Context, client_publics: Iterable[str]) -> str:
        with self._lock:
            entry = self._entries.get(id(context))
            if entry is None:
                entry = self._entries[id(context)] = (context, self._start(context), set())
            domain = f"fsvae-{next(self._domains)}"
            entry[1].configure_curve_callback(domain, _AllowClients(client_publics))
            entry[2].add(domain)
            return domain

    @staticmethod
    def _start(context: zmq.Context) -> ThreadAuthenticator:
        # libzmq frees an inproc address only once the reaper has closed the socket that held it,
        # a moment after close(): an authenticator stopped just before may still hold the ZAP one.
        deadline = time.monotonic() + 10
        while True:
            authenticator = ThreadAuthenticator(context)
            try:
                authenticator.start()
                return authenticator
            except zmq.ZMQError as error:
                authenticator.stop()
                if error.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                    raise
            time.sleep(0.01)

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

    _COUNTERS: tuple[str, ...] = ()

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
        # Where a re-opened socket binds: the port a "*" bind got the first time.
        self._bound_endpoint = self._socket.getsockopt_string(zmq.LAST_ENDPOINT) if bind else None

    def _open(self, endpoint: str | None = None) -> zmq.Socket:
        endpoint = endpoint or self._requested_endpoint
        socket = self._context.socket(self._type)
        try:
            for option, value in self._options.items():
                socket.setsockopt(option, value)
            if self._curve is not None:
                self._apply_curve(socket, self._curve)
            for topic in self._subscriptions:
                socket.setsockopt(zmq.SUBSCRIBE, topic.encode("ascii"))
            if self._bind:
                socket.bind(endpoint)
            else:
                socket.connect(endpoint)
        except Exception as error:
            socket.close(linger=0)
            self._release_zap()
            if isinstance(error, zmq.ZMQError):
                error.add_note(f"while {'binding' if self._bind else 'connecting'} {endpoint}")
            raise
        return socket

    def _reopen(self, timeout_s: float = 2.0) -> None:
        """Close the socket, dropping every connection and what libzmq held for them, and open it again.

        A bound socket binds the same address again once the old one is gone
        (for ``ipc://``, the old socket's closing would otherwise unlink the
        new one's file).
        """
        old = self.socket
        monitor = old.get_monitor_socket(zmq.EVENT_MONITOR_STOPPED)
        try:
            old.close(linger=0)
            self._socket = None
            deadline = time.monotonic() + timeout_s
            while (left := deadline - time.monotonic()) > 0 and monitor.poll(int(left * 1000) + 1, zmq.POLLIN):
                if recv_monitor_message(monitor)["event"] == zmq.EVENT_MONITOR_STOPPED:
                    break
        finally:
            monitor.close(linger=0)
        endpoint = self._bound_endpoint if self._bind else None
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                self._socket = self._open(endpoint)
                return
            except zmq.ZMQError as error:
                if error.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def counters(self) -> dict[str, int]:
        """Every counter of this wrapper by name, e.g. for a status report."""
        return {name: int(getattr(self, name)) for name in self._COUNTERS}

    def _apply_curve(self, socket: zmq.Socket, keys: CurveKeys) -> None:
        # The side that binds is the server: the recognizer's label and control sockets, and its windows
        # socket where captures on other machines connect to it (inference --windows-bind).
        if self._bind:
            if keys.server_secret is None:
                raise ValueError(f"{type(self).__name__} is a CURVE server and needs server_secret (CurveKeys.for_server)")
            if self._zap_domain is None:
                # The server's own key pair too: local processes use it (CurveKeys.for_local_client).
                self._zap_domain = _ZAP.allow(self._context, (keys.client_public, keys.server_public))
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

    Subscriptions cannot exhaust memory. The socket is an XPUB, which tells
    this wrapper of every distinct prefix subscribed to and of every one no
    longer wanted; :meth:`publish` reads those notices first. When more than
    ``max_subscriptions`` distinct prefixes (:data:`MAX_SUBSCRIPTIONS`), or
    more than :data:`MAX_SUBSCRIPTION_BYTES` of them, are held at once, every
    subscriber is cut off: the socket is closed, which frees what libzmq held,
    and bound again at once. Subscribers reconnect by themselves and subscribe
    again (a few hundred ms without messages); a client that floods again is
    cut off again. A subscription message longer than
    :data:`MAX_SUBSCRIPTION_MESSAGE_BYTES` ends its connection. Counters:
    ``sent``, ``dropped``, ``subscriptions`` (distinct prefixes held now),
    ``subscription_resets`` (times every subscriber was cut off) and
    ``subscriptions_dropped`` (prefixes those resets freed).
    """

    _COUNTERS = ("sent", "dropped", "subscriptions", "subscription_resets", "subscriptions_dropped")

    def __init__(
        self,
        endpoint: str,
        bind: bool = True,
        context: zmq.Context | None = None,
        hwm: int = 2,
        curve: CurveKeys | None = None,
        *,
        allow_remote: bool = False,
        max_subscriptions: int = MAX_SUBSCRIPTIONS,
    ) -> None:
        self.hwm = _check_hwm(hwm)
        if isinstance(max_subscriptions, bool) or not isinstance(max_subscriptions, int) or max_subscriptions < 1:
            raise ValueError(f"max_subscriptions must be an integer >= 1, got {max_subscriptions!r}")
        self.max_subscriptions = max_subscriptions
        self.sent = 0
        self.dropped = 0
        self.subscriptions = 0
        self.subscription_resets = 0
        self.subscriptions_dropped = 0
        self._subscription_bytes = 0
        super().__init__(
            zmq.XPUB, endpoint, bind=bind, context=context, curve=curve, allow_remote=allow_remote,
            options={
                zmq.SNDHWM: hwm,
                zmq.RCVHWM: _SUBSCRIPTION_HWM,
                zmq.MAXMSGSIZE: MAX_SUBSCRIPTION_MESSAGE_BYTES,
            },
        )  # fmt: skip

    def publish(self, message: Any) -> bool:
        """Send ``message`` without blocking; False (and ``dropped`` + 1) if it could not be queued.

        The message is serialised completely before its first frame is sent, so
        a serialisation error never leaves half a multipart message behind.
        Subscription notices waiting on the socket are read first.
        """
        if not hasattr(message, "to_frames"):
            raise TypeError(f"publish takes a realtime.messages message, got {type(message).__name__}")
        frames = message.to_frames()
        self._read_subscriptions()
        try:
            self.socket.send_multipart(frames, flags=zmq.NOBLOCK)
        except zmq.Again:
            self.dropped += 1
            return False
        self.sent += 1
        return True

    def counters(self) -> dict[str, int]:
        """Every counter by name; subscription notices waiting are read first, so they are current."""
        self._read_subscriptions()
        return super().counters()

    def _read_subscriptions(self) -> None:
        """Account for every subscription notice waiting; cut everyone off past the limits.

        libzmq files subscriptions when the socket is used (here, by each
        read), a couple per connection at a time (:data:`_SUBSCRIPTION_HWM`),
        so counting them one by one keeps what it holds near the limits.
        """
        socket = self.socket
        for _ in range(4 * (self.max_subscriptions + _SUBSCRIPTION_HWM)):  # bounded: a flood cannot pin us here
            try:
                notice = socket.recv(flags=zmq.NOBLOCK, copy=True)
            except zmq.Again:
                return
            if notice[:1] == b"\x01":
                self.subscriptions += 1
                self._subscription_bytes += len(notice) - 1
            elif notice[:1] == b"\x00":  # the last subscriber of that prefix left or unsubscribed
                self.subscriptions = max(self.subscriptions - 1, 0)
                self._subscription_bytes = max(self._subscription_bytes - (len(notice) - 1), 0)
            if self.subscriptions > self.max_subscriptions or self._subscription_bytes > MAX_SUBSCRIPTION_BYTES:
                self._drop_subscribers()
                return

    def _drop_subscribers(self) -> None:
        self.subscription_resets += 1
        self.subscriptions_dropped += self.subscriptions
        self._reopen()
        self.subscriptions = 0
        self._subscription_bytes = 0


class LatestWinsSubscriber(_Socket):
    """SUB socket that prefers the newest message to a complete history. NOT thread-safe.

    ``topics`` are ZeroMQ prefixes (``("",)`` takes everything). The receive
    queue holds about ``hwm`` messages; older ones are dropped by libzmq while
    this process is busy. Malformed messages are dropped and counted
    (``malformed``, ``last_error``), never raised. A message larger than
    MAX_MESSAGE_BYTES makes libzmq drop the connection without ever
    reconnecting; a connecting subscriber watches for disconnects and
    reconnects itself (``reconnects``), a binding one is reconnected to by its
    publishers.

    ``lost`` counts messages dropped on the way, from gaps in ``seq`` within a
    stream (a source's windows, labels...), and cannot be inflated by a peer
    that lies about ``seq``: a gap counts only when the new seq continues the
    stream by at most :data:`MAX_SEQ_GAP`. A jump back, or further ahead, is
    counted as a new stream (``restarts``) once the next message continues
    it; a lone out-of-line message (e.g. spoofed) changes neither count nor
    the stream's place. So ``lost`` is a lower bound: a stall longer than
    MAX_SEQ_GAP messages shows as a restart. At most
    :data:`MAX_TRACKED_STREAMS` streams are remembered (``streams``), the least
    recently heard forgotten first.

    With ``max_clock_skew_ms``, a message whose ``capture_timestamp_ms`` lies
    further than that from this machine's clock (``messages.capture_time_plausible``)
    is dropped and counted in ``implausible``, so latencies computed from what
    arrives cannot be poisoned; leave it None where senders keep other clocks.

    Counters: ``received`` (good messages read), ``stale`` (good messages
    :meth:`receive_latest` skipped), ``lost``, ``restarts``, ``malformed``
    (messages that broke the format, dropped; ``last_error`` says why),
    ``implausible``, ``reconnects``, ``streams``.
    """

    _COUNTERS = ("received", "stale", "lost", "restarts", "malformed", "implausible", "reconnects", "streams")

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
        max_clock_skew_ms: float | None = None,
    ) -> None:
        if max_clock_skew_ms is not None:
            max_clock_skew_ms = _check_timeout(max_clock_skew_ms, allow_none=False)
        self.max_clock_skew_ms = max_clock_skew_ms
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
        self.restarts = 0
        self.malformed = 0
        self.implausible = 0
        self.last_error: str | None = None
        self.reconnects = 0
        # Per stream, in order of last arrival: (last seq in line, a seq out of line awaiting its successor).
        self._streams: dict[tuple[str, str], tuple[int, int | None]] = {}
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
        self._track(message)  # it arrived, whether or not it is kept: not lost on the way
        if self.max_clock_skew_ms is not None and hasattr(message, "capture_timestamp_ms"):
            if not capture_time_plausible(message.capture_timestamp_ms, max_skew_ms=self.max_clock_skew_ms):
                self.implausible += 1
                self.last_error = (
                    f"{message.topic}: capture_timestamp_ms {message.capture_timestamp_ms:.0f} is more than "
                    f"{self.max_clock_skew_ms:g} ms from this machine's clock; dropped"
                )
                return None
        self.received += 1
        return message

    @property
    def streams(self) -> int:
        """How many streams' seq this subscriber remembers (at most MAX_TRACKED_STREAMS)."""
        return len(self._streams)

    def _track(self, message: Any) -> None:
        stream = getattr(message, "stream", None)
        if stream is None:
            return
        seq = message.seq
        last, pending = self._streams.pop(stream, (None, None))  # re-inserted below: newest last
        if last is None:
            last, pending = seq, None
        elif last < seq <= last + 1 + MAX_SEQ_GAP:
            self.lost += seq - last - 1
            last, pending = seq, None
        elif pending is not None and pending < seq <= pending + 1 + MAX_SEQ_GAP:
            # Two messages in line elsewhere: the publisher restarted (or jumped ahead). What lay
            # between the out-of-line message and this one is not counted: it could be a lie too.
            self.restarts += 1
            last, pending = seq, None
        else:
            pending = seq  # out of line: wait for its successor before believing it
        self._streams[stream] = (last, pending)
        while len(self._streams) > MAX_TRACKED_STREAMS:
            del self._streams[next(iter(self._streams))]

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

    _COUNTERS = ("served", "malformed", "failed")

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
    request starts clean. Counters: ``requests`` (sent), ``malformed`` (replies
    that broke the format or answered another request, raised as
    MessageError; ``last_error`` says why), ``timeouts``.
    """

    _COUNTERS = ("requests", "malformed", "timeouts")

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
        self.requests = 0
        self.malformed = 0
        self.timeouts = 0
        self.last_error: str | None = None
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
        self.requests += 1
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
            self.timeouts += 1
            raise TimeoutError(
                f"control server at {self._requested_endpoint} did not answer {request.command!r} within "
                f"{self.timeout_ms:g} ms (is the recognizer running? the request may or may not have been applied)"
            )
        try:
            reply = _decode_frames(received)
            if not isinstance(reply, ControlReply):
                raise MessageError(reply.topic, "topic", "expected a control.reply message")
            if reply.seq != request.seq and reply.seq != 0:
                raise MessageError(reply.topic, "seq", f"reply {reply.seq} does not answer request {request.seq}")
        except MessageError as error:
            self.malformed += 1
            self.last_error = str(error)
            raise
        return reply

    def call(self, command: str, **arguments: Any) -> ControlReply:
        """Build a request numbered by this client (``name=``, ``ld=``, ``gd=``, ``parts=``) and send it."""
        return self.request(ControlRequest(seq=next(self._seq), command=command, **arguments))

    def _reset(self) -> None:
        # A REQ socket that sent without a reply is stuck; a fresh one drops any late answer.
        if self._socket is not None:
            self._socket.close(linger=0)
        self._socket = None
        self._socket = self._open()
