"""``msh``: the mean-scale hyperprior of Minnen, Balle & Toderici, "Joint autoregressive and
hierarchical priors for learned image compression" (NeurIPS 2018), as CompressAI's
``mbt2018-mean`` (MSE-trained, qualities 1..8), with real entropy coding.

Notation: x the image in [0, 1], y = g_a(x) the latent, z = h_a(y) the hyper-latent; the
bitstream holds the range-coded z and y; y_hat is the decoded latent and x_hat = g_s(y_hat).
The latent is exposed (:meth:`MeanScaleHyperprior.decode_latent`) so that other decoders can
share this bitstream.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..bitstream import Bitstream, join_chunks, split_chunks
from ..images import from_float, to_float
from ..weights import WeightFile, compressai_weight_file, require
from .base import Codec
from .registry import register_codec

ARCHITECTURE = "mbt2018-mean"
#: g_a downsamples by 16 and h_a by 4 more: padded sizes must be multiples of 64.
STRIDE = 64


def load_compressai_model(file: WeightFile, device: torch.device):
    """Build a CompressAI mean-scale hyperprior from a checkpoint file, in eval mode."""
    from compressai.models import MeanScaleHyperprior as CompressaiMSH
    from compressai.zoo.pretrained import load_pretrained

    state_dict = load_pretrained(torch.load(file.path, map_location="cpu", weights_only=True))
    model = CompressaiMSH.from_state_dict(state_dict).eval()
    model.update()  # builds entropy-coder tables only if the checkpoint lacks them
    return model.to(device)


def padding(height: int, width: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """CompressAI's centred zero padding to multiples of 64 and the crop that undoes it."""
    from compressai.ops import compute_padding

    return compute_padding(height, width, min_div=STRIDE)


@register_codec
class MeanScaleHyperprior(Codec):
    """Mean-scale hyperprior (CompressAI mbt2018-mean, MSE), qualities 1..8 (paper: 1, 2, 3).

    Payload: the z string (varint length first) then the y string. Latent shapes follow
    from the original size in the container header, so no shapes are stored.
    """

    name = "msh"
    points = [str(q) for q in range(1, 9)]
    default_points = ["1", "2", "3"]
    bytes_per_pixel = 1000  # analysis and synthesis: 866 measured on the CPU at 512x512, quality 8 (full-size network, random weights)

    def __init__(self, device: str = "cpu"):
        super().__init__(device)
        self._models: dict[str, torch.nn.Module] = {}

    def weight_files(self, points: list[str]) -> list[WeightFile]:
        return [compressai_weight_file(ARCHITECTURE, int(p)) for p in points]

    def prepare(self, points: list[str]) -> None:
        require(self.weight_files(points))
        for point in points:
            self.model(point)

    def model(self, point: str):
        """The CompressAI network of rate point ``point``, loaded once."""
        if point not in self._models:
            [file] = self.weight_files([point])
            require([file])
            self._models[point] = load_compressai_model(file, self.device)
        return self._models[point]

    def encode_payload(self, image: torch.Tensor, point: str) -> bytes:
        return self.encode_payload_estimated(image, point)[0]

    @torch.inference_mode()
    def encode_payload_estimated(self, image: torch.Tensor, point: str) -> tuple[bytes, float]:
        """CompressAI's ``compress`` of the zero-padded image, step by step, with the
        likelihood estimate of the same latents."""
        from ..entropy import code_hyperprior

        _, height, width = image.shape
        pad, _ = padding(height, width)
        x = F.pad(to_float(image).to(self.device), pad, mode="constant", value=0)
        model = self.model(point)
        y = model.g_a(x)
        coded = code_hyperprior(y, model.h_a(y), model.entropy_bottleneck, model.gaussian_conditional,
                                self._hyper_synthesis(model))
        return join_chunks([coded.z_string, coded.y_string]), coded.estimated_bits

    @torch.inference_mode()
    def decode_latent(self, stream: Bitstream) -> torch.Tensor:
        """Entropy-decode the latent y_hat (1, M, H_pad/16, W_pad/16) from the bitstream."""
        from ..entropy import decode_hyperprior

        model = self.model(stream.point)
        z_string, y_string = split_chunks(stream.payload, 2)
        pad, _ = padding(stream.height, stream.width)
        padded_h = stream.height + pad[2] + pad[3]
        padded_w = stream.width + pad[0] + pad[1]
        z_size = (padded_h // STRIDE, padded_w // STRIDE)
        return decode_hyperprior(z_string, y_string, z_size, model.entropy_bottleneck,
                                 model.gaussian_conditional, self._hyper_synthesis(model))

    @staticmethod
    def _hyper_synthesis(model):
        return lambda z_hat: model.h_s(z_hat).chunk(2, 1)

    def latent(self, x: torch.Tensor, point: str) -> torch.Tensor:
        """y_hat of a batch x (N, 3, H, W) in [0, 1], H and W multiples of 64, without entropy
        coding: the same rounding of z and y around their medians and means as at decode time.
        This is what a decoder trained on the frozen encoder should see."""
        model = self.model(point)
        y = model.g_a(x)
        z = model.h_a(y)
        medians = model.entropy_bottleneck._get_medians().detach()
        z_hat = torch.round(z - medians) + medians
        _, means_hat = model.h_s(z_hat).chunk(2, 1)
        return torch.round(y - means_hat) + means_hat

    @torch.inference_mode()
    def decode_payload(self, stream: Bitstream, sampler: str, seed: int) -> torch.Tensor:
        return self.synthesize(stream, self.decode_latent(stream))

    def synthesize(self, stream: Bitstream, y_hat: torch.Tensor) -> torch.Tensor:
        """The standard MSH reconstruction g_s(y_hat), cropped to the original size."""
        x_hat = self.model(stream.point).g_s(y_hat)
        _, unpad = padding(stream.height, stream.width)
        return from_float(F.pad(x_hat, unpad))

    def describe(self) -> dict:
        import compressai

        return {"name": self.name, "architecture": ARCHITECTURE, "compressai": compressai.__version__}
