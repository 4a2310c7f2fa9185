"""A lean HTTP/1.1 client for the load generator: kept-alive connections, POST only.

The generator shares the machine's two cores with the server it measures. httpx spent about
2.4 ms of CPU per request here, a quarter of what the server spends on a whole message, and
that CPU was taken from the server; this client spends a fraction of it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from urllib.parse import urlsplit


class HttpError(Exception):
    """The connection failed or the answer was not HTTP/1.1 as expected."""


class _Closed(HttpError):
    """The connection was closed before any byte of an answer came."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    keep_alive: bool = True


class LeanClient:
    """At most `connections` kept-alive connections to one loopback server."""

    def __init__(self, url: str, *, connections: int, timeout: float) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"only plain http://host:port URLs, not {url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.timeout = timeout
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(connections)

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> Answer:
        """POST and read the whole answer; raises TimeoutError or HttpError."""
        async with self._slots:
            if self._idle:
                try:
                    return await self._over(self._idle.pop(), path, body, headers)
                except _Closed:
                    pass  # the server closed it while idle (uvicorn does after 5 s): anew
            return await self._over(await self._connect(), path, body, headers)

    async def _over(
        self,
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        path: str,
        body: bytes,
        headers: dict[str, str],
    ) -> Answer:
        """One exchange on `connection`; it goes back to the idle ones only if still usable."""
        reader, writer = connection
        try:
            answer = await asyncio.wait_for(
                self._exchange(reader, writer, path, body, headers), self.timeout
            )
        except BaseException:
            writer.close()  # a half-read answer would confuse the next request
            raise
        if answer.keep_alive:
            self._idle.append(connection)
        else:
            writer.close()
        return answer

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()

    async def __aenter__(self) -> LeanClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        try:
            return await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
        except OSError as exc:
            raise HttpError(type(exc).__name__) from exc

    async def _exchange(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        path: str,
        body: bytes,
        headers: dict[str, str],
    ) -> Answer:
        head = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        head.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        try:
            raw = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _Closed("closed before answering") from None
            raise HttpError(type(exc).__name__) from exc
        except ConnectionError as exc:
            raise _Closed(type(exc).__name__) from exc
        lines = raw.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError) as exc:
            raise HttpError("bad status line") from exc
        length = 0
        keep_alive = True
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip() or 0)
            elif name == "connection":
                keep_alive = value.strip().lower() != "close"
            elif name == "transfer-encoding":
                raise HttpError("chunked answers are not expected from this server")
        try:
            content = await reader.readexactly(length) if length else b""
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            raise HttpError(type(exc).__name__) from exc
        return Answer(status, content, keep_alive)
