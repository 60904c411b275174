"""What the rest of cti asks of SMS: send (free text or a template), take a reply, apply a
delivery report. Sending only ever writes to the outbox; the worker does the rest."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import phonenumbers
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from cti.bus import EventBus
from cti.core.numbers import NumberRules, normalize
from cti.db import customers
from cti.db.models import Customer, SmsMessage, SmsOptOut
from cti.errors import DomainError, NotFoundError
from cti.sms import outbox, replies, template_store
from cti.sms import status as st
from cti.sms.encoding import analyse
from cti.sms.events import SmsReceived
from cti.sms.keywords import Keyword, classify
from cti.sms.outbox import NewSms
from cti.sms.routing import Router
from cti.sms.templates import render

MAX_SEGMENTS = 10
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Queued:
    id: int
    # False when a message with the same idempotency key was already there.
    created: bool


@dataclass(frozen=True, slots=True)
class SmsRequest:
    to: str
    body: str
    key: str | None = None
    customer_id: int | None = None
    template: str = ""
    transactional: bool = True
    created_by: int | None = None
    due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class InboundSms:
    gateway: str
    # The provider's message id, or a digest of the message where the provider gives none.
    provider_id: str
    sender: str
    recipient: str
    body: str
    # Keywords the provider answers itself (Twilio confirms STOP, START and HELP on long codes):
    # acted on, but not answered a second time.
    answered_by_provider: frozenset[str] = frozenset()


class SmsService:
    def __init__(
        self,
        db: async_sessionmaker[Any],
        router: Router,
        *,
        wake: Callable[[], None],
        bus: EventBus,
        rules: NumberRules,
        suffix_digits: int,
        center_name: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._db = db
        self._router = router
        self._wake = wake
        self._bus = bus
        self._rules = rules
        self._suffix_digits = suffix_digits
        self._center = center_name
        self._clock = clock

    def phone(self, raw: str) -> str:
        """The E.164 form of a number a message can go to, or a DomainError saying why not."""
        number = normalize(raw, self._rules)
        if not number.known:
            raise DomainError(f"{raw!r} is not a phone number ({number.kind})")
        parsed = phonenumbers.parse(number.e164)
        if not phonenumbers.is_valid_number(parsed):
            raise DomainError(f"{number.e164} is not a valid number")
        if phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.FIXED_LINE:
            raise DomainError(f"{number.e164} is a landline and cannot receive SMS")
        return number.e164

    async def send(
        self,
        to: str,
        body: str,
        *,
        key: str | None = None,
        customer_id: int | None = None,
        template: str = "",
        transactional: bool = True,
        created_by: int | None = None,
        due_at: datetime | None = None,
    ) -> Queued:
        request = SmsRequest(
            to, body, key, customer_id, template, transactional, created_by, due_at
        )
        return (await self.send_many([request]))[0]

    async def send_many(self, requests: Sequence[SmsRequest]) -> list[Queued]:
        """Store messages in the outbox in one transaction (a campaign, a day's reminders): all
        of them, or none and a DomainError naming the first one that cannot be sent."""
        prepared = []
        for index, request in enumerate(requests):
            try:
                prepared.append(self._prepare(request))
            except DomainError as error:
                if len(requests) == 1:
                    raise
                raise DomainError(f"message {index + 1}: {error}") from None
        now = self._clock()
        stored = await self._retrying(lambda session: outbox.enqueue_many(session, prepared, now))
        if any(created for _, created in stored):
            self._wake()
        return [Queued(message_id, created) for message_id, created in stored]

    def _prepare(self, request: SmsRequest) -> NewSms:
        phone = self.phone(request.to)
        body = request.body.strip()
        if not body:
            raise DomainError("the message is empty")
        encoding = analyse(body)
        if encoding.segments > MAX_SEGMENTS:
            raise DomainError(
                f"the message needs {encoding.segments} SMS segments; at most {MAX_SEGMENTS}"
            )
        key = request.key
        if key is not None and not 0 < len(key) <= 200:
            raise DomainError("an idempotency key is 1-200 characters")
        gateway = self._router.route(phone)
        return NewSms(
            phone=phone,
            body=body,
            gateway=gateway.name,
            our_number=gateway.sender,
            key=key,
            customer_id=request.customer_id,
            template=request.template,
            transactional=request.transactional,
            created_by=request.created_by,
            due_at=request.due_at,
            segments=encoding.segments,
            encoding=encoding.scheme,
        )

    async def send_template(
        self,
        name: str,
        customer_id: int,
        *,
        to: str | None = None,
        values: Mapping[str, str] | None = None,
        key: str | None = None,
        created_by: int | None = None,
        due_at: datetime | None = None,
    ) -> Queued:
        """A template rendered for a customer, in their language, to `to` or their first number."""
        async with self._db() as session:
            customer = await session.get(Customer, customer_id)
            if customer is None:
                raise NotFoundError(f"no customer {customer_id}")
            template = await template_store.find(session, name, customer.language)
            if template is None:
                raise NotFoundError(f"no SMS template named {name!r}")
            numbers = await customers.phone_ids(session, customer_id)
        phone = to or _textable(sorted(numbers, key=numbers.__getitem__))
        if not phone:
            raise DomainError("the customer has no phone number")
        body = render(template.body, {**self._customer_values(customer, phone), **(values or {})})
        return await self.send(
            phone,
            body,
            key=key,
            customer_id=customer_id,
            template=name,
            transactional=template.transactional,
            created_by=created_by,
            due_at=due_at,
        )

    def _customer_values(self, customer: Customer, phone: str) -> dict[str, str]:
        return {
            "salutation": customer.salutation,
            "name": customer.name,
            "first_name": customer.name.split(" ")[0] if customer.name else "",
            "customer_id": str(customer.id),
            "phone": phone,
            "center": self._center,
        }

    async def receive(self, inbound: InboundSms) -> str | None:
        """Store a customer's message once, act on a keyword; the text to answer with, if any."""
        number = normalize(inbound.sender, self._rules)
        phone = number.e164 if number.known else inbound.sender[:20]
        body = inbound.body[:5000]
        now = self._clock()
        keyword = classify(body)

        async def store(session: AsyncSession) -> tuple[int, int | None, str | None] | None:
            connection = await session.connection()
            found = await connection.run_sync(customers.find_by_number, number, self._suffix_digits)
            customer_id = found[0] if found else None
            message_id, created = await outbox.enqueue(
                session,
                NewSms(
                    phone=phone,
                    body=body,
                    gateway=inbound.gateway,
                    our_number=inbound.recipient[:40],
                    key=f"in:{inbound.gateway}:{inbound.provider_id}",
                    customer_id=customer_id,
                    direction="in",
                    status=st.RECEIVED,
                ),
                now,
            )
            if not created:
                return None
            reply = None
            if keyword is not None and number.known:
                reply = await self._keyword(session, keyword, phone, customer_id, body)
                if body.strip().upper() in inbound.answered_by_provider:
                    reply = None
            if reply is not None:
                encoding = analyse(reply)
                await outbox.enqueue(
                    session,
                    NewSms(
                        phone=phone,
                        body=reply,
                        gateway=inbound.gateway,
                        our_number=inbound.recipient[:40],
                        key=f"reply:{message_id}",
                        customer_id=customer_id,
                        status=st.SENT,
                        segments=encoding.segments,
                        encoding=encoding.scheme,
                    ),
                    now,
                )
            return message_id, customer_id, reply

        stored = await self._retrying(store)
        if stored is None:
            return None
        message_id, customer_id, reply = stored
        if keyword is None:
            self._bus.publish(SmsReceived(message_id, customer_id, phone, body))
        return reply

    async def _retrying(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run `work` in a transaction; once more if a concurrent one stored the same key first
        (a gateway retrying a webhook, two clicks on Send)."""
        try:
            async with self._db.begin() as session:
                return await work(session)
        except IntegrityError:
            async with self._db.begin() as session:
                return await work(session)

    async def _keyword(
        self, session: Any, keyword: Keyword, phone: str, customer_id: int | None, body: str
    ) -> str | None:
        """Opt out or in (confirmed once, not on every repeat), or answer HELP."""
        was_out = await session.get(SmsOptOut, phone) is not None
        if keyword is Keyword.STOP:
            if was_out:
                return None
            session.add(SmsOptOut(e164=phone, keyword=body.strip()[:20], created_at=self._clock()))
        elif keyword is Keyword.START:
            if not was_out:
                return None
            await session.execute(delete(SmsOptOut).where(SmsOptOut.e164 == phone))
        language = ""
        customer = await session.get(Customer, customer_id) if customer_id else None
        if customer is not None:
            language = customer.language
        template = await template_store.find(session, replies.TEMPLATE_NAMES[keyword], language)
        chinese = not body.strip().isascii() or body.strip().upper() in ("TD", "T")
        text = template.body if template else replies.built_in(keyword, language, chinese)
        return render(text, {"center": self._center})

    async def report(
        self,
        reported: str,
        *,
        token: str = "",
        provider_id: str = "",
        code: str = "",
        text: str = "",
    ) -> bool:
        """Apply a delivery report; False when it names no message of ours."""
        if reported not in st.REPORTED:
            raise DomainError(f"unknown delivery status {reported!r}")
        async with self._db.begin() as session:
            return await outbox.report(
                session,
                reported,
                self._clock(),
                token=token,
                provider_id=provider_id,
                code=code,
                text=text,
            )

    async def opted_out(self, phone: str) -> bool:
        async with self._db() as session:
            return await session.get(SmsOptOut, phone) is not None

    async def history(self, customer_id: int, limit: int = 20) -> list[SmsMessage]:
        async with self._db() as session:
            return list(
                await session.scalars(
                    select(SmsMessage)
                    .where(SmsMessage.customer_id == customer_id)
                    .order_by(SmsMessage.created_at.desc(), SmsMessage.id.desc())
                    .limit(limit)
                )
            )


def _textable(numbers: list[str]) -> str:
    """The first mobile number, else the first one that might take a text."""
    for e164 in numbers:
        kind = phonenumbers.number_type(phonenumbers.parse(e164))
        if kind == phonenumbers.PhoneNumberType.MOBILE:
            return e164
    for e164 in numbers:
        kind = phonenumbers.number_type(phonenumbers.parse(e164))
        if kind != phonenumbers.PhoneNumberType.FIXED_LINE:
            return e164
    return ""
