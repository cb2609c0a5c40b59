"""The codec registry and how a codec name given by a user becomes a codec object.

Names are looked up in this order:
  ``NAME``            a codec registered here (``rdpbench list codecs``);
  ``NAME:ARGUMENT``   a registered codec that takes an argument, e.g. ``folder:PATH`` or
                      ``ext:PATH.toml`` (programs described by a TOML file);
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
ENTRY_POINT_GROUP = "rdpbench.codecs"


def register_codec(codec_class: type) -> type:
    """Class decorator: file a codec class under its own ``name``."""
    return CODECS.register(codec_class.name)(codec_class)


def list_codecs() -> list[str]:
    """Names of the built-in and installed plug-in codecs."""
    plugins = [entry.name for entry in entry_points(group=ENTRY_POINT_GROUP)]
    return sorted(set(CODECS.names()) | set(plugins))


def get_codec(name: str, **options):
    """Build the codec called ``name`` with ``device`` and the options it declares
    (:attr:`CodecBase.options`); an option it does not declare is refused before it is built."""
    codec_class, argument = codec_class_of(name)
    given = {key: value for key, value in options.items() if key != "device"}
    check_options(codec_class, given)
    return codec_class(argument, **options) if argument is not None else codec_class(**options)


def codec_class_of(name: str) -> tuple[type, str | None]:
    """The class that ``name`` names, and the argument after ``NAME:`` for codecs that take one."""
    if name in CODECS:
        codec_class = CODECS.get(name)
        if codec_class.argument:
            raise RdpbenchError(f"codec {name} needs an argument: {name}:{codec_class.argument}")
        return codec_class, None
    prefix, sep, argument = name.partition(":")
    if sep and prefix in CODECS and CODECS.get(prefix).argument:
        return CODECS.get(prefix), argument
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name == name:
            return _checked_class(entry.load(), name), None
    if sep:
        return _import_class(prefix, argument), None
    with_argument = [f"{known}:{CODECS.get(known).argument}" for known in CODECS.names() if CODECS.get(known).argument]
    raise UnknownNameError("codec", name, list_codecs() + with_argument + ["module:Class"])


def check_options(codec_class: type, given: dict) -> None:
    """Raise RdpbenchError naming the options in ``given`` that ``codec_class`` does not declare
    (``batch_size`` is declared by decoding in batches)."""
    declared = [option.name for option in codec_class.options]
    declared += ["batch_size"] if codec_class.decodes_in_batches() else []
    refused = sorted(set(given) - set(declared))
    if refused:
        takes = f"its options: {', '.join(declared)}" if declared else "it takes none"
        raise RdpbenchError(f"codec {codec_class.name} takes no option {', '.join(refused)} ({takes})")


def _import_class(module_name: str, class_name: str):
    try:
        module = importlib.import_module(module_name)
        codec_class = getattr(module, class_name)
    except (ImportError, AttributeError) as error:
        raise RdpbenchError(f"cannot load codec class {module_name}:{class_name}: {error}") from None
    return _checked_class(codec_class, f"{module_name}:{class_name}")


def _checked_class(codec_class, label: str):
    from .base import Codec

    if not (isinstance(codec_class, type) and issubclass(codec_class, Codec)):
        raise RdpbenchError(f"{label} is not a subclass of rdpbench Codec")
    return codec_class
