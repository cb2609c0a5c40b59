"""DINOv2's Vision Transformer (Oquab et al. 2023) as its hub backbones are built: pre-norm
blocks with layer scale, a class token, no register tokens, learned position embeddings for
the training grid (37 x 37 patches of 14 pixels for the published files) interpolated to the
input's grid. Parameter names and shapes are those of the published checkpoints
(``dinov2_vitl14_pretrain.pth``: ``cls_token``, ``pos_embed``, ``mask_token``,
``patch_embed.proj``, ``blocks.<i>.{norm1, attn.qkv, attn.proj, ls1.gamma, norm2, mlp.fc1,
mlp.fc2, ls2.gamma}``, ``norm``).

The size of the network is read from the checkpoint's tensors (``from_state_dict``): width,
depth, patch size, MLP width and training grid. The head count is not in the tensors; every
DINOv2 backbone (ViT-S/B/L/g) has heads of 64 channels, so it is the width divided by 64.
"""

from __future__ import annotations

import math

import torch
from torch import nn

HEAD_CHANNELS = 64
#: DINOv2's position-embedding interpolation scales by (grid + 0.1) / trained grid, bicubic,
#: without antialiasing (its hub models' ``interpolate_offset`` and ``interpolate_antialias``).
INTERPOLATE_OFFSET = 0.1


class LayerScale(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, tokens, dim = x.shape
        q, k, v = self.qkv(x).reshape(batch, tokens, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        attended = nn.functional.scaled_dot_product_attention(q, k, v)
        return self.proj(attended.transpose(1, 2).reshape(batch, tokens, dim))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, hidden: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, hidden)
        self.ls2 = LayerScale(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    def __init__(self, patch_size: int, dim: int):
        super().__init__()
        self.proj = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class DinoV2ViT(nn.Module):
    """The backbone; ``forward`` gives the normalised class token (the hub model's output)."""

    def __init__(self, dim: int = 1024, depth: int = 24, patch_size: int = 14, hidden: int = 4096,
                 trained_grid: int = 37):
        super().__init__()
        self.patch_size = patch_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + trained_grid**2, dim))
        self.mask_token = nn.Parameter(torch.zeros(1, dim))  # used in training only; kept for the keys
        self.patch_embed = PatchEmbed(patch_size, dim)
        self.blocks = nn.ModuleList(Block(dim, dim // HEAD_CHANNELS, hidden) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    @classmethod
    def from_state_dict(cls, state: dict[str, torch.Tensor]) -> DinoV2ViT:
        """The network a checkpoint's tensors describe, with those tensors loaded (strictly)."""
        try:
            dim = state["cls_token"].shape[-1]
            depth = 1 + max(int(key.split(".")[1]) for key in state if key.startswith("blocks."))
            network = cls(dim, depth, state["patch_embed.proj.weight"].shape[-1],
                          state["blocks.0.mlp.fc1.weight"].shape[0], math.isqrt(state["pos_embed"].shape[1] - 1))
        except (KeyError, ValueError, AttributeError, IndexError) as error:
            raise ValueError(f"not a DINOv2 ViT state dict (no usable {error})") from None
        network.load_state_dict(state)
        return network

    def position_embedding(self, rows: int, columns: int) -> torch.Tensor:
        """The position embeddings of a rows x columns grid of patches, interpolated as DINOv2 does."""
        trained = math.isqrt(self.pos_embed.shape[1] - 1)
        if rows == columns == trained:
            return self.pos_embed
        embedding = self.pos_embed.float()
        grid = embedding[:, 1:].reshape(1, trained, trained, -1).permute(0, 3, 1, 2)
        scale = ((rows + INTERPOLATE_OFFSET) / trained, (columns + INTERPOLATE_OFFSET) / trained)
        grid = nn.functional.interpolate(grid, scale_factor=scale, mode="bicubic", antialias=False)
        grid = grid.permute(0, 2, 3, 1).reshape(1, rows * columns, -1)
        return torch.cat([embedding[:, :1], grid], dim=1).to(self.pos_embed.dtype)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, dim) class-token features of normalised (N, 3, H, W) images, H and W multiples
        of the patch size."""
        tokens = self.patch_embed(images)
        tokens = torch.cat([self.cls_token.expand(len(tokens), -1, -1), tokens], dim=1)
        tokens = tokens + self.position_embedding(images.shape[2] // self.patch_size,
                                                  images.shape[3] // self.patch_size)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)[:, 0]
