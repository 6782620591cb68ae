"""Errors a user can fix: the tools print their message as one line and exit non-zero."""


class UserError(Exception):
    """A problem with the user's input (flag, config, data file, checkpoint): exit code 2."""

    exit_code = 2


class RunFailure(Exception):
    """A run that started but had to stop (non-finite loss, disk full): exit code 1."""

    exit_code = 1
