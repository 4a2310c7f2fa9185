"""The error a command reports as one line to the person who ran it (no traceback)."""


class UserError(Exception):
    """Something the operator can fix: a bad setting, name, value or file."""
