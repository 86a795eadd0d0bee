"""The one exception type the suite turns into a one-line error and a non-zero exit."""


class SuiteError(Exception):
    """A user-facing error: bad input, a missing prerequisite, an unreachable endpoint."""
