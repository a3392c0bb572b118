"""The one exception type painter raises for problems a user can fix.

The command line prints `error: <message>` for it and exits 1 (no traceback); the message always
names the file, field or value at fault and says what to do.
"""

from __future__ import annotations


class PainterError(Exception):
    """A problem with the user's input, data, config or environment, with a message that says
    what is wrong (naming the file, record, field or value) and what to do about it."""


class DataError(PainterError, ValueError):
    """Bad input data: a missing path, an empty folder, a corrupt record, an undecodable image."""


class ConfigError(PainterError, ValueError):
    """A config value or combination that cannot work, or a workdir made by an incompatible one."""


class RuntimeSelectionError(PainterError, RuntimeError):
    """No backend/distribution fits the request or the hardware (e.g. a TPU nobody can use)."""


class SubmissionError(PainterError):
    """The submission cannot be written as asked (too few photos, duplicate names, invalid zip)."""
