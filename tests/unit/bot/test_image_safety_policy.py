"""Which image check a job gets (bot.safety.ServerImageSafety): a channel's own setting, then the
NSFW exemption, then the server's mode, then the config's; a thread follows its channel's."""

from __future__ import annotations

from bot.safety import ServerImageSafety
from generation.safety.check import SafetyMode
from generation.settings import SafetySettings

DEFAULTS = SafetySettings(images="spoiler")  # what a server that chose nothing gets
GENERAL, NSFW, THREAD = 11, 12, 13


def test_the_config_then_the_server_decide_outside_nsfw_channels():
    assert ServerImageSafety().mode_for(DEFAULTS, (GENERAL,), nsfw=False) is SafetyMode.SPOILER
    server = ServerImageSafety(mode=SafetyMode.BLOCK)
    assert server.mode_for(DEFAULTS, (GENERAL,), nsfw=False) is SafetyMode.BLOCK
    off = ServerImageSafety(mode=SafetyMode.OFF)
    assert off.mode_for(DEFAULTS, (GENERAL,), nsfw=False) is SafetyMode.OFF


def test_nsfw_channels_are_exempt_unless_the_server_or_the_channel_says_otherwise():
    server = ServerImageSafety(mode=SafetyMode.BLOCK)
    assert server.mode_for(DEFAULTS, (NSFW,), nsfw=True) is SafetyMode.OFF  # exempt by default
    checked = ServerImageSafety(mode=SafetyMode.BLOCK, exempt_nsfw=False)
    assert checked.mode_for(DEFAULTS, (NSFW,), nsfw=True) is SafetyMode.BLOCK
    not_exempt = SafetySettings(images="block", exempt_nsfw=False)  # the config's own default
    assert ServerImageSafety().mode_for(not_exempt, (NSFW,), nsfw=True) is SafetyMode.BLOCK
    own = server.with_channel(NSFW, SafetyMode.SPOILER)
    assert own.mode_for(DEFAULTS, (NSFW,), nsfw=True) is SafetyMode.SPOILER  # the override wins


def test_a_channel_override_wins_and_a_thread_follows_its_channel():
    server = ServerImageSafety(mode=SafetyMode.BLOCK).with_channel(GENERAL, SafetyMode.OFF)
    assert server.mode_for(DEFAULTS, (GENERAL,), nsfw=False) is SafetyMode.OFF
    assert server.mode_for(DEFAULTS, (THREAD, GENERAL), nsfw=False) is SafetyMode.OFF  # its parent's
    own = server.with_channel(THREAD, SafetyMode.SPOILER)
    assert own.mode_for(DEFAULTS, (THREAD, GENERAL), nsfw=False) is SafetyMode.SPOILER  # its own first
    back = own.with_channel(GENERAL, None)  # "server": the channel follows the server again
    assert back.mode_for(DEFAULTS, (GENERAL,), nsfw=False) is SafetyMode.BLOCK
    assert back.channels == {THREAD: SafetyMode.SPOILER}


def test_the_setting_round_trips_and_unknown_values_are_left_out():
    server = ServerImageSafety(SafetyMode.BLOCK, False, {GENERAL: SafetyMode.OFF})
    assert ServerImageSafety.from_dict(server.to_dict()) == server
    odd = {"mode": "burn", "exempt_nsfw": "yes", "channels": {"x": "off", str(NSFW): "maybe", "5": "block"}}
    assert ServerImageSafety.from_dict(odd) == ServerImageSafety(channels={5: SafetyMode.BLOCK})
    assert ServerImageSafety.from_dict(None) == ServerImageSafety()
