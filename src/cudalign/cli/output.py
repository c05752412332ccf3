"""Where a command's output goes: ``-o FILE`` checked before any work, written atomically, never on an input.

A report is written to a temporary file beside the target and moved over it with :func:`os.replace`, so an
interrupted or failed write leaves the user's file as it was. ``-o`` naming a file the command reads
(``--host``, ``--log``, ``--from-plan``, ``--python``) is refused, also when a link leads from one to the
other. Character devices and pipes (``/dev/null``, ``/dev/stdout``) are written in place: they cannot be
replaced and hold nothing to lose. ``-o -`` is standard output.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
from pathlib import Path

from cudalign.errors import InvalidInput

__all__ = ["INPUT_OPTIONS", "check_output", "input_paths", "write_output", "write_text"]

INPUT_OPTIONS: dict[str, str] = {
    "host": "--host",
    "log": "--log",
    "from_plan": "--from-plan",
    "target_python": "--python",
    "requirement_files": "-r",
    "constraint_files": "-c",
}
"""Namespace attribute -> the flag of every option that names a file a command reads."""


def input_paths(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """(flag, path) of each input file the parsed arguments name."""
    found = []
    for attr, flag in INPUT_OPTIONS.items():
        value = getattr(args, attr, None)
        if isinstance(value, str) and value:
            found.append((flag, Path(value)))
        elif isinstance(value, list):
            found.extend((flag, Path(v)) for v in value if isinstance(v, str) and v)
    return found


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except (OSError, ValueError):  # one of them does not exist (yet): compare where the paths lead
        try:
            return os.path.realpath(a) == os.path.realpath(b)
        except ValueError:  # a NUL in the other path: it names no file at all
            return False


def _is_special(path: Path) -> bool:
    """A character device, pipe or socket: written in place, never replaced."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _is_stdin_file(path: Path) -> bool:
    """Whether ``path`` is the regular file redirected to standard input (``explain - < log``)."""
    try:
        st_in = os.fstat(sys.stdin.fileno())
        st_out = os.stat(path)
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISREG(st_in.st_mode) and (st_in.st_dev, st_in.st_ino) == (st_out.st_dev, st_out.st_ino)


def check_output(args: argparse.Namespace) -> None:
    """Refuse an ``-o`` target that cannot be written, or that is one of the command's inputs.

    Called before the command runs, so a bad ``-o`` costs no work; :func:`write_output` still reports a
    failure that happens later (a full disk) in the same words.
    """
    out = getattr(args, "output", None)
    if not out or out == "-" or getattr(args, "emit", None):  # --emit: -o is a directory, checked there
        return
    if out.endswith(("/", os.sep)):
        raise InvalidInput(f"-o {out}: names a directory; give a file name")
    if "\x00" in out:
        raise InvalidInput(f"-o {out!r}: a file name cannot hold a NUL character")
    try:
        _check_target(args, out, Path(out))
    except OSError as exc:  # a name too long, a loop of links …
        raise InvalidInput(f"-o {out}: cannot write there: {exc.strerror or exc}") from None


def _check_target(args: argparse.Namespace, out: str, path: Path) -> None:
    for flag, source in input_paths(args):
        if _same_file(path, source):
            raise InvalidInput(f"-o {out}: is the {flag} input file; refusing to overwrite it")
    if _is_stdin_file(path):
        raise InvalidInput(f"-o {out}: is the file on standard input; refusing to overwrite it")
    reads = getattr(args, "_reads", None)
    why = reads(args, path) if reads is not None else None
    if why:
        raise InvalidInput(f"-o {out}: {why}; refusing to overwrite it")
    if _is_special(path):
        return
    target = Path(os.path.realpath(path))
    if target.is_dir():
        raise InvalidInput(f"-o {out}: is a directory; give a file name")
    parent = target.parent
    if not parent.exists():
        raise InvalidInput(f"-o {out}: directory {parent} does not exist")
    if not parent.is_dir():
        raise InvalidInput(f"-o {out}: {parent} is not a directory")
    if target.exists() and not target.is_file():
        raise InvalidInput(f"-o {out}: not a regular file")
    if not os.access(parent, os.W_OK | os.X_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise InvalidInput(f"-o {out}: cannot write there (permission denied)")


def write_text(text: str, out: str | None) -> None:
    """Write ``text`` (ending in a newline) to ``out``, or to standard output when it is ``None`` or ``-``."""
    if not text.endswith("\n"):
        text += "\n"
    if not out or out == "-":
        sys.stdout.write(_encodable(text, getattr(sys.stdout, "encoding", None) or "utf-8"))
        return
    write_output(Path(out), text, shown=out)


def _encodable(text: str, encoding: str) -> str:
    """``text`` with what ``encoding`` cannot hold (lone surrogates from argv or JSON) as ``\\udcff``."""
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:
        pass
    return text


def write_output(path: Path, text: str, *, shown: str | None = None) -> None:
    """Replace the file at ``path`` (through links) with ``text`` atomically; one-line error otherwise."""
    shown = shown or str(path)
    data = _encodable(text, "utf-8").encode("utf-8")
    try:
        if _is_special(path):
            with open(path, "wb") as fh:
                fh.write(data)
            return
        _replace(Path(os.path.realpath(path)), data)
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise InvalidInput(f"-o {shown}: cannot write: {reason}") from None


def _replace(target: Path, data: bytes) -> None:
    import tempfile

    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
