"""SMS pages: send from the customer card, the admins' outbox with retries, and templates."""

from __future__ import annotations

from aiohttp import web

from cti import keys
from cti.errors import DomainError, NotFoundError
from cti.i18n import N_
from cti.sms import outbox, template_store
from cti.sms import status as st
from cti.sms.encoding import analyse
from cti.sms.templates import render as render_template
from cti.sms.templates import sample_values
from cti.webapp.customers import customer_page
from cti.webapp.policy import Role, requires
from cti.webapp.render import render
from cti.webapp.security import current_session

# The statuses as pages show them, for the translation catalogue.
STATUS_LABELS = (
    N_("pending"),
    N_("sending"),
    N_("queued"),
    N_("sent"),
    N_("delivered"),
    N_("undelivered"),
    N_("failed"),
    N_("blocked"),
    N_("received"),
)
OUTBOX_STATUSES = (
    st.FAILED,
    st.PENDING,
    st.SENDING,
    st.BLOCKED,
    st.QUEUED,
    st.SENT,
    st.DELIVERED,
    st.UNDELIVERED,
    st.RECEIVED,
)


def _id(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    if not raw.isdigit():
        raise NotFoundError(f"no {name.replace('_', ' ')} {raw!r}")
    return int(raw)


@requires(Role.AGENT)
async def send_from_card(request: web.Request) -> web.StreamResponse:
    customer_id = _id(request, "customer_id")
    form = await request.post()
    phone = str(form.get("phone", ""))
    template = str(form.get("template", ""))
    body = str(form.get("body", ""))
    sms = request.app[keys.SMS]
    user_id = current_session(request).user.id
    try:
        if template:
            await sms.send_template(template, customer_id, to=phone or None, created_by=user_id)
        else:
            await sms.send(phone, body, customer_id=customer_id, created_by=user_id)
    except DomainError as error:
        if isinstance(error, NotFoundError) and not template:
            raise
        return await customer_page(request, customer_id, sms_error=str(error), status=400)
    raise web.HTTPSeeOther(location=f"/customers/{customer_id}#sms")


@requires(Role.ADMIN)
async def outbox_page(request: web.Request) -> web.StreamResponse:
    status = request.query.get("status", st.FAILED)
    if status not in OUTBOX_STATUSES:
        raise DomainError(f"unknown status {status!r}; use one of {', '.join(OUTBOX_STATUSES)}")
    async with request.app[keys.DB]() as session:
        rows = await outbox.listing(session, status)
        counts = await outbox.status_counts(session)
    context = {"status": status, "statuses": OUTBOX_STATUSES, "rows": rows, "counts": counts}
    return await render(request, "sms_outbox.html", context)


@requires(Role.ADMIN)
async def retry(request: web.Request) -> web.StreamResponse:
    message_id = _id(request, "message_id")
    async with request.app[keys.DB].begin() as session:
        if not await outbox.retry(session, message_id, request.app[keys.CLOCK]()):
            raise DomainError(f"message {message_id} is not a failed outgoing message")
    request.app[keys.SMS_WORKER].wake()
    raise web.HTTPSeeOther(location="/admin/sms?status=failed")


async def _templates(
    request: web.Request, form: dict[str, str] | None = None, error: str = "", status: int = 200
) -> web.Response:
    async with request.app[keys.DB]() as session:
        rows = await template_store.all_templates(session)
    values = form or {"name": "", "language": "", "body": "", "transactional": "yes"}
    preview = None
    if values["body"] and not error:
        text = render_template(values["body"], sample_values())
        preview = {"text": text, "encoding": analyse(text)}
    context = {"templates": rows, "form": values, "error": error, "preview": preview}
    return await render(request, "sms_templates.html", context, status=status)


@requires(Role.ADMIN)
async def templates_page(request: web.Request) -> web.StreamResponse:
    edit = request.query.get("edit", "")
    if edit.isdigit():
        async with request.app[keys.DB]() as session:
            row = next(
                (t for t in await template_store.all_templates(session) if t.id == int(edit)),
                None,
            )
        if row is None:
            raise NotFoundError(f"no template {edit}")
        form = {
            "name": row.name,
            "language": row.language,
            "body": row.body,
            "transactional": "yes" if row.transactional else "",
        }
        return await _templates(request, form)
    return await _templates(request)


@requires(Role.ADMIN)
async def template_save(request: web.Request) -> web.StreamResponse:
    posted = await request.post()
    form = {
        name: str(posted.get(name, "")) for name in ("name", "language", "body", "transactional")
    }
    if posted.get("action") == "preview":
        try:
            return await _templates(request, form)
        except DomainError as error:
            return await _templates(request, form, str(error), 400)
    try:
        async with request.app[keys.DB].begin() as session:
            await template_store.save(
                session, form["name"], form["language"], form["body"], bool(form["transactional"])
            )
    except DomainError as error:
        return await _templates(request, form, str(error), 400)
    raise web.HTTPSeeOther(location="/admin/sms/templates")


@requires(Role.ADMIN)
async def template_delete(request: web.Request) -> web.StreamResponse:
    async with request.app[keys.DB].begin() as session:
        await template_store.remove(session, _id(request, "template_id"))
    raise web.HTTPSeeOther(location="/admin/sms/templates")


def setup(app: web.Application) -> None:
    app.router.add_post("/customers/{customer_id}/sms", send_from_card)
    app.router.add_get("/admin/sms", outbox_page, name="sms-outbox")
    app.router.add_post("/admin/sms/{message_id}/retry", retry)
    app.router.add_get("/admin/sms/templates", templates_page, name="sms-templates")
    app.router.add_post("/admin/sms/templates", template_save)
    app.router.add_post("/admin/sms/templates/{template_id}/delete", template_delete)
