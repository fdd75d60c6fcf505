"""The one visibility rule: owner; members of the server a job was made in; DM jobs their owner's
alone; a button's job for whoever sees its message. Managing: the owner, or an admin who sees it."""

from __future__ import annotations

from types import SimpleNamespace

import discord

from bot.access import Viewer, jobs_on, may_manage, may_see, visible
from bot.buttons import ResultButton
from bot.settings import DiscordSettings
from generation.jobs.types import JobOwner
from tests.helpers.jobs import make_job

SERVER_JOB = make_job()  # user 11 in server 22
DM_JOB = make_job().replace(id="dmjob00001", owner=JobOwner(11, None, 44))


def test_owner_and_members_of_the_server_see_a_job_and_nobody_else():
    assert may_see(Viewer(11, None), SERVER_JOB) and may_see(Viewer(11, 99), DM_JOB)  # the owner, anywhere
    assert may_see(Viewer(12, 22), SERVER_JOB)  # a member of the server it was made in
    assert not may_see(Viewer(12, 99), SERVER_JOB)  # another server
    assert not may_see(Viewer(12, 99, admin=True), SERVER_JOB)  # even its admin
    assert not may_see(Viewer(12, None), SERVER_JOB)  # a DM
    assert not may_see(Viewer(12, 22, admin=True), DM_JOB)  # DM jobs: the owner alone
    assert may_see(Viewer(12, 99, shown=frozenset({DM_JOB.id})), DM_JOB)  # its buttons are on a message here
    assert visible(Viewer(12, 22), [SERVER_JOB, DM_JOB]) == [SERVER_JOB]


def test_managing_is_for_the_owner_or_an_admin_who_sees_the_job():
    assert may_manage(Viewer(11, None), SERVER_JOB)
    assert may_manage(Viewer(12, 22, admin=True), SERVER_JOB)
    assert not may_manage(Viewer(12, 22), SERVER_JOB)
    assert not may_manage(Viewer(12, 99, admin=True), SERVER_JOB)


def test_a_viewer_knows_the_jobs_on_the_clicked_message():
    view = discord.ui.View()
    view.add_item(ResultButton("u", "jobaaaaaa1", 0, label="U1"))
    view.add_item(ResultButton("v", "jobbbbbbb2", 1, label="V2"))
    view.add_item(discord.ui.Button(label="other", custom_id="something:else"))
    rows = [SimpleNamespace(children=[SimpleNamespace(custom_id=i.custom_id) for i in view.children])]
    assert jobs_on(SimpleNamespace(components=rows)) == {"jobaaaaaa1", "jobbbbbbb2"}
    interaction = SimpleNamespace(
        user=SimpleNamespace(id=5, _roles=[]),
        guild_id=22,
        permissions=discord.Permissions(manage_guild=True),
        message=None,
    )
    assert Viewer.of(interaction, DiscordSettings()) == Viewer(5, 22, admin=True)
