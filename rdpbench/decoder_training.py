"""Wiring for ``rdpbench train``: the frozen MSH encoder and entropy model of one quality, a
set of training images and the LPIPS(VGG) loss, handed to ``rdpbench.diffusion.train``."""

from __future__ import annotations

import dataclasses
import warnings
from pathlib import Path

from .codecs import get_codec
from .datasets import get_dataset
from .diffusion.training import (
    LOSS_PRESETS,
    TrainingConfig,
    TrainingState,
    check_resumable,
    random_crops,
    read_checkpoint,
    train,
)
from .diffusion.unet import UNET_SIZES
from .errors import RdpbenchError, UnknownNameError
from .run.settings import resolve_device
from .weights import get_weight_file, loading, require, weights_only_loads

#: LPIPS with VGG, as the authors' training loss.
LPIPS_VGG_FILES = ["vgg16-397923af.pth", "vgg.pth"]


def lpips_vgg(device: str):
    """LPIPS(VGG) as a loss on images in [-1, 1] (frozen, eval mode)."""
    files = [get_weight_file(name) for name in LPIPS_VGG_FILES]
    require(files)
    import lpips

    with warnings.catch_warnings(), loading(files), weights_only_loads():
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        network = lpips.LPIPS(net="vgg", version="0.1", verbose=False)
    return network.eval().requires_grad_(False).to(device)


def run_training(
    *, quality: str, out: Path, data: str, steps: int, size: str, batch_size: int, crop: int,
    loss: str, rho: float, lr: float, save_every: int, log_every: int, device: str,
    seed: int, progress: bool = True,
) -> TrainingState:
    """Train (or resume) the decoder of MSH quality ``quality`` into checkpoint ``out``."""
    if size not in UNET_SIZES:
        raise UnknownNameError("network size", size, sorted(UNET_SIZES))
    if loss not in LOSS_PRESETS:
        raise UnknownNameError("loss preset", loss, sorted(LOSS_PRESETS))
    if crop % 64:
        raise RdpbenchError(f"--crop {crop}: must be a multiple of 64 (the MSH encoder's stride)")
    device = resolve_device(device)
    msh = get_codec("msh", device=device)
    quality = msh.check_point(quality)
    with loading(msh.weight_files([quality])):
        msh.prepare([quality])
    latent_channels = msh.model(quality).g_a[-1].out_channels
    unet_config = dataclasses.replace(
        UNET_SIZES[size], latent_channels=latent_channels, learn_sigma=LOSS_PRESETS[loss]["learn_sigma"]
    )
    config = TrainingConfig(
        steps=steps, batch_size=batch_size, crop=crop, lr=lr, loss=loss, rho=rho,
        save_every=save_every, log_every=log_every, seed=seed,
    )
    dataset = get_dataset(data)
    condition = {"codec": "msh", "quality": quality, "training_data": dataset.name}
    if Path(out).exists():  # refuse before loading the loss network and the images
        try:
            payload = read_checkpoint(Path(out))
        except ValueError as error:
            raise RdpbenchError(f"cannot resume training: {error}") from None
        check_resumable(Path(out), payload, unet_config, config, condition)
    perceptual = None
    if rho > 0:
        network = lpips_vgg(device)
        perceptual = lambda x0, predicted: network(x0, predicted)  # noqa: E731  (both in [-1, 1])
    batches = random_crops([item.load_rgb for item in dataset.images], crop, batch_size, seed)
    return train(
        batches,
        lambda x: msh.latent(x, quality),
        Path(out),
        unet_config,
        config,
        condition=condition,
        device=device,
        perceptual=perceptual,
        progress=progress,
    )
