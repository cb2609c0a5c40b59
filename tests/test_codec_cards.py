from rdpbench.codecs.cards import load_card, published_points


def test_msh_card_carries_compressais_published_kodak_points():
    points = published_points("msh")
    assert list(points.quality) == ["1", "2", "3"]
    assert list(points.bpp) == [0.1239, 0.1980, 0.3072]
    assert (points.dataset == "kodak").all() and points.citation.notna().all()


def test_every_published_curve_has_equal_length_columns():
    for name in ("msh", "hific"):
        for curve in load_card(name)["published"]:
            lengths = {len(v) for v in curve.values() if isinstance(v, list)}
            assert len(lengths) == 1, name


def test_codec_without_card_has_no_published_points():
    assert published_points("jpeg").empty
