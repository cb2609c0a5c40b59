"""Errors a user can act on. The CLI prints their message and exits non-zero, no traceback."""


class RdpbenchError(Exception):
    """A problem with the user's input or environment, explained in the message."""


class UnknownNameError(RdpbenchError):
    """A codec, rate point, sampler, metric or dataset name that does not exist."""

    def __init__(self, kind: str, name: str, valid: list[str] | str):
        listing = valid if isinstance(valid, str) else ", ".join(valid)
        super().__init__(f"unknown {kind} {name!r}; valid {kind}s: {listing}")
        self.kind, self.name = kind, name


class MissingWeightsError(RdpbenchError):
    """One or more weight files are absent from their cache location."""


class ImageError(RdpbenchError):
    """An image file that cannot be read, or that a codec or metric cannot take."""
