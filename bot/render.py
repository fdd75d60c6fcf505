"""The words on job messages: queued, running, finished, failed."""

from __future__ import annotations

from generation.requests.request import GenerationRequest, Mode

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


def headline(request: GenerationRequest, user_id: int) -> str:
    what = {
        Mode.TXT2IMG: "",
        Mode.IMG2IMG: " (variation)",
        Mode.UPSCALE: f" (upscale x{request.upscale_factor:g})",
    }[request.mode]
    return f"**{short_prompt(request.prompt)}**{what} - <@{user_id}>"


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


def result_text(request: GenerationRequest, user_id: int, seed: int, model: str | None, job_id: str) -> str:
    return f"{headline(request, user_id)}\nSeed `{seed}` · Model `{model or '?'}` · Job `{job_id}`"


def failed_text(request: GenerationRequest, user_id: int, message: str | None) -> str:
    return f"{headline(request, user_id)}\nFailed: {message or 'the job could not be generated.'}"


def cancelled_text(request: GenerationRequest, user_id: int) -> str:
    return f"{headline(request, user_id)}\nCancelled."
