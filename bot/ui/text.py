"""Every sentence the bot shows users, in one place.

`generation/` hands problems over as codes and fields (`generation.problems.Problem`);
`describe(problem)` words them. A template is a `str.format` pattern over the problem's fields, or a
function of the fields for wording that depends on them. The rest of the module words what the
bot itself says: job messages, button labels, the answers of the commands. (Command and option
descriptions stay with the commands they declare: Discord shows them from the command tree.)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from generation.jobs.types import Job
from generation.problems import Problem
from generation.requests.request import GenerationRequest, Mode

Template = str | Callable[[Mapping[str, Any]], str]

PROBLEMS: dict[str, Template] = {
    # -- requests: prompt flags and validation ---------------------------------------------------
    # -- requests: follow-ups of a job's images ----------------------------------------------------
    "no_such_image": "Job `{job_id}` has images 1 to {count}, not {number}.",
    "job_has_no_images": "Job `{job_id}` has no images (it is {status}).",
    # -- jobs: submitting, the queue, quotas ------------------------------------------------------
    # -- models ------------------------------------------------------------------------------------
    # -- running a job: failures --------------------------------------------------------------------
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
        lines.append(f"Error: {job.error}")
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
    note = f": {job.error}" if job.error else ""
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


def model_switch_failed(name: str, reason: object) -> str:
    return f"Could not switch to `{name}`: {reason}"


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
