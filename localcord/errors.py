"""Discord's JSON errors: the codes the server answers with, and ``ApiError`` to raise them."""

from __future__ import annotations

from typing import Any

UNKNOWN_ACCOUNT = 10001
UNKNOWN_APPLICATION = 10002
UNKNOWN_CHANNEL = 10003
UNKNOWN_GUILD = 10004
UNKNOWN_MEMBER = 10007
UNKNOWN_MESSAGE = 10008
UNKNOWN_USER = 10013
UNKNOWN_WEBHOOK = 10015
UNKNOWN_INTERACTION = 10062
UNKNOWN_APPLICATION_COMMAND = 10063
UNAUTHORIZED = 40001
INVALID_INTERACTION_RESPONSE = 40004
REQUEST_ENTITY_TOO_LARGE = 40005
INTERACTION_ALREADY_ACKNOWLEDGED = 40060
MISSING_ACCESS = 50001
CANNOT_EDIT_OTHERS_MESSAGE = 50005
CANNOT_SEND_EMPTY_MESSAGE = 50006
MISSING_PERMISSIONS = 50013
INVALID_WEBHOOK_TOKEN = 50027
INVALID_FORM_BODY = 50035


class ApiError(Exception):
    """Raised by route handlers; becomes ``{"message", "code"[, "errors"]}`` with ``status``."""

    def __init__(self, status: int, code: int, message: str, errors: dict[str, Any] | None = None):
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        data: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            data["errors"] = self.errors
        return data


def not_found(code: int, what: str) -> ApiError:
    return ApiError(404, code, f"Unknown {what}")


def form_error(errors: dict[str, Any]) -> ApiError:
    return ApiError(400, INVALID_FORM_BODY, "Invalid Form Body", errors)


def field_error(path: str, code: str, message: str) -> dict[str, Any]:
    """Nest ``{"a": {"0": {"b": {"_errors": [...]}}}}`` for the dotted path ``a.0.b``."""
    leaf: dict[str, Any] = {"_errors": [{"code": code, "message": message}]}
    for part in reversed(path.split(".")):
        leaf = {part: leaf}
    return leaf


def missing_permissions() -> ApiError:
    return ApiError(403, MISSING_PERMISSIONS, "Missing Permissions")


def too_large() -> ApiError:
    return ApiError(413, REQUEST_ENTITY_TOO_LARGE, "Request entity too large")


def empty_message() -> ApiError:
    return ApiError(400, CANNOT_SEND_EMPTY_MESSAGE, "Cannot send an empty message")


def invalid_response_type() -> ApiError:
    return ApiError(
        400, INVALID_INTERACTION_RESPONSE, "Interaction response type is not valid for this interaction"
    )
