"""What time it is. Production reads the system clock; tests may move time through a file every process reads."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FileClock:
    """Test-only: the file holds an offset in seconds added to the system time (so time still flows).

    Enabled only by the ``test_clock_file`` setting; a missing or empty file means no offset. Every process
    of a system test points at the same file, so a test moves time for the whole shop at once.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._seen: tuple[float, timedelta] = (-1.0, timedelta())

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset()

    def _offset(self) -> timedelta:
        try:
            modified = os.stat(self._path).st_mtime
        except FileNotFoundError:
            return timedelta()
        if modified != self._seen[0]:
            with open(self._path, encoding="utf-8") as file:
                text = file.read().strip()
            self._seen = (modified, timedelta(seconds=float(text or 0)))
        return self._seen[1]


def set_file_clock_offset(path: str, offset: timedelta) -> None:
    """Move a FileClock (tests only); written atomically so readers never see half a number."""
    temporary = f"{path}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(str(offset.total_seconds()))
    os.replace(temporary, path)


def clock_for(test_clock_file: str | None) -> Clock:
    return FileClock(test_clock_file) if test_clock_file else SystemClock()
