"""Every weight file a codec or metric needs: where it comes from, how to check it, where it
lives (:mod:`.files`), how it is read without running code (:mod:`.checkpoints`), and how it
is fetched, imported and verified (:mod:`.store`).

Files live where their upstream loaders look, so a file fetched by CompressAI, torchvision or
pyiqa is found here too and vice versa: ``$TORCH_HOME/hub/<folder>/<file name>`` (``TORCH_HOME``
defaults to ``~/.cache/torch``). Upstream file names carry a prefix of the file's sha256
(``mbt2018-mean-1-e522738d.pth.tar``); that prefix, or the full sha256 where it is known, is
what a file is checked against.

A run never downloads by itself: it stops before any work and names each missing file, its
place and the command that fetches it (``rdpbench weights download``), so an air-gapped
cluster gets an actionable message rather than a hanging socket.
"""

from .checkpoints import (
    DamagedWeightsError,
    UnsafeCheckpointError,
    load_checkpoint,
    loading,
    unreadable_reason,
    weights_only_loads,
)
from .files import (
    CDC_FILES,
    HIFIC_PORT_FILES,
    NEURALCOMPRESSION_POINTS,
    NEURALCOMPRESSION_TARGETS,
    WeightFile,
    cdc_weight_file,
    compressai_weight_file,
    get_weight_file,
    hific_port_weight_file,
    neuralcompression_weight_file,
    notes_of,
    pyiqa_weight_file,
    require,
    torchvision_weight_file,
    weight_files,
)
from .store import Verified, download, fingerprint, import_from, verify

__all__ = [
    "CDC_FILES", "HIFIC_PORT_FILES", "NEURALCOMPRESSION_POINTS", "NEURALCOMPRESSION_TARGETS",
    "DamagedWeightsError", "UnsafeCheckpointError", "Verified", "WeightFile",
    "cdc_weight_file", "compressai_weight_file", "download", "fingerprint", "get_weight_file",
    "hific_port_weight_file", "import_from", "load_checkpoint", "loading", "neuralcompression_weight_file",
    "notes_of", "pyiqa_weight_file", "require", "torchvision_weight_file", "unreadable_reason", "verify",
    "weight_files", "weights_only_loads",
]
