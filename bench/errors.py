"""Errors the CLI turns into a one-line message and exit status 2."""


class UsageError(Exception):
    """Bad input from the user: unknown names, bad sizes, unusable paths or files.

    The CLI prints ``fwdrev: error: <message>`` and exits with status 2.  Raise it
    before anything is written, so bad input never leaves a half-written file.
    """
