"""Reading below a folder without ever following a symbolic link: what the desk hands out and what goes into a
zip must come from inside the outbox, even if someone places a link there (to /etc/passwd, to another folder)
or swaps a folder for one while a download runs."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from kunnan_docs.errors import LinkFound

# POSIX: each step is opened relative to the folder opened before it and refuses a link (O_NOFOLLOW), so a link
# swapped in after a check cannot be followed. Windows has no dir_fd: there each step is checked, then the opened
# file must be the very file checked (same device and file number).
_AT = os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO for reading must not wait for a writer
_BINARY = getattr(os, "O_BINARY", 0)


def open_below(root: Path, parts: tuple[str, ...]) -> BinaryIO:
    """The regular file root/parts[0]/…/parts[-1], opened for reading; raises LinkFound if any step below root is a
    link or the end is not a regular file, OSError if it does not exist. `root` itself may be a link."""
    where = "/".join(parts)
    try:
        fd = _open_at(root, parts) if _AT else _open_checked(root, parts)
    except OSError as exc:
        if exc.errno == errno.ELOOP or (exc.errno == errno.ENOTDIR and _link_on_the_way(root, parts)):
            raise LinkFound(where) from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise LinkFound(where)
    return os.fdopen(fd, "rb")


def _link_on_the_way(root: Path, parts: tuple[str, ...]) -> bool:
    """O_DIRECTORY|O_NOFOLLOW answers ENOTDIR for a link to a folder and for a file named as a folder alike."""
    path = root
    for part in parts:
        path = path / part
        try:
            if _is_link(os.lstat(path)):
                return True
        except OSError:
            return False
    return False


def _open_at(root: Path, parts: tuple[str, ...]) -> int:
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            step = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = step
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | _NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)


def _open_checked(root: Path, parts: tuple[str, ...]) -> int:
    path = root
    for part in parts:
        path = path / part
        if _is_link(os.lstat(path)):
            raise LinkFound("/".join(parts))
    fd = os.open(path, os.O_RDONLY | _BINARY | _NONBLOCK)
    opened, checked = os.fstat(fd), os.lstat(path)
    if (opened.st_dev, opened.st_ino) != (checked.st_dev, checked.st_ino):
        os.close(fd)
        raise LinkFound("/".join(parts))
    return fd


def _is_link(st: os.stat_result) -> bool:
    """A symbolic link, or on Windows any reparse point (junctions are links too)."""
    return stat.S_ISLNK(st.st_mode) or bool(getattr(st, "st_file_attributes", 0) & 0x400)


def files_below(folder: Path) -> list[tuple[str, ...]]:
    """Every regular file below `folder` as its path parts, sorted; raises LinkFound on a link (to a file or a
    folder) or a special file anywhere below, and if `folder` itself is a link."""
    if _is_link(os.lstat(folder)):
        raise LinkFound(folder.name)
    found: list[tuple[str, ...]] = []

    def walk(path: Path, parts: tuple[str, ...]) -> None:
        with os.scandir(path) as entries:
            for entry in entries:
                here = (*parts, entry.name)
                st = entry.stat(follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode) and not _is_link(st):
                    walk(Path(entry.path), here)
                elif stat.S_ISREG(st.st_mode) and not _is_link(st):
                    found.append(here)
                else:
                    raise LinkFound("/".join((folder.name, *here)))

    walk(folder, ())
    return sorted(found)
