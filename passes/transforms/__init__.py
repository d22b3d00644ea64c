"""Transforms; importing this package registers them with the pass manager."""
from passes.transforms import fastpath  # noqa: F401
