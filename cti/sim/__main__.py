"""`python -m cti.sim`: a simulated PBX on an AMI port, with live traffic, until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from cti.sim.config import SimulatorConfig
from cti.sim.simulator import run_simulator

logger = logging.getLogger("cti.sim")


def _parse(argv: list[str] | None) -> SimulatorConfig:
    parser = argparse.ArgumentParser(prog="python -m cti.sim", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5038)
    parser.add_argument("--username", default="cti")
    parser.add_argument("--secret", default="ctisecret")
    parser.add_argument("--rate", type=float, default=6.0, help="calls per minute")
    parser.add_argument("--scale", type=float, default=1.0, help="wall seconds per PBX second")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--no-traffic", action="store_true")
    args = parser.parse_args(argv)
    return SimulatorConfig(
        host=args.host,
        port=args.port,
        username=args.username,
        secret=args.secret,
        calls_per_minute=0.0 if args.no_traffic else args.rate,
        time_scale=args.scale,
        seed=args.seed,
    )


async def _serve(config: SimulatorConfig) -> None:
    sim = await run_simulator(config)
    logger.info("AMI on %s:%d (user %s)", config.host, sim.port, config.username)
    if config.calls_per_minute > 0:
        sim.start_traffic()
    try:
        await asyncio.Event().wait()
    finally:
        await sim.stop()


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(_parse(argv)))


if __name__ == "__main__":
    main()
