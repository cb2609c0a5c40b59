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


class DamagedResultsError(RdpbenchError):
    """A results file (images.csv, points.csv, run.json) that is empty, cut or malformed."""


class DamagedResultsWarning(UserWarning):
    """A results file was skipped, or a cut row left out, while collecting results."""


class RunFailedError(RdpbenchError):
    """A run stopped on an error; its run.json records the error, where it happened and the
    traceback, and rerunning the same command resumes after the last finished image."""


class RunInterrupted(KeyboardInterrupt):
    """A run stopped by a signal (SIGTERM from a scheduler, SIGINT from Ctrl-C)."""

    def __init__(self, signal_number: int):
        import signal

        super().__init__(signal.Signals(signal_number).name)
        self.signal_name = signal.Signals(signal_number).name
        #: The shell's convention for a process ended by a signal.
        self.exit_code = 128 + signal_number
