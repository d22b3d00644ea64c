"""The one exception type for errors a user can cause (bad input, missing tools, refused loads)."""


class BpfrewriteError(Exception):
    """An error the user can act on; the CLI prints its message on one line and exits 2."""
