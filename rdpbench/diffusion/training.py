"""Training the conditional diffusion decoder on a frozen encoder.

The encoder is given as a function ``latent_fn(x) -> y_hat`` (x in [0, 1]); this module knows
nothing of codecs. The loss of one batch, by preset (:data:`LOSS_PRESETS`):

``authors`` (the default; the authors' code)
    |eps - eps_theta|  (L1)
  + the variational-bound term, which alone trains the learned variance (eps frozen in it)
  + rho * LPIPS(VGG)(x_0, clamp(predicted x_0))  (rho = 0.9; no (1 - rho) factor)
``paper`` (the paper's eqs. 4-5)
    |eps - eps_theta|^2 + rho * LPIPS(VGG)(x_0, clamp(predicted x_0)), with a fixed variance
    (the network predicts epsilon only; DDPM then samples with beta_t).

AdamW without weight decay, as the authors train. Checkpoints are written atomically every
``save_every`` steps and at the end, carry their own configuration (network, schedule,
training, and what conditions them), and resume: batches and noise are functions of the step
number, so a resumed run sees exactly what an uninterrupted one would. A run resumes only with
the checkpoint's settings; it may train longer, and save and log at other intervals
(:data:`RESUMABLE_SETTINGS`).
"""

from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Callable

import torch

from ..atomic import atomic_write
from ..errors import RdpbenchError
from .gaussian import predict_x0, split_output, variational_bound_bits
from .schedule import NoiseSchedule
from .unet import UNET_SIZES, ConditionalUNet, UNetConfig

CHECKPOINT_FORMAT = "rdpbench-conditional-diffusion-decoder"
CHECKPOINT_VERSION = 1


#: Loss presets: the epsilon loss, and whether the network learns its variance (which adds
#: the variational-bound term to the loss).
LOSS_PRESETS = {
    "authors": {"eps_loss": "l1", "learn_sigma": True},
    "paper": {"eps_loss": "mse", "learn_sigma": False},
}


@dataclass
class TrainingConfig:
    steps: int = 1_500_000
    batch_size: int = 4
    crop: int = 128
    lr: float = 5e-5
    lr_decay: float = 0.8
    lr_decay_every: int = 100_000
    lr_floor: float = 2e-5
    ema_decay: float = 0.9999
    weight_decay: float = 0.0  # AdamW's default is 0.01; the authors train with 0
    loss: str = "authors"  # a key of LOSS_PRESETS
    rho: float = 0.9
    schedule: str = "cosine"
    base_steps: int = 4000
    train_steps: int = 1000
    save_every: int = 1000
    log_every: int = 100
    seed: int = 0

    @property
    def eps_loss(self) -> str:
        """"l1" or "mse", by the loss preset."""
        return LOSS_PRESETS[self.loss]["eps_loss"]


@dataclass
class TrainingState:
    model: ConditionalUNet
    ema: ConditionalUNet
    optimizer: torch.optim.Optimizer
    step: int = 0
    history: list[dict] = field(default_factory=list)


def learning_rate(config: TrainingConfig, step: int) -> float:
    """lr x decay every ``lr_decay_every`` steps, never below ``lr_floor``."""
    return max(config.lr * config.lr_decay ** (step // config.lr_decay_every), min(config.lr, config.lr_floor))


def batch_loss(
    model: ConditionalUNet,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    y_hat: torch.Tensor,
    config: TrainingConfig,
    perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """The loss terms of one batch; x0 in [-1, 1], y_hat its frozen-encoder latent."""
    index = torch.randint(len(schedule), (x0.shape[0],), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    x_t = schedule.q_sample(x0, index, noise)
    output = model(x_t, schedule.model_time(index), model.encode_condition(y_hat))
    eps, v = split_output(output)
    error = eps - noise
    terms = {"eps": (error.abs() if config.eps_loss == "l1" else error.square()).flatten(1).mean(1).mean()}
    if v is not None:
        terms["vb"] = variational_bound_bits(schedule, eps.detach(), v, x0, x_t, index).mean()
    if config.rho > 0:
        predicted = predict_x0(schedule, x_t, index, eps).clamp(-1, 1)
        terms["lpips"] = perceptual(x0, predicted).mean()
    terms["loss"] = terms["eps"] + terms.get("vb", 0.0) + config.rho * terms.get("lpips", 0.0)
    return terms


def new_state(unet_config: UNetConfig, config: TrainingConfig, device: torch.device) -> TrainingState:
    torch.manual_seed(config.seed)
    model = ConditionalUNet(unet_config).to(device)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    return TrainingState(model, ema, optimizer)


def step_seed(seed: int, step: int, stream: str) -> int:
    """The seed of one training step's draws from one stream ("crops", "noise"): a function
    of the run seed and the step alone, so resuming at any step continues every stream."""
    digest = hashlib.sha256(f"{seed}:{stream}:{step}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


def train(
    batches: Callable[[int], torch.Tensor],
    latent_fn: Callable[[torch.Tensor], torch.Tensor],
    checkpoint: Path,
    unet_config: UNetConfig,
    config: TrainingConfig,
    condition: dict,
    device: str = "cpu",
    perceptual: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    progress: bool = True,
) -> TrainingState:
    """Train until ``config.steps``, resuming from ``checkpoint`` when it exists.

    ``batches(step)`` gives the image batch (N, 3, crop, crop) in [0, 1] of a step (the same
    for the same step, however the run was interrupted); ``latent_fn`` maps it to
    the frozen encoder's y_hat; ``condition`` (e.g. {"codec": "msh", "quality": "1"}) is
    stored in the checkpoint so a decoder knows which latents it expects.
    """
    from tqdm import tqdm

    device = torch.device(device)
    schedule = NoiseSchedule.create(config.schedule, config.base_steps, config.train_steps)
    if checkpoint.is_file():
        state = load_training_state(checkpoint, device, unet_config, config, condition)
    else:
        state = new_state(unet_config, config, device)
    state.model.train()
    bar = tqdm(total=config.steps, initial=state.step, disable=not progress, unit="step", desc="train")
    started, running = time.perf_counter(), {}
    try:
        while state.step < config.steps:
            images = batches(state.step).to(device)
            generator = torch.Generator().manual_seed(step_seed(config.seed, state.step, "noise"))
            with torch.no_grad():
                y_hat = latent_fn(images)
            for group in state.optimizer.param_groups:
                group["lr"] = learning_rate(config, state.step)
            terms = batch_loss(state.model, schedule, images * 2 - 1, y_hat, config, perceptual, generator)
            state.optimizer.zero_grad(set_to_none=True)
            terms["loss"].backward()
            state.optimizer.step()
            update_ema(state.ema, state.model, config.ema_decay)
            state.step += 1
            for name, value in terms.items():
                running[name] = running.get(name, 0.0) + float(value.detach())
            if state.step % config.log_every == 0 or state.step == config.steps:
                count = config.log_every if state.step % config.log_every == 0 else state.step % config.log_every
                record = {"step": state.step, **{k: v / count for k, v in running.items()},
                          "lr": learning_rate(config, state.step - 1),
                          "seconds": time.perf_counter() - started}
                state.history.append(record)
                bar.set_postfix(loss=f"{record['loss']:.4f}")
                running = {}
            if state.step % config.save_every == 0 or state.step == config.steps:
                save_checkpoint(checkpoint, state, schedule_config(config), config, condition)
                write_log(state.history, checkpoint.with_suffix(".log.csv"))
            bar.update(1)
    finally:
        bar.close()
    return state


def update_ema(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    with torch.no_grad():
        for averaged, current in zip(ema.parameters(), model.parameters()):
            averaged.lerp_(current, 1 - decay)


def schedule_config(config: TrainingConfig) -> dict:
    return {"kind": config.schedule, "base_steps": config.base_steps, "steps": config.train_steps}


def save_checkpoint(path: Path, state: TrainingState, schedule: dict, config: TrainingConfig, condition: dict) -> None:
    """Write everything needed to resume training and to decode, atomically."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "unet": state.model.config.to_dict(),
        "schedule": schedule,
        "training": asdict(config),
        "condition": condition,
        "step": state.step,
        "history": state.history,
        "model": state.model.state_dict(),
        "ema": state.ema.state_dict(),
        "optimizer": state.optimizer.state_dict(),
    }
    atomic_write(path, lambda handle: torch.save(payload, handle), binary=True)


def write_log(history: list[dict], path: Path) -> None:
    """The loss history as CSV (step, loss terms, lr, seconds), replaced atomically."""
    if not history:
        return
    columns = list(dict.fromkeys(key for record in history for key in record))
    lines = [",".join(columns)] + [",".join(str(r.get(c, "")) for c in columns) for r in history]
    atomic_write(path, lambda handle: handle.write("\n".join(lines) + "\n"))


def read_checkpoint(path: Path) -> dict:
    """The checkpoint's contents, after checking it is one of ours."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001  (whatever the parser says, the file is unusable)
        raise ValueError(
            f"{path} is damaged: it cannot be read as a checkpoint ({type(error).__name__}); "
            "it may have been cut short by an interrupted copy"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not an rdpbench diffusion-decoder checkpoint")
    return payload


#: Training settings a resumed run may change: how long it trains, how often it saves and
#: logs. Everything else (network, loss and its weights, crops, batch, optimiser and its
#: schedule, EMA, noise schedule, seed, and what conditions the network) shapes what is
#: learnt from a step on, and must be the checkpoint's.
RESUMABLE_SETTINGS = ("steps", "save_every", "log_every")


def _size_name(config: UNetConfig) -> str | None:
    """The name in UNET_SIZES of ``config``'s widths and depths (its latent channels and
    variance follow from what conditions it and from the loss), or None."""
    for name, size in UNET_SIZES.items():
        if replace(size, latent_channels=config.latent_channels, learn_sigma=config.learn_sigma) == config:
            return name
    return None


def resume_conflicts(payload: dict, unet_config: UNetConfig, config: TrainingConfig, condition: dict) -> list[str]:
    """Each setting of a run that differs from the checkpoint ``payload`` it would resume, as
    'NAME: VALUE in the checkpoint, VALUE given' (those of RESUMABLE_SETTINGS may differ). A
    named network size counts as one setting."""
    stored_network = UNetConfig.from_dict(payload["unet"])
    stored = {**payload["condition"], **asdict(stored_network), **asdict(TrainingConfig(**payload["training"]))}
    given = {**condition, **asdict(unet_config), **asdict(config)}
    sizes = _size_name(stored_network), _size_name(unet_config)
    if None not in sizes:
        widths = set(asdict(unet_config)) - {"latent_channels", "learn_sigma"}
        stored = {"size": sizes[0], **{k: v for k, v in stored.items() if k not in widths}}
        given = {"size": sizes[1], **{k: v for k, v in given.items() if k not in widths}}
    return [f"{name}: {stored.get(name)} in the checkpoint, {given.get(name)} given"
            for name in dict.fromkeys([*stored, *given])
            if name not in RESUMABLE_SETTINGS and stored.get(name) != given.get(name)]


def check_resumable(path: Path, payload: dict, unet_config: UNetConfig, config: TrainingConfig,
                    condition: dict) -> None:
    """Raise RdpbenchError naming each setting in which a run differs from the checkpoint
    ``payload`` (read from ``path``) that it would resume."""
    conflicts = resume_conflicts(payload, unet_config, config, condition)
    if conflicts:
        raise RdpbenchError(
            f"cannot resume {path}: its settings differ from this run's:\n  " + "\n  ".join(conflicts)
            + f"\nOnly {', '.join(RESUMABLE_SETTINGS)} may change when training resumes: give the "
            "checkpoint's settings, or train into another file"
        )


def load_training_state(path: Path, device: torch.device, unet_config: UNetConfig, config: TrainingConfig,
                        condition: dict) -> TrainingState:
    """The training state saved in ``path``, for a run with these settings (checked with
    :func:`check_resumable`)."""
    payload = read_checkpoint(path)
    check_resumable(path, payload, unet_config, config, condition)
    state = new_state(UNetConfig.from_dict(payload["unet"]), TrainingConfig(**payload["training"]), device)
    state.model.load_state_dict(payload["model"])
    state.ema.load_state_dict(payload["ema"])
    state.optimizer.load_state_dict(payload["optimizer"])
    state.step, state.history = payload["step"], payload["history"]
    return state


def load_decoder(path: Path, device: str = "cpu") -> tuple[ConditionalUNet, NoiseSchedule, dict]:
    """The EMA network (eval mode), its noise schedule and the checkpoint's metadata."""
    payload = read_checkpoint(path)
    model = ConditionalUNet(UNetConfig.from_dict(payload["unet"]))
    model.load_state_dict(payload["ema"])
    schedule = NoiseSchedule.create(**payload["schedule"])
    metadata = {k: payload[k] for k in ("unet", "schedule", "training", "condition", "step")}
    return model.eval().requires_grad_(False).to(device), schedule, metadata


def random_crops(
    load_images: list[Callable[[], torch.Tensor]], crop: int, batch_size: int, seed: int = 0
) -> Callable[[int], torch.Tensor]:
    """The batch of each step: RandomResizedCrop(crop) + horizontal flip of randomly picked
    images, as float (N, 3, crop, crop) in [0, 1], drawn from a seed of (``seed``, step) so
    that batch k is the same whenever it is asked for. ``load_images`` are functions returning
    uint8 (3, H, W) images, called when an image is picked (a large set is never held)."""
    from torchvision.transforms import v2

    transform = v2.Compose([v2.RandomResizedCrop(crop, antialias=True), v2.RandomHorizontalFlip()])

    def batch(step: int) -> torch.Tensor:
        with torch.random.fork_rng(devices=[]):  # the transforms draw from the global generator
            torch.manual_seed(step_seed(seed, step, "crops"))
            picks = torch.randint(len(load_images), (batch_size,)).tolist()
            return torch.stack([transform(load_images[i]()) for i in picks]).float().div(255.0)

    return batch
