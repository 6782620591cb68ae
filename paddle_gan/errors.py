"""Errors a user can fix, and the end of an interrupted run: the tools print the message as one
line and exit non-zero."""


class UserError(Exception):
    """A problem with the user's input (flag, config, data file, checkpoint): exit code 2."""

    exit_code = 2


class RunFailure(Exception):
    """A run that started but had to stop (non-finite loss, disk full): exit code 1."""

    exit_code = 1


class Interrupted(Exception):
    """Raised after an interrupt saved a checkpoint; carries the exit code and the path."""

    def __init__(self, exit_code: int, path: str) -> None:
        super().__init__(f"interrupted: saved {path}")
        self.exit_code = exit_code
        self.path = path
