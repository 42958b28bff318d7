"""What every HTTP provider shares: one pooled aiohttp session, the streamed POST with its failures mapped
to the router's error kinds, and byte-level SSE framing. A provider adds only its wire format: the request
body and a reader of its events.

aiohttp rather than httpx: its C HTTP parser reads a streamed answer for well under half the CPU per chunk
of httpx's pure-Python stack (37 vs 87 µs per chunk, framing and JSON included, measured side by side on
150-chunk streams), and a relayed token is the hot path of the whole server."""

from __future__ import annotations

import re
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Protocol

import aiohttp

from parlor.llm.types import Delta, ProviderError, RequestSent

EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


class EventReader(Protocol):
    """One stream's events to deltas. `done`: stop reading; `complete`: the answer ended as it should
    (else the stream was cut short: a broken stream)."""

    done: bool
    complete: bool

    def read(self, data: bytes) -> list[Delta]: ...


class HttpClient:
    """One pooled session for a provider's whole life (connections reused across turns), made on first
    use: it needs the running loop."""

    def __init__(self, name: str, headers: dict[str, str], connect_timeout: float, read_timeout: float,
                 max_connections: int):
        self.name = name
        self._headers = {"Content-Type": "application/json", "Accept": "text/event-stream", **headers}
        # read_timeout bounds each read: an upstream silent that long mid-answer is a timeout too
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=read_timeout)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._max_connections, keepalive_timeout=60)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout, headers=self._headers)
        return self._session

    async def stream(self, url: str, body: bytes, request_id: str | None,
                     reader: EventReader) -> AsyncGenerator[Delta, None]:
        """POSTs `body` and yields RequestSent once the upstream took it, then the reader's deltas."""
        headers = {"X-Request-ID": request_id} if request_id else None
        answered = False  # whether a failure happened mid-answer (broken) or before it (unavailable)
        try:
            async with self.session().post(url, data=body, headers=headers) as resp:
                if resp.status != 200:
                    await resp.read()
                    raise status_error(self.name, resp)
                if not resp.headers.get("content-type", "").startswith("text/event-stream"):
                    raise ProviderError(self.name, "broken_stream", "the answer is not an event stream")
                yield RequestSent()  # what waited for the call (saving the turn) may start
                answered = True
                try:
                    async for data in sse_data(resp.content.iter_any()):
                        for delta in reader.read(data):
                            yield delta
                        if reader.done:
                            break
                finally:
                    if not reader.complete:  # stopped, failed or cut short: the upstream must see the call end
                        resp.close()
                if not reader.complete:
                    raise ProviderError(self.name, "broken_stream", "the stream ended before it finished")
        except TimeoutError as exc:  # aiohttp's connect and read timeouts are TimeoutErrors
            raise ProviderError(self.name, "timeout", f"timed out ({type(exc).__name__})") from exc
        except aiohttp.ClientError as exc:  # connection, protocol and payload errors alike
            raise ProviderError(self.name, "broken_stream" if answered else "unavailable",
                                f"connection failed ({type(exc).__name__})") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def status_error(provider: str, resp: aiohttp.ClientResponse) -> ProviderError:
    """A non-200 answer as the router's error kind: worth another provider, worth a wait, or refused."""
    wait = retry_after(resp.headers.get("retry-after"))
    message = f"upstream answered {resp.status}"
    if resp.status == 429:
        return ProviderError(provider, "rate_limited", message, wait)
    if resp.status >= 500 or resp.status in (401, 403, 404, 408):  # Anthropic's overload is a 529
        return ProviderError(provider, "unavailable", message, wait)
    return ProviderError(provider, "rejected", message)


async def sse_data(received: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """The `data` of each server-sent event, as bytes for orjson. Framed on raw bytes: decoding to text,
    then lines, then event objects was a third of the CPU a relayed token cost (bench/load.py)."""
    buffer = b""
    async for raw in received:
        *events, buffer = EVENT_END.split(buffer + raw)
        for event in events:
            lines = [line[5:].removeprefix(b" ") for line in event.splitlines() if line.startswith(b"data:")]
            if lines:
                yield b"\n".join(lines)


def retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
