"""One exception type for problems a user can fix (bad input, missing files, bad settings)."""


class GsasrecError(Exception):
    """An error whose message alone tells the user what went wrong and how to fix it.

    The CLI prints it as one line without a traceback.
    """
