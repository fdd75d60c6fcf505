"""Discord's payload limits, answered as Discord answers them."""

from __future__ import annotations

import pytest

from localcord.errors import ApiError
from localcord.models import UploadedFile
from localcord.validation import check_files, validate_commands, validate_message, validate_modal


def test_message_limits_are_form_errors_with_field_paths():
    with pytest.raises(ApiError) as err:
        validate_message({"content": "x" * 2001, "embeds": [{"title": "t" * 257}]}, 0, creating=True)
    assert err.value.status == 400 and err.value.code == 50035
    assert set(err.value.errors) == {"content", "embeds"}
    assert err.value.errors["embeds"]["0"]["title"]["_errors"][0]["code"] == "BASE_TYPE_MAX_LENGTH"
    validate_message({"content": "x" * 2000}, 0, creating=True)  # at the limit: fine


def test_an_empty_new_message_is_refused_but_a_file_alone_is_not():
    with pytest.raises(ApiError) as err:
        validate_message({"content": ""}, 0, creating=True)
    assert err.value.code == 50006
    validate_message({"content": ""}, 1, creating=True)
    validate_message({}, 0, creating=False)  # an edit may change nothing here


def test_duplicate_custom_ids_are_refused():
    row = {"type": 1, "components": [{"type": 2, "custom_id": "a"}, {"type": 2, "custom_id": "a"}]}
    with pytest.raises(ApiError) as err:
        validate_message({"components": [row]}, 0, creating=True)
    assert err.value.errors["components"]["0"]["custom_id"]["_errors"][0]["code"] == (
        "COMPONENT_CUSTOM_ID_DUPLICATED"
    )


def test_files_too_many_or_too_large():
    small = UploadedFile(field="files[0]", filename="a.png", data=b"x" * 10)
    check_files([small] * 10, limit=10, total_limit=None)
    with pytest.raises(ApiError) as err:
        check_files([small] * 11, limit=10, total_limit=None)
    assert err.value.code == 50035
    with pytest.raises(ApiError) as err:
        check_files([small], limit=9, total_limit=None)
    assert (err.value.status, err.value.code) == (413, 40005)
    with pytest.raises(ApiError) as err:
        check_files([small, small], limit=10, total_limit=15)
    assert err.value.status == 413


def test_commands_and_modals():
    ok = {"name": "imagine", "description": "Make a picture"}
    validate_commands([ok])
    with pytest.raises(ApiError) as err:
        validate_commands([ok, {"name": "Bad Name", "description": "Fine"}])
    assert err.value.errors["1"]["name"]["_errors"][0]["code"] == "APPLICATION_COMMAND_INVALID_NAME"
    with pytest.raises(ApiError) as err:
        validate_commands([ok, dict(ok)])
    assert err.value.message == "Application command names must be unique"
    with pytest.raises(ApiError) as err:
        validate_modal({"custom_id": "m", "title": "t" * 46, "components": [{"type": 1}]})
    assert err.value.errors["data"]["title"]["_errors"][0]["code"] == "BASE_TYPE_BAD_LENGTH"
    validate_modal({"custom_id": "m", "title": "Prompt", "components": [{"type": 1}]})
