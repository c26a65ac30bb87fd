"""Atomic file writes: a temporary file in the target's folder, renamed into place when complete.

Temporary files are named ``.restore-<host>-<pid>-<random>.part<ext>`` (short, so a target whose
name is near the file system's limit still works). A process killed while writing leaves one
behind; :func:`remove_stale_parts` removes those of processes of this machine that no longer run.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PART_PREFIX = ".restore-"
_HOST = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
_PART = re.compile(r"^\.restore-([0-9a-f]{6})-(\d+)-[A-Za-z0-9_]+\.part(\.[A-Za-z0-9]+)?$")


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


_HELD = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold Ctrl-C and SIGTERM until the block ends (then their handlers run), where the platform
    can; elsewhere run the block as it is."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` when the block succeeds.

    On any error (or interruption) the temporary file is removed and ``path`` is untouched, so a
    reader never sees a half-written file. The file gets the usual permissions (umask), not
    ``mkstemp``'s 0600. Raises ``OSError`` when the folder cannot be created or written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        # Ctrl-C or SIGTERM between creating the file and naming it here would leave it behind:
        # held until then (their handlers run after, inside this try).
        with _signals_held():
            fd, name = tempfile.mkstemp(
                prefix=f"{PART_PREFIX}{_HOST}-{os.getpid()}-",
                suffix=f".part{path.suffix}",
                dir=path.parent,
            )
            os.close(fd)
            tmp = Path(name)
        os.chmod(tmp, _new_file_mode())
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_parts(folder: str | Path) -> list[Path]:
    """Remove the temporary files that :func:`atomic_path` left in ``folder`` (not its
    subfolders) when its process was killed: those of this machine whose process is gone.
    Returns what was removed; a folder that does not exist has none."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _PART.match(entry.name)
        if not match or match.group(1) != _HOST or _running(int(match.group(2))):
            continue
        try:
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            pass
    return removed


def check_writable(folder: str | Path) -> list[Path]:
    """Create ``folder`` if needed and write (and remove) a temporary file in it: an unwritable
    output is found before any work. Returns the folders it created (deepest last); raises
    ``OSError`` naming the folder."""
    folder = Path(folder)
    created = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder, prefix=f"{PART_PREFIX}check-"):
            pass
    except OSError as err:
        raise OSError(f"{folder}: cannot write there ({err.strerror or err})") from err
    return created


def remove_empty_folders(folders: list[Path]) -> None:
    """Take away those of ``folders`` that are empty (e.g. made by :func:`check_writable` for a
    run that then wrote nothing), deepest first; others are left alone."""
    for folder in sorted(set(folders), key=lambda p: len(p.parts), reverse=True):
        try:
            folder.rmdir()
        except OSError:
            pass
