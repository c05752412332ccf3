"""A small OpenAI-compatible server on loopback: /health, /v1/models, completions and chat, streaming or
not, with a configurable time to first token, gap between tokens, and failing requests."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Behaviour", "serve"]


@dataclass
class Behaviour:
    ttft: float = 0.0
    """Seconds before the first streamed token."""
    gap: float = 0.0
    """Seconds between streamed tokens."""
    fail_every: int = 0
    """Every n-th streamed request answers 503 (0: never)."""
    usage: bool = True
    """Whether the stream ends with a usage chunk."""
    count: int = 0


def _handler(b: Behaviour, lock: threading.Lock) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _json(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path == "/health":
                self._json(200, {})
            elif self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": "tiny-model", "object": "model"}]})
            else:
                self._json(404, {"error": "not found"})

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            n = int(body.get("max_tokens", 16))
            chat = self.path == "/v1/chat/completions"
            if not body.get("stream"):
                text = " ".join(["tok"] * n)
                choice = {"message": {"role": "assistant", "content": text}} if chat else {"text": text}
                self._json(200, {"choices": [choice], "usage": {"completion_tokens": n}})
                return
            with lock:
                b.count += 1
                fail = b.fail_every and b.count % b.fail_every == 0
            if fail:
                self._json(503, {"error": "overloaded"})
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Connection", "close")
            self.end_headers()
            time.sleep(b.ttft)
            for i in range(n):
                if i:
                    time.sleep(b.gap)
                chunk = {"choices": [{"index": 0, "text": f" t{i}"}]}
                self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                self.wfile.flush()
            if b.usage:
                usage = {"choices": [], "usage": {"completion_tokens": n}}
                self.wfile.write(f"data: {json.dumps(usage)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            self.wfile.flush()
            self.close_connection = True

    return Handler


@contextmanager
def serve(behaviour: Behaviour) -> Iterator[str]:
    """Run the server on a free loopback port for the ``with`` block; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(behaviour, threading.Lock()))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
