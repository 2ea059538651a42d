"""The HTTP side of the load: a lean HTTP/1.1 keep-alive connection pool, and senders that
post leads through it.

Why not httpx for the load: on this 2-core machine httpx spent ~3.8 ms of CPU per request
(a whole core for ~240 requests/s), so the client, not the server, set every rate and
took CPU from the service under test. These raw connections cost a small fraction of that.
httpx still does the one-off calls (readiness, the batch upload)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import httpx

from bench.load import Reply, Send


class HttpError(Exception):
    pass


class _Connection:
    """One keep-alive connection; requests on it go one at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, head: bytes, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(head + body)
        status_line = await self.reader.readuntil(b"\r\n")
        headers = (await self.reader.readuntil(b"\r\n\r\n")).lower()
        status = int(status_line.split(b" ", 2)[1])
        if b"transfer-encoding: chunked" in headers:
            content = await self._chunked()
        else:
            content = await self.reader.readexactly(_content_length(headers))
        if b"connection: close" in headers:
            self.close()
        return status, content

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while size := int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)
        await self.reader.readuntil(b"\r\n")
        return b"".join(parts)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def _content_length(headers: bytes) -> int:
    at = headers.find(b"content-length:")
    if at < 0:
        raise HttpError("answer without content-length")
    return int(headers[at + 15 : headers.index(b"\r\n", at)])


class Pool:
    """At most `size` connections to one host; a request waits for a free one."""

    def __init__(self, url: str, size: int, *, timeout: float) -> None:
        host_port = httpx.URL(url)
        self.host = host_port.host
        self.port = host_port.port or 80
        self.timeout = timeout
        self._free: asyncio.Queue[_Connection] = asyncio.Queue()
        for _ in range(size):
            self._free.put_nowait(_Connection(self.host, self.port))

    async def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """(status, body); status 0 when there was no answer in time (refused, reset, or
        `timeout` seconds passed, counting the wait for a free connection)."""
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode()
        try:
            # The timeout covers the wait for a free connection too, so an overloaded
            # server shows up as unanswered requests, not as an open loop that never ends.
            async with asyncio.timeout(self.timeout):
                conn = await self._free.get()
                try:
                    return await conn.request(head, body)
                except BaseException:
                    conn.close()  # mid-answer: a fresh connection next time
                    raise
                finally:
                    self._free.put_nowait(conn)
        except (OSError, asyncio.IncompleteReadError, ValueError, HttpError, TimeoutError):
            return 0, b""

    def close(self) -> None:
        while not self._free.empty():
            self._free.get_nowait().close()


@contextlib.asynccontextmanager
async def pool(url: str, size: int, *, timeout: float = 30.0) -> AsyncIterator[Pool]:
    p = Pool(url, size, timeout=timeout)
    try:
        yield p
    finally:
        p.close()


def auth(keys: list[str], i: int) -> dict[str, str]:
    """Request i's key, round robin over the pool of keys (see stack.KEY_POOL)."""
    return {"Authorization": f"Bearer {keys[i % len(keys)]}"} if keys else {}


def post_leads(p: Pool, bodies: list[bytes], keys: list[str]) -> Send:
    """POST /v1/leads with bodies[i] as JSON; the Reply carries the answer's lead_id."""

    async def send(i: int) -> Reply:
        headers = {"Content-Type": "application/json", **auth(keys, i)}
        status, content = await p.post("/v1/leads", bodies[i], headers)
        if not 200 <= status < 300:
            return Reply(status)
        return Reply(status, json.loads(content).get("lead_id"))

    return send
