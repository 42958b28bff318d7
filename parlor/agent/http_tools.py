"""HTTP tools declared in settings: the model fills the arguments, never the address.

The URL template fixes scheme and host; arguments only fill placeholders (URL-encoded) and the
query or JSON body. Redirects are not followed, so a tool cannot be bounced elsewhere."""

from __future__ import annotations

import os
import re
import string
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from parlor.agent.schema import schema_validator
from parlor.agent.tools import Tool, ToolContext, ToolError
from parlor.config import HttpToolConfig

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def http_tool(config: HttpToolConfig, client: httpx.AsyncClient) -> Tool:
    headers = {name: _ENV.sub(lambda m: os.environ.get(m.group(1), ""), value)
               for name, value in config.headers.items()}
    placeholders = {f for _, f, _, _ in string.Formatter().parse(config.url) if f}
    fixed = httpx.URL(config.url.split("{", 1)[0])  # scheme, host, port and the path before any argument

    async def run(context: ToolContext, args: dict[str, Any]) -> Any:
        url = httpx.URL(config.url.format(**{k: _segment(k, args.get(k, "")) for k in placeholders}))
        rest = {k: v for k, v in args.items() if k not in placeholders}
        if config.method == "GET":  # the template's own query parameters stay as written
            url = url.copy_merge_params({k: v for k, v in rest.items() if k not in url.params})
        request = client.build_request(
            config.method, url, headers={**headers, "X-Request-ID": context.request_id},
            content=orjson.dumps(rest) if config.method == "POST" else None,
            timeout=config.timeout)
        _check_target(request.url, fixed)
        try:
            response = await client.send(request, stream=True, follow_redirects=False)
        except httpx.TimeoutException:
            raise ToolError(f"the service timed out after {config.timeout:g} s") from None
        except httpx.TransportError as exc:
            raise ToolError(f"the service is unreachable ({type(exc).__name__})") from None
        try:
            body = await _read_capped(response, config.max_response_bytes)
        except httpx.TimeoutException:
            raise ToolError(f"the service timed out after {config.timeout:g} s") from None
        finally:
            await response.aclose()
        text = body.decode(errors="replace")
        if response.status_code >= 400:
            raise ToolError(f"the service answered HTTP {response.status_code}: {text[:300]}")
        if response.headers.get("content-type", "").startswith("application/json"):
            try:
                return orjson.loads(body)
            except orjson.JSONDecodeError:
                pass
        return text

    return Tool(config.name, config.description, config.parameters, schema_validator(config.parameters), run,
                timeout=config.timeout + 1, title=config.title, needs_approval=config.needs_approval)


def _segment(name: str, value: Any) -> str:
    """An argument as one URL-encoded piece: `/`, `?`, `#`, `@`, `:` and `%` are encoded, so it can never
    start a new path segment, query, host or port; a value that is only dots would climb the path."""
    text = str(value)
    if text.strip(" .") == "" and "." in text:
        raise ToolError(f"the argument {name!r} cannot be {text!r}")
    return quote(text, safe="")


def _check_target(url: httpx.URL, fixed: httpx.URL) -> None:
    """Defence in depth: whatever the arguments were, the request goes where the template points."""
    if (url.scheme, url.host, url.port) != (fixed.scheme, fixed.host, fixed.port) or \
            not url.raw_path.split(b"?", 1)[0].startswith(fixed.raw_path.split(b"?", 1)[0]):
        raise ToolError("the arguments would send this request outside the tool's configured address")


async def _read_capped(response: httpx.Response, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        size += len(chunk)
        if size > cap:
            raise ToolError(f"the response is over {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
