import pytest

from rdpbench.codecs.cards import load_card, published_points
from rdpbench.errors import RdpbenchError


def test_msh_card_carries_compressais_published_kodak_points():
    points = published_points("msh")
    points = points[points.dataset == "kodak"]
    assert list(points.quality) == ["1", "2", "3"]
    assert list(points.bpp) == [0.1239, 0.1980, 0.3072]
    assert (points.dataset == "kodak").all() and points.citation.notna().all()


def test_every_published_curve_has_equal_length_columns_and_a_registered_image_set():
    from rdpbench.codecs.cards import cards_dir
    from rdpbench.datasets import DATASETS
    from rdpbench.metrics import METRICS

    for path in cards_dir().glob("*.toml"):
        for curve in load_card(path.stem).get("published", []):
            lengths = {len(v) for v in curve.values() if isinstance(v, list)}
            assert len(lengths) == 1, path.name
            assert curve["dataset"] in DATASETS, (path.name, curve["dataset"])
            metrics = {k for k, v in curve.items() if isinstance(v, list)} - {"quality", "bpp"}
            assert metrics <= set(METRICS.names()), (path.name, metrics - set(METRICS.names()))


def test_codec_without_card_has_no_published_points():
    assert published_points("avif").empty


def test_every_card_is_named_after_a_registered_codec():
    from rdpbench.codecs import CODECS
    from rdpbench.codecs.cards import cards_dir

    for path in cards_dir().glob("*.toml"):
        assert load_card(path.stem)["name"] == path.stem
        assert path.stem in CODECS.names(), path.name


def test_classical_cards_carry_compressais_curves_on_kodak_and_both_clic2020_test_sets():
    from rdpbench.codecs import get_codec

    for name in ("jpeg", "webp", "jpeg2000", "bpg", "vtm"):
        points = published_points(name)
        assert set(points.dataset) == {"kodak", "clic2020-pro-test", "clic2020-mobile-test"}, name
        assert (points.codec == name).all() and points.psnr.notna().all() and points.ms_ssim.notna().all()
        codec_points = set(get_codec(name).points)
        assert set(points.quality) <= codec_points, name  # the card's settings are the codec's rate points


def test_classical_card_rates_follow_their_settings():
    # JPEG and WebP spend more bits as quality grows; BPG and VTM fewer as the QP grows
    for name, grows in (("jpeg", True), ("webp", True), ("bpg", False), ("vtm", False)):
        for _, curve in published_points(name).groupby("dataset"):
            settings = [int(q) for q in curve.quality]
            rates = list(curve.bpp)
            order = sorted(range(len(settings)), key=settings.__getitem__)
            in_order = [rates[i] for i in order]
            assert in_order == sorted(in_order, reverse=not grows), name
    # JPEG 2000's setting is a compression ratio against 24 bits per pixel: OpenJPEG's rate
    # allocation lands at or just under 24 / ratio bpp
    j2k = published_points("jpeg2000")
    assert (j2k.bpp * j2k.quality.astype(float)).between(23.5, 24.01).all()


def test_published_curves_only_beside_the_same_full_image_set():
    import pandas as pd

    from rdpbench.codecs.cards import published_beside
    from rdpbench.datasets import content_sha256, kodak_table, published_content_sha256

    [kodak] = [sha for sha, name in published_content_sha256().items() if name == "kodak"]
    first_four = content_sha256({name.split(".")[0]: pixels for name, _, pixels in kodak_table()[:4]})
    on_kodak = pd.DataFrame({"codec": ["jpeg"], "dataset": ["my-copy"], "dataset_sha256": [kodak]})
    on_subset = pd.DataFrame({"codec": ["jpeg"], "dataset": ["kodak"], "dataset_sha256": [first_four]})
    assert set(published_beside(on_kodak).dataset) == {"kodak"}
    # the measured codecs' own curves, and those asked for
    assert set(published_beside(on_kodak).codec) == {"jpeg"}
    assert set(published_beside(on_kodak, ["msh", "hific"]).codec) == {"jpeg", "msh", "hific"}
    assert published_beside(on_subset).empty
    with pytest.raises(RdpbenchError, match="no published curves for nonesuch; codecs with published curves: "):
        published_beside(on_kodak, ["nonesuch"])


def test_published_fid_only_beside_fid_over_the_same_patches(monkeypatch):
    import pandas as pd

    import rdpbench.codecs.cards as cards
    from rdpbench.datasets import published_content_sha256

    [kodak] = [sha for sha, name in published_content_sha256().items() if name == "kodak"]
    curve = {"codec": "hific", "label": "HiFiC (published)", "dataset": "kodak", "patch_protocol": "hific",
             "quality": "lo", "bpp": 0.2, "psnr": 28.0, "fid": 9.0}
    monkeypatch.setattr(cards, "all_published_points", lambda: pd.DataFrame([curve]))

    def beside(protocol):
        points = pd.DataFrame({"codec": ["hific"], "dataset_sha256": [kodak], "patch_protocol": [protocol]})
        return cards.published_beside(points).iloc[0]

    assert beside("hific").fid == 9.0
    drawn = beside("paper")
    assert pd.isna(drawn.fid) and drawn.psnr == 28.0


def test_published_points_far_outside_the_measured_rates_are_left_out():
    import pandas as pd

    from rdpbench.codecs.cards import RATE_MARGIN, published_beside, published_points
    from rdpbench.datasets import published_content_sha256

    [kodak] = [sha for sha, name in published_content_sha256().items() if name == "kodak"]
    measured = pd.DataFrame({"codec": ["jpeg", "jpeg"], "bpp": [0.1, 0.4], "dataset_sha256": [kodak, kodak]})
    jpeg = published_beside(measured)
    jpeg = jpeg[jpeg.codec == "jpeg"]
    card = published_points("jpeg")
    card = card[card.dataset == "kodak"]
    inside = card[(card.bpp >= 0.1 / RATE_MARGIN) & (card.bpp <= 0.4 * RATE_MARGIN)]
    assert 0 < len(jpeg) == len(inside) < len(card)
    assert list(jpeg.bpp) == list(inside.bpp)
