"""Networks of published generative codecs, written so that their state-dict keys and shapes
are exactly those of the authors' checkpoints. Each also says how its latents are padded and
where its hyper path runs; the entropy models are in :mod:`rdpbench.entropy`, the codec
adapters in :mod:`rdpbench.codecs`.
"""

from .hific_autoencoder import HificAutoencoder
from .hific_port import HificPort
from .layers import ChannelNorm2D

__all__ = ["ChannelNorm2D", "HificAutoencoder", "HificPort"]
