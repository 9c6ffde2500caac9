"""Request bodies over ``max_body_bytes`` are refused (413) before anything parses them — a real uvicorn server on
loopback (both of its HTTP parsers), raw sockets: a declared length over the limit, a chunked body that grows past
it, and a Content-Length that understates the bytes sent."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
import uvicorn
from starlette.requests import Request

from ccm.service.app import create_app
from ccm.service.settings import ServiceSettings
from ccm.store import open_store
from tests.security.served import BOOK, MARKET

LIMIT = 4096
TRADE = b'{"account": "mm-options-1", "instrument": "BTC-PERPETUAL", "quantity": 1, "price": 97000}'


class BodySpy:
    """Counts the bodies the application reads (``Request.body`` is what FastAPI's JSON and the book upload use)."""

    def __init__(self) -> None:
        self.sizes: list[int] = []


@pytest.fixture(params=["h11", "httptools"])
def server(request, tmp_path: Path, monkeypatch) -> Iterator[tuple[int, str, BodySpy]]:
    spy = BodySpy()
    original = Request.body

    async def body(self: Request) -> bytes:
        first = not hasattr(self, "_body")  # Request caches the body: count each request's read once
        data = await original(self)
        if first:
            spy.sizes.append(len(data))
        return data

    monkeypatch.setattr(Request, "body", body)
    url = f"sqlite:///{tmp_path / 'ccm.sqlite'}"
    with open_store(url) as store:
        admin = store.create_api_key("admin", "admin")[1]
    app = create_app(ServiceSettings(store=url, book=str(BOOK), market=str(MARKET), max_body_bytes=LIMIT,
                                     rate_limit=0, writer_interval=0.2))
    config = uvicorn.Config(app, host="127.0.0.1", port=0, http=request.param, log_level="warning",
                            ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield port, admin, spy
    server.should_exit = True
    thread.join(timeout=30)


def exchange(port: int, head: bytes, body: Iterable[bytes] = ()) -> bytes:
    """Send ``head`` then ``body`` (stopping when the server closes), and read until it closes or goes quiet."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        for chunk in body:
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.settimeout(2.0)
        out = b""
        try:
            while data := sock.recv(65536):
                out += data
        except (TimeoutError, ConnectionResetError):
            pass
        return out


def _head(admin: str, *lines: str) -> bytes:
    return ("POST /api/v1/trades HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"X-API-Key: {admin}\r\n" + "".join(f"{line}\r\n" for line in lines) + "\r\n").encode()


def _statuses(response: bytes) -> list[int]:
    return [int(line.split()[1]) for line in response.split(b"\r\n") if line.startswith(b"HTTP/1.1 ")]


def test_a_body_within_the_limit_reaches_the_parser(server) -> None:
    port, admin, spy = server
    response = exchange(port, _head(admin, f"Content-Length: {len(TRADE)}", "Connection: close") + TRADE)
    assert _statuses(response) == [200]
    assert spy.sizes == [len(TRADE)]  # the probe sees what the route parses


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(server) -> None:
    port, admin, spy = server
    response = exchange(port, _head(admin, f"Content-Length: {LIMIT + 1}"))  # no body byte sent at all
    assert _statuses(response) == [413]
    assert spy.sizes == []


def test_a_chunked_body_growing_past_the_limit_is_refused_unparsed(server) -> None:
    port, admin, spy = server
    piece = b" " * 1000
    chunks = [b"%x\r\n%s\r\n" % (len(piece), piece)] * (3 * LIMIT // len(piece)) + [b"0\r\n\r\n"]
    response = exchange(port, _head(admin, "Transfer-Encoding: chunked"), chunks)
    assert _statuses(response)[:1] == [413]
    assert spy.sizes == []


def test_an_understated_content_length_never_gives_the_parser_more_than_declared(server) -> None:
    port, admin, spy = server
    body = TRADE + b" " * (3 * LIMIT)
    response = exchange(port, _head(admin, "Content-Length: 10"), [body])
    statuses = _statuses(response)
    # the 10 declared bytes are the body (not JSON: 422), or the parser refuses the whole malformed stream (400)
    # before the application sees it; the bytes past the declared length never become a body
    assert statuses and all(s in (400, 422) for s in statuses)
    assert all(size <= 10 for size in spy.sizes)
