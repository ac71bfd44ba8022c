"""User-facing errors.

Anything a user can cause (a bad file, a wrong shape, a missing tool, an unplugged board) is raised as a
`UserError`: the CLI prints its one-line message and exits non-zero, never a traceback.  The message names
the file, op, tensor or port at fault and says what to do.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; `str(err)` is the whole message shown to them."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message}\n  hint: {hint}")


class UnsupportedOpError(UserError):
    """An op (or an option of one) that a runtime cannot execute."""


class ToolMissingError(UserError):
    """A system tool (compiler, QEMU, PlatformIO platform) is not installed or not reachable."""


class LinkError(UserError):
    """The serial link to the device failed: timeout, corrupt frames beyond the retry budget, wrong device."""

    exit_code = 3


class CheckFailed(UserError):
    """A verification ran to the end and one of its thresholds failed."""

    exit_code = 1
