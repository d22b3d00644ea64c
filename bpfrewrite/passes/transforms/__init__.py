"""Transforms; importing this package registers them with the pass manager."""
from bpfrewrite.passes.transforms import fastpath  # noqa: F401
