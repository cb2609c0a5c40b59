"""Codecs that tests load as plug-ins through the ``module:Class`` syntax."""

import os
import time

import torch

from rdpbench.codecs.base import Codec
from rdpbench.codecs.options import CodecOption
from rdpbench.codecs.pillow import JpegCodec
from rdpbench.errors import RdpbenchError
from rdpbench.images import from_float, to_float


class CountingJpeg(JpegCodec):
    """JPEG that appends one line per encode to $COUNT_FILE (to count real work)."""

    name = "counting-jpeg"

    def encode_payload(self, image, point):
        if os.environ.get("COUNT_FILE"):
            with open(os.environ["COUNT_FILE"], "a") as handle:
                handle.write("encode\n")
        return super().encode_payload(image, point)


class SlowJpeg(CountingJpeg):
    """JPEG that takes a while per image, so a test can kill a run midway."""

    name = "slow-jpeg"

    def encode_payload(self, image, point):
        time.sleep(float(os.environ.get("SLOW_SECONDS", "0.3")))
        return super().encode_payload(image, point)


class WideOnlyJpeg(JpegCodec):
    """JPEG that declares a minimum size, as codecs with deep strides do."""

    name = "wide-only-jpeg"
    min_size = (45, 45)


class FailingJpeg(CountingJpeg):
    """JPEG whose decoder raises on the image whose height is $FAIL_HEIGHT (a decoder bug)."""

    name = "failing-jpeg"

    def decode_payload(self, stream, sampler, seed):
        if str(stream.height) == os.environ.get("FAIL_HEIGHT"):
            raise ValueError("corrupt entropy-coder state")
        return super().decode_payload(stream, sampler, seed)


class MemoryHungryJpeg(JpegCodec):
    """JPEG whose decoder runs out of GPU memory on batches of more than $MAX_BATCH images,
    and logs every batch size to $BATCH_LOG."""

    name = "memory-hungry-jpeg"

    def decode_payloads(self, streams, sampler, seeds):
        with open(os.environ["BATCH_LOG"], "a") as handle:
            handle.write(f"{len(streams)}\n")
        if len(streams) > int(os.environ["MAX_BATCH"]):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (test)")
        return super().decode_payloads(streams, sampler, seeds)


class BuggyConstructorJpeg(JpegCodec):
    """JPEG whose constructor has a bug that raises a TypeError about keywords of its own."""

    name = "buggy-constructor-jpeg"

    def __init__(self, device="cpu"):
        super().__init__(device)
        dict(quality=1).update(1, 2)  # TypeError inside the constructor, not about rdpbench's options


class QualityKnobJpeg(JpegCodec):
    """JPEG that declares an option of its own."""

    name = "quality-knob-jpeg"
    options = (CodecOption("subsampling", "chroma subsampling"),)

    def __init__(self, device="cpu", subsampling: int = 2):
        super().__init__(device)
        self.subsampling = subsampling


class FailingOnSecondRank(JpegCodec):
    """JPEG that cannot be built on torchrun's rank 1 (a rank that fails before its run starts)."""

    name = "failing-on-second-rank"

    def __init__(self, device="cpu"):
        super().__init__(device)
        if os.environ.get("RANK") == "1":
            raise RdpbenchError("this rank cannot build its codec")


class TinyConvCodec(Codec):
    """A codec of two convolutions whose multiply-accumulates a test counts by hand: the encoder
    Conv2d(3, 8, 5, stride 2, padding 2), int8-rounded latents as the payload, the decoder
    ConvTranspose2d(8, 3, 4, stride 2, padding 1), cropped to the original size."""

    name = "tiny-conv"
    runs_networks = True
    points = ["1"]
    default_points = ["1"]

    def __init__(self, device="cpu"):
        super().__init__(device)
        torch.manual_seed(0)
        self.encoder = torch.nn.Conv2d(3, 8, 5, stride=2, padding=2)
        self.decoder = torch.nn.ConvTranspose2d(8, 3, 4, stride=2, padding=1)

    @torch.inference_mode()
    def encode_payload(self, image, point):
        latent = self.encoder(to_float(image)).mul(16).round().clamp(-128, 127)
        return latent.to(torch.int8).numpy().tobytes()

    @torch.inference_mode()
    def decode_payload(self, stream, sampler, seed):
        shape = (1, 8, (stream.height + 1) // 2, (stream.width + 1) // 2)
        latent = torch.frombuffer(bytearray(stream.payload), dtype=torch.int8).reshape(shape).float() / 16
        return from_float(self.decoder(latent)[..., : stream.height, : stream.width])
