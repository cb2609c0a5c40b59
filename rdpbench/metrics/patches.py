"""Cutting images into the 256x256 patches that patch FID/KID are computed on.

Protocols:
  ``hific``  the non-overlapping 256x256 grid, plus the same grid shifted by 128 pixels in
             both directions; partial patches are dropped (Mentzer et al. 2020, also used by
             Yang & Mandt). A 768x512 Kodak image gives 6 + 2 = 8 patches.
  ``grid``   the unshifted grid only (6 patches of a Kodak image).
  ``paper``  the seed paper's own: portrait images are turned landscape by swapping height
             and width (a transpose, as the authors' metric script permutes the axes; images
             are coded in their own orientation first), then the unshifted grid (144 Kodak
             patches), with pyiqa's clean-fid Inception features and pyiqa's FID.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from ..errors import UnknownNameError

PATCH_SIZE = 256
PATCH_PROTOCOLS = {
    "hific": "256x256 grid plus the grid shifted by 128 in both directions, partial patches dropped",
    "grid": "256x256 grid only, partial patches dropped",
    "paper": "portrait images transposed to landscape, then the 256x256 grid only, partial patches "
             "dropped; pyiqa's Inception with clean-fid resizing, pyiqa's FID",
}


def check_protocol(protocol: str) -> str:
    if protocol not in PATCH_PROTOCOLS:
        raise UnknownNameError("patch protocol", protocol, sorted(PATCH_PROTOCOLS))
    return protocol


def oriented(image: torch.Tensor, protocol: str) -> torch.Tensor:
    """The image as the protocol cuts it: under ``paper``, portrait images transposed."""
    if protocol == "paper" and image.shape[1] > image.shape[2]:
        return image.transpose(1, 2)
    return image


def patch_corners(height: int, width: int, protocol: str = "hific") -> list[tuple[int, int]]:
    """(top, left) of every patch of an H x W image, grid first, then the shifted grid; under
    ``paper`` the corners are those of the transposed image when H > W."""
    protocol = check_protocol(protocol)
    if protocol == "paper" and height > width:
        height, width = width, height
    offsets = [0, PATCH_SIZE // 2] if protocol == "hific" else [0]
    corners = []
    for offset in offsets:
        for top in range(offset, height - PATCH_SIZE + 1, PATCH_SIZE):
            for left in range(offset, width - PATCH_SIZE + 1, PATCH_SIZE):
                corners.append((top, left))
    return corners


def extract_patches(image: torch.Tensor, protocol: str = "hific") -> torch.Tensor:
    """uint8 (3, H, W) -> uint8 (N, 3, 256, 256) patches (N may be 0 for small images)."""
    empty = image.new_empty((0, 3, PATCH_SIZE, PATCH_SIZE))
    return torch.cat([empty, *patch_batches(image, protocol, batch_size=64)])


def patch_batches(image: torch.Tensor, protocol: str, batch_size: int) -> Iterator[torch.Tensor]:
    """The patches of :func:`extract_patches` in order, at most ``batch_size`` at a time, so
    that a large image's patches (and their network activations) are never all held at once."""
    image = oriented(image, check_protocol(protocol))
    corners = patch_corners(image.shape[1], image.shape[2], protocol)
    for start in range(0, len(corners), batch_size):
        yield torch.stack([image[:, top : top + PATCH_SIZE, left : left + PATCH_SIZE]
                           for top, left in corners[start : start + batch_size]])
