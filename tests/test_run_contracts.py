"""What codecs declare and a run checks against it: options (which a codec takes, their
ranges, the samplers and devices they mean something for), registration under one name,
the network protocol of the generative adapters; and what a refused resume says."""

import math

import pytest

from rdpbench.codecs import CODECS, get_codec
from rdpbench.errors import RdpbenchError
from rdpbench.run import RunSettings, evaluate, make_plan

from test_codec_ours import checkpoint  # noqa: F401  (a fixture: a tiny trained decoder)


def plan_of(image_folder, tmp_path, **settings):
    return make_plan(RunSettings(dataset=str(image_folder), out=tmp_path / "out", device="cpu", **settings))


def test_every_codec_is_registered_under_its_own_name():
    for name in CODECS.names():
        assert CODECS.get(name).name == name


def test_a_type_error_inside_a_plugin_constructor_is_not_blamed_on_options():
    with pytest.raises(TypeError, match="update expected at most 1 argument"):
        get_codec("plugin_codecs:BuggyConstructorJpeg")


def test_a_plugin_takes_the_options_it_declares_and_refuses_others_by_name():
    assert get_codec("plugin_codecs:QualityKnobJpeg", subsampling=0).subsampling == 0
    with pytest.raises(RdpbenchError, match=r"takes no option eta \(its options: subsampling\)"):
        get_codec("plugin_codecs:QualityKnobJpeg", eta=0.5)


def test_options_a_codec_does_not_take_are_refused_before_any_work(image_folder, tmp_path):
    with pytest.raises(RdpbenchError, match=r"codec jpeg takes no option precision \(it takes none\)"):
        plan_of(image_folder, tmp_path, codec="jpeg", codec_options={"precision": "bf16"})
    with pytest.raises(RdpbenchError, match="codec jpeg takes no option batch_size"):
        plan_of(image_folder, tmp_path, codec="jpeg", batch_size=2)
    assert not (tmp_path / "out").exists()


def test_options_that_cannot_help_on_the_cpu_are_said(image_folder, tmp_path):
    plan = plan_of(image_folder, tmp_path, codec="cdc-eps-rho0", codec_options={"precision": "bf16", "compile": True})
    assert any("--precision bf16 on the CPU" in note for note in plan.notes)
    assert any("--compile on the CPU" in note for note in plan.notes)
    assert not plan_of(image_folder, tmp_path, codec="cdc-eps-rho0").notes


@pytest.mark.parametrize("eta", [-1.0, 5.0, math.inf, math.nan])
def test_eta_outside_zero_to_one_is_refused(checkpoint, eta):  # noqa: F811
    with pytest.raises(RdpbenchError, match="eta is a number from 0"):
        get_codec("ours", checkpoint=[str(checkpoint)], eta=eta)


def test_eta_needs_a_ddim_sampler(checkpoint, image_folder, tmp_path):  # noqa: F811
    options = {"checkpoint": [str(checkpoint)], "eta": 0.5}
    with pytest.raises(RdpbenchError, match="--eta applies to DDIM samplers"):
        plan_of(image_folder, tmp_path, codec="ours", points=["1"], samplers=["ddpm10", "msh"], codec_options=options)
    plan = plan_of(image_folder, tmp_path, codec="ours", points=["1"], samplers=["ddim3", "msh"], codec_options=options)
    assert plan.codec.eta == 0.5


def test_a_refused_resume_names_the_setting_that_differs(checkpoint, image_folder, tmp_path):  # noqa: F811
    def settings(eta):
        return RunSettings(codec="ours", points=["1"], samplers=["ddim2"], dataset=str(image_folder), limit=1,
                           out=tmp_path / "out", name="run", device="cpu",
                           codec_options={"checkpoint": [str(checkpoint)], "eta": eta})

    evaluate(settings(0.0), progress=False)
    with pytest.raises(RdpbenchError, match=r"different codec setting ddim_eta \(0.0; this run: 0.5\)"):
        evaluate(settings(0.5), progress=False)


def protocol_members(protocol: type) -> set[str]:
    """The members a Protocol class declares, its bases' included."""
    members = set()
    for cls in protocol.__mro__:
        if cls.__module__ == protocol.__module__:
            members |= {name for name in vars(cls) if not name.startswith("_")} | set(vars(cls).get("__annotations__", {}))
    return members


def test_the_generative_networks_follow_the_declared_protocols():
    from rdpbench.codecs.generative import GeneratorNetwork, HyperpriorNetwork
    from rdpbench.networks.cdc import CdcModel
    from rdpbench.networks.hific_autoencoder import HificAutoencoder
    from rdpbench.networks.hific_port import HificPort

    assert {"analysis", "hyper_latents", "entropy_models", "estimate_offset"} <= protocol_members(HyperpriorNetwork)
    for network, protocol in ((CdcModel, HyperpriorNetwork), (HificAutoencoder, GeneratorNetwork),
                              (HificPort, GeneratorNetwork)):
        missing = sorted(name for name in protocol_members(protocol) if not hasattr(network, name))
        assert not missing, f"{network.__name__} lacks {missing}"
