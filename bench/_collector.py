"""A stand-in OTLP/HTTP collector on 127.0.0.1 for bench/governance.py: answers every
POST with 200 and counts the bytes, so the exporter does all of its real work (encode,
batch, send) and nothing is stored."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Collector(BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length", 0))
        self.rfile.read(n)
        _Collector.received += n
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


def start() -> str:
    """Start the stub on a free port; its OTLP traces URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/v1/traces"


def received() -> int:
    return _Collector.received
