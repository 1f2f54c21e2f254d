"""Errors a user can act on: the entry point prints them as one line, `error: ...`, and exits 2."""


class UserError(Exception):
    """A mistake in what the user asked for or gave (a folder that does not exist, no mesh that loads),
    said in one line that names it and what to do."""
