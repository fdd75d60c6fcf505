"""Train the default demo model "shapes" from scratch on a CPU, deterministically.

    python -m training.train --out models

Steps: draw synthetic scenes; train a small KL autoencoder (8x downscale); bake a per-channel
normalisation of its latents into its weights; pre-encode all scenes once; train a small UNet
jointly with a small CLIP text encoder (epsilon prediction, min-SNR weighting, caption dropout
for classifier-free guidance, EMA), then twice more from warm restarts at lower rates, where some
captions name only the shape or only the background (this is what teaches the model which colour
word goes where); save a diffusers folder `OUT/shapes` (fp16 safetensors); write the single-file
copy (`python -m training.export`); evaluate prompt adherence with the checker.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from training.scenes import ALL_COMBOS, COLOURS, HELD_OUT, SEEN, TEMPLATES, caption, make_dataset

SIZE = 128  # native size: the bot's default for this model
LATENT_CHANNELS = 4
SD_SCALING_FACTOR = 0.18215  # latents are normalised so that SD1's usual factor gives unit std
TEXT_WIDTH = 64


def build_vae():
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(8, 16, 32, 32),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=LATENT_CHANNELS,
        layers_per_block=1,
        norm_num_groups=4,
        sample_size=SIZE,
        scaling_factor=SD_SCALING_FACTOR,
    )


def build_text_encoder():
    from transformers import CLIPTextConfig, CLIPTextModel

    return CLIPTextModel(
        CLIPTextConfig(
            vocab_size=49408,
            hidden_size=TEXT_WIDTH,
            intermediate_size=4 * TEXT_WIDTH,
            num_hidden_layers=2,
            num_attention_heads=4,
            max_position_embeddings=77,
            hidden_act="quick_gelu",
            bos_token_id=49406,
            eos_token_id=49407,
            pad_token_id=49407,
            projection_dim=TEXT_WIDTH,
        )
    )


def build_unet():
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=SIZE // 8,
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        block_out_channels=(32, 64, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_WIDTH,
        attention_head_dim=4,
        norm_num_groups=16,
    )


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (n, h, w, 3) -> float (n, 3, h, w) in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * progress)))


def train_vae(
    images: np.ndarray, steps: int, batch: int, seed: int, kl_weight: float, lr: float, crop: int = 0
):
    torch.manual_seed(seed)
    vae = build_vae().train()
    opt = torch.optim.AdamW(vae.parameters(), lr=lr, weight_decay=0.0)
    gen = torch.Generator().manual_seed(seed)
    bar = tqdm(range(steps), desc="autoencoder", unit="step")
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, max(1, steps // 20))
        idx = torch.randint(0, len(images), (batch,), generator=gen).numpy()
        x = to_tensor(images[idx])
        if crop and crop < x.shape[-1]:  # the autoencoder is convolutional: train on crops, cheaper
            oy, ox = torch.randint(0, x.shape[-1] - crop + 1, (2,), generator=gen).tolist()
            x = x[:, :, oy : oy + crop, ox : ox + crop]
        post = vae.encode(x).latent_dist
        z = post.mean + post.std * torch.randn(post.mean.shape, generator=gen)
        rec = vae.decode(z).sample
        kl = post.kl().mean() / post.mean[0].numel()
        loss = (rec - x).pow(2).mean() + 0.5 * (rec - x).abs().mean() + kl_weight * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        opt.step()
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}", kl=f"{kl.item():.2f}")
    return vae.eval()


@torch.no_grad()
def encode(
    vae, images: np.ndarray, batch: int = 256, desc: str = "encoding"
) -> tuple[torch.Tensor, torch.Tensor]:
    means, stds = [], []
    for i in tqdm(range(0, len(images), batch), desc=desc, unit="batch"):
        post = vae.encode(to_tensor(images[i : i + batch])).latent_dist
        means.append(post.mean)
        stds.append(post.std)
    return torch.cat(means), torch.cat(stds)


@torch.no_grad()
def normalise_latents(vae, mean: torch.Tensor) -> dict[str, list[float]]:
    """Rescale the latent space per channel, exactly, inside the VAE's 1x1 quant convolutions.

    Afterwards each channel has zero mean and std 1 / scaling_factor over the data set, so the
    usual single scaling factor gives balanced unit-variance latents for the diffusion model.
    """
    c = LATENT_CHANNELS
    m = mean.mean(dim=(0, 2, 3))
    s = (1.0 / SD_SCALING_FACTOR) / mean.std(dim=(0, 2, 3))
    q, pq = vae.quant_conv, vae.post_quant_conv
    # encoder side: z' = (z - m) * s; logvar' = logvar + 2 log s
    q.weight[:c] *= s.view(c, 1, 1, 1)
    q.bias[:c] = (q.bias[:c] - m) * s
    q.bias[c:] += 2 * torch.log(s)
    # decoder side: z = z' / s + m
    pq.bias += (pq.weight[:, :, 0, 0] * m).sum(1)
    pq.weight /= s.view(1, c, 1, 1)
    return {"mean": m.tolist(), "scale": s.tolist()}


@torch.no_grad()
def check_reconstructions(vae, images: np.ndarray, scenes) -> dict[str, float]:
    from training.checker import check, summarise

    rec = vae.decode(vae.encode(to_tensor(images)).latent_dist.mean).sample
    rec = ((rec.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
    return summarise([check(r, s.colour, s.shape, s.background) for r, s in zip(rec, scenes, strict=True)])


# Captions naming only the shape or only the background (phase 2): they teach which colour word
# goes with the shape and which with the background, so that unseen combinations compose.
PARTIAL_TEMPLATES = ("a {c} {s}", "{c} {s}", "a {b} background", "{b} background")


def tokenize_table(tokenizer) -> tuple[torch.Tensor, dict[tuple[str, str, str], int]]:
    """Token ids of every caption of every combination (row 0: the empty caption)."""
    texts = [""]
    index: dict[tuple[str, str, str], int] = {}
    for combo in ALL_COMBOS:
        index[combo] = len(texts)
        texts.extend(caption(*combo, template=t) for t in range(len(TEMPLATES)))
        texts.extend(t.format(c=combo[0], s=combo[1], b=combo[2]) for t in PARTIAL_TEMPLATES)
    ids = tokenizer(
        texts, padding="max_length", max_length=77, truncation=True, return_tensors="pt"
    ).input_ids
    return ids, index


def train_unet(
    latent_mean: torch.Tensor,
    latent_std: torch.Tensor,
    combo_ids: torch.Tensor,
    ids: torch.Tensor,
    steps: int,
    batch: int,
    seed: int,
    lr: float,
    drop: float,
    snr_gamma: float,
    noise_offset: float,
    ema_decay: float,
    on_checkpoint=None,
    every: int = 500,
    init=None,
    desc: str = "unet+text",
    partial: float = 0.0,
):
    """Train; returns the EMA weights.

    `on_checkpoint(step, unet, text_encoder)` gets copies with the EMA weights every `every` steps.
    """
    import copy

    from diffusers import DDPMScheduler

    from generation.models.tiny import SD_SCHEDULER

    torch.manual_seed(seed)
    if init is None:
        unet = build_unet().train()
        text_encoder = build_text_encoder().train()
    else:  # continue from given weights (a fresh optimiser and EMA)
        unet, text_encoder = init[0].train(), init[1].train()
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    ema = [p.detach().clone() for p in params]
    noise_sched = DDPMScheduler(**SD_SCHEDULER)
    ac = noise_sched.alphas_cumprod
    snr_all = ac / (1 - ac)
    gen = torch.Generator().manual_seed(seed + 1)
    n_templates = len(TEMPLATES)
    bar = tqdm(range(steps), desc=desc, unit="step")
    t0 = time.time()
    for step in bar:
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, max(1, steps // 25))
        idx = torch.randint(0, len(latent_mean), (batch,), generator=gen)
        z0 = (latent_mean[idx] + latent_std[idx] * torch.randn(latent_mean[idx].shape, generator=gen)) * (
            SD_SCALING_FACTOR
        )
        template = torch.randint(0, n_templates, (batch,), generator=gen)
        rows = combo_ids[idx] + template
        if partial:  # some captions name only the shape or only the background
            part = torch.rand(batch, generator=gen) < partial
            which = torch.randint(0, len(PARTIAL_TEMPLATES), (batch,), generator=gen)
            rows = torch.where(part, combo_ids[idx] + n_templates + which, rows)
        rows[torch.rand(batch, generator=gen) < drop] = 0
        noise = torch.randn(z0.shape, generator=gen)
        if noise_offset:
            noise += noise_offset * torch.randn((batch, z0.shape[1], 1, 1), generator=gen)
        t = torch.randint(0, 1000, (batch,), generator=gen)
        zt = noise_sched.add_noise(z0, noise, t)
        cond = text_encoder(ids[rows])[0]
        pred = unet(zt, t, cond).sample
        snr = snr_all[t]
        weight = torch.clamp(snr, max=snr_gamma) / snr if snr_gamma else torch.ones_like(snr)
        loss = ((pred - noise).pow(2).mean(dim=(1, 2, 3)) * weight).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        d = min(ema_decay, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema, params, strict=True):
                e.lerp_(p.detach(), 1 - d)
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}", s_per_step=f"{(time.time() - t0) / (step + 1):.2f}")
        if on_checkpoint is not None and (step + 1) % every == 0 and step + 1 < steps:
            u, te = copy.deepcopy(unet).eval(), copy.deepcopy(text_encoder).eval()
            with torch.no_grad():
                for e, p in zip(ema, list(u.parameters()) + list(te.parameters()), strict=True):
                    p.copy_(e)
            on_checkpoint(step + 1, u, te)
    with torch.no_grad():
        for e, p in zip(ema, params, strict=True):
            p.copy_(e)
    return unet.eval(), text_encoder.eval()


def build_pipeline(vae, text_encoder, unet):
    from diffusers import EulerDiscreteScheduler, StableDiffusionPipeline

    from generation.models.tiny import SD_SCHEDULER, load_clip_tokenizer

    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=load_clip_tokenizer(),
        unet=unet,
        scheduler=EulerDiscreteScheduler(**SD_SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


# --- evaluation -------------------------------------------------------------------------------


def read_defaults(config: Path | None = None) -> dict:
    """[defaults] of config.toml: sampler, cfg_scale, steps, width, height."""
    import tomllib

    config = config or Path(__file__).resolve().parent.parent / "config.toml"
    d = tomllib.loads(config.read_text())["defaults"]
    return {
        "sampler": d.get("sampler", "Euler"),
        "cfg_scale": float(d.get("cfg_scale", 7.0)),
        "steps": int(d.get("steps", 20)),
        "width": int(d.get("width", SIZE)),
        "height": int(d.get("height", SIZE)),
    }


def set_sampler(pipe, name: str) -> None:
    """Swap the pipeline's scheduler for an A1111 sampler name, through the project's own mapping
    (an unknown name raises UnknownSampler: evaluating with another sampler would mislead)."""
    from generation.pipelines.samplers import make_scheduler

    pipe.scheduler = make_scheduler(name, pipe.scheduler.config)


def load_folder(folder: Path):
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(
        str(folder), dtype=torch.float32, local_files_only=True, safety_checker=None
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


@torch.no_grad()
def generate(pipe, cases, seeds, *, steps, cfg, width, height, batch: int = 32):
    """txt2img for (colour, shape, background) cases with one seed each; returns PIL images."""
    out = []
    for i in range(0, len(cases), batch):
        chunk = cases[i : i + batch]
        result = pipe(
            prompt=[caption(*c) for c in chunk],
            num_inference_steps=steps,
            guidance_scale=cfg,
            width=width,
            height=height,
            generator=[torch.Generator().manual_seed(s) for s in seeds[i : i + batch]],
        )
        out.extend(result.images)
    return out


def evaluate_txt2img(pipe, combos, seeds_per_combo, seed0, defaults, desc):
    from training.checker import check, summarise

    cases = [c for c in combos for _ in range(seeds_per_combo)]
    seeds = [seed0 + i for i in range(len(cases))]
    scores = []
    for i in tqdm(range(0, len(cases), 32), desc=desc, unit="batch"):
        imgs = generate(
            pipe,
            cases[i : i + 32],
            seeds[i : i + 32],
            steps=defaults["steps"],
            cfg=defaults["cfg_scale"],
            width=defaults["width"],
            height=defaults["height"],
        )
        scores.extend(check(im, *c) for im, c in zip(imgs, cases[i : i + 32], strict=True))
    return summarise(scores)


@torch.no_grad()
def evaluate_img2img(folder_pipe, n, seed, defaults, strength: float = 0.6):
    """Recolour clean scenes: the prompt changes only the shape's colour."""
    from diffusers import StableDiffusionImg2ImgPipeline

    from training.checker import read_image
    from training.scenes import random_scene, render

    pipe = StableDiffusionImg2ImgPipeline(**folder_pipe.components)
    pipe.set_progress_bar_config(disable=True)
    rng = random.Random(seed)
    cases = []
    for _ in range(n):
        scene = random_scene(rng, defaults["width"], ALL_COMBOS)
        new = rng.choice([c for c in COLOURS if c not in (scene.colour, scene.background)])
        cases.append((scene, new))
    recoloured = kept_shape = kept_bg = 0
    for i in tqdm(range(0, n, 16), desc="img2img", unit="batch"):
        chunk = cases[i : i + 16]
        result = pipe(
            prompt=[caption(new, s.shape, s.background) for s, new in chunk],
            image=[render(s, defaults["width"]) for s, _ in chunk],
            strength=strength,
            num_inference_steps=defaults["steps"],
            guidance_scale=defaults["cfg_scale"],
            generator=[torch.Generator().manual_seed(seed + i + j) for j in range(len(chunk))],
        )
        for im, (s, new) in zip(result.images, chunk, strict=True):
            r = read_image(im)
            recoloured += r.colour == new
            kept_shape += r.shape == s.shape
            kept_bg += r.background == s.background
    return {"recolour": recoloured / n, "shape_kept": kept_shape / n, "background_kept": kept_bg / n, "n": n}


def evaluate(folder: Path, held_seeds: int, seen_seeds: int, img2img: int, seed: int = 10_000) -> dict:
    defaults = read_defaults()
    pipe = load_folder(folder)
    set_sampler(pipe, defaults["sampler"])
    res: dict = {"defaults": defaults}
    if held_seeds:
        res["held_out"] = evaluate_txt2img(pipe, list(HELD_OUT), held_seeds, seed, defaults, "eval held-out")
    if seen_seeds:
        res["seen"] = evaluate_txt2img(pipe, list(SEEN), seen_seeds, seed + 50_000, defaults, "eval seen")
    if img2img:
        res["img2img"] = evaluate_img2img(pipe, img2img, seed + 90_000, defaults)
    return res


def format_eval(res: dict) -> str:
    lines = [
        "",
        "Prompt adherence (checker; {sampler}, {steps} steps, CFG {cfg_scale}, {width}x{height}):".format(
            **res["defaults"]
        ),
    ]
    lines.append(f"  {'set':<10} {'n':>5} {'colour':>8} {'backgr.':>8} {'shape':>8} {'all':>8}")
    for key in ("seen", "held_out"):
        if key not in res:
            continue
        r = res[key]
        lines.append(
            f"  {key:<10} {r['n']:>5} {r['colour']:>8.1%} {r['background']:>8.1%}"
            f" {r['shape']:>8.1%} {r['all']:>8.1%}"
        )
    if "img2img" in res:
        r = res["img2img"]
        lines.append(
            f"  img2img recolour at strength 0.6: {r['recolour']:.1%} recoloured, {r['shape_kept']:.1%} kept "
            f"their shape, {r['background_kept']:.1%} their background (n={r['n']})"
        )
    return "\n".join(lines)


# --- main -------------------------------------------------------------------------------------


def save_folder(pipe, folder: Path) -> None:
    """Save as a diffusers folder with fp16 safetensors (loaders upcast to their dtype)."""
    import shutil

    if folder.exists():
        shutil.rmtree(folder)
    pipe.to(torch.float16)
    pipe.save_pretrained(str(folder), safe_serialization=True)
    pipe.to(torch.float32)
    slim_tokenizer(folder / "tokenizer")


def slim_tokenizer(folder: Path) -> None:
    """Keep the CLIP vocabulary and merges (1.5 MB) instead of the 3.6 MB `tokenizer.json`."""
    import shutil

    from generation.models.tiny import TOKENIZER_DIR

    (folder / "tokenizer.json").unlink(missing_ok=True)
    for name in ("vocab.json", "merges.txt"):
        shutil.copyfile(TOKENIZER_DIR / name, folder / name)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("models"), help="models directory (writes OUT/shapes)")
    ap.add_argument("--name", default="shapes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--images", type=int, default=20_000, help="training scenes")
    ap.add_argument("--vae-images", type=int, default=8_000, help="scenes the autoencoder trains on")
    ap.add_argument("--vae-steps", type=int, default=800)
    ap.add_argument("--vae-batch", type=int, default=32)
    ap.add_argument("--vae-lr", type=float, default=2e-3)
    ap.add_argument("--vae-crop", type=int, default=64, help="train the autoencoder on crops this size")
    ap.add_argument("--cache", type=Path, default=None, help="reuse the autoencoder + latents across runs")
    ap.add_argument("--kl-weight", type=float, default=1e-3)
    ap.add_argument("--steps", type=int, default=3000, help="UNet + text encoder steps")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--finetune-steps", type=int, default=2500, help="phase 2 (warm restart) steps; 0: none")
    ap.add_argument("--finetune-lr", type=float, default=6e-4)
    ap.add_argument("--partial", type=float, default=0.3, help="phase 2: shape-only/background-only captions")
    ap.add_argument(
        "--polish-steps", type=int, default=1500, help="phase 3 (second warm restart) steps; 0: none"
    )
    ap.add_argument("--polish-lr", type=float, default=3e-4)
    ap.add_argument("--polish-partial", type=float, default=0.5, help="phase 3: partial captions")
    ap.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="start from this folder (the output of the phase before --init-phase)",
    )
    ap.add_argument(
        "--init-phase", type=int, default=2, choices=(2, 3), help="with --init-from: the first phase to run"
    )
    ap.add_argument("--drop", type=float, default=0.1, help="caption dropout (for CFG)")
    ap.add_argument("--snr-gamma", type=float, default=5.0, help="min-SNR weighting (0: off)")
    ap.add_argument("--noise-offset", type=float, default=0.05)
    ap.add_argument("--ema", type=float, default=0.998)
    ap.add_argument("--eval-held-seeds", type=int, default=16, help="seeds per held-out combination")
    ap.add_argument("--eval-seen-seeds", type=int, default=2, help="seeds per seen combination")
    ap.add_argument("--eval-img2img", type=int, default=64)
    ap.add_argument("--no-export", action="store_true", help="skip the single-file export")
    ap.add_argument(
        "--checkpoint-every", type=int, default=500, help="save EMA weights to --cache this often"
    )
    ap.add_argument(
        "--monitor", type=int, default=0, help="at checkpoints, check N seeds per held-out prompt"
    )
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    t_start = time.time()
    timings = {}

    from generation.models.tiny import load_clip_tokenizer

    t = time.time()
    images, scenes = make_dataset(args.images, seed=args.seed, size=SIZE, combos=SEEN, progress=True)
    timings["draw"] = time.time() - t

    t = time.time()
    vae_key = {
        k: getattr(args, k)
        for k in ("seed", "images", "vae_images", "vae_steps", "vae_batch", "vae_lr", "vae_crop", "kl_weight")
    }
    cache = None
    if args.cache:
        import hashlib

        digest = hashlib.sha256(json.dumps(vae_key, sort_keys=True).encode()).hexdigest()[:16]
        cache = args.cache / f"vae-latents-{digest}.pt"
    if cache is not None and cache.is_file():
        print(f"reusing the autoencoder and latents from {cache}", file=sys.stderr)
        saved = torch.load(cache, weights_only=True)
        vae = build_vae()
        vae.load_state_dict(saved["vae"])
        vae.eval()
        mean, std, stats = saved["mean"], saved["std"], saved["stats"]
        timings.update(saved["timings"])
    else:
        vae = train_vae(
            images[: args.vae_images], args.vae_steps, args.vae_batch, args.seed, args.kl_weight, args.vae_lr,
            args.vae_crop,
        )  # fmt: skip
        timings["vae"] = time.time() - t
        t = time.time()
        torch.manual_seed(args.seed)
        mean, _ = encode(vae, images[:2048], desc="latent statistics")
        stats = normalise_latents(vae, mean)
        mean, std = encode(vae, images)
        timings["encode"] = time.time() - t
        if cache is not None:
            cache.parent.mkdir(parents=True, exist_ok=True)
            torch.save({"vae": vae.state_dict(), "mean": mean, "std": std, "stats": stats,
                        "timings": {k: timings[k] for k in ("vae", "encode")}}, cache)  # fmt: skip
    print(
        "latent channel std after normalisation (x scaling factor):",
        [round(v, 3) for v in (mean * SD_SCALING_FACTOR).std(dim=(0, 2, 3)).tolist()],
        file=sys.stderr,
    )
    print(f"autoencoder reconstructions, checker: {check_reconstructions(vae, images[-256:], scenes[-256:])}")
    tokenizer = load_clip_tokenizer()
    ids, index = tokenize_table(tokenizer)
    combo_ids = torch.tensor([index[(s.colour, s.shape, s.background)] for s in scenes])

    def checkpoint(step, unet, text_encoder, phase=1):
        if args.cache:
            torch.save(
                {"unet": unet.state_dict(), "text_encoder": text_encoder.state_dict(), "step": step},
                args.cache / (f"checkpoint-{step}.pt" if phase == 1 else f"checkpoint-p{phase}-{step}.pt"),
            )
        if args.monitor:
            quick = build_pipeline(vae, text_encoder, unet)
            quick.set_progress_bar_config(disable=True)
            d = read_defaults()
            set_sampler(quick, d["sampler"])
            cases = [c for c in HELD_OUT for _ in range(args.monitor)]
            seeds = [20_000 + i for i in range(len(cases))]
            from training.checker import check, summarise

            imgs = generate(
                quick, cases, seeds, steps=d["steps"], cfg=d["cfg_scale"], width=SIZE, height=SIZE
            )
            r = summarise([check(im, *c) for im, c in zip(imgs, cases, strict=True)])
            tqdm.write(
                f"phase {phase} step {step}: held-out colour {r['colour']:.0%} "
                f"background {r['background']:.0%} shape {r['shape']:.0%} (n={r['n']}, EMA weights)"
            )

    def train_phase1():
        return train_unet(
            mean, std, combo_ids, ids, args.steps, args.batch, args.seed, args.lr, args.drop, args.snr_gamma,
            args.noise_offset, args.ema,
            on_checkpoint=checkpoint if (args.cache or args.monitor) else None,
            every=args.checkpoint_every,
        )  # fmt: skip

    t = time.time()
    first_phase = args.init_phase if args.init_from else 1
    if args.init_from:  # the earlier phases are done: their saved (fp16) weights
        from diffusers import UNet2DConditionModel
        from transformers import CLIPTextModel

        unet = UNet2DConditionModel.from_pretrained(args.init_from, subfolder="unet", dtype=torch.float32)
        text_encoder = CLIPTextModel.from_pretrained(
            args.init_from, subfolder="text_encoder", dtype=torch.float32
        )
    else:
        unet, text_encoder = train_phase1()
    timings["unet"] = timings.get("unet", 0.0) + time.time() - t

    def warm_restart(phase, unet, text_encoder, steps, lr, partial):
        """A fresh optimiser, a lower peak rate and a new EMA, starting from the previous phase's
        model as saved (fp16-rounded), so that a phase can also be run on its own with --init-from."""
        t = time.time()
        with torch.no_grad():
            for p in list(unet.parameters()) + list(text_encoder.parameters()):
                p.copy_(p.half().float())
        on_checkpoint = functools.partial(checkpoint, phase=phase) if (args.cache or args.monitor) else None
        result = train_unet(
            mean, std, combo_ids, ids, steps, args.batch, args.seed + 100 * (phase - 1), lr,
            args.drop, args.snr_gamma, args.noise_offset, args.ema,
            on_checkpoint=on_checkpoint, every=args.checkpoint_every, init=(unet, text_encoder),
            desc=f"phase {phase}", partial=partial,
        )  # fmt: skip
        timings[f"unet_phase{phase}"] = time.time() - t
        return result

    # phase 2 teaches which colour word goes where (partial captions); phase 3 repeats that at a
    # lower rate with more partial captions, which is what generalises to unseen combinations
    if args.finetune_steps and first_phase <= 2:
        unet, text_encoder = warm_restart(
            2, unet, text_encoder, args.finetune_steps, args.finetune_lr, args.partial
        )
    if args.polish_steps:
        unet, text_encoder = warm_restart(
            3, unet, text_encoder, args.polish_steps, args.polish_lr, args.polish_partial
        )

    folder = args.out / args.name
    pipe = build_pipeline(vae, text_encoder, unet)
    save_folder(pipe, folder)
    (folder / "training.json").write_text(
        json.dumps(
            {"args": {k: str(v) for k, v in vars(args).items()}, "latent_normalisation": stats}, indent=1
        )
    )
    if not args.no_export:
        from training.export import export

        export(folder, args.out / f"{args.name}-ldm.safetensors")

    t = time.time()
    res = evaluate(folder, args.eval_held_seeds, args.eval_seen_seeds, args.eval_img2img)
    timings["eval"] = time.time() - t
    timings["total"] = time.time() - t_start
    res["timings_s"] = {k: round(v, 1) for k, v in timings.items()}
    print(format_eval(res))
    print("timings (s):", res["timings_s"])
    (folder / "training.json").write_text(
        json.dumps(
            {
                "args": {k: str(v) for k, v in vars(args).items()},
                "latent_normalisation": stats,
                "evaluation": res,
            },
            indent=1,
        )
    )
    return res


if __name__ == "__main__":
    main()
