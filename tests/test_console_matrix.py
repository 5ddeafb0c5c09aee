"""The authorization matrix: every console route × every role × an object inside and outside
the person's area.

Each route is declared in POLICY with what it needs; a console route missing from POLICY fails
the first test, so no new page can skip the matrix. Expectations:
- nobody signed in, or a deactivated person: sent to sign-in (302; htmx 401)
- a role without the permission the route needs: 403
- a ticket (or its image, call-back…) outside the person's area: 404, exactly like a ticket
  that does not exist
- inside: anything but 403/404 (a POST with an empty form may well answer 400)
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from bot.db import transaction
from tests.console_support import csrf_token, make_coordinator, make_staff, sign_in_as
from ticketing import service, staff
from ticketing.authority import actor_of
from ticketing.models import CallBack, Coordinator, Ticket, TicketImage

INSIDE, OUTSIDE = "สุราษฎร์ธานี", "เชียงใหม่"  # ภาคใต้ and ภาคเหนือ

# endpoint → what it needs: "public", "signed-in", "ticket" (area-checked object in the URL),
# or a permission of ticketing.authority.ALLOWED ("people", "audit", "log-call", "snippets").
POLICY: dict[str, str] = {
    "console.static": "public",
    "console_auth.sign_in": "public",
    "console_auth.sign_in_post": "public",
    "console_auth.sign_out": "signed-in",
    "console_queue.home": "public",  # a redirect to the queue, which is guarded
    "console_queue.queue": "signed-in",
    "console_queue.queue_poll": "signed-in",  # area-checked in ticketing.queue
    "console_line.start": "public",
    "console_line.callback": "public",
    "console_calls.calls_page": "log-call",
    "console_calls.log_call": "log-call",
    "console_calls.history": "signed-in",  # what it shows is limited to the person's area
    "console_calls.call_backs": "signed-in",
    "console_calls.call_back_done": "ticket",
    "console_people.people_list": "people",
    "console_people.person": "people",
    "console_people.invite_form": "people",
    "console_people.invite_post": "people",
    "console_people.reinvite": "people",
    "console_people.deactivate": "people",
    "console_people.reactivate": "people",
    "console_people.move": "people",
    "console_people.password": "people",
    "console_people.totp": "people",
    "console_people.role": "people",
    "console_people.staff_form": "people",
    "console_people.staff_post": "people",
    "console_audit.audit_log": "audit",
    "console_tickets.ticket": "ticket",
    "console_tickets.timeline": "ticket",
    "console_tickets.image": "ticket",
    "console_tickets.canned": "ticket",
    "console_tickets.presence": "ticket",
    "console_tickets.claim": "ticket",
    "console_tickets.take_over": "ticket",
    "console_tickets.reply": "ticket",
    "console_tickets.note": "ticket",
    "console_tickets.escalate": "ticket",
    "console_tickets.resolve": "ticket",
    "console_tickets.close": "ticket",
    "console_tickets.reassign": "ticket",
    "console_tickets.merge": "ticket",
    "console_tickets.snippets": "signed-in",
    "console_tickets.snippet_create": "snippets",
}

# Routes that answer a signed-in person with a redirect (anything else redirecting means the
# person was sent to sign in, and the line below would pass for the wrong reason).
ROLES = ("province", "region", "central", "operator", "admin")


def console_rules(app) -> list[Any]:
    return [r for r in app.url_map.iter_rules() if r.rule.startswith("/console")]


def test_every_console_route_is_in_the_matrix(app):
    missing = sorted({r.endpoint for r in console_rules(app)} - set(POLICY))
    assert not missing, f"console routes without a POLICY line: {missing}"


@pytest.fixture
def world(runtime) -> dict[str, Any]:
    """People of every role (coordinators in the south), a ticket inside their area and one
    outside, each with a screenshot."""
    people = {
        "province": make_coordinator(runtime, "province", INSIDE, name="จังหวัด"),
        "region": make_coordinator(runtime, "region", region="ภาคใต้", name="ภาค"),
        "central": make_coordinator(runtime, "central", name="กลาง"),
        "operator": make_staff(runtime, "operator")[0],
        "admin": make_staff(runtime, "admin")[0],
        "deactivated": make_coordinator(runtime, "province", INSIDE, name="ระงับ"),
    }
    tickets = {}
    directory = runtime.faq.directory
    with transaction(runtime.sessions) as session:
        for where, province in (("inside", INSIDE), ("outside", OUTSIDE)):
            user = f"U{where:0>32}"
            service.set_province(session, user, province, directory)
            ticket, _ = service.open_ticket(session, directory, user, f"ปัญหา {where}")
            image = service.attach_image(session, ticket, b"\x89PNG\r\n\x1a\n", "image/png")
            call_back = CallBack(ticket_id=ticket.id, requested_by=people["admin"], text="โทร")
            session.add(call_back)
            session.flush()
            tickets[where] = {
                "ticket_id": ticket.id,
                "image_id": image.id,
                "call_back_id": call_back.id,
            }
        admin = actor_of(session.get(Coordinator, people["admin"]), "cli")
    with transaction(runtime.sessions) as session:
        staff.deactivate(session, admin, people["deactivated"])
    return {"people": people, "objects": tickets}


def url_for_rule(rule, objects: dict[str, int], people: dict[str, int]) -> str:
    values: dict[str, Any] = {}
    for name in rule.arguments:
        if name in objects:
            values[name] = objects[name]
        elif name == "person_id":
            values[name] = people["province"]
        elif name == "filename":
            values[name] = "console.css"
        else:
            values[name] = 1
    return rule.build(values, append_unknown=False)[1]


SIGN_IN_FIRST = 999  # a redirect to the sign-in page, told apart from any other redirect


def call(client, method: str, url: str, token_from: str = "/console/login") -> int:
    if method == "GET":
        response = client.get(url)
    else:
        response = client.post(url, data={"csrf_token": csrf_token(client, token_from)})
    if response.status_code == 302 and response.headers["Location"].startswith("/console/login"):
        return SIGN_IN_FIRST
    return response.status_code


def requests(app) -> list[tuple[Any, str, str]]:
    out = []
    for rule in console_rules(app):
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule, method, POLICY[rule.endpoint]))
    return out


def test_signed_out_and_deactivated_people_are_sent_to_sign_in(app, runtime, world):
    for who in ("nobody", "deactivated"):
        client = app.test_client()
        if who == "deactivated":
            sign_in_as(client, runtime, world["people"]["deactivated"])
        for rule, method, needs in requests(app):
            if needs == "public":
                continue
            url = url_for_rule(rule, world["objects"]["inside"], world["people"])
            status = call(client, method, url)
            assert status in (SIGN_IN_FIRST, 401), f"{who} {method} {rule.rule} → {status}"


@pytest.mark.parametrize("role", ROLES)
def test_each_role_inside_and_outside_its_area(app, runtime, world, role):
    client = app.test_client()
    sign_in_as(client, runtime, world["people"][role])
    with runtime.sessions() as session:
        me = actor_of(session.get(Coordinator, world["people"][role]), "console")
    for rule, method, needs in requests(app):
        if needs == "public":
            continue
        for where in ("inside", "outside"):
            # Signed in afresh for each request: an earlier one (sign-out) must not leave the
            # rest to answer "sign in first", which would hide a missing 403.
            sign_in_as(client, runtime, world["people"][role])
            url = url_for_rule(rule, world["objects"][where], world["people"])
            status = call(client, method, url, token_from="/console/queue")
            label = f"{role} {method} {rule.rule} ({where}) → {status}"
            assert status != SIGN_IN_FIRST or rule.endpoint == "console_auth.sign_out", label
            if needs not in ("signed-in", "ticket") and not me.may(needs):
                assert status == 403, label
            elif needs == "ticket" and where == "outside" and role in ("province", "region"):
                assert status == 404, label
            else:
                assert status not in (403, 404), label


def test_the_world_is_what_the_matrix_assumes(runtime, world):
    with runtime.sessions() as session:
        inside = session.get(Ticket, world["objects"]["inside"]["ticket_id"])
        outside = session.get(Ticket, world["objects"]["outside"]["ticket_id"])
        assert (inside.region, outside.region) == ("ภาคใต้", "ภาคเหนือ")
        assert (
            session.scalar(
                select(TicketImage.ticket_id).where(
                    TicketImage.id == world["objects"]["outside"]["image_id"]
                )
            )
            == outside.id
        )
