"""Codecs that tests load as plug-ins through the ``module:Class`` syntax."""

import os
import time

import torch

from rdpbench.codecs.options import CodecOption
from rdpbench.codecs.pillow import JpegCodec
from rdpbench.errors import RdpbenchError


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
