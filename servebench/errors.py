"""The two ways a servebench command fails on purpose, each with its exit code."""

import re


class UsageError(Exception):
    """The user or the environment must change something; the message says what. Exit 2."""

    exit_code = 2


class CheckFailed(Exception):
    """A check ran and its result is bad (parity over tolerance, validation). Exit 1."""

    exit_code = 1


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def first_line(exc: BaseException) -> str:
    """An exception's message cut to one line for a UsageError, or its type if it has none."""
    text = ANSI.sub("", str(exc)).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__
