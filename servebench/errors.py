"""The two ways a servebench command fails on purpose, each with its exit code."""


class UsageError(Exception):
    """The user or the environment must change something; the message says what. Exit 2."""

    exit_code = 2


class CheckFailed(Exception):
    """A check ran and its result is bad (parity over tolerance, validation). Exit 1."""

    exit_code = 1
