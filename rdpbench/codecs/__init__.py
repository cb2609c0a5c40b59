"""Codecs: one registry (``get_codec``, ``list_codecs``), one module per family."""

from . import cdc, classical, compressai_zoo, external, folder, hific, msh, msillm, ours, pillow  # noqa: F401  (modules register their codecs)
from .base import DEFAULT_SAMPLER, Codec, CodecBase
from .folder import FolderOfReconstructions
from .registry import CODECS, get_codec, list_codecs, register_codec

__all__ = [
    "CODECS",
    "DEFAULT_SAMPLER",
    "Codec",
    "CodecBase",
    "FolderOfReconstructions",
    "get_codec",
    "list_codecs",
    "register_codec",
]
