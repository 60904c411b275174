"""Customer pages: search by name or any number format, view, create, edit, numbers, merge."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from multidict import MultiDictProxy

from cti import keys
from cti.core.numbers import Number, NumberRules, normalize
from cti.customer_fields import TEXT_FIELDS, clean
from cti.db import customers
from cti.errors import DomainError, NotFoundError
from cti.sms import template_store
from cti.webapp.policy import Role, requires
from cti.webapp.render import render
from cti.webapp.security import sees_withheld

EDITABLE = (*TEXT_FIELDS, "email", "vip", "tags", "notes")


def _number(request: web.Request, raw: str) -> Number:
    """A number as a person typed it: the region's conventions, no PBX prefixes."""
    return normalize(raw, NumberRules(request.app[keys.CONFIG].numbers.default_region))


def _values(form: MultiDictProxy[Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in EDITABLE:
        raw = form.get(name)
        if name == "vip":
            values[name] = clean("vip", "yes" if raw else "no")
        elif isinstance(raw, str):
            values[name] = clean(name, raw.strip())
    prefs = form.get("preferences")
    if isinstance(prefs, str):
        values["preferences"] = _preferences(prefs)
    return values


def _preferences(text: str) -> dict[str, str]:
    """One `name: value` per line, as the edit form shows them."""
    out: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise DomainError(f"preferences line {number} is not 'name: value'")
        out[name.strip()[:60]] = value.strip()[:500]
    return out


def _customer_id(request: web.Request) -> int:
    raw = request.match_info["customer_id"]
    if not raw.isdigit():
        raise NotFoundError(f"no customer {raw!r}")
    return int(raw)


@requires(Role.AGENT)
async def search_page(request: web.Request) -> web.StreamResponse:
    query = request.query.get("q", "").strip()[:200]
    phone = request.query.get("phone", "").strip()[:64]
    text = query or phone
    suffix = request.app[keys.CONFIG].numbers.suffix_digits
    cards: list[customers.Card] = []
    if text:
        async with request.app[keys.DB]() as session:
            connection = await session.connection()
            number = _number(request, text)
            ids = await connection.run_sync(customers.search, query, number, suffix)
            cards = await connection.run_sync(
                customers.load_cards, ids, 1, withheld=sees_withheld(request)
            )
    context = {
        "q": query,
        "phone": phone,
        "attach": request.query.get("attach") == "1" and bool(phone),
        "cards": cards,
    }
    return await render(request, "customers.html", context)


@requires(Role.AGENT)
async def new_page(request: web.Request) -> web.StreamResponse:
    context = {
        "values": {"name": request.query.get("name", "")[:200]},
        "phone": request.query.get("phone", "")[:64],
        "error": "",
    }
    return await render(request, "customer_new.html", context)


@requires(Role.AGENT)
async def create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    phone = str(form.get("phone", "")).strip()
    try:
        values = _values(form)
        phones = [(phone, _number(request, phone), str(form.get("label", "")))] if phone else []
        async with request.app[keys.DB].begin() as session:
            customer_id = await customers.create_customer(session, values, phones)
    except DomainError as error:
        context = {"values": dict(form), "phone": phone, "error": str(error)}
        return await render(request, "customer_new.html", context, status=400)
    raise web.HTTPSeeOther(location=f"/customers/{customer_id}")


async def customer_page(
    request: web.Request,
    customer_id: int,
    error: str = "",
    status: int = 200,
    sms_error: str = "",
) -> web.StreamResponse:
    """The customer card, with the error of a form that did not go through."""
    sms = request.app[keys.SMS]
    async with request.app[keys.DB]() as session:
        connection = await session.connection()
        cards = await connection.run_sync(
            customers.load_cards, [customer_id], 20, withheld=sees_withheld(request)
        )
        phone_ids = await customers.phone_ids(session, customer_id)
        template_names = await template_store.names(session)
    if not cards:
        raise NotFoundError(f"no customer {customer_id}")
    context = {
        "card": cards[0],
        "phone_ids": phone_ids,
        "error": error,
        "sms_error": sms_error,
        "sms_history": await sms.history(customer_id),
        "opted_out": [e164 for e164 in phone_ids if await sms.opted_out(e164)],
        "sms_templates": template_names,
    }
    return await render(request, "customer.html", context, status=status)


@requires(Role.AGENT)
async def view(request: web.Request) -> web.StreamResponse:
    return await customer_page(request, _customer_id(request))


@requires(Role.AGENT)
async def edit(request: web.Request) -> web.StreamResponse:
    customer_id = _customer_id(request)
    form = await request.post()
    try:
        values = _values(form)
        async with request.app[keys.DB].begin() as session:
            await customers.update_customer(session, customer_id, values)
    except DomainError as error:
        if isinstance(error, NotFoundError):
            raise
        return await customer_page(request, customer_id, str(error), 400)
    raise web.HTTPSeeOther(location=f"/customers/{customer_id}")


@requires(Role.AGENT)
async def add_phone(request: web.Request) -> web.StreamResponse:
    customer_id = _customer_id(request)
    form = await request.post()
    raw = str(form.get("phone", "")).strip()
    try:
        async with request.app[keys.DB].begin() as session:
            await customers.add_phone(
                session, customer_id, raw, _number(request, raw), str(form.get("label", ""))
            )
    except DomainError as error:
        if isinstance(error, NotFoundError):
            raise
        return await customer_page(request, customer_id, str(error), 400)
    raise web.HTTPSeeOther(location=f"/customers/{customer_id}")


@requires(Role.AGENT)
async def remove_phone(request: web.Request) -> web.StreamResponse:
    customer_id = _customer_id(request)
    phone_id = request.match_info["phone_id"]
    if not phone_id.isdigit():
        raise NotFoundError(f"no number {phone_id!r}")
    async with request.app[keys.DB].begin() as session:
        await customers.remove_phone(session, customer_id, int(phone_id))
    raise web.HTTPSeeOther(location=f"/customers/{customer_id}")


@requires(Role.SUPERVISOR)
async def merge(request: web.Request) -> web.StreamResponse:
    customer_id = _customer_id(request)
    form = await request.post()
    other = str(form.get("other", "")).strip()
    if not other.isdigit():
        return await customer_page(
            request, customer_id, "give the number of the duplicate customer", 400
        )
    try:
        async with request.app[keys.DB].begin() as session:
            await customers.merge(session, customer_id, int(other))
    except DomainError as error:
        return await customer_page(request, customer_id, str(error), 400)
    raise web.HTTPSeeOther(location=f"/customers/{customer_id}")


def setup(app: web.Application) -> None:
    app.router.add_get("/customers", search_page, name="customers")
    app.router.add_get("/customers/new", new_page, name="customer-new")
    app.router.add_post("/customers", create)
    app.router.add_get("/customers/{customer_id}", view, name="customer")
    app.router.add_post("/customers/{customer_id}", edit)
    app.router.add_post("/customers/{customer_id}/phones", add_phone)
    app.router.add_post("/customers/{customer_id}/phones/{phone_id}/delete", remove_phone)
    app.router.add_post("/customers/{customer_id}/merge", merge)
