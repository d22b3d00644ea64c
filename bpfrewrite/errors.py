"""The one exception type for errors a user can cause (bad input, missing tools, refused loads)."""


class BpfrewriteError(Exception):
    """An error the user can act on; the CLI prints its message on one line and exits 2."""


class Terminated(BaseException):
    """Raised in the main thread on SIGINT, SIGTERM or SIGHUP, so cleanup code (finally, with) runs.

    A BaseException, like KeyboardInterrupt: `except Exception` must not swallow it.
    """

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum
