"""rdpbench: rate-distortion-perception benchmarking of learned image codecs."""

__version__ = "0.1.0"
