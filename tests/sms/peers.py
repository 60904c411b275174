"""Real SMS gateway peers on loopback: Prism serving Twilio's API, and Kannel with a fake SMSC.

`./scripts/test-deps` installs them: Kannel from Debian, Prism with npm into
tests/sms/prism/node_modules; Prism serves Twilio's own OpenAPI spec, kept in tests/sms/prism/.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import aiohttp
import pytest

PRISM_DIR = Path(__file__).resolve().parent / "prism"
PRISM = PRISM_DIR / "node_modules" / ".bin" / "prism"
PRISM_START_DEADLINE = 30.0
KANNEL_START_DEADLINE = 20.0
STOP_DEADLINE = 5.0
POLL_INTERVAL = 0.05
INSTALL_HINT = "run ./scripts/test-deps to install the SMS peers"


def free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1, all different (each socket stays bound until all are picked)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


def log_tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"(no log at {path})"
    text = path.read_text(encoding="utf-8", errors="replace")
    return f"--- last lines of {path.name} ---\n" + "\n".join(text.splitlines()[-lines:])


def spawn(argv: list[str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    """Start a peer in its own process group, its output going to `log`."""
    with log.open("wb") as out:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes], deadline: float = STOP_DEADLINE) -> None:
    """SIGTERM the process group, SIGKILL it if still there after `deadline` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=deadline)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=deadline)


# --- Prism: Twilio's REST API mocked from its OpenAPI spec --------------------------------------


@dataclass(frozen=True, slots=True)
class PrismPeer:
    """A running Prism mock of Twilio's 2010-04-01 REST API."""

    url: str


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismPeer]:
    if not PRISM.exists():
        pytest.fail(f"Prism is missing at {PRISM}: {INSTALL_HINT}", pytrace=False)
    spec = PRISM_DIR / "twilio_api_v2010.json"
    (port,) = free_ports(1)
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("prism") / "prism.log"
    argv = [str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(spec)]
    proc = spawn(argv, log, PRISM_DIR)
    try:
        ready = f"Prism is listening on {url}"
        deadline = time.monotonic() + PRISM_START_DEADLINE
        while ready not in log.read_text(encoding="utf-8", errors="replace"):
            if proc.poll() is not None or time.monotonic() > deadline:
                state = "exited" if proc.poll() is not None else "timed out"
                pytest.fail(f"Prism {state} before listening\n{log_tail(log)}", pytrace=False)
            time.sleep(POLL_INTERVAL)
        yield PrismPeer(url=url)
    finally:
        stop(proc)


# --- Kannel's fake SMSC line protocol (gw/smsc/smsc_fake.c) -------------------------------------


@dataclass(frozen=True, slots=True)
class MtMessage:
    """An SMS bearerbox handed to the fake SMSC, with its parts put back together.

    `coding` is Kannel's: 0 text, 1 8-bit data (`text` holds its bytes as Latin-1), 2 UCS-2. The
    parts of a long SMS do not carry it: it is 2 if their payload reads as UTF-16, else 0.
    """

    sender: str
    receiver: str
    coding: int
    text: str
    parts: int = 1


class FakeSmscError(Exception):
    """bearerbox sent something the fake SMSC protocol does not allow, or hung up."""


def _url_decode(value: bytes) -> bytes:
    # Kannel's octstr_url_encode writes a space as "+" and a "+" as "%2B".
    return urllib.parse.unquote_to_bytes(value.replace(b"+", b" "))


def _decode_concatenated(payload: bytes) -> tuple[int, str]:
    # A "udh" line does not say its coding. UCS-2 gives itself away with NUL octets or by not
    # being UTF-8, which is how Kannel holds text internally. 8-bit parts read as text.
    if b"\x00" not in payload:
        with contextlib.suppress(UnicodeDecodeError):
            return 0, payload.decode("utf-8")
    return 2, payload.decode("utf-16-be", errors="replace")


def _concatenation(udh: bytes) -> tuple[int, int, int]:
    """(reference, total, sequence) from the 8-bit concatenation element that Kannel writes."""
    at = 1
    while at + 1 < len(udh):
        element, length = udh[at], udh[at + 1]
        if element == 0 and length == 3 and at + 5 <= len(udh):
            return udh[at + 2], udh[at + 3], udh[at + 4]
        at += 2 + length
    raise FakeSmscError(f"UDH without an 8-bit concatenation element: {udh.hex()}")


class FakeSmsc:
    """An SMSC speaking Kannel's fake protocol to bearerbox, in place of Kannel's fakesmsc.

    bearerbox writes one line per SMS (part): `SENDER RECEIVER text RAW-UTF-8`,
    `... data URLENC`, `... ucs-2 URLENC-UTF-16BE` or `... udh URLENC-UDH data URLENC`. A "text"
    line carries its text raw, so a newline in it starts a new line on the wire: a line that is
    no message continues the text before it.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writer = writer
        self._messages: list[MtMessage] = []
        self._parts: dict[tuple[str, str, int, int], dict[int, bytes]] = {}
        self._last_was_text = False
        self._failure: FakeSmscError | None = None
        self._changed = asyncio.Condition()
        self._reading = asyncio.create_task(self._read(reader), name="fake-smsc-read")

    @property
    def messages(self) -> list[MtMessage]:
        return list(self._messages)

    async def wait_for(self, count: int, timeout: float) -> list[MtMessage]:  # noqa: ASYNC109
        """Every message received, once there are at least `count`."""
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(
                    lambda: len(self._messages) >= count or self._failure is not None
                )
        except TimeoutError:
            raise TimeoutError(
                f"the fake SMSC got {len(self._messages)} of {count} messages in {timeout} s: "
                f"{self._messages}"
            ) from None
        if self._failure is not None and len(self._messages) < count:
            raise self._failure
        return list(self._messages)

    async def send_mo(self, sender: str, receiver: str, text: str) -> None:
        """An inbound SMS from `sender` to `receiver`, as a phone would send it."""
        if not re.fullmatch(r"[^\s]+", sender) or not re.fullmatch(r"[^\s]+", receiver):
            raise ValueError(f"the fake SMSC protocol cannot carry {sender!r} to {receiver!r}")
        head = f"{sender} {receiver} "
        # bearerbox reads "ucs2" (not the "ucs-2" it writes); mo-recode turns it into UTF-8.
        if re.fullmatch(r"[\x20-\x7e]*", text):
            line = f"{head}text {text}"
        else:
            line = head + "ucs2 " + urllib.parse.quote_from_bytes(text.encode("utf-16-be"), safe="")
        self._writer.write(line.encode() + b"\n")
        await self._writer.drain()

    async def close(self) -> None:
        self._reading.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reading
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()

    async def _read(self, reader: asyncio.StreamReader) -> None:
        pending = b""
        try:
            # Whole chunks, not lines: a text's continuation lines come in the same write.
            while chunk := await reader.read(65536):
                *lines, pending = (pending + chunk).split(b"\n")
                for line in lines:
                    self._take(line)
                async with self._changed:
                    self._changed.notify_all()
            failure = FakeSmscError("bearerbox closed the fake SMSC connection")
        except FakeSmscError as exc:
            failure = exc
        except ConnectionError as exc:
            failure = FakeSmscError(f"the fake SMSC connection broke: {exc!r}")
        async with self._changed:
            self._failure = failure
            self._changed.notify_all()

    def _take(self, line: bytes) -> None:
        fields = line.split(b" ", 3)
        if len(fields) < 4 or fields[2] not in (b"text", b"data", b"ucs-2", b"udh"):
            if not self._last_was_text:
                raise FakeSmscError(f"not a fake SMSC line: {line!r}")
            last = self._messages[-1]
            text = f"{last.text}\n{line.decode('utf-8', errors='replace')}"
            self._messages[-1] = replace(last, text=text)
            return
        sender, receiver = (field.decode("utf-8", errors="replace") for field in fields[:2])
        kind, body = fields[2], fields[3]
        self._last_was_text = kind == b"text"
        if kind == b"text":
            message = MtMessage(sender, receiver, 0, body.decode("utf-8", errors="replace"))
        elif kind == b"data":
            message = MtMessage(sender, receiver, 1, _url_decode(body).decode("latin-1"))
        elif kind == b"ucs-2":
            text = _url_decode(body).decode("utf-16-be", errors="replace")
            message = MtMessage(sender, receiver, 2, text)
        else:
            udh, _, rest = body.partition(b" ")
            marker, _, data = rest.partition(b" ")
            if marker != b"data":
                raise FakeSmscError(f"not a fake SMSC line: {line!r}")
            reference, total, sequence = _concatenation(_url_decode(udh))
            parts = self._parts.setdefault((sender, receiver, reference, total), {})
            parts[sequence] = _url_decode(data)
            if len(parts) < total:
                return
            del self._parts[(sender, receiver, reference, total)]
            payload = b"".join(parts[n] for n in sorted(parts))
            coding, text = _decode_concatenated(payload)
            message = MtMessage(sender, receiver, coding, text, parts=total)
        self._messages.append(message)


# --- Kannel: bearerbox + smsbox ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KannelPeer:
    """A running bearerbox and smsbox with a connected fake SMSC."""

    sendsms_url: str
    username: str
    password: str
    status_url: str
    global_sender: str
    smsc: FakeSmsc


KannelFactory = Callable[[str], Awaitable[KannelPeer]]
MO_PARAMETERS = "from=%p&to=%P&text=%a&smsc=%i&time=%t&coding=%c&charset=%C"


def kannel_binary(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail(f"Kannel's {name} is not installed: {INSTALL_HINT}", pytrace=False)


def kannel_conf(
    *, ports: dict[str, int], passwords: dict[str, str], sender: str, get_url: str
) -> str:
    return f"""\
group = core
admin-port = {ports["admin"]}
admin-interface = 127.0.0.1
admin-password = "{passwords["admin"]}"
status-password = "{passwords["status"]}"
admin-allow-ip = "127.0.0.1"
smsbox-port = {ports["box"]}
smsbox-interface = 127.0.0.1
box-allow-ip = "127.0.0.1"
dlr-storage = internal

group = smsc
smsc = fake
smsc-id = FAKE
port = {ports["fake"]}
our-host = 127.0.0.1
connect-allow-ip = "127.0.0.1"

group = smsbox
bearerbox-host = 127.0.0.1
bearerbox-port = {ports["box"]}
sendsms-port = {ports["sendsms"]}
sendsms-interface = 127.0.0.1
global-sender = "{sender}"
mo-recode = true

group = sendsms-user
username = "{passwords["username"]}"
password = "{passwords["sendsms"]}"
user-allow-ip = "127.0.0.1"
concatenation = true
max-messages = 10

group = sms-service
keyword = default
catch-all = yes
get-url = "{get_url}"
omit-empty = true
# Lets the app answer in UCS-2 (X-Kannel-Coding: 2): a Chinese reply would arrive as "??".
accept-x-kannel-headers = true
max-messages = 10
concatenation = true
"""


class KannelStart:
    """Waits for one Kannel to come up, failing with its logs when a box dies or time runs out."""

    def __init__(self, workdir: Path, procs: dict[str, subprocess.Popen[bytes]]) -> None:
        self.workdir = workdir
        self.procs = procs
        self.deadline = time.monotonic() + KANNEL_START_DEADLINE

    def check(self, waiting_for: str) -> None:
        dead = [name for name, proc in self.procs.items() if proc.poll() is not None]
        if dead or time.monotonic() > self.deadline:
            reason = f"{' and '.join(dead)} exited" if dead else "timed out"
            logs = "\n".join(log_tail(self.workdir / f"{name}.log") for name in self.procs)
            pytest.fail(f"Kannel {reason} waiting for {waiting_for}\n{logs}", pytrace=False)

    async def connect(
        self, port: int, waiting_for: str
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        while True:
            self.check(waiting_for)
            with contextlib.suppress(ConnectionRefusedError):
                return await asyncio.open_connection("127.0.0.1", port)
            await asyncio.sleep(POLL_INTERVAL)

    async def probe(self, port: int, waiting_for: str) -> None:
        _, writer = await self.connect(port, waiting_for)
        writer.close()
        await writer.wait_closed()

    async def status(self, status_url: str, fake_port: int) -> None:
        """Until bearerbox reports the smsbox and the fake SMSC connected."""
        online = re.compile(
            rf"^\s*smsbox:.*^\s*FAKE\[FAKE\]\s+FAKE:{fake_port} \(online", re.M | re.S
        )
        timeout = aiohttp.ClientTimeout(total=2)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                self.check("the smsbox and the fake SMSC to be connected")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(status_url) as response:
                        if online.search(await response.text()):
                            return
                await asyncio.sleep(POLL_INTERVAL)


@contextlib.asynccontextmanager
async def running_kannel(workdir: Path, mo_url: str) -> AsyncIterator[KannelPeer]:
    ports = dict(zip(("admin", "box", "fake", "sendsms"), free_ports(4), strict=True))
    passwords = {
        "username": "cti-tests",
        "sendsms": secrets.token_hex(8),
        "admin": secrets.token_hex(8),
        "status": secrets.token_hex(8),
    }
    sender = "10086"
    get_url = mo_url + ("&" if "?" in mo_url else "?") + MO_PARAMETERS
    conf = workdir / "kannel.conf"
    conf.write_text(kannel_conf(ports=ports, passwords=passwords, sender=sender, get_url=get_url))
    status_url = f"http://127.0.0.1:{ports['admin']}/status.txt?password={passwords['status']}"
    binaries = {box: kannel_binary(box) for box in ("bearerbox", "smsbox")}
    procs: dict[str, subprocess.Popen[bytes]] = {}
    start = KannelStart(workdir, procs)

    def run(box: str) -> None:
        procs[box] = spawn([binaries[box], "-v", "1", str(conf)], workdir / f"{box}.log", workdir)

    try:
        run("bearerbox")
        # smsbox gives up at once if bearerbox is not listening for boxes yet.
        await start.probe(ports["box"], "bearerbox to listen for boxes")
        run("smsbox")
        smsc = FakeSmsc(*await start.connect(ports["fake"], "bearerbox's fake SMSC port"))
        try:
            await start.probe(ports["sendsms"], "smsbox's sendsms port")
            await start.status(status_url, ports["fake"])
            yield KannelPeer(
                sendsms_url=f"http://127.0.0.1:{ports['sendsms']}/cgi-bin/sendsms",
                username=passwords["username"],
                password=passwords["sendsms"],
                status_url=status_url,
                global_sender=sender,
                smsc=smsc,
            )
        finally:
            await smsc.close()
    finally:
        await asyncio.gather(*(asyncio.to_thread(stop, proc) for proc in procs.values()))


@pytest.fixture
async def kannel_factory(tmp_path: Path) -> AsyncIterator[KannelFactory]:
    """Starts a Kannel whose MO get-url is `mo_url` plus Kannel's fields; all stopped after."""
    numbers = itertools.count(1)
    async with contextlib.AsyncExitStack() as stack:

        async def start(mo_url: str) -> KannelPeer:
            workdir = tmp_path / f"kannel-{next(numbers)}"
            workdir.mkdir()
            return await stack.enter_async_context(running_kannel(workdir, mo_url))

        yield start
