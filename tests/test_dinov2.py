"""FD-DINOv2: the DINOv2 network's key layout, its features of the run's patches, and runs
that score it beside FID (on a tiny seeded DINOv2 with the published file's key layout)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from rdpbench.metrics import get_metric, higher_is_better
from rdpbench.metrics.features import DinoV2Features
from rdpbench.metrics.fid import frechet_distance
from rdpbench.metrics.patches import extract_patches
from rdpbench.networks.dinov2 import DinoV2ViT
from rdpbench.paths import RunFolder
from rdpbench.schema import DEFAULT_SAMPLER

from conftest import invoke, make_image_folder, photo_tensor, tiny_dinov2


def test_default_network_has_the_published_vitl14_keys_and_shapes():
    with torch.device("meta"):
        state = DinoV2ViT().state_dict()
    # DINOv2's ViT-L/14 hub backbone: 3 tokens/embeddings, the patch convolution, 24 blocks
    # of 14 tensors, the final norm; a 37 x 37 training grid (518 pixels)
    assert len(state) == 3 + 2 + 24 * 14 + 2
    expected = {"cls_token": (1, 1, 1024), "pos_embed": (1, 1 + 37 * 37, 1024), "mask_token": (1, 1024),
                "patch_embed.proj.weight": (1024, 3, 14, 14), "blocks.23.attn.qkv.weight": (3072, 1024),
                "blocks.0.ls1.gamma": (1024,), "blocks.0.mlp.fc1.weight": (4096, 1024),
                "blocks.23.ls2.gamma": (1024,), "norm.bias": (1024,)}
    assert {key: tuple(state[key].shape) for key in expected} == expected


def test_the_network_is_rebuilt_from_its_tensors_alone():
    network = tiny_dinov2().eval()
    rebuilt = DinoV2ViT.from_state_dict(network.state_dict()).eval()
    images = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(rebuilt(images), network(images))
    assert rebuilt(images).shape == (2, 128)
    with pytest.raises(ValueError, match="not a DINOv2 ViT state dict"):
        DinoV2ViT.from_state_dict({"weight": torch.zeros(3)})


def test_position_embeddings_are_interpolated_to_the_input_grid():
    network = tiny_dinov2()
    assert network.position_embedding(5, 5) is network.pos_embed  # the training grid as it is
    with torch.no_grad():
        network.pos_embed[:, 1:] = 0.25  # bicubic interpolation keeps a constant
    embedding = network.position_embedding(16, 16)
    assert embedding.shape == (1, 1 + 16 * 16, 128)
    assert torch.allclose(embedding[:, 1:], torch.full_like(embedding[:, 1:], 0.25), atol=1e-6)
    assert torch.equal(embedding[:, 0], network.pos_embed[:, 0])


def independent_features(network: torch.nn.Module, image: torch.Tensor) -> np.ndarray:
    """dgm-eval's preprocessing of each patch written out here: Pillow bicubic to 224, /255,
    ImageNet normalisation; then the network's class tokens."""
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    rows = []
    for patch in extract_patches(image):
        resized = Image.fromarray(patch.permute(1, 2, 0).numpy()).resize((224, 224), Image.BICUBIC)
        normalised = (np.asarray(resized) / 255 - mean) / std
        with torch.no_grad():
            rows.append(network(torch.from_numpy(normalised).permute(2, 0, 1)[None].float())[0].double().numpy())
    return np.stack(rows)


def load(path) -> torch.Tensor:
    return torch.from_numpy(np.array(Image.open(path).convert("RGB"))).permute(2, 0, 1)


def test_fd_dinov2_is_registered_lower_is_better_and_0_on_identical_sets(metric_weights):
    assert higher_is_better("fd_dinov2") is False
    extractor = DinoV2Features()
    extractor.prepare()
    features = np.concatenate([extractor(photo_tensor(256, 512, seed)) for seed in range(3)])
    assert features.shape == (6, 1024 // 8)  # the tiny network: 128 dimensions, 2 patches per image
    assert get_metric("fd_dinov2").score_sets(features, features, extractor) == pytest.approx(0, abs=1e-9)


def test_run_scores_fid_and_fd_dinov2_from_their_own_saved_features(tmp_path, metric_weights):
    images = make_image_folder(tmp_path / "images", [(256, 384), (256, 256), (384, 256)])
    out = tmp_path / "out"
    result = invoke("run", "--codec", "jpeg", "--quality", "10", "--dataset", images, "--out", out,
                    "--metrics", "fid,fd_dinov2", "--save-images", "--name", "r")
    assert result.exit_code == 0, result.output
    folder = RunFolder(out / "r")
    patches = json.loads(folder.manifest.read_text())["metric_protocol"]["patches"]
    keys = patches["features_keys"]
    assert list(keys) == ["inception", "dinov2"] and keys["dinov2"].startswith("dinov2-vitl14-")
    assert patches["extractors"]["dinov2"]["extractor"] == "dinov2-vitl14"
    names = sorted(p.stem for p in images.iterdir())
    for key, dimensions in ((keys["inception"], 2048), (keys["dinov2"], 128)):
        assert all(np.load(folder.features(key, "10", DEFAULT_SAMPLER, name)).shape == (1, dimensions)
                   for name in names)
        assert all(folder.reference_features(key, name).is_file() for name in names)

    network = tiny_dinov2().eval()
    reference = np.concatenate([independent_features(network, load(images / f"{name}.png")) for name in names])
    decoded = np.concatenate([independent_features(network, load(folder.image("10", DEFAULT_SAMPLER, name)))
                              for name in names])
    point = pd.read_csv(folder.points_csv, float_precision="round_trip").iloc[0]
    assert point.fd_dinov2 == pytest.approx(frechet_distance(reference, decoded), rel=1e-5)
    assert point.fd_dinov2 > 0 and point.fid > 0


def test_a_missing_dinov2_file_is_named_before_any_work(tmp_path, torch_home, monkeypatch):
    monkeypatch.setenv("RDPBENCH_CACHE", str(tmp_path / "cache"))
    images = make_image_folder(tmp_path / "images", [(256, 256), (256, 256)])
    result = invoke("run", "--codec", "jpeg", "--dataset", images, "--out", tmp_path / "out",
                    "--metrics", "fd_dinov2")
    assert result.exit_code != 0
    assert "dinov2_vitl14_pretrain.pth" in result.output
    assert str(torch_home / "hub" / "checkpoints") in result.output.replace("\n", "")
    assert not (tmp_path / "out").exists()
