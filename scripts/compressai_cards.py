"""Codec cards of the CompressAI zoo codecs (``codecs/<codec>.toml``), written from the
published results in a CompressAI checkout (run once, outside the tests):

    python scripts/compressai_cards.py --compressai PATH/TO/CompressAI --out codecs

Per codec and image set, the file taken is the one closest to what rdpbench measures:
- ``results/image/8bit-decoded/<set>/compressai-<arch>_mse_ans_cuda.json`` for the MSE models
  on Kodak and CLIC 2020 mobile: metrics of the 8-bit reconstructions, as rdpbench's;
- ``results/image/<set>/compressai-<arch>_<metric>_cpu.json`` otherwise: metrics of the float
  reconstructions, before rounding to 8 bits (made before CompressAI's evaluation rounded).
  The 8-bit folder has no CLIC 2020 professional results, and its ``_ms-ssim_`` files repeat
  the MSE models' numbers (the same bpp to the last digit, their ``name`` fields say ``mse``),
  so the MS-SSIM models' float results are used.
Both folders' rates are real bitstreams. CompressAI's ``ms-ssim-rgb`` is rdpbench's
``ms_ssim`` (the same call of pytorch_msssim). ``msh`` keeps its own card; ``mbt2018-mean``'s
card points to it rather than repeating its curves.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from rdpbench.codecs.compressai_zoo import MSE, ZOO, ZooModel, codec_name

CITATION = ("J. Begaint, F. Racape, S. Feltman, A. Pushparaja. CompressAI: a PyTorch library and evaluation "
            "platform for end-to-end compression research. arXiv:2011.03029, 2020.")
#: rdpbench dataset -> (CompressAI results folder, description for the source line)
IMAGE_SETS = {
    "kodak": ("kodak", "Kodak, 24 images"),
    "clic2020-pro-test": ("clic2020-professional", "the CLIC 2020 professional test set, 250 images, per the "
                          "CompressAI maintainers in their issue 81"),
    "clic2020-mobile-test": ("clic2020-mobile", "the CLIC 2020 mobile test set, 178 images, per the CompressAI "
                             "maintainers in their issue 81"),
}
#: The training objective's lambda per quality (CompressAI's docs/source/zoo.rst).
LAMBDAS = {MSE: "0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800",
           "ms-ssim": "2.40, 4.58, 8.73, 16.64, 31.73, 60.50, 115.37, 220.00"}


def git_show(checkout: Path, path: str) -> str | None:
    done = subprocess.run(["git", "-C", str(checkout), "show", f"HEAD:{path}"], capture_output=True, text=True)
    return done.stdout if done.returncode == 0 else None


def published_file(checkout: Path, model: ZooModel, metric: str, folder: str) -> tuple[str, dict, bool]:
    """(path, results, whether the PSNR is of 8-bit reconstructions)."""
    eight_bit = f"results/image/8bit-decoded/{folder}/compressai-{model.architecture}_{metric}_ans_cuda.json"
    if metric == MSE and (text := git_show(checkout, eight_bit)):
        return eight_bit, json.loads(text)["results"], True
    path = f"results/image/{folder}/compressai-{model.architecture}_{metric}_cpu.json"
    return path, json.loads(git_show(checkout, path))["results"], False


def toml_list(values, form: str) -> str:
    return "[" + ", ".join(format(value, form) for value in values) + "]"


def card(checkout: Path, commit: str, model: ZooModel, metric: str) -> str:
    name = codec_name(model, metric)
    trained = "MSE" if metric == MSE else "MS-SSIM"
    qualities = [str(q) for q in range(1, model.qualities + 1)]
    lambdas = ", ".join(LAMBDAS[metric].split(", ")[: model.qualities])
    lines = [
        "# Codec card: data about a codec, read by rdpbench (not code).",
        f'name = "{name}"',
        f'title = "{model.title}, CompressAI {model.architecture}, trained for {trained}"',
    ]
    if metric == MSE and model.mse_alias:
        lines.append(f'legend = "{name} (= {model.mse_alias})"')
    lines += [
        f'citation = "{model.citation}"',
        f'weights = "CompressAI model zoo (compressai.zoo.image.model_urls, {model.architecture} {metric}, qualities '
        f"1..{model.qualities}), BSD 3-Clause Clear licence (CompressAI's). Trained by CompressAI on 256x256 Vimeo90K "
        f'patches, lambda {lambdas} for qualities 1..{model.qualities}'
        + ("; the MS-SSIM weights are fine-tuned from the MSE ones" if metric != MSE else "") + '."',
    ]
    if metric == MSE and model.mse_alias:
        lines.append(f'published_numbers = "The same model and weights as {model.mse_alias}: CompressAI\'s '
                     f'published curves are on the {model.mse_alias} card, drawn once."')
        return "\n".join(lines) + "\n"
    for dataset, (folder, described) in IMAGE_SETS.items():
        path, results, eight_bit = published_file(checkout, model, metric, folder)
        psnr = ("PSNR and MS-SSIM of 8-bit reconstructions" if eight_bit else
                "PSNR and MS-SSIM of the float reconstructions before rounding to 8 bits, the PSNR a few "
                "hundredths of a dB above 8-bit PSNR and more at high rates")
        lines += [
            "",
            "[[published]]",
            f'label = "CompressAI {name} (published)"',
            f'source = "CompressAI {path} at commit {commit[:7]} ({described}; real bitstreams; {psnr})"',
            f'citation = "{CITATION}"',
            f'dataset = "{dataset}"',
            "quality = [" + ", ".join(f'"{q}"' for q in qualities) + "]",
            f"bpp = {toml_list(results['bpp'], '.5g')}",
            f"psnr = {toml_list(results['psnr-rgb'], '.5g')}",
            f"ms_ssim = {toml_list(results['ms-ssim-rgb'], '.5g')}",
        ]
        assert len(results["bpp"]) == model.qualities, path
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compressai", type=Path, required=True, help="a git checkout of InterDigitalInc/CompressAI")
    parser.add_argument("--out", type=Path, default=Path("codecs"))
    args = parser.parse_args()
    commit = subprocess.run(["git", "-C", str(args.compressai), "rev-parse", "HEAD"], capture_output=True,
                            text=True, check=True).stdout.strip()
    for model in ZOO:
        for metric in model.metrics:
            path = args.out / f"{codec_name(model, metric)}.toml"
            path.write_text(card(args.compressai, commit, model, metric))
            print(f"wrote {path}")


if __name__ == "__main__":
    main()
