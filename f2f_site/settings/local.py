"""A developer's machine: the embedded default, with debugging when asked for."""

from .base import *  # noqa: F403
