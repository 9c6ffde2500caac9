"""Alert sinks: JSON-lines file, webhook with retries against a local HTTP server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ccm.engine import Alert, CoverageEngine
from ccm.io.alert_sinks import JsonLinesSink, WebhookSink
from tests.engine._venue import Reference, accounts, instruments, risk_config, snapshot
from tests.reference.builders import AS_OF


def _engine():
    ins = instruments()
    ref = Reference(ins, accounts(ins), risk_config())
    return CoverageEngine(ref.book(), snapshot(ins), risk_config(), clock=lambda: AS_OF)


def test_jsonl_sink_appends_one_line_per_alert(tmp_path):
    path = tmp_path / "alerts.jsonl"
    path.write_text('{"earlier": true}\n')
    engine = _engine()
    sink = JsonLinesSink(path)
    engine.subscribe(sink)
    emitted = engine.on_prices({"BTC": 20_000.0, "ETH": 1_000.0})
    alerts = [e for e in emitted if isinstance(e, Alert)]
    assert alerts
    lines = path.read_text().splitlines()  # flushed per alert: readable before close
    assert json.loads(lines[0]) == {"earlier": True}
    records = [json.loads(line) for line in lines[1:]]
    assert [(r["account"], r["rule"]) for r in records] == [(a.account, a.rule) for a in alerts]
    assert all(r["type"] == "alert" and r["at"] == AS_OF.isoformat() for r in records)
    assert records[0]["values"]["coverage"] == pytest.approx(alerts[0].values["coverage"])
    sink.close()


class _Server:
    """A local HTTP server answering POSTs with the status codes of ``script`` (then the last one)."""

    def __init__(self, script):
        self.script = list(script)
        self.bodies = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 — the http.server API
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.bodies.append(json.loads(body))
                code = outer.script.pop(0) if len(outer.script) > 1 else outer.script[0]
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/hook"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server_factory():
    servers = []

    def make(script):
        servers.append(_Server(script))
        return servers[-1]

    yield make
    for s in servers:
        s.close()


def _one_alert():
    return Alert(at=AS_OF, account="a-long", rule="coverage_below_warning", values={"coverage": 1.4, "level": 1.5})


def test_webhook_retries_with_backoff_and_delivers_once(server_factory):
    server = server_factory([500, 500, 200])
    delays = []
    sink = WebhookSink(server.url, attempts=4, base_delay_s=0.01, sleep=delays.append)
    sink(_one_alert())
    assert sink.flush(timeout_s=10)
    assert (sink.delivered, sink.failed, sink.attempts_made) == (1, 0, 3)
    assert delays == [0.01, 0.02]  # exponential backoff between the three attempts
    assert len(server.bodies) == 3 and server.bodies[-1]["rule"] == "coverage_below_warning"
    sink.close()


def test_webhook_gives_up_after_n_attempts_and_the_engine_is_unaffected(server_factory):
    server = server_factory([500])
    sink = WebhookSink(server.url, attempts=3, base_delay_s=0.001)
    engine = _engine()
    engine.subscribe(sink)
    emitted = engine.on_prices({"BTC": 20_000.0, "ETH": 1_000.0})  # returns although every POST fails
    n_alerts = sum(isinstance(e, Alert) for e in emitted)
    assert n_alerts > 0
    assert sink.flush(timeout_s=20)
    assert (sink.delivered, sink.failed, sink.attempts_made) == (0, n_alerts, 3 * n_alerts)
    assert len(server.bodies) == 3 * n_alerts
    engine.on_prices({"BTC": 50_000.0})  # the engine keeps running
    sink.close()


def test_webhook_unreachable_host_counts_failures():
    sink = WebhookSink("http://127.0.0.1:9/nothing", attempts=2, base_delay_s=0.0, timeout_s=0.5)
    assert sink.deliver({"rule": "x"}) is False
    assert (sink.failed, sink.attempts_made) == (1, 2)
    sink.close()
