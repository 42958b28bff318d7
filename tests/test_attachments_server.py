"""Images and PDFs in chat messages through a real `parlor serve`: checked and cleaned, stored for their
owner only, sent to a model that can read them (and never to one that cannot), exported and deleted with
the account or the thread."""

from __future__ import annotations

import base64
import io
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from httpx_sse import connect_sse
from PIL import Image

from tests import sdk
from tests.client import ChatResult, auth, post_chat
from tests.conftest import RunningServer, upstream_provider
from tests.helpers.images import file_part, image_bytes, jpeg_with_exif, pdf_bytes
from tests.server import ParlorServer
from tests.upstream import Script, Upstream


@pytest.fixture(scope="module")
def eyes(upstream: Upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ParlorServer]:
    """A chain whose first model cannot see and whose second can (both on the one scripted upstream, told
    apart by their model names)."""
    blind = {**upstream_provider(upstream, "blind"), "model": "blind-model"}
    seeing = {**upstream_provider(upstream, "eyes"), "model": "eyes-model", "vision": True}
    tiers = {"unlimited": {}, "frugal": {"tokens_per_day": 600, "max_reply_tokens": 50}}
    process = ParlorServer(tmp_path_factory.mktemp("eyes"), [blind, seeing], PARLOR_MAX_ATTACHMENTS="2",
                           PARLOR_TIERS=orjson.dumps(tiers).decode()).start()
    try:
        yield process
    finally:
        process.stop()


def send(url: str, key: str, thread: str, text: str, files: list[dict[str, str]],
         model: str | None = None) -> ChatResult:
    parts: list[dict[str, Any]] = ([{"type": "text", "text": text}] if text else []) + files
    body: dict[str, Any] = {"id": thread, "messages": [{"id": uuid.uuid4().hex, "role": "user", "parts": parts}]}
    if model is not None:
        body["model"] = model
    return post_chat(url, key, body)


def sent_to(upstream: Upstream, marker: str) -> list[dict[str, Any]]:
    return [r for r in upstream.requests if marker in orjson.dumps(r).decode()]


def user_content(request: dict[str, Any]) -> Any:
    return [m for m in request["messages"] if m["role"] == "user"][-1]["content"]


def decoded(url: str) -> bytes:
    return base64.b64decode(url.split(",", 1)[1])


def stored_files(data_dir: Path) -> list[Path]:
    return [p for p in (data_dir / "documents" / "attachments").rglob("*") if p.is_file()]


def test_a_photo_reaches_the_model_that_sees_cleaned_and_is_kept_for_its_owner(
        eyes: ParlorServer, upstream: Upstream, marker: str) -> None:
    alice, bob = eyes.create_user(f"alice-{marker}"), eyes.create_user(f"bob-{marker}")
    upstream.push(Script(text="A red square."), match=marker)
    thread = f"t-{marker}"
    result = send(eyes.url, alice, thread, f"what is this {marker}", [file_part(jpeg_with_exif(), "image/jpeg",
                                                                                "holiday.jpg")])
    assert result.done and result.text == "A red square."

    (request,) = sent_to(upstream, marker)
    assert request["model"] == "eyes-model"  # the blind model first in the chain was skipped
    text, image = user_content(request)
    assert text == {"type": "text", "text": f"what is this {marker}"}
    assert image["type"] == "image_url" and image["image_url"]["url"].startswith("data:image/jpeg;base64,")
    sent = decoded(image["image_url"]["url"])
    assert b"SpyCam" not in sent and not Image.open(io.BytesIO(sent)).getexif()  # EXIF never left

    thread_body = httpx.get(f"{eyes.url}/api/threads/{thread}", headers=auth(alice)).json()
    assert thread_body["title"] == f"what is this {marker}"
    part = next(p for p in thread_body["messages"][0]["parts"] if p["type"] == "file")
    assert part["mediaType"] == "image/jpeg" and part["filename"] == "holiday.jpg"
    assert part["url"].startswith(f"/api/files/{thread}/") and part["url"].endswith(".jpg")
    checked = sdk.validate(thread_body["messages"])  # the AI SDK takes the stored file part as its own
    assert checked.returncode == 0, checked.stderr
    broken = [{**thread_body["messages"][0], "parts": [{"type": "file", "url": part["url"]}]}]  # no mediaType
    assert sdk.validate(broken).returncode == 1  # the check can fail
    mine = httpx.get(eyes.url + part["url"], headers=auth(alice))
    assert mine.status_code == 200 and mine.headers["content-type"] == "image/jpeg" and mine.content == sent
    assert mine.headers["x-content-type-options"] == "nosniff"
    theirs = httpx.get(eyes.url + part["url"], headers=auth(bob))
    assert theirs.status_code == 404 and theirs.json()["error"]["code"] == "file_not_found"
    assert httpx.get(eyes.url + part["url"]).status_code == 401

    # The next turn has no image of its own: the first model takes it, told in words what it cannot see.
    upstream.push(Script(text="Still red."), match=f"and now {marker}")
    assert send(eyes.url, alice, thread, f"and now {marker}", []).text == "Still red."
    later = sent_to(upstream, f"and now {marker}")[-1]
    assert later["model"] == "blind-model"
    first = next(m for m in later["messages"] if m["role"] == "user")["content"]
    assert first == f"what is this {marker}\n[attached holiday.jpg, which this model cannot see]"


def test_regenerating_after_a_reload_sends_the_stored_image_again(eyes: ParlorServer, upstream: Upstream,
                                                                   marker: str) -> None:
    key, thread = eyes.create_user(f"again-{marker}"), f"t-{marker}"
    png = image_bytes("PNG", 32, 32, (9, 9, 9))
    assert send(eyes.url, key, thread, f"first {marker}", [file_part(png, "image/png")]).done
    stored = httpx.get(f"{eyes.url}/api/threads/{thread}", headers=auth(key)).json()["messages"]
    question = stored[0]  # as a reloaded page holds it: the file part names /api/files/...
    assert any(p["type"] == "file" and p["url"].startswith("/api/files/") for p in question["parts"])
    body = {"id": thread, "messages": stored, "trigger": "regenerate-message"}
    with httpx.Client(base_url=eyes.url, headers=auth(key), timeout=30) as client, \
            connect_sse(client, "POST", "/api/chat", json=body) as source:
        assert source.response.status_code == 200
        assert [e.data for e in source.iter_sse()][-1] == "[DONE]"
    first, again = sent_to(upstream, f"first {marker}")
    assert user_content(again) == user_content(first)  # the same image, read back from storage


def test_an_edit_keeps_the_images_it_still_lists(eyes: ParlorServer, upstream: Upstream, marker: str) -> None:
    key, thread = eyes.create_user(f"edit-{marker}"), f"t-{marker}"
    assert send(eyes.url, key, thread, f"before {marker}", [file_part(image_bytes("PNG", 20, 10), "image/png")]).done
    question = httpx.get(f"{eyes.url}/api/threads/{thread}", headers=auth(key)).json()["messages"][0]
    (stored,) = [p for p in question["parts"] if p["type"] == "file"]
    forged = {**stored, "url": f"/api/files/{thread}/{'0' * 32}.png"}  # not a file of that message: dropped
    edited = {"id": question["id"], "role": "user",
              "parts": [stored, forged, {"type": "text", "text": f"after {marker}"}]}
    body = {"id": thread, "messages": [edited], "trigger": "submit-message", "messageId": question["id"]}
    with httpx.Client(base_url=eyes.url, headers=auth(key), timeout=30) as client, \
            connect_sse(client, "POST", "/api/chat", json=body) as source:
        assert source.response.status_code == 200
        assert [e.data for e in source.iter_sse()][-1] == "[DONE]"
    (request,) = sent_to(upstream, f"after {marker}")
    text, image = user_content(request)
    assert text["text"] == f"after {marker}" and Image.open(io.BytesIO(decoded(image["image_url"]["url"]))).size \
        == (20, 10)
    messages = httpx.get(f"{eyes.url}/api/threads/{thread}", headers=auth(key)).json()["messages"]
    assert [p["url"] for p in messages[0]["parts"] if p["type"] == "file"] == [stored["url"]]


def test_a_pdf_goes_as_a_file_part(eyes: ParlorServer, upstream: Upstream, marker: str) -> None:
    key = eyes.create_user(f"pdf-{marker}")
    upstream.push(Script(text="Two pages."), match=marker)
    pdf = pdf_bytes(2)
    assert send(eyes.url, key, f"t-{marker}", f"summarise {marker}", [file_part(pdf, "application/pdf",
                                                                               "report.pdf")]).done
    (request,) = sent_to(upstream, marker)
    _, document = user_content(request)
    assert document["type"] == "file" and document["file"]["filename"] == "report.pdf"
    assert decoded(document["file"]["file_data"]) == pdf


def test_a_photo_larger_than_the_body_limit_is_taken(eyes: ParlorServer, upstream: Upstream, marker: str) -> None:
    """PARLOR_MAX_BODY_BYTES (1 MB) bounds other bodies; a chat POST may carry its attachments beyond it."""
    noise = Image.frombytes("RGB", (800, 600), os.urandom(800 * 600 * 3))  # incompressible: 1.4 MB as PNG
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert len(out.getvalue()) > 1_000_000
    upstream.push(Script(text="Static."), match=marker)
    result = send(eyes.url, eyes.create_user(f"big-{marker}"), f"t-{marker}", f"noise {marker}",
                  [file_part(out.getvalue(), "image/png", "noise.png")])
    assert result.done and result.text == "Static."


def test_an_image_without_text_is_a_message_named_after_it(eyes: ParlorServer, upstream: Upstream) -> None:
    key, thread = eyes.create_user("quiet"), f"t-{uuid.uuid4().hex[:8]}"
    assert send(eyes.url, key, thread, "", [file_part(image_bytes(), "image/png", "blue.png")]).done
    assert httpx.get(f"{eyes.url}/api/threads/{thread}", headers=auth(key)).json()["title"] == "blue.png"


@pytest.mark.parametrize(("files", "status", "code"), [
    ([file_part(image_bytes("JPEG"), "image/png")], 422, "attachment_type_mismatch"),
    ([file_part(b"MZ\x90\x00 not an image", "image/png")], 415, "unsupported_attachment"),
    ([{"type": "file", "mediaType": "image/png", "url": "https://example.com/x.png"}], 422, "bad_attachment_url"),
    ([file_part(image_bytes(), "image/png")] * 3, 413, "too_many_attachments"),
])
def test_bad_attachments_are_refused_and_nothing_is_stored(eyes: ParlorServer, upstream: Upstream, marker: str,
                                                           files: list[dict[str, str]], status: int,
                                                           code: str) -> None:
    key, before = eyes.create_user(f"bad-{marker}"), stored_files(eyes.data_dir)
    result = send(eyes.url, key, f"t-{marker}", f"look {marker}", files)
    assert (result.status, result.body["error"]["code"]) == (status, code)
    assert result.body["error"]["message"]
    assert not sent_to(upstream, marker) and stored_files(eyes.data_dir) == before
    assert httpx.get(f"{eyes.url}/api/threads/t-{marker}", headers=auth(key)).status_code == 404


def test_an_image_over_the_daily_budget_is_refused_and_not_stored(eyes: ParlorServer, upstream: Upstream,
                                                                   marker: str) -> None:
    """A 2048x1536 photo costs 765 tokens by OpenAI's rule: more than the tier's 600 a day."""
    key, before = eyes.create_user(f"frugal-{marker}", tier="frugal"), stored_files(eyes.data_dir)
    result = send(eyes.url, key, f"t-{marker}", f"budget {marker}", [file_part(image_bytes("PNG", 2048, 1536),
                                                                              "image/png")])
    assert result.status == 429 and result.body["error"]["code"] == "token_budget_exhausted"
    assert not sent_to(upstream, marker) and stored_files(eyes.data_dir) == before
    small = send(eyes.url, key, f"t-{marker}", f"small {marker}", [file_part(image_bytes(), "image/png")])
    assert small.done  # a small image (85 + 170 tokens) fits


def test_a_model_that_cannot_see_refuses_before_any_call(server: RunningServer, upstream: Upstream,
                                                         marker: str) -> None:
    for file in (file_part(image_bytes(), "image/png"), file_part(pdf_bytes(1), "application/pdf", "a.pdf")):
        result = send(server.url, server.api_key, f"t-{marker}", f"see {marker}", [file])
        assert result.status == 422 and result.body["error"]["code"] == "model_cannot_read_images"
        assert "PDF" in result.body["error"]["message"]
    assert not sent_to(upstream, marker)
    assert not stored_files(server.process.data_dir)
    assert httpx.get(f"{server.url}/api/threads/t-{marker}", headers=auth(server.api_key)).status_code == 404


def test_a_chosen_model_that_cannot_see_refuses_rather_than_switching(eyes: ParlorServer, upstream: Upstream,
                                                                      marker: str) -> None:
    """Picked by the user, the blind model is not silently replaced by one that sees: 422, nothing sent."""
    key = eyes.create_user(f"picked-{marker}")
    result = send(eyes.url, key, f"t-{marker}", f"see {marker}", [file_part(image_bytes(), "image/png")], "blind")
    assert result.status == 422 and result.body["error"]["code"] == "model_cannot_read_images"
    assert not sent_to(upstream, marker)
    seeing = send(eyes.url, key, f"t-{marker}", f"see {marker}", [file_part(image_bytes(), "image/png")], "eyes")
    assert seeing.done and [r["model"] for r in sent_to(upstream, marker)] == ["eyes-model"]


def test_attachments_are_exported_and_deleted_with_the_account_and_the_thread(
        eyes: ParlorServer, upstream: Upstream, marker: str) -> None:
    name = f"carol-{marker}"
    user_id, key = eyes.new_user(name)
    png = image_bytes("PNG", 30, 20, (1, 2, 3))
    for thread in (f"keep-{marker}", f"drop-{marker}"):
        upstream.push(Script(text="Seen."), match=thread)
        assert send(eyes.url, key, thread, f"look {thread}", [file_part(png, "image/png")]).done
    folder = eyes.data_dir / "documents" / "attachments" / user_id
    assert len([p for p in folder.rglob("*") if p.is_file()]) == 2

    assert httpx.delete(f"{eyes.url}/api/threads/drop-{marker}", headers=auth(key)).status_code == 204
    assert not (folder / f"drop-{marker}").exists() or not any((folder / f"drop-{marker}").iterdir())

    exported = httpx.get(f"{eyes.url}/api/account/export", headers=auth(key), timeout=30).json()
    (only,) = exported["attachments"]
    message_file = next(p for p in exported["threads"][0]["messages"][0]["parts"] if p["kind"] == "file")
    assert only["url"] == message_file["url"] and only["media_type"] == "image/png"
    assert Image.open(io.BytesIO(base64.b64decode(only["base64"]))).size == (30, 20)

    gone = httpx.request("DELETE", f"{eyes.url}/api/account", json={"confirm": name}, headers=auth(key), timeout=30)
    assert gone.status_code == 200 and gone.json()["rows"]["attachments"] == 1
    assert not [p for p in folder.rglob("*") if p.is_file()]
