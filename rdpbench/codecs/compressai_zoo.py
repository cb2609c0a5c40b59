"""CompressAI's zoo of image models (``compressai.zoo.image``) as codecs with real bytes, one
codec per architecture and training metric, every published quality a rate point.

The models are one table of data (:data:`ZOO`); a codec class per row and training metric is
made from it: the zoo's name for the MSE weights (``cheng2020-anchor``) and the zoo's name plus
``-msssim`` for the MS-SSIM ones (``cheng2020-anchor-msssim``). ``msh`` (:mod:`.msh`) is the
seed paper's name for ``mbt2018-mean``: the same weights, the same bytes.

Images are zero-padded, centred, to a multiple of 64, as CompressAI's own evaluation
(``compressai.utils.eval_model``) pads every model, and cropped back; the rate counts the
original pixels. Bytes are those of the model's ``compress()`` and images those of its
``decompress()`` (clamped to [0, 1], rounded to 8 bits). Two coding paths:

- hyperprior models (scale and mean-scale) go through :mod:`rdpbench.entropy`, the steps of
  ``compress()`` that every hyperprior codec here shares; their estimate takes the same
  rounding as the bytes;
- the factorized prior and the context models (``mbt2018``, ``cheng2020-*``) go through the
  model's own ``compress()`` and ``decompress()``: a single factorized latent, or a latent
  coded position by position, each conditioned on the ones decoded before it. Their estimate
  is CompressAI's own (``forward()`` in eval mode); for the context models its context is y
  rounded to integers rather than around the predicted means, so it is close to, not exactly,
  the coded symbols' cost.

Payload: the strings of ``compress()``, hyper-latent first (varint length first), then the
latent; the factorized prior has the latent alone. Latent sizes follow from the image size in
the container header.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F

from ..bitstream import Bitstream, join_chunks, split_chunks
from ..images import from_float, to_float
from ..weights import WeightFile, compressai_weight_file, require
from .base import Codec
from .registry import register_codec

#: CompressAI's evaluation pads every model's input to a multiple of 64 (six strides of 2).
PAD_MULTIPLE = 64

# Coding paths.
FACTORIZED = "factorized prior, the model's own coder"
SCALE_HYPERPRIOR = "scale hyperprior, rdpbench.entropy"
MEAN_SCALE_HYPERPRIOR = "mean-scale hyperprior, rdpbench.entropy"
AUTOREGRESSIVE = "context model, the model's own serial coder"

MSE, MS_SSIM = "mse", "ms-ssim"


@dataclass(frozen=True)
class ZooModel:
    """One architecture of CompressAI's image zoo."""

    #: The zoo's name (``compressai.zoo.image.model_urls``).
    architecture: str
    #: What it is, for listings.
    title: str
    citation: str
    #: Qualities 1..``qualities`` have published weights.
    qualities: int
    coding: str
    #: Downsampling of the first latent that ``decompress()`` takes the size of: y (16) for
    #: the factorized prior, z (64) for the rest.
    size_stride: int
    #: Training metrics with published weights.
    metrics: tuple[str, ...] = (MSE, MS_SSIM)
    #: Another codec name of the MSE weights (the seed paper's ``msh``).
    mse_alias: str | None = None

    @property
    def uses_shared_entropy_coding(self) -> bool:
        return self.coding in (SCALE_HYPERPRIOR, MEAN_SCALE_HYPERPRIOR)

    @property
    def n_strings(self) -> int:
        """How many byte strings ``compress()`` makes per image."""
        return 1 if self.coding == FACTORIZED else 2


_BALLE_2018 = ("J. Balle, D. Minnen, S. Singh, S. J. Hwang, N. Johnston. Variational image compression "
               "with a scale hyperprior. ICLR 2018.")
_MINNEN_2018 = ("D. Minnen, J. Balle, G. Toderici. Joint autoregressive and hierarchical priors for "
                "learned image compression. NeurIPS 2018.")
_CHENG_2020 = ("Z. Cheng, H. Sun, M. Takeuchi, J. Katto. Learned image compression with discretized "
               "Gaussian mixture likelihoods and attention modules. CVPR 2020.")

ZOO = (
    ZooModel("bmshj2018-factorized", "Factorized prior (Balle et al. 2018)", _BALLE_2018, 8, FACTORIZED, 16),
    ZooModel("bmshj2018-hyperprior", "Scale hyperprior (Balle et al. 2018)", _BALLE_2018, 8, SCALE_HYPERPRIOR, 64),
    ZooModel("mbt2018-mean", "Mean-scale hyperprior (Minnen et al. 2018)", _MINNEN_2018, 8, MEAN_SCALE_HYPERPRIOR,
             64, mse_alias="msh"),
    ZooModel("mbt2018", "Joint autoregressive and hierarchical priors (Minnen et al. 2018)", _MINNEN_2018, 8,
             AUTOREGRESSIVE, 64),
    ZooModel("cheng2020-anchor", "Cheng et al. 2020 anchor (residual blocks, context model)", _CHENG_2020, 6,
             AUTOREGRESSIVE, 64),
    ZooModel("cheng2020-attn", "Cheng et al. 2020 with attention (residual blocks, context model)", _CHENG_2020, 6,
             AUTOREGRESSIVE, 64),
)


def codec_name(model: ZooModel, metric: str) -> str:
    """``cheng2020-anchor`` for the MSE weights, ``cheng2020-anchor-msssim`` for the MS-SSIM ones."""
    return model.architecture if metric == MSE else f"{model.architecture}-msssim"


def padding(height: int, width: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """CompressAI's centred zero padding to a multiple of 64 and the crop that undoes it."""
    from compressai.ops import compute_padding

    return compute_padding(height, width, min_div=PAD_MULTIPLE)


def load_zoo_model(architecture: str, file: WeightFile, device: torch.device):
    """A CompressAI zoo network from a checkpoint read tensors-only, in eval mode."""
    from compressai.zoo.image import model_architectures
    from compressai.zoo.pretrained import load_pretrained

    state_dict = load_pretrained(torch.load(file.path, map_location="cpu", weights_only=True))
    model = model_architectures[architecture].from_state_dict(state_dict).eval()
    model.update()  # builds entropy-coder tables only if the checkpoint lacks them
    return model.to(device)


class CompressaiZooCodec(Codec):
    """A CompressAI zoo model with the weights of one training metric; subclasses set
    ``zoo_model`` and ``metric`` (:func:`zoo_codec_class` makes them from :data:`ZOO`)."""

    zoo_model: ClassVar[ZooModel]
    metric: ClassVar[str]
    runs_networks = True
    # mbt2018-mean's analysis and synthesis: 866 measured on the CPU at 512x512, quality 8 (the
    # others not measured; cheng2020's attention blocks work at 1/16 and add little)
    bytes_per_pixel = 1000

    def __init__(self, device: str = "cpu"):
        super().__init__(device)
        self._models: dict[str, torch.nn.Module] = {}

    def weight_files(self, points: list[str]) -> list[WeightFile]:
        return [compressai_weight_file(self.zoo_model.architecture, int(p), self.metric) for p in points]

    def prepare(self, points: list[str]) -> None:
        require(self.weight_files(points))
        for point in points:
            self.model(point)

    def model(self, point: str):
        """The CompressAI network of rate point ``point``, loaded once."""
        if point not in self._models:
            [file] = self.weight_files([point])
            require([file])
            self._models[point] = load_zoo_model(self.zoo_model.architecture, file, self.device)
        return self._models[point]

    def encode_payload(self, image: torch.Tensor, point: str) -> bytes:
        return self.encode_payload_estimated(image, point)[0]

    @torch.inference_mode()
    def encode_payload_estimated(self, image: torch.Tensor, point: str) -> tuple[bytes, float]:
        """The strings of the model's ``compress()`` of the zero-padded image, with the
        model's estimate of their size."""
        from ..entropy import code_hyperprior, estimated_bits

        _, height, width = image.shape
        pad, _ = padding(height, width)
        x = F.pad(to_float(image).to(self.device), pad, mode="constant", value=0)
        model = self.model(point)
        if self.zoo_model.uses_shared_entropy_coding:
            y = model.g_a(x)
            coded = code_hyperprior(y, self._hyper_analysis(model, y), model.entropy_bottleneck,
                                    model.gaussian_conditional, self._hyper_synthesis(model))
            return join_chunks([coded.z_string, coded.y_string]), coded.estimated_bits
        strings = model.compress(x)["strings"]  # [y strings] or [y strings, z strings]
        estimate = estimated_bits(*model(x)["likelihoods"].values())
        return join_chunks([string for [string] in reversed(strings)]), estimate

    @torch.inference_mode()
    def decode_payload(self, stream: Bitstream, sampler: str, seed: int) -> torch.Tensor:
        if self.zoo_model.uses_shared_entropy_coding:
            return self.synthesize(stream, self.decode_latent(stream))
        strings = [[string] for string in reversed(split_chunks(stream.payload, self.zoo_model.n_strings))]
        x_hat = self.model(stream.point).decompress(strings, self._latent_size(stream))["x_hat"]
        _, unpad = padding(stream.height, stream.width)
        return from_float(F.pad(x_hat, unpad))

    @torch.inference_mode()
    def decode_latent(self, stream: Bitstream) -> torch.Tensor:
        """Entropy-decode the latent y_hat (1, M, H_pad/16, W_pad/16) of a hyperprior model."""
        from ..entropy import decode_hyperprior

        model = self.model(stream.point)
        z_string, y_string = split_chunks(stream.payload, 2)
        return decode_hyperprior(z_string, y_string, self._latent_size(stream), model.entropy_bottleneck,
                                 model.gaussian_conditional, self._hyper_synthesis(model))

    def synthesize(self, stream: Bitstream, y_hat: torch.Tensor) -> torch.Tensor:
        """The model's reconstruction g_s(y_hat), cropped to the original size."""
        x_hat = self.model(stream.point).g_s(y_hat)
        _, unpad = padding(stream.height, stream.width)
        return from_float(F.pad(x_hat, unpad))

    def _latent_size(self, stream: Bitstream) -> tuple[int, int]:
        """(H, W) of the latent whose size ``decompress()`` takes."""
        pad, _ = padding(stream.height, stream.width)
        stride = self.zoo_model.size_stride
        return (stream.height + pad[2] + pad[3]) // stride, (stream.width + pad[0] + pad[1]) // stride

    def _hyper_analysis(self, model, y: torch.Tensor) -> torch.Tensor:
        """z from y: the scale hyperprior sees |y|, the mean-scale one y itself."""
        return model.h_a(torch.abs(y) if self.zoo_model.coding == SCALE_HYPERPRIOR else y)

    def _hyper_synthesis(self, model):
        """z_hat -> (scales, means) of y; the scale hyperprior has zero means (None)."""
        if self.zoo_model.coding == SCALE_HYPERPRIOR:
            return lambda z_hat: (model.h_s(z_hat), None)
        return lambda z_hat: model.h_s(z_hat).chunk(2, 1)

    def describe(self) -> dict:
        import compressai

        return {"name": self.name, "architecture": self.zoo_model.architecture, "compressai": compressai.__version__}


def zoo_codec_class(model: ZooModel, metric: str) -> type[CompressaiZooCodec]:
    """The codec class of ``model`` with its ``metric`` weights, every quality a rate point."""
    qualities = [str(q) for q in range(1, model.qualities + 1)]
    trained = "MSE" if metric == MSE else "MS-SSIM"
    alias = f", the same codec as {model.mse_alias}" if metric == MSE and model.mse_alias else ""
    serial = "; serial decode, seconds per image even on a GPU" if model.coding == AUTOREGRESSIVE else ""
    name = codec_name(model, metric)
    return type(re.sub(r"\W", "_", name), (CompressaiZooCodec,), {
        "__doc__": f"{model.title}, CompressAI {model.architecture} trained for {trained}{alias}{serial}.",
        "__module__": __name__,
        "name": name,
        "zoo_model": model,
        "metric": metric,
        "points": qualities,
        "default_points": qualities,
    })


#: Every zoo codec class by codec name.
ZOO_CODECS = {codec.name: register_codec(codec) for codec in
              (zoo_codec_class(model, metric) for model in ZOO for metric in model.metrics)}
