"""The codec registry and how a codec name given by a user becomes a codec object.

Names are looked up in this order:
  ``NAME``            a codec registered here (``rdpbench list codecs``);
  ``NAME:ARGUMENT``   a registered codec that takes an argument, e.g. ``folder:PATH``;
  ``NAME``            a codec published by an installed package under the entry-point
                      group ``rdpbench.codecs``;
  ``module:Class``    any importable Codec subclass (a plug-in without packaging).
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from ..errors import RdpbenchError, UnknownNameError
from ..registry import Registry

CODECS: Registry = Registry("codec")
register_codec = CODECS.register
ENTRY_POINT_GROUP = "rdpbench.codecs"


def list_codecs() -> list[str]:
    """Names of the built-in and installed plug-in codecs."""
    plugins = [entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)]
    return sorted(set(CODECS.names()) | set(plugins))


def get_codec(name: str, **options):
    """Build the codec called ``name`` with constructor ``options`` (``device``, ...)."""
    try:
        return _build_codec(name, options)
    except TypeError as error:
        if "required positional argument" in str(error) and name in CODECS:
            raise RdpbenchError(f"codec {name} needs an argument: {name}:PATH") from None
        if "unexpected keyword argument" not in str(error):
            raise
        extra = sorted(set(options) - {"device"})
        raise RdpbenchError(f"codec {name} takes no option {', '.join(extra)}") from None


def _build_codec(name: str, options: dict):
    if name in CODECS:
        return CODECS.get(name)(**options)
    prefix, sep, argument = name.partition(":")
    if sep and prefix in CODECS:
        return CODECS.get(prefix)(argument, **options)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            return entry.load()(**options)
    if sep:
        return _import_class(prefix, argument)(**options)
    raise UnknownNameError("codec", name, list_codecs() + ["folder:PATH", "module:Class"])


def _import_class(module_name: str, class_name: str):
    from .base import Codec

    try:
        module = importlib.import_module(module_name)
        codec_class = getattr(module, class_name)
    except (ImportError, AttributeError) as error:
        raise RdpbenchError(f"cannot load codec class {module_name}:{class_name}: {error}") from None
    if not (isinstance(codec_class, type) and issubclass(codec_class, Codec)):
        raise RdpbenchError(f"{module_name}:{class_name} is not a subclass of rdpbench Codec")
    return codec_class
