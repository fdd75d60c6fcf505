"""Every sentence the bot shows users, in one place.

`generation/` hands problems over as codes and fields (`generation.problems.Problem`);
`describe(problem)` words them. A template is a `str.format` pattern over the problem's fields, or a
function of the fields for wording that depends on them. The rest of the module words what the
bot itself says: job messages, button labels, the answers of the commands. (Command and option
descriptions stay with the commands they declare: Discord shows them from the command tree.)
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from generation.jobs.problems import Refusal
from generation.jobs.types import LEGACY_ERROR, Job
from generation.problems import Problem
from generation.requests.numbers import format_number as _n
from generation.requests.request import MAX_SEED, GenerationRequest, Mode
from generation.workers.protocol import WorkerInfo, WorkerProblem

if TYPE_CHECKING:
    from generation.jobs.quotas import QuotaStatus

Template = str | Callable[[Mapping[str, Any]], str]

# What each prompt flag takes, as its "needs ..." message says (`generation.requests.prompt.FLAGS`).
FLAG_VALUES = {
    "ar": "a ratio like 16:9",
    "w": "a width in pixels like 768",
    "h": "a height in pixels like 768",
    "seed": f"a whole number from 0 to {MAX_SEED}, or -1 for random",
    "no": "the things to leave out, like --no fog, boats",
    "steps": "a whole number of steps like 30",
    "cfg": "a number like 7 or 6.5",
    "sampler": 'a sampler name like "DPM++ 2M Karras"',
    "n": "a number of images from 1 to 4",
    "tile": "no value (or on/off)",
    "hires": "an optional upscale factor like 1.5 or 2",
    "hires-strength": "a number between 0 and 1 like 0.5",
    "hires-steps": "a whole number of steps like 10",
    "strength": "a number between 0 and 1 like 0.6",
    "vseed": f"a whole number from 0 to {MAX_SEED}",
    "vstrength": "a number between 0 and 1 like 0.1",
    "model": "a model name",
}


def _bad_value(f: Mapping[str, Any]) -> str:
    flag, value = f["flag"], f["value"]
    if f["kind"] == "switch":
        return f"--{flag} takes {FLAG_VALUES[flag]}, got {value!r}"
    return f"--{flag} needs {FLAG_VALUES[flag]}" + (f", got {value!r}" if value else "")


def _unknown_flag(f: Mapping[str, Any]) -> str:
    hint = f" (did you mean --{f['suggested']}?)" if f["suggested"] else ""
    flags = ", ".join("/".join(f"--{name}" for name in names) for names in f["flags"])
    return f"unknown flag {f['typed']}{hint}; flags are {flags}"


def _flag_twice(f: Mapping[str, Any]) -> str:
    spellings = f" (as {f['typed'][0]} and {f['typed'][1]})" if f["typed"] else ""
    return f"--{f['flag']} is given twice{spellings}; give each flag once"


def _unknown_sampler(f: Mapping[str, Any]) -> str:
    """`unknown sampler 'x' (why); the samplers are: ...`, as both sampler problems begin."""
    if f["schedule"]:
        why = f" (schedule type {f['schedule']!r} is not supported: use Karras or Automatic)"
    else:
        why = "" if f["name"].strip() else " (empty name)"
    return f"unknown sampler {f['name']!r}{why}; the samplers are: {', '.join(f['samplers'])}"


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _side_out_of_range(f: Mapping[str, Any]) -> str:
    what = "small" if f["value"] < f["min"] else "large"
    return (
        f"{f['side'].capitalize()} {f['value']} is too {what}: each side must be between {f['min']} and "
        f"{f['max']} pixels (set it with --{f['flag']})."
    )


def _hires_too_large(f: Mapping[str, Any]) -> str:
    fix = f"use --hires {_n(f['suggested'])} or a smaller size" if f["suggested"] else "use a smaller size"
    return (
        f"The hires fix at {_n(f['scale'])}x makes {f['out_width']}x{f['out_height']} ({f['pixels']:,} "
        f"pixels), over this server's limit of {f['max']:,}; {fix}."
    )


def _upscale_too_large(f: Mapping[str, Any]) -> str:
    fix = f"upscale by {_n(f['suggested'])} instead" if f["suggested"] else "start from a smaller image"
    return (
        f"Upscaling {f['width']}x{f['height']} by {_n(f['factor'])} makes {f['out_width']}x{f['out_height']} "
        f"({f['pixels']:,} pixels), over this server's limit of {f['max']:,}; {fix}."
    )


def _clip(text: str, length: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def reset_phrase(seconds_left: float, resets_at: float) -> str:
    """ "in 3 h 12 min (00:00 UTC)": when a quota day ends."""
    seconds = max(0, math.ceil(seconds_left))
    hours, rest = divmod(seconds, 3600)
    minutes = math.ceil(rest / 60) if hours == 0 else rest // 60
    when = dt.datetime.fromtimestamp(resets_at, dt.UTC).strftime("%H:%M UTC")
    if hours and minutes:
        span = f"{hours} h {minutes} min"
    elif hours:
        span = f"{hours} h"
    else:
        span = f"{max(1, minutes)} min"
    return f"in {span} ({when})"


def quota_line(status: QuotaStatus, now: float) -> str:
    """A user's GPU time today, as /info and the /quota commands show it."""
    if status.unlimited:
        return f"Unlimited GPU time ({status.used:.0f} s used today)."
    return (
        f"{status.used:.0f} s of {status.limit:.0f} s GPU time used today"
        + (f", {status.reserved:.0f} s held by waiting jobs" if status.reserved >= 0.5 else "")
        + f"; {status.remaining:.0f} s left. Resets {reset_phrase(status.resets_at - now, status.resets_at)}."
    )


def _too_many_waiting(f: Mapping[str, Any]) -> str:
    listed = "; ".join(f"`{job['id']}` “{_clip(job['prompt'])}”" for job in f["waiting"])
    return (
        f"You already have {f['count']} jobs waiting, the most one person can have queued "
        f"(the limit is {f['limit']}): {listed}. Wait for one to start, or cancel one."
    )


def _queue_full(f: Mapping[str, Any]) -> str:
    first = f["next_start"]
    return (
        f"The queue is full: {f['count']} jobs are waiting, the most it holds "
        f"(the limit is {f['limit']}). Try again in a few minutes"
        + (f" (the next job should start in about {_duration(first)})." if first > 0 else ".")
    )


def _quota_exceeded(f: Mapping[str, Any]) -> str:
    held = f" ({f['reserved']:.0f} s held by your waiting jobs)" if f["reserved"] >= 0.5 else ""
    return (
        f"This needs about {f['needed']} s of GPU time, but you have "
        f"{f['remaining']:.0f} s left of your {f['limit']:.0f} s daily budget{held}. "
        f"Your budget resets {reset_phrase(f['resets_in'], f['resets_at'])}; "
        "fewer images, fewer steps or a smaller size need less."
    )


def _unknown_model(f: Mapping[str, Any]) -> str:
    return f"There is no model called {f['model']}; the models are: {', '.join(f['names']) or 'none'}."


def _switch_failed(f: Mapping[str, Any]) -> str:
    kept = f"; {f['kept']} stays active" if f.get("kept") else ""
    return f"Could not switch to {f['model']}: {f['detail']}{kept}."


PROBLEMS: dict[str, Template] = {
    # -- requests: prompt flags and validation ---------------------------------------------------
    "prompt.bad_value": _bad_value,
    "prompt.text_after_value": (
        "unexpected text {text!r} after --{flag} {value}: --{flag} takes one value, and the prompt goes "
        "before the first flag"
    ),
    "prompt.unknown_flag": _unknown_flag,
    "prompt.flag_twice": _flag_twice,
    "prompt.ratio_with_both_sides": (
        "--{flag} cannot be used with both --w and --h; give --{flag} with one of them, or neither"
    ),
    "prompt.ratio_not_positive": "--{flag} needs two numbers above 0, like 16:9, got {value!r}",
    "prompt.variation_strength_without_seed": (
        "--{flag} needs --{needs} too: the seed to vary towards, like --{needs} 1234"
    ),
    "prompt.unknown_sampler": lambda f: f"--{f['flag']}: {_unknown_sampler(f)}",
    "request.prompt_empty": "The prompt is empty: describe the image you want, like 'a lighthouse at dusk'.",
    "request.prompt_too_long": (
        "The prompt is {length:,} characters long; shorten it to {max:,} characters or fewer."
    ),
    "request.negative_prompt_too_long": (
        "The negative prompt (--{flag}) is {length:,} characters long; shorten it to {max:,} characters "
        "or fewer."
    ),
    "request.source_image_missing": lambda f: (
        "Upscaling needs a source image: attach the image to upscale."
        if f["mode"] == "upscale"
        else "Image-to-image needs a source image: attach the image to start from."
    ),
    "request.source_image_empty": "The source image has no pixels; attach a real image to upscale.",
    "request.side_out_of_range": _side_out_of_range,
    "request.too_many_pixels": (
        "{width}x{height} is {pixels:,} pixels, over this server's limit of {max:,} (about "
        "{square}x{square}); try --w {fit_width} --h {fit_height}, which keeps the shape."
    ),
    "request.steps_out_of_range": (
        "Steps must be between {min} and {max}, not {value}; use --{flag} {max} or fewer."
    ),
    "request.cfg_out_of_range": lambda f: (
        f"CFG scale must be between {_n(f['min'])} and {_n(f['max'])}, not {_n(f['value'])}; "
        f"set it with --{f['flag']} (7 is a good start)."
    ),
    "request.count_out_of_range": (
        "The number of images must be between {min} and {max}, not {value}; use --{flag} {max} or fewer."
    ),
    "request.unknown_sampler": lambda f: f"{_capitalised(_unknown_sampler(f))} (set it with --{f['flag']}).",
    "request.seed_out_of_range": (
        "The seed must be a whole number from 0 to {max}, or -1 for a random one, not {value} (--{flag})."
    ),
    "request.variation_seed_out_of_range": (
        "The variation seed must be a whole number from 0 to {max}, not {value} (--{flag})."
    ),
    "request.variation_strength_out_of_range": lambda f: (
        f"The variation strength must be between 0 and 1, not {_n(f['value'])}; "
        f"try --{f['flag']} 0.1 for a small change."
    ),
    "request.strength_out_of_range": lambda f: (
        f"Strength must be above 0 and at most 1, not {_n(f['value'])}; lower keeps more of the source "
        f"image (try --{f['flag']} 0.6)."
    ),
    "request.no_denoising_step": lambda f: (
        f"With {f['steps']} steps at strength {_n(f['strength'])} not a single denoising step runs; "
        "raise --strength or --steps."
    ),
    "request.hires_needs_txt2img": (
        "The hires fix (--{flag}) works only when generating from a prompt; drop --{flag}."
    ),
    "request.hires_scale_out_of_range": lambda f: (
        f"The hires scale must be above 1 and at most {_n(f['max'])}, not {_n(f['value'])}; "
        f"try --{f['flag']} {_n(f['suggested'])}."
    ),
    "request.hires_strength_out_of_range": lambda f: (
        f"The hires strength must be above 0 and at most 1, not {_n(f['value'])}; try --{f['flag']} 0.5."
    ),
    "request.hires_steps_out_of_range": (
        "Hires steps must be between {min} and {max}, not {value} (--{flag})."
    ),
    "request.hires_too_large": _hires_too_large,
    "request.upscale_factor_too_small": lambda f: (
        f"The upscale factor must be above 1, not {_n(f['value'])}; try {_n(f['suggested'])}."
    ),
    "request.upscale_too_large": _upscale_too_large,
    # -- requests: follow-ups of a job's images ----------------------------------------------------
    "request.no_such_image": "Job `{job_id}` has images 1 to {count}, not {number}.",
    "request.job_has_no_images": "Job `{job_id}` has no images (it is {status}).",
    "sampler.unknown": lambda f: f"{_capitalised(_unknown_sampler(f))}.",
    # -- jobs: submitting, the queue, quotas ------------------------------------------------------
    Refusal.CLOSING: "The bot is restarting; try again in a minute.",
    Refusal.NO_MODEL: "No model is set up yet; ask an admin to add one.",
    Refusal.UNKNOWN_MODEL: _unknown_model,
    Refusal.TOO_MANY_WAITING: _too_many_waiting,
    Refusal.QUEUE_FULL: _queue_full,
    Refusal.QUOTA_EXCEEDED: _quota_exceeded,
    # -- models ------------------------------------------------------------------------------------
    WorkerProblem.MODEL_SWITCH_FAILED: _switch_failed,
    # -- running a job: failures --------------------------------------------------------------------
    WorkerProblem.OUT_OF_MEMORY: (
        "The GPU ran out of memory on this job. Try fewer images, a smaller size or no hires fix, "
        "or try again when the queue is quieter."
    ),
    WorkerProblem.SOURCE_UNREADABLE: (
        "The source image could not be read ({detail}). Attach a PNG or JPEG image and try again."
    ),
    WorkerProblem.MODEL_NOT_LOADED: (
        "The model {model} could not be loaded: {detail}. Ask an admin, or pick another model."
    ),
    WorkerProblem.MODEL_UNUSABLE: "The model could not be used: {detail}",
    WorkerProblem.GENERATION_FAILED: (
        "The generation failed: {detail}. Try other settings, or try again later."
    ),
    WorkerProblem.NOT_SAVED: "The images could not be saved: {detail}. Try again.",
    WorkerProblem.INTERNAL: "Something went wrong on our side; the error was logged.",
    WorkerProblem.WORKERS_LOST: (
        "The GPU worker running this job went down {attempts} times, so it was stopped (and not "
        "charged). Try again, perhaps with fewer images or a smaller size."
    ),
    LEGACY_ERROR: "{text}",  # an error stored as text by an older version
}

UNKNOWN_PROBLEM = "Something went wrong on our side; the error was logged."


def describe(problem: Problem) -> str:
    """The problem in words for users."""
    template = PROBLEMS.get(problem.code)
    if template is None:
        return UNKNOWN_PROBLEM
    if callable(template):
        return template(problem.fields)
    return template.format_map(problem.fields)


def message_for(error: Exception) -> str:
    """What to tell the user about an error: a Problem in words; the bot's own errors (uploads,
    job lookups) carry their sentence as their message."""
    return describe(error) if isinstance(error, Problem) else str(error)


# -- pieces --------------------------------------------------------------------------------------

MAX_PROMPT_SHOWN = 300  # a message holds 2000 characters; the prompt is only a reminder


def short_prompt(prompt: str, limit: int = MAX_PROMPT_SHOWN) -> str:
    prompt = " ".join(prompt.split()) or "(empty prompt)"
    prompt = prompt.replace("*", "\\*").replace("`", "'")
    return prompt if len(prompt) <= limit else prompt[: limit - 1] + "…"


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def mention(user_id: int) -> str:
    return f"<@{user_id}>"


# -- job messages: queued, running, finished, failed ---------------------------------------------


def headline(request: GenerationRequest, user_id: int) -> str:
    what = {
        Mode.TXT2IMG: "",
        Mode.IMG2IMG: " (variation)",
        Mode.UPSCALE: f" (upscale x{request.upscale_factor:g})",
    }[request.mode]
    return f"**{short_prompt(request.prompt)}**{what} - {mention(user_id)}"


def queued_text(request: GenerationRequest, user_id: int, position: int | None, eta: float | None) -> str:
    where = "waiting" if position is None else f"#{position} in the queue"
    when = "" if eta is None else f", starts in about {format_seconds(eta)}"
    return f"{headline(request, user_id)}\nQueued: {where}{when}"


def running_text(
    request: GenerationRequest, user_id: int, step: int | None, total: int | None, eta: float | None
) -> str:
    done = f"step {step}/{total} ({100 * step // total} %)" if step and total else "starting"
    left = "" if eta is None else f", about {format_seconds(eta)} left"
    return f"{headline(request, user_id)}\nGenerating: {done}{left}"


def result_text(job: Job) -> str:
    seed = job.images[0].seed if job.images else job.request.seed
    model = job.model_name or "?"
    return f"{headline(job.request, job.owner.user_id)}\nSeed `{seed}` · Model `{model}` · Job `{job.id}`"


def failed_text(request: GenerationRequest, user_id: int, message: str | None) -> str:
    return f"{headline(request, user_id)}\nFailed: {message or 'the job could not be generated.'}"


def cancelled_text(request: GenerationRequest, user_id: int) -> str:
    return f"{headline(request, user_id)}\nCancelled."


def with_mention(content: str, user_id: int) -> str:
    """A result posted in the channel mentions its user, so they are notified."""
    return content if mention(user_id) in content else f"{mention(user_id)} {content}"


def finished_elsewhere(content: str, jump_url: str) -> str:
    """The old message of a job whose result was posted as a new one."""
    return f"{content.splitlines()[0]}\nFinished: {jump_url}"


# -- buttons ---------------------------------------------------------------------------------------

VARY_SUBTLE_LABEL = "Vary (subtle)"
VARY_STRONG_LABEL = "Vary (strong)"
UPSCALE_AGAIN_LABEL = "Upscale x2"
CANCEL_LABEL = "Cancel"


def upscale_label(number: int) -> str:
    return f"U{number}"


def vary_label(number: int) -> str:
    return f"V{number}"


def job_gone(job_id: str) -> str:
    return f"Job `{job_id}` is gone (it may have been deleted)."


CANNOT_UPSCALE_FURTHER = "This image cannot be upscaled any further."
ONLY_OWNER_DELETES = "Only the person who made this (or an admin) can delete it."
ONLY_OWNER_CANCELS = "Only the person who asked for this (or an admin) can cancel it."
DELETED = "Deleted."


def cancelled_job(job_id: str) -> str:
    return f"Cancelled job `{job_id}`."


def already_ended(job: Job) -> str:
    return f"Job `{job.id}` has already {job.status}."


def job_info(job: Job, parameters: str) -> str:
    """The job's parameters (as the web UI writes them), plus where it came from."""
    lines = [f"**Job** `{job.id}` · {job.request.mode} · {job.status}"]
    if job.parent_id:
        lines.append(f"From job `{job.parent_id}`")
    if job.gpu_seconds:
        lines.append(f"GPU time {job.gpu_seconds:.1f} s")
    if job.error:
        lines.append(f"Error: {describe(job.error)}")
    body = parameters if len(parameters) < 1500 else parameters[:1499] + "…"
    body = body.replace("```", "'''")
    return "\n".join(lines) + f"\n```\n{body}\n```"


# -- submitting --------------------------------------------------------------------------------------


def banned_word(word: str) -> str:
    return f'Your prompt contains "{word}", which is not allowed on this server.'


# -- /vary -------------------------------------------------------------------------------------------

VARY_NEEDS_A_SOURCE = "Attach an image, or give a job (and image number) to vary."
UPLOAD_NOT_AN_IMAGE = "That attachment is not an image."
UPLOAD_UNREADABLE = "That attachment is not an image I can read (use PNG, JPEG or WebP)."
UPLOAD_NOT_DOWNLOADED = "I could not download that attachment; try again."


def upload_too_many_pixels(width: int, height: int) -> str:
    return f"The image is {width}x{height}; that is too large to use."


def upload_too_big(size: int, limit: int) -> str:
    return f"The image is {size / 1e6:.1f} MB; attach one under {limit // 10**6} MB."


def no_job(job_id: str) -> str:
    return f"There is no job `{job_id}`."


def strength_not_understood(given: str) -> str:
    return f"Strength must be subtle, strong or a number like 0.5, not {given!r}."


def strength_out_of_range(value: float) -> str:
    return f"Strength must be above 0 and at most 1, not {value:g}."


# -- /show and /info ---------------------------------------------------------------------------------


def no_job_you_can_see(job_id: str) -> str:
    return f"There is no job `{job_id}` you can see."


def job_not_done(job: Job, position: int | None) -> str:
    state = f"#{position} in the queue" if position is not None else str(job.status)
    note = f": {describe(job.error)}" if job.error else ""
    return f"Job `{job.id}` is {state}{note}."


def job_line(job: Job) -> str:
    return f"`{job.id}` {job.status} · {short_prompt(job.request.prompt, 60)}"


def job_choice(job: Job) -> str:
    """An autocomplete entry for a job (Discord allows 100 characters)."""
    return f"{job.id} · {short_prompt(job.request.prompt, 80)}"[:100]


def info(
    quota_line: str,
    model: str | None,
    waiting: int,
    paused: bool,
    places: Sequence[tuple[int, Job]],
    recent: Sequence[Job],
) -> str:
    """/info: the user's quota, the model, the queue, their places in it and their recent jobs."""
    lines = [
        f"**Quota:** {quota_line}",
        f"**Model:** `{model or 'none loaded yet'}`",
        f"**Queue:** {waiting} waiting" + (" (paused)" if paused else ""),
    ]
    if places:
        lines.append("**Your place:** " + ", ".join(f"`{j.id}` #{p}" for p, j in places))
    if recent:
        lines.append("**Your recent jobs:**")
        lines += [f"- {job_line(j)}" for j in recent]
    return "\n".join(lines)


# -- admin commands ------------------------------------------------------------------------------------

ADMIN_ONLY = "Only admins can do that (it needs the Manage Server permission)."
MAX_LISTED = 20  # jobs /queue list shows


def model_list(names: Sequence[str], active: str | None) -> str:
    lines = [f"- `{n}`" + (" (active)" if n == active else "") for n in names]
    return "**Models:**\n" + ("\n".join(lines) if lines else "none found")


def model_switch_failed(name: str, reason: Exception) -> str:
    """ModelSwitchError is a Problem; ModelNotFound carries its own sentence."""
    return f"Could not switch to `{name}`: {message_for(reason)}"


def model_switched(name: str) -> str:
    return f"The active model is now `{name}`."


def quota_of(user_mention: str, quota_line: str) -> str:
    return f"{user_mention}: {quota_line}"


def quota_granted(seconds: float, user_mention: str, quota_line: str) -> str:
    return f"Granted {seconds:g} s to {user_mention}. {quota_line}"


def quota_set(seconds: float | None, user_mention: str, quota_line: str) -> str:
    what = "the default" if seconds is None else f"{seconds:g} s a day"
    return f"{user_mention} now has {what}. {quota_line}"


def queue_list(waiting: Sequence[Job], paused: bool) -> str:
    lines = [
        f"{i}. `{job.id}` {mention(job.owner.user_id)} {short_prompt(job.request.prompt, 60)}"
        for i, job in enumerate(waiting[:MAX_LISTED], start=1)
    ]
    if len(waiting) > MAX_LISTED:
        lines.append(f"... and {len(waiting) - MAX_LISTED} more")
    state = " (paused)" if paused else ""
    body = "\n".join(lines) if lines else "Nothing is waiting."
    return f"**Queue{state}:** {len(waiting)} waiting\n{body}"


def workers_list(workers: Sequence[WorkerInfo]) -> str:
    """/queue workers: one line a GPU worker (where, which GPU, its model, what it does)."""
    if not workers:
        return "**Workers:** none is up yet."
    lines = []
    for worker in workers:
        model = f"`{worker.model}`" if worker.model else "no model"
        jobs = ", ".join(f"`{job_id}`" for job_id in worker.jobs[:4]) or "-"
        lines.append(
            f"`{worker.id}` on {worker.node} ({worker.device}): {model}, {worker.state.value}, "
            f"jobs {jobs}, {worker.jobs_done} done"
        )
    busy = sum(worker.state.value != "idle" for worker in workers)
    return f"**Workers:** {len(workers)} ({busy} busy)\n" + "\n".join(lines)


def not_waiting_or_running(job_id: str) -> str:
    return f"Job `{job_id}` is not waiting or running."


QUEUE_PAUSED = "The queue is paused (also across restarts) until `/queue resume`."
QUEUE_RESUMED = "The queue is running again."


def word_banned(word: str) -> str:
    return f'Prompts containing "{word}" are now refused here.'


def word_not_listed(word: str) -> str:
    return f'"{word}" is not on this server\'s list.'


def word_allowed(word: str) -> str:
    return f'"{word}" is allowed again.'


def banned_words(server: Sequence[str], everywhere: Sequence[str]) -> str:
    text = "**This server:** " + (", ".join(f"`{w}`" for w in server) or "none")
    return text + "\n**Everywhere (config):** " + (", ".join(f"`{w}`" for w in everywhere) or "none")


def spoilers(enabled: bool) -> str:
    state = "as spoilers" if enabled else "normally"
    return f"Results outside NSFW channels are now posted {state}."


def synced(count: int, changed: bool) -> str:
    """/sync: the commands were sent; say whether they differed from the last sync."""
    commands = f"{count} command" + ("" if count == 1 else "s")
    if changed:
        return f"Synced {commands} with Discord: they had changed since the last sync."
    return f"Synced {commands} with Discord again; nothing had changed since the last sync."
