"""The toolkit's one error family: every failure a user can cause is a ToolkitError whose message is
the one line they see. Each command's entry (core/cli/common.py `cli_entry`, the explorer's main)
catches the base once and prints `prog: error: <message>`; nothing below the entry prints.

    ToolkitError            base; exit status 2 (a bad file, option or input)
      UsageError            a bad command line or input value
      CheckpointError       a network file that cannot be read, refused as unsafe, or does not fit
      DatasetError          a dataset folder/zip that cannot be used
      TrainingDiverged      losses became NaN/inf (exit 1: the run, not the input, failed)
      MissingDependencyError an optional package a chosen feature needs (exit 1; says what to install)

`first_line(exc)` is the one way to quote a foreign exception inside our message.
"""

from __future__ import annotations


class ToolkitError(Exception):
    """Base of every user-facing error: str(error) is one line, ready to print."""

    exit_code = 2


class UsageError(ToolkitError):
    """A bad command line or input; the message is the one line the user sees."""


class CheckpointError(ToolkitError):
    """A network file that cannot be read, is refused as unsafe, or does not fit what was asked."""


class DatasetError(ToolkitError):
    """A dataset (folder or zip) that cannot be used for training or metrics."""


class TrainingDiverged(ToolkitError):
    """A loss or penalty became NaN or infinite (the message says which, and at which kimg)."""

    exit_code = 1


class MissingDependencyError(ToolkitError):
    """An optional package that the chosen feature needs is not installed (the message says which
    and how to install it)."""

    exit_code = 1


def first_line(exc: BaseException, limit: int = 160) -> str:
    """The first non-empty line of str(exc), at most `limit` characters; the exception's class name
    when it has no message (a bare `KeyError()` or `struct.error`)."""
    for line in str(exc).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return type(exc).__name__
