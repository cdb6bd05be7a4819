"""The HTTP client of runbook actions, guarded (httpcore, under httpx).

- A host must be in `actions.allowed_hosts`; every address it resolves to must be public or in
  `actions.allowed_networks`. The connection goes to an address that was checked, and the
  address it actually reached is checked again (DNS rebinding, a resolver that changed its mind).
- Redirects are followed only on the same scheme, host and port, at most three times.
- An answer is read up to a size limit; the rest is never read (the connection is dropped).
- Nothing here logs a URL or a header: they may carry secrets.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpcore

from bot.domain.actions import Concrete, HostPolicy, same_origin

Resolver = Callable[[str, int], Awaitable[list[str]]]
MAX_REDIRECTS = 3


class Refused(Exception):
    """The policy said no: not retried."""


class Unreachable(Exception):
    """No answer (connection refused or reset, timeout): retried."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, connecting only to addresses the policy allows."""

    def __init__(
        self, policy: HostPolicy, resolve: Resolver, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.policy = policy
        self.resolve = resolve
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                addresses = await self.resolve(host, port)
            except OSError as exc:
                raise httpcore.ConnectError(f"{host} does not resolve ({exc.strerror or exc})") from None
        if not addresses:
            raise httpcore.ConnectError(f"{host} does not resolve")
        for address in addresses:  # every address the name has: a mixed answer is refused whole
            if problem := self.policy.address_problem(address):
                raise Refused(f"{host} resolves to {problem}" if address != host else problem)
        failure: Exception | None = None
        for address in addresses:
            try:
                stream = await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            peer = stream.get_extra_info("server_addr")
            problem = "no peer address" if not peer else self.policy.address_problem(str(peer[0]))
            if problem:
                await stream.aclose()
                raise Refused(f"{host} connected to {problem}")
            return stream
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise Refused("actions do not use Unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@dataclass(frozen=True)
class Answer:
    status: int
    text: str  # what was read of the body, decoded leniently
    cut: bool  # the body was longer than the limit: the rest was not read
    retry_after: str | None
    redirect: str | None  # a redirect to another host, not followed
    seconds: float


class GuardedClient:
    def __init__(
        self, policy: HostPolicy, *, max_answer_bytes: int, resolve: Resolver = system_resolver
    ) -> None:
        self.policy = policy
        self.limit = max_answer_bytes
        self.backend = GuardedBackend(policy, resolve)

    async def send(self, request: Concrete, seconds: float) -> Answer:
        """Send the request; raises Refused (policy) or Unreachable (no answer)."""
        began = time.monotonic()
        try:
            async with asyncio.timeout(seconds):
                return await self._send(request, seconds, began)
        except TimeoutError:
            raise Unreachable(f"no answer within {seconds:.0f} s") from None
        except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
            raise Unreachable(f"could not connect ({_reason(exc)})") from None
        except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.RemoteProtocolError) as exc:
            raise Unreachable(f"the connection failed ({_reason(exc)})") from None
        except (httpcore.UnsupportedProtocol, httpcore.LocalProtocolError) as exc:
            raise Refused(f"not a request that can be sent ({_reason(exc)})") from None

    async def _send(self, request: Concrete, seconds: float, began: float) -> Answer:
        method, url, body = request.method, request.url, request.body
        limits = dict.fromkeys(("connect", "read", "write", "pool"), seconds)
        async with httpcore.AsyncConnectionPool(network_backend=self.backend, retries=0) as pool:
            for hop in range(MAX_REDIRECTS + 1):
                if problem := self.policy.url_problem(url):
                    raise Refused(problem)
                headers = _headers(url, request.headers, body)
                async with pool.stream(
                    method, url, headers=headers, content=body, extensions={"timeout": limits}
                ) as response:
                    location = _header(response, b"location")
                    if 300 <= response.status < 400 and location and hop < MAX_REDIRECTS:
                        target = urljoin(url, location)
                        if not same_origin(url, target):
                            return Answer(
                                response.status,
                                "",
                                False,
                                None,
                                urlsplit(target).hostname or target,
                                time.monotonic() - began,
                            )
                        if response.status in (301, 302, 303) and method != "GET":
                            method, body = "GET", None
                        url = target
                        continue
                    text, cut = await self._read(response)
                    retry = _header(response, b"retry-after")
                    return Answer(response.status, text, cut, retry, None, time.monotonic() - began)
        raise AssertionError("the loop returns")

    async def _read(self, response: httpcore.Response) -> tuple[str, bool]:
        data = bytearray()
        async for chunk in response.aiter_stream():
            data += chunk
            if len(data) > self.limit:
                return bytes(data[: self.limit]).decode("utf-8", "replace"), True
        return bytes(data).decode("utf-8", "replace"), False


def _headers(url: str, given: list[tuple[str, str]], body: bytes | None) -> list[tuple[bytes, bytes]]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port:
        host += f":{parts.port}"
    headers = [(b"Host", host.encode("ascii" if host.isascii() else "idna")), (b"User-Agent", b"warroom")]
    drop = {"content-type"} if body is None else set()
    headers += [(k.encode(), v.encode()) for k, v in given if k.lower() not in drop]
    if body is not None:
        headers.append((b"Content-Length", str(len(body)).encode()))
    return headers


def _header(response: httpcore.Response, name: bytes) -> str | None:
    for key, value in response.headers:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
