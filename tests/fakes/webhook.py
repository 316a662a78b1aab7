"""A local HTTP webhook receiver on 127.0.0.1 (stdlib http.server) that records what it receives and answers as
it is told: 200, any status with headers (429 with Retry-After, 500), hold the request until the client has
timed out, or kill the sending process (a crash between send and record)."""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hold: bool = False
    """Keep the request open until the receiver closes (the client times out first)."""
    kill_pid_file: Path | None = None
    """SIGKILL the process whose id this file holds once the request is read, before answering."""


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    payload: dict[str, Any]


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.script: list[Reply] = []
        """Replies for the next requests, in order; afterwards every request gets 200."""
        self.released = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def url(self, path: str = "hook", auth: str = "") -> str:
        return f"json://{auth}127.0.0.1:{self.port}/{path}"

    def delivered(self) -> list[Received]:
        """Requests that were answered 2xx."""
        return [r for r in self.received if r.headers.get("x-answered") == "2xx"]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                payload = json.loads(self.rfile.read(length) or b"{}")
                reply = receiver.script.pop(0) if receiver.script else Reply()
                headers = {k.lower(): v for k, v in self.headers.items()}
                if 200 <= reply.status < 300 and not reply.hold and reply.kill_pid_file is None:
                    headers["x-answered"] = "2xx"
                receiver.received.append(Received(self.path, headers, payload))
                if reply.kill_pid_file is not None:
                    os.kill(int(reply.kill_pid_file.read_text()), signal.SIGKILL)
                    receiver.released.wait()
                    return
                if reply.hold:
                    receiver.released.wait()
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        receiver.server.shutdown()
        receiver.server.server_close()
