"""A real SMTP server on 127.0.0.1 (aiosmtpd) that checks a login, records messages and can refuse them with a
given reply (a 4xx "try later" or a 5xx "never"), or hold the DATA reply until the client has timed out."""

from __future__ import annotations

import asyncio
import email
import email.message
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

USER, PASSWORD = "digest", "Smtp-Pa55word-xyz"


@dataclass
class Mailbox:
    messages: list[email.message.Message] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    """Replies to the next DATA commands, in order (e.g. ``451 4.3.0 try later``); then 250."""
    hold: threading.Event | None = None
    """When set on the mailbox, DATA is answered only after the event is set (the client times out first)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusals:
            return self.refusals.pop(0)
        if self.hold is not None:
            await asyncio.get_running_loop().run_in_executor(None, self.hold.wait)
            return "451 4.4.2 held too long"
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 OK"


def _check_login(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@contextmanager
def smtp_server() -> Iterator[tuple[Mailbox, int]]:
    mailbox = Mailbox()
    with socket.socket() as probe:  # a free port (aiosmtpd checks it is up by connecting to the port it is given)
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(
        mailbox, hostname="127.0.0.1", port=port, authenticator=_check_login, auth_require_tls=False
    )
    controller.start()
    try:
        yield mailbox, port
    finally:
        if mailbox.hold is not None:
            mailbox.hold.set()
        controller.stop()
