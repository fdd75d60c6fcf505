"""Discord's payload limits, checked the way Discord answers them: 400 Invalid Form Body
(50035) with nested field errors, 50006 for an empty message, 413 for files too large."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import INVALID_FORM_BODY, ApiError, empty_message, field_error, form_error, too_large
from .models import UploadedFile, walk_components

COMMAND_NAME_RE = re.compile(r"^[-_\w]{1,32}$")
MAX_FILES = 10


def check_files(files: list[UploadedFile], limit: int, total_limit: int | None) -> None:
    """At most ten files, each within ``limit`` bytes, all within ``total_limit`` (None: no limit)."""
    if len(files) > MAX_FILES:
        raise form_error(field_error("files", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."))
    if any(f.size > limit for f in files):
        raise too_large()
    if total_limit is not None and sum(f.size for f in files) > total_limit:
        raise too_large()


def validate_commands(body: Any) -> None:
    """A PUT of the whole command list (bulk overwrite)."""
    if not isinstance(body, list):
        raise form_error(field_error("_root", "LIST_TYPE_CONVERT", "Must be an array."))
    if len(body) > 100:
        raise form_error(field_error("_root", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length."))
    found: dict[str, Any] = {}
    for i, cmd in enumerate(body):
        found.update(command_errors(cmd, str(i)))
    if found:
        raise form_error(found)
    names = [(c.get("type", 1), c.get("name")) for c in body]
    if len(set(names)) != len(names):
        raise ApiError(400, INVALID_FORM_BODY, "Application command names must be unique")


def validate_command(cmd: dict[str, Any]) -> None:
    """A POST of one command."""
    found = command_errors(cmd, None)
    if found:
        raise form_error(found)


def command_errors(cmd: dict[str, Any], prefix: str | None) -> dict[str, Any]:
    """Field errors of one command (paths under ``prefix``, the command's index in a list)."""
    errors: dict[str, Any] = {}

    def err(path: str, code: str, message: str) -> None:
        full = f"{prefix}.{path}" if prefix is not None else path
        errors.update(field_error(full, code, message))

    ctype = cmd.get("type", 1)
    name = cmd.get("name")
    if not isinstance(name, str) or not (1 <= len(name) <= 32):
        err("name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length.")
    elif ctype == 1 and (not COMMAND_NAME_RE.match(name) or name != name.lower()):
        err("name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
    if ctype == 1:
        desc = cmd.get("description")
        if not isinstance(desc, str) or not (1 <= len(desc) <= 100):
            err("description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    validate_options(cmd.get("options") or [], "options", err)
    return errors


def validate_options(options: list[dict[str, Any]], path: str, err: Callable[[str, str, str], None]) -> None:
    if len(options) > 25:
        err(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    seen_optional = False
    for i, opt in enumerate(options):
        p = f"{path}.{i}"
        name = opt.get("name")
        if not isinstance(name, str) or not COMMAND_NAME_RE.match(name) or name != name.lower():
            err(f"{p}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        desc = opt.get("description")
        if not isinstance(desc, str) or not (1 <= len(desc) <= 100):
            err(f"{p}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        choices = opt.get("choices") or []
        if len(choices) > 25:
            err(f"{p}.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if choices and opt.get("autocomplete"):
            err(f"{p}.autocomplete", "AUTOCOMPLETE_CHOICES", "Autocomplete cannot be set with choices")
        if opt.get("type") in (1, 2):
            validate_options(opt.get("options") or [], f"{p}.options", err)
        elif opt.get("required"):
            if seen_optional:
                err(
                    f"{p}.required",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True


def validate_modal(data: dict[str, Any]) -> None:
    """The ``data`` of a modal callback (type 9)."""
    errors: dict[str, Any] = {}
    if not data.get("custom_id"):
        errors.update(field_error("data.custom_id", "BASE_TYPE_REQUIRED", "This field is required"))
    if not data.get("title") or len(data.get("title", "")) > 45:
        errors.update(
            field_error("data.title", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 45 in length.")
        )
    comps = data.get("components") or []
    if not 1 <= len(comps) <= 5:
        errors.update(
            field_error("data.components", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        )
    if errors:
        raise form_error(errors)


def validate_message(data: dict[str, Any], n_files: int, *, creating: bool) -> None:
    """Discord's main message limits; raises ApiError 400 (50035 / 50006)."""
    errors: dict[str, Any] = {}
    content = data.get("content")
    if content is not None and len(str(content)) > 2000:
        errors.update(field_error("content", "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length."))
    embeds = data.get("embeds") or []
    if len(embeds) > 10:
        errors.update(field_error("embeds", "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length."))
    total = 0
    for i, e in enumerate(embeds):
        for key, limit in (("title", 256), ("description", 4096)):
            value = e.get(key)
            if value is not None:
                total += len(str(value))
                if len(str(value)) > limit:
                    errors.update(
                        field_error(
                            f"embeds.{i}.{key}",
                            "BASE_TYPE_MAX_LENGTH",
                            f"Must be {limit} or fewer in length.",
                        )
                    )
        fields = e.get("fields") or []
        if len(fields) > 25:
            errors.update(
                field_error(f"embeds.{i}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            )
        for j, f in enumerate(fields):
            total += len(str(f.get("name", ""))) + len(str(f.get("value", "")))
            if len(str(f.get("name", ""))) > 256:
                errors.update(
                    field_error(
                        f"embeds.{i}.fields.{j}.name",
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 256 or fewer in length.",
                    )
                )
            if len(str(f.get("value", ""))) > 1024:
                errors.update(
                    field_error(
                        f"embeds.{i}.fields.{j}.value",
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 1024 or fewer in length.",
                    )
                )
        footer = (e.get("footer") or {}).get("text")
        if footer:
            total += len(str(footer))
            if len(str(footer)) > 2048:
                errors.update(
                    field_error(
                        f"embeds.{i}.footer.text", "BASE_TYPE_MAX_LENGTH", "Must be 2048 or fewer in length."
                    )
                )
        author = (e.get("author") or {}).get("name")
        if author:
            total += len(str(author))
    if total > 6000:
        errors.update(
            field_error("embeds", "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
        )
    components = data.get("components") or []
    validate_components(components, errors, bool(data.get("flags", 0) & (1 << 15)))
    if errors:
        raise form_error(errors)
    if creating and not (
        content or embeds or n_files or components or data.get("sticker_ids") or data.get("poll")
    ):
        raise empty_message()


def validate_components(components: list[dict[str, Any]], errors: dict[str, Any], v2: bool) -> None:
    if not v2 and len(components) > 5:
        errors.update(field_error("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."))
    custom_ids: set[str] = set()
    for i, row in enumerate(components):
        if row.get("type") == 1:
            children = row.get("components") or []
            if len(children) > 5:
                errors.update(
                    field_error(
                        f"components.{i}.components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length."
                    )
                )
        for comp in walk_components([row]):
            cid = comp.get("custom_id")
            if cid is not None:
                if len(cid) > 100:
                    errors.update(
                        field_error(
                            f"components.{i}.custom_id",
                            "BASE_TYPE_MAX_LENGTH",
                            "Must be 100 or fewer in length.",
                        )
                    )
                if cid in custom_ids:
                    errors.update(
                        field_error(
                            f"components.{i}.custom_id",
                            "COMPONENT_CUSTOM_ID_DUPLICATED",
                            "Component custom id cannot be duplicated",
                        )
                    )
                custom_ids.add(cid)
            label = comp.get("label")
            if comp.get("type") == 2 and label is not None and len(label) > 80:
                errors.update(
                    field_error(
                        f"components.{i}.label", "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length."
                    )
                )
            if comp.get("type") == 3 and len(comp.get("options") or []) > 25:
                errors.update(
                    field_error(
                        f"components.{i}.options", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                    )
                )
