"""The diffusion decoder's pieces: schedules, respacing, samplers, network, training."""

import numpy as np
import pytest
import torch

from rdpbench.diffusion import ConditionalUNet, NoiseSchedule, UNetConfig, get_sampler
from rdpbench.diffusion.schedule import cosine_betas, linear_betas, space_timesteps
from rdpbench.diffusion.training import TrainingConfig, batch_loss, load_decoder, train
from rdpbench.errors import UnknownNameError

TINY = UNetConfig(model_channels=16, channel_mult=(1, 1, 1, 1, 1), res_blocks_down=1,
                  attention_levels=(4,), num_heads=2, norm_groups=4, latent_channels=8,
                  decoder_channels=(8, 8, 8, 8))
TRAINING_CHAIN = NoiseSchedule.create("cosine", 4000, 1000)


# -- schedules and respacing --------------------------------------------------------------
def test_cosine_schedule_follows_its_closed_form():
    alpha_bar = np.cumprod(1 - cosine_betas(4000))
    f = lambda t: np.cos((t / 4000 + 0.008) / 1.008 * np.pi / 2) ** 2  # noqa: E731
    t = np.array([1, 1000, 2000, 3000])
    assert alpha_bar[t - 1] == pytest.approx(f(t) / f(0), rel=1e-9)


def test_linear_schedule_spans_ho_et_al_betas():
    betas = linear_betas(1000)
    assert betas[0] == pytest.approx(1e-4) and betas[-1] == pytest.approx(0.02)


def test_respaced_chain_keeps_alpha_bar_at_the_kept_steps():
    assert TRAINING_CHAIN.timesteps[:3] == (0, 4, 8) and TRAINING_CHAIN.timesteps[-1] == 3999
    base = np.cumprod(1 - cosine_betas(4000))
    assert np.allclose(TRAINING_CHAIN.alphas_cumprod, base[list(TRAINING_CHAIN.timesteps)])
    assert np.allclose(np.cumprod(1 - TRAINING_CHAIN.betas), TRAINING_CHAIN.alphas_cumprod)


def reference_respacing(total: int, spec: str) -> list[int]:
    """improved-diffusion's space_timesteps, restated from its documentation: "ddimN" is the
    first integer stride (counting up from 1) whose range(0, total, stride) has N entries;
    otherwise the chain is cut into len(counts) parts (the first total % len(counts) one step
    longer) and each part takes its count at a fractional stride, accumulated and rounded."""
    if spec.startswith("ddim"):
        wanted = int(spec[4:])
        strides = [s for s in range(1, total) if -(-total // s) == wanted]
        if not strides:
            raise ValueError("no stride")
        return list(range(0, total, strides[0]))
    counts = [int(c) for c in spec.split(",")]
    lengths = [total // len(counts) + (i < total % len(counts)) for i in range(len(counts))]
    kept, offset = set(), 0
    for count, length in zip(counts, lengths):
        step = 1 if count <= 1 else (length - 1) / (count - 1)
        position = 0.0
        for _ in range(count):
            kept.add(offset + int(round(position)))
            position = position + step
        offset += length
    return sorted(kept)


@pytest.mark.parametrize("name, spec", [
    ("ddim10", "ddim10"), ("ddim100", "ddim100"), ("ddpm100", "100"), ("ddpm1000", "1000"),
    ("ddim7", "ddim7"), ("ddim3", "ddim3"), ("ddpm3", "3"), ("ddpm999", "999"), ("ddpm1", "1"),
    ("ddpm10,10,10", "10,10,10"), ("ddpm5,1,7", "5,1,7"), ("ddim4000", "ddim4000"),
])
def test_samplers_visit_the_base_steps_the_authors_scripts_visit(name, spec):
    assert get_sampler(name).chain(TRAINING_CHAIN).timesteps == tuple(reference_respacing(4000, spec))


def test_ddim10_and_ddim100_use_strides_400_and_40_of_the_base_chain():
    assert get_sampler("ddim10").chain(TRAINING_CHAIN).timesteps == tuple(range(0, 4000, 400))
    assert get_sampler("ddim100").chain(TRAINING_CHAIN).timesteps == tuple(range(0, 4000, 40))


def test_ddpm1000_walks_the_training_chain():
    assert get_sampler("ddpm1000").chain(TRAINING_CHAIN).timesteps == TRAINING_CHAIN.timesteps


def test_model_time_is_the_base_index_over_four():
    assert TRAINING_CHAIN.model_time(torch.tensor([0, 1, 999])).tolist() == [0.0, 1.0, 3999 / 4]


def test_ddim_without_an_exact_integer_stride_is_refused_naming_the_nearest():
    with pytest.raises(ValueError, match=r"ddim3000: no integer stride gives exactly 3000 steps .* 2000, 4000"):
        get_sampler("ddim3000").chain(TRAINING_CHAIN)


def test_respacing_rejects_more_steps_than_the_chain():
    with pytest.raises(ValueError):
        space_timesteps(10, "11")
    with pytest.raises(ValueError):
        get_sampler("ddpm4001").chain(TRAINING_CHAIN)


@pytest.mark.parametrize("name", ["ddim0", "euler10", "ddim", "ddpm-5", "ddim10-gamma", "ddim10-gamma-1"])
def test_bad_sampler_names_list_the_pattern(name):
    with pytest.raises(UnknownNameError, match=r"ddimN\[-gammaG\], ddpmN\[-gammaG\]"):
        get_sampler(name)


@pytest.mark.parametrize("family", ["ddim", "ddpm"])
def test_gamma_scales_the_initial_noise(family):
    """The first network call sees x_T = gamma * N(0, I) drawn from the image's generator."""
    shape = (1, 3, 8, 8)
    for suffix, gamma in (("", 1.0), ("-gamma0.5", 0.5), ("-gamma0", 0.0)):
        first_inputs = []

        def denoiser(x, t):
            first_inputs.append(x.clone())
            return torch.zeros_like(x)

        sampler = get_sampler(f"{family}4{suffix}")
        sampler.sample(denoiser, TRAINING_CHAIN, shape, torch.Generator().manual_seed(2))
        expected = gamma * torch.randn(shape, generator=torch.Generator().manual_seed(2))
        assert torch.equal(first_inputs[0], expected)
        assert sampler.name == f"{family}4{suffix}"
    assert get_sampler(f"{family}4-gamma1").name == f"{family}4"


# -- samplers -----------------------------------------------------------------------------
def oracle(x0: torch.Tensor):
    """A perfect denoiser for a single known x_0: returns the true epsilon of x_t."""
    base = np.cumprod(1 - cosine_betas(4000))

    def model(x, model_time):
        base_index = int(round(float(model_time[0]) * 4))
        alpha_bar = torch.tensor(base[base_index], dtype=x.dtype)
        eps = (x - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()
        return torch.cat([eps, torch.zeros_like(eps)], dim=1)

    return model


@pytest.mark.parametrize("name", ["ddim10", "ddim100", "ddpm100", "ddpm1000"])
def test_every_sampler_recovers_x0_from_a_perfect_denoiser(name):
    x0 = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    out = get_sampler(name).sample(oracle(x0), TRAINING_CHAIN, x0.shape, torch.Generator().manual_seed(1))
    assert (out - x0).abs().max() < 1e-3


def test_ddim_eta0_draws_no_noise_after_x_T_and_ddpm_does():
    model = ConditionalUNet(TINY).eval()
    torch.manual_seed(0)
    for parameter in model.out.parameters():  # make the untrained network's output non-zero
        torch.nn.init.normal_(parameter, std=0.1)
    condition = model.encode_condition(torch.randn(1, 8, 1, 1))
    denoiser = lambda x, t: model(x, t, condition)  # noqa: E731
    x_T = torch.randn(1, 3, 16, 16, generator=torch.Generator().manual_seed(5))
    runs = {
        name: [get_sampler(name).sample(denoiser, TRAINING_CHAIN, x_T.shape, torch.Generator().manual_seed(s), x_T=x_T)
               for s in (1, 2)]
        for name in ("ddim10", "ddpm10")
    }
    assert torch.equal(runs["ddim10"][0], runs["ddim10"][1])
    assert not torch.equal(runs["ddpm10"][0], runs["ddpm10"][1])


# -- network ------------------------------------------------------------------------------
def test_paper_network_has_the_authors_size():
    model = ConditionalUNet(UNetConfig())
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(113.2e6, rel=0.005)


def test_latent_decoder_feeds_levels_3_to_0_at_their_resolutions():
    model = ConditionalUNet(TINY)
    condition = model.encode_condition(torch.zeros(2, 8, 2, 3))
    assert [tuple(c.shape[2:]) for c in condition] == [(4, 6), (8, 12), (16, 24), (32, 48)]
    out = model(torch.zeros(2, 3, 32, 48), torch.tensor([1.0, 500.0]), condition)
    assert out.shape == (2, 6, 32, 48)


def test_output_depends_on_the_latent():
    model = ConditionalUNet(TINY).eval()
    for parameter in model.out.parameters():
        torch.nn.init.normal_(parameter, std=0.1)
    x, t = torch.randn(1, 3, 16, 16), torch.tensor([100.0])
    first = model(x, t, model.encode_condition(torch.zeros(1, 8, 1, 1)))
    second = model(x, t, model.encode_condition(torch.ones(1, 8, 1, 1)))
    assert not torch.allclose(first, second)


# -- training -----------------------------------------------------------------------------
def constant_batches(seed: int = 0):
    """Batches of 4 from 6 fixed smooth images; the batch of a step depends on the step only."""
    images = torch.rand(6, 3, 64, 64, generator=torch.Generator().manual_seed(seed))
    images = torch.nn.functional.avg_pool2d(images, 5, 1, 2)  # smooth: learnable structure
    return lambda step: images[torch.randint(6, (4,), generator=torch.Generator().manual_seed(seed + step))]


def fake_latent(x: torch.Tensor) -> torch.Tensor:
    """A fixed, deterministic 'encoder': 8 channels at 1/64 (like y_hat's 1/16 grid of 4x4)."""
    return torch.nn.functional.avg_pool2d(x, 16).repeat(1, 3, 1, 1)[:, :8, :, :].round()


def test_a_few_hundred_steps_reduce_the_epsilon_loss(tmp_path):
    config = TrainingConfig(steps=240, lr=1e-3, rho=0.0, save_every=1000, log_every=20, ema_decay=0.9)
    state = train(constant_batches(), fake_latent, tmp_path / "d.pt", TINY, config,
                  condition={"quality": "1"}, progress=False)
    assert len(state.history) == 12
    eps = [record["eps"] for record in state.history]
    total = [record["loss"] for record in state.history]
    # an untrained (zero-output) network has L1 loss E|noise| = sqrt(2 / pi) = 0.80
    assert eps[0] == pytest.approx(np.sqrt(2 / np.pi), abs=0.1)
    assert np.mean(eps[-3:]) < np.mean(eps[:3]) - 0.2
    # the variational term (weight 1/T per step, as improved-diffusion) is noisy early on:
    # only require it to stay finite
    assert all(np.isfinite(total))


def test_a_resumed_run_sees_and_ends_exactly_as_an_uninterrupted_one(tmp_path):
    def recorded(log):
        batches = constant_batches()

        def batch(step):
            log.append((step, batches(step)))
            return log[-1][1]
        return batch

    config = TrainingConfig(steps=8, lr=1e-3, rho=0.0, save_every=4, log_every=4)
    straight_log, split_log = [], []
    straight = train(recorded(straight_log), fake_latent, tmp_path / "straight.pt", TINY, config,
                     {"quality": "1"}, progress=False)
    config.steps = 4
    train(recorded(split_log), fake_latent, tmp_path / "split.pt", TINY, config, {"quality": "1"}, progress=False)
    config.steps = 8
    resumed = train(recorded(split_log), fake_latent, tmp_path / "split.pt", TINY, config, {"quality": "1"},
                    progress=False)
    assert [step for step, _ in split_log] == [step for step, _ in straight_log] == list(range(8))
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(straight_log, split_log))
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[name]), name
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in straight.history]
    network, schedule, metadata = load_decoder(tmp_path / "split.pt")
    assert metadata["step"] == 8 and metadata["condition"] == {"quality": "1"}
    assert len(schedule) == 1000 and not network.training


def test_resuming_with_other_settings_is_refused_naming_each_and_longer_training_is_not(tmp_path):
    import dataclasses

    from rdpbench.errors import RdpbenchError

    config = TrainingConfig(steps=1, lr=1e-3, rho=0.0, save_every=1, log_every=1)
    condition = {"codec": "msh", "quality": "1", "training_data": "sample"}
    train(constant_batches(), fake_latent, tmp_path / "d.pt", TINY, config, condition, progress=False)
    changed = dataclasses.replace(config, steps=2, batch_size=2, crop=64, rho=0.5, seed=3, ema_decay=0.99)
    with pytest.raises(RdpbenchError) as raised:
        train(constant_batches(), fake_latent, tmp_path / "d.pt", dataclasses.replace(TINY, model_channels=8),
              changed, {**condition, "quality": "2", "training_data": "kodak"}, progress=False)
    message = str(raised.value)
    for difference in ("batch_size: 4 in the checkpoint, 2 given", "crop: 128 in the checkpoint, 64 given",
                       "rho: 0.0 in the checkpoint, 0.5 given", "seed: 0 in the checkpoint, 3 given",
                       "ema_decay: 0.9999 in the checkpoint, 0.99 given", "quality: 1 in the checkpoint, 2 given",
                       "training_data: sample in the checkpoint, kodak given",
                       "model_channels: 16 in the checkpoint, 8 given"):
        assert difference in message
    named = [line.split(":")[0].strip() for line in message.splitlines() if " in the checkpoint, " in line]
    assert "steps" not in named and "save_every" not in named
    longer = dataclasses.replace(config, steps=2, save_every=2, log_every=2)
    assert train(constant_batches(), fake_latent, tmp_path / "d.pt", TINY, longer, condition, progress=False).step == 2


def test_training_crops_are_a_function_of_the_step():
    from rdpbench.diffusion.training import random_crops

    images = [lambda i=i: torch.randint(0, 256, (3, 80, 96), dtype=torch.uint8,
                                        generator=torch.Generator().manual_seed(i)) for i in range(3)]
    batch = random_crops(images, 64, 2, seed=5)
    later_first = [batch(3), batch(0)]
    again = random_crops(images, 64, 2, seed=5)
    assert torch.equal(again(0), later_first[1]) and torch.equal(again(3), later_first[0])
    assert not torch.equal(again(0), again(1))
    assert not torch.equal(random_crops(images, 64, 2, seed=6)(0), again(0))


def test_adamw_trains_without_weight_decay_as_the_authors_do():
    from rdpbench.diffusion.training import new_state

    state = new_state(TINY, TrainingConfig(), torch.device("cpu"))
    assert TrainingConfig().weight_decay == 0.0
    assert {group["weight_decay"] for group in state.optimizer.param_groups} == {0.0}


def test_the_paper_loss_preset_is_mse_on_eps_without_a_variational_term():
    import dataclasses

    fixed_variance = ConditionalUNet(dataclasses.replace(TINY, learn_sigma=False))
    x0 = constant_batches()(0) * 2 - 1
    generator = torch.Generator().manual_seed(0)
    terms = batch_loss(fixed_variance, TRAINING_CHAIN, x0, fake_latent((x0 + 1) / 2),
                       TrainingConfig(loss="paper", rho=0.0), None, generator)
    assert set(terms) == {"eps", "loss"}
    # a zero-initialised output layer predicts eps = 0: the loss is E[noise^2] = 1
    assert terms["eps"].item() == pytest.approx(1.0, abs=0.05)
    sample = get_sampler("ddpm10").sample(lambda x, t: fixed_variance(x, t, fixed_variance.encode_condition(
        fake_latent(torch.zeros(1, 3, 64, 64)))), TRAINING_CHAIN, (1, 3, 64, 64), torch.Generator().manual_seed(0))
    assert torch.isfinite(sample).all()


def test_lpips_term_uses_the_predicted_x0(metric_weights):
    from rdpbench.decoder_training import lpips_vgg

    network = lpips_vgg("cpu")
    model = ConditionalUNet(TINY)
    x0 = constant_batches()(0) * 2 - 1
    terms = batch_loss(model, TRAINING_CHAIN, x0, fake_latent((x0 + 1) / 2), TrainingConfig(rho=0.9),
                       lambda a, b: network(a, b), torch.Generator().manual_seed(0))
    assert set(terms) == {"eps", "vb", "lpips", "loss"}
    assert torch.isfinite(terms["loss"])
    expected = terms["eps"] + terms["vb"] + 0.9 * terms["lpips"]
    assert terms["loss"].item() == pytest.approx(expected.item())
