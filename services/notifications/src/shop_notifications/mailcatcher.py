"""A local SMTP server for development and tests that keeps every message it receives as an ``.eml`` file.

``python -m shop_notifications.mailcatcher --host 127.0.0.1 --port 8025 --directory var/mail``; in tests,
``MailCatcher(directory, port=...)`` with ``await start()`` and ``await stop()`` on the test's event loop.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

log = logging.getLogger(__name__)


class _StoreMessages:
    """aiosmtpd handler: write each message to ``directory`` atomically (a hidden temp file, then a rename)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.stored = 0
        self.hang_ups: list[int] = []
        """Messages (by how many were stored before them) after which to hang up instead of answering."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode()
        path = await asyncio.to_thread(self._store, content)
        log.info("message from %s to %s stored as %s", envelope.mail_from, envelope.rcpt_tos, path.name)
        self.stored += 1
        if self.stored - 1 in self.hang_ups:
            self.hang_ups.remove(self.stored - 1)
            server.transport.abort()  # kept, but the client never hears so
        return "250 Message accepted for delivery"

    def _store(self, content: bytes) -> Path:
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-{uuid.uuid4().hex}.eml"
        descriptor, temporary = tempfile.mkstemp(prefix=".incoming-", suffix=".tmp", dir=self.directory)
        try:
            os.fchmod(descriptor, 0o644)  # readable like any mail spool file, not private like a temp file
            with os.fdopen(descriptor, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            final = self.directory / name
            os.replace(temporary, final)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        return final


class MailCatcher:
    """An SMTP server on the running event loop that stores what it receives in ``directory``.

    It counts the connections it accepted and can fail as servers do, for tests: end every open connection
    (``disconnect``), or take a message and hang up before answering it (``hang_up_after``)."""

    def __init__(self, directory: Path, *, host: str = "127.0.0.1", port: int = 8025) -> None:
        self.directory = Path(directory)
        self.host = host
        self.port = port
        self.connections = 0
        """Connections accepted since the catcher was made."""
        self._server: asyncio.Server | None = None
        self._sessions: set[SMTP] = set()
        self._handler = _StoreMessages(self.directory)

    @property
    def open_connections(self) -> int:
        return sum(1 for protocol in self._sessions if protocol.transport is not None)

    def disconnect(self) -> None:
        """End every open connection and keep listening, as a server that times out idle clients does."""
        for protocol in self._sessions:
            if protocol.transport is not None:
                protocol.transport.close()

    def hang_up_after(self, stored: int) -> None:
        """Store the message that arrives after ``stored`` others (since the catcher was made), then drop its
        connection without answering: the client cannot know the message was taken."""
        self._handler.hang_ups.append(stored)

    async def start(self) -> MailCatcher:
        """Listen on ``host``:``port`` (port 0 picks a free one, then ``port`` tells which)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        handler = self._handler
        loop = asyncio.get_running_loop()

        def session() -> SMTP:
            protocol = SMTP(handler, hostname="mailcatcher", enable_SMTPUTF8=True, loop=loop)
            # Sessions that ended are let go (one that has not begun has no session yet).
            self._sessions = {known for known in self._sessions if known.session is None or known.transport}
            self._sessions.add(protocol)
            self.connections += 1
            return protocol

        self._server = await loop.create_server(session, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("mail catcher listening on %s:%d, storing into %s", self.host, self.port, self.directory)
        return self

    async def stop(self) -> None:
        """Stop listening and close the sessions still open."""
        if self._server is None:
            return
        self._server.close()
        for protocol in self._sessions:
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.close()
        self._sessions.clear()
        await self._server.wait_closed()
        self._server = None

    def messages(self) -> list[Path]:
        """The stored messages, oldest first."""
        return sorted(self.directory.glob("*.eml"))


async def _serve(host: str, port: int, directory: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    catcher = await MailCatcher(directory, host=host, port=port).start()
    try:
        await stop.wait()
    finally:
        await catcher.stop()
        log.info("mail catcher stopped")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m shop_notifications.mailcatcher")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--directory", type=Path, default=Path("var/mail"))
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every SMTP command at INFO
    asyncio.run(_serve(arguments.host, arguments.port, arguments.directory))


if __name__ == "__main__":
    main()
