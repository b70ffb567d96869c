"""Per-shard claim files, so that several builders (processes, hosts) share one cache.

A builder that wants shard ``s`` of a store creates ``shard_0000s.claim`` (JSON: host,
pid, a random token, start time) while holding the store's directory lock, and keeps
its modification time fresh from a heartbeat thread while it embeds. Another builder
skips a claimed shard unless the claim is stale: its process is gone (same host, pid
not alive) or, from another host, its heartbeat is older than ``stale_after`` seconds.
A stale claim is taken over, so a killed worker's shard is built by the next one.
Claims are decided under the directory lock (:func:`molmtd.safeio.directory_lock`), so
two builders never hold the same shard; the lock is held for milliseconds, not for a
whole build. Written by hand because filelock's locks end with the process but cannot
say who holds a shard or be taken over from another host.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from pathlib import Path

from molmtd.safeio import atomic_write_text

__all__ = ["ShardClaim", "claim_path", "try_claim", "is_held", "STALE_AFTER_S"]

log = logging.getLogger(__name__)

STALE_AFTER_S = 600.0  # a claim whose heartbeat is older (another host) is taken over
_ACTIVE: set[str] = set()  # tokens of the claims this process holds now


def claim_path(directory: Path, index: int) -> Path:
    """Path of shard ``index``'s claim file."""
    return Path(directory) / f"shard_{index:05d}.claim"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _why_stale(info: dict | None, age: float, stale_after: float) -> str | None:
    """Why a claim no longer holds its shard, or None while it does."""
    if info is None:
        return "unreadable claim"
    if info.get("host") == socket.gethostname():
        if info.get("pid") == os.getpid():
            return None if info.get("token") in _ACTIVE else "left by an earlier build here"
        if not _pid_alive(int(info.get("pid", -1))):
            return f"process {info.get('pid')} is gone"
        return None
    if age > stale_after:
        return f"no heartbeat from {info.get('host')} for {age:.0f} s"
    return None


class ShardClaim:
    """A held claim: :meth:`release` when the shard is written (or the build fails).

    Args:
        path: the claim file.
        token: this claim's random token (written in the file).
        heartbeat_s: seconds between two refreshes of the file's modification time.
    """

    def __init__(self, path: Path, token: str, heartbeat_s: float):
        self.path = path
        self.token = token
        self.heartbeat_s = heartbeat_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> ShardClaim:
        """Start the heartbeat thread."""
        def beat() -> None:
            while not self._stop.wait(self.heartbeat_s):
                try:
                    os.utime(self.path)
                except OSError:  # removed by a taker-over after a long pause: nothing to do
                    return

        self._thread = threading.Thread(target=beat, name=f"claim {self.path.name}",
                                        daemon=True)
        self._thread.start()
        return self

    def release(self) -> None:
        """Stop the heartbeat and delete the claim file if it is still this claim's."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        _ACTIVE.discard(self.token)
        try:
            if json.loads(self.path.read_text()).get("token") == self.token:
                self.path.unlink()
        except (OSError, ValueError):
            pass


def _read(path: Path) -> tuple[dict | None, float]:
    try:
        return json.loads(path.read_text()), time.time() - path.stat().st_mtime
    except (OSError, ValueError):
        return None, float("inf")


def is_held(directory: Path, index: int, stale_after: float = STALE_AFTER_S) -> bool:
    """Whether a live builder holds shard ``index`` (its claim exists and is not stale)."""
    path = claim_path(directory, index)
    return path.exists() and _why_stale(*_read(path), stale_after) is None


def try_claim(directory: Path, index: int, stale_after: float = STALE_AFTER_S
              ) -> ShardClaim | None:
    """Claim shard ``index`` unless a live builder holds it. Call under the directory lock.

    Returns:
        The started claim, or None when another builder holds the shard.
    """
    path = claim_path(directory, index)
    if path.exists():
        why = _why_stale(*_read(path), stale_after)
        if why is None:
            return None
        log.warning("%s: taking over shard %d from a stale claim (%s)", directory, index, why)
    token = secrets.token_hex(8)
    _ACTIVE.add(token)
    atomic_write_text(path, json.dumps({"host": socket.gethostname(), "pid": os.getpid(),
                                        "token": token, "since": time.time()}))
    return ShardClaim(path, token, heartbeat_s=max(stale_after / 10, 0.05)).start()
