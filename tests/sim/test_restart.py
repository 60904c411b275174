"""Restart: sessions end in EOF without a Shutdown event, and the PBX comes back fresh."""

from __future__ import annotations

import asyncio

from cti.ami.frames import first
from tests.sim.client import AmiTestClient, events
from tests.sim.conftest import Connect, StartSim


async def test_restart_drops_sessions_without_shutdown_and_resets_the_pbx(
    start_sim: StartSim, connect: Connect
) -> None:
    sim = await start_sim()
    watcher = await connect(sim)
    admin = await connect(sim)
    await admin.action("QueueAdd", Queue="support", Interface="PJSIP/1001")
    await admin.action("QueuePause", Interface="Local/agent2@agents/n", Paused="1")
    await sim.clock.sleep(30)
    await admin.sync()
    admin.send("Command", Command="core restart now")
    assert [m.get("Event") for m in await admin.eof()] == [], "the issuing session gets nothing"
    assert all(m.get("Event") != "Shutdown" for m in await watcher.eof())
    again = await connect(sim, login=False)
    await again.login()
    booted = (await again.until(lambda m: m.get("Event") == "FullyBooted"))[-1]
    assert int(first(booted, "Uptime")) < 30
    await again.action("QueueStatus", Queue="support")
    listing = await again.until(lambda m: m.get("Event") == "QueueStatusComplete")
    members = events(listing, "QueueMember")
    assert [first(m, "Name") for m in members] == ["Alice", "Bob"]
    assert all(first(m, "Paused") == "0" for m in members)


async def test_restart_with_downtime_refuses_connections_meanwhile(start_sim: StartSim) -> None:
    sim = await start_sim(time_scale=0.01)
    restart = asyncio.create_task(sim.restart(downtime=20))
    await asyncio.sleep(0.05)
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
        writer.close()
        refused = False
    except ConnectionRefusedError:
        refused = True
    await restart
    assert refused
    client = await AmiTestClient.connect(sim.port)
    try:
        assert first(await client.login(), "Message") == "Authentication accepted"
    finally:
        await client.close()
