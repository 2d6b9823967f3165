"""A per-process append-only spool for opens and clicks: the request path makes no network call.

Why: a Redis round trip per pixel costs about a third of a small server's request budget
(see bench/bench_pixel.py). An append to a local file costs one write() system call.

Guarantee (same host): a hit is in the spool file (the kernel's page cache) before the
response goes out, so a killed worker loses nothing; like Redis without fsync, a power cut
can lose the last seconds.
- Each worker process appends to its own `<pid>-<ns>.open` file, under a lock.
- A timer thread in each process seals its file every SEAL_SECONDS (rename to `.sealed`) and
  ships sealed files: it claims one by renaming it to `.shipping-<pid>`, pushes its lines to
  the Redis hit queue (or, with Redis down, stores them in the database), then deletes it.
- Files of dead processes (`.open`, or `.shipping-` claimed by a process that died) are
  re-sealed and shipped by any live process. Shipping twice is harmless: every hit carries
  a random id that becomes its event's unique key.
The spool folder must be local to the web processes (one per host); see SPOOL_ROOT.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from config import Settings
from config.settings import VAR_DIR

log = logging.getLogger(__name__)

SPOOL_ROOT = VAR_DIR / "tracking-spool"
SEAL_SECONDS = 1.0
# An .open file untouched this long belongs to no live writer (covers reused pids).
ABANDONED_SECONDS = 300
PUSH_CHUNK = 1000


def spool_dir(settings: Settings) -> Path:
    """Return this installation's spool folder (one per database and Redis pair)."""
    key = hashlib.sha256(f"{settings.database_url}|{settings.redis_url}".encode()).hexdigest()
    return SPOOL_ROOT / key[:16]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


Push = Callable[[Sequence[bytes]], object]


class Spool:
    """A process's open spool file in FOLDER, appended under a lock and sealed on a timer.

    The timer ships sealed files with PUSH (to the Redis hit queue, or the database).
    """

    def __init__(self, folder: Path, push: Push, interval: float = SEAL_SECONDS) -> None:
        """Spool into FOLDER, shipping every INTERVAL seconds; nothing starts before an append."""
        self.folder = folder
        self._push = push
        self._interval = interval
        self._lock = threading.Lock()
        self._pid = 0
        self._fd: int | None = None
        self._path: Path | None = None
        self._opened_at = 0.0

    def append(self, line: bytes) -> None:
        """Append one hit line; it is in the page cache when this returns."""
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            if self._fd is None:
                self._open(self.folder)
            assert self._fd is not None
            os.write(self._fd, line)

    def _start(self) -> None:
        # First use in this process, or a forked child: never share the parent's file.
        self._pid = os.getpid()
        self._fd = None
        self._path = None
        threading.Thread(target=self._timer, name="tracking-spool", daemon=True).start()

    def _open(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._path = folder / f"{os.getpid()}-{time.time_ns()}.open"
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._opened_at = time.monotonic()

    def seal(self) -> None:
        """Close the current file and mark it ready to ship."""
        with self._lock:
            if self._pid == os.getpid():
                self._seal_locked()

    def _seal_locked(self) -> None:
        if self._fd is None or self._path is None:
            return
        os.close(self._fd)
        self._fd = None
        os.rename(self._path, self._path.with_suffix(".sealed"))
        self._path = None

    def _timer(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            time.sleep(self._interval)
            try:
                self.ship()
            except Exception:
                log.exception("shipping the tracking spool failed; retrying in a second")

    def stop(self) -> None:
        """Seal and ship what is spooled, and end the timer thread."""
        with self._lock:
            self._pid = -1
            self._seal_locked()
        ship_folder(self.folder, self._push)

    def ship(self) -> int:
        """Seal this process's file, then ship every sealed file of the folder."""
        self.seal()
        return ship_folder(self.folder, self._push)


def _reseal_abandoned(folder: Path) -> None:
    now = time.time()
    for path in folder.iterdir():
        name = path.name
        pid_text = name.split("-", 1)[0]
        if not pid_text.isdigit() or (int(pid_text) == os.getpid() and ".shipping-" not in name):
            continue
        if name.endswith(".open"):
            try:
                stale = now - path.stat().st_mtime > ABANDONED_SECONDS
            except FileNotFoundError:
                continue
            if stale or not _pid_alive(int(pid_text)):
                _rename_quietly(path, path.with_suffix(".sealed"))
        elif ".shipping-" in name:
            claimer = name.rsplit("-", 1)[1]
            if claimer.isdigit() and int(claimer) != os.getpid() and not _pid_alive(int(claimer)):
                _rename_quietly(path, folder / (name.split(".shipping-")[0] + ".sealed"))


def _rename_quietly(source: Path, target: Path) -> bool:
    try:
        os.rename(source, target)
    except FileNotFoundError:
        return False  # another process got there first
    return True


def ship_folder(folder: Path, push: Push) -> int:
    """Move FOLDER's sealed spool files into the hit queue with PUSH; return lines shipped.

    Also re-seals the files of processes that died, so any live process ships them.
    """
    if not folder.is_dir():
        return 0
    _reseal_abandoned(folder)
    shipped = 0
    for path in sorted(folder.glob("*.sealed")):
        claimed = path.with_name(f"{path.stem}.shipping-{os.getpid()}")
        if not _rename_quietly(path, claimed):
            continue
        try:
            data = claimed.read_bytes()
            # A line cut short by a crash mid-write has no newline; it cannot be parsed.
            lines = [line for line in data.split(b"\n") if line]
            for start in range(0, len(lines), PUSH_CHUNK):
                push(lines[start : start + PUSH_CHUNK])
        except Exception:
            _rename_quietly(claimed, path)  # try again on the next tick
            raise
        claimed.unlink()
        shipped += len(lines)
    return shipped
