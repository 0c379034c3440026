"""The one exception type for user errors.

A :class:`UserError` is bad input: a config value, a path, a corpus file, a full disk. The
CLI prints it as one line and exits with code 2. Any other exception is a bug and keeps
its traceback. Stage packages (finetune, probe, retrieval, figures) raise ``ValueError`` /
``FileNotFoundError`` for bad arguments; xalign turns those into a ``UserError`` only at
the points where user input enters them (:func:`user_input`), never around whole stages.
"""

from __future__ import annotations

import contextlib
import difflib
import errno
from collections.abc import Iterable, Iterator


class UserError(Exception):
    """Bad input from the user; the message is one line naming the field or file."""


def choice(field: str, value: object, known: Iterable[str]) -> None:
    """Raise a UserError unless ``value`` is one of ``known`` (with a did-you-mean)."""
    known = list(known)
    if value in known:
        return
    near = difflib.get_close_matches(str(value), known, n=1)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    raise UserError(f"{field}: unknown value {value!r} (expected one of "
                    f"{', '.join(map(str, known))}){hint}")


@contextlib.contextmanager
def user_input(where: str) -> Iterator[None]:
    """Report ValueError / FileNotFoundError raised while reading user input as a UserError.

    Use it around a call that parses or loads something the user named (a corpus, a task
    folder, a model directory), prefixed with ``where`` (e.g. ``"data.aligned[2]"``).
    """
    try:
        yield
    except (ValueError, FileNotFoundError, NotADirectoryError) as exc:
        raise UserError(f"{where}: {exc}") from exc


@contextlib.contextmanager
def writing(target: object) -> Iterator[None]:
    """Report an unwritable output (permissions, full disk, read-only) as a UserError."""
    try:
        yield
    except PermissionError as exc:
        raise UserError(f"cannot write {target}: permission denied ({exc.filename})") from exc
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EACCES):
            raise UserError(f"cannot write {target}: {exc.strerror}") from exc
        raise
