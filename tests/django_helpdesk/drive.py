"""Drives django-helpdesk through its own code, as a staff member using its
web forms would: `new` opens a ticket (TicketForm.save, which sends the
new-ticket webhook), `followup` adds a comment (update_ticket, which sends
the follow-up webhook), `reassign` gives the ticket to another agent,
`page` fetches a path as a signed-in agent.
Prints one JSON line: the ids the test needs."""

import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings")
import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from helpdesk.forms import TicketForm  # noqa: E402
from helpdesk.models import Queue, Ticket  # noqa: E402
from helpdesk.update_ticket import update_ticket  # noqa: E402

User = get_user_model()


def agent(name):
    user, _ = User.objects.get_or_create(
        username=name, defaults={"email": f"{name}@helpdesk.example", "is_staff": True}
    )
    return user


def main():
    what = sys.argv[1]
    if what == "users":
        print(json.dumps({"agent": agent("agent").id, "other": agent("other").id}))
    elif what == "new":
        queue, _ = Queue.objects.get_or_create(
            slug="it", defaults={"title": "IT", "allow_public_submission": False}
        )
        form = TicketForm(
            data={
                "queue": queue.id,
                "title": sys.argv[2],
                "body": "The printer on floor 3 is on fire",
                "priority": 3,
                "assigned_to": agent("agent").id,
                "submitter_email": "marcus@customer.example",
            },
            queue_choices=[(queue.id, queue.title)],
        )
        if not form.is_valid():
            raise SystemExit(f"form: {form.errors.as_json()}")
        ticket = form.save(user=agent("agent"))
        print(json.dumps({"ticket": ticket.id}))
    elif what == "followup":
        ticket = Ticket.objects.get(id=int(sys.argv[2]))
        f = update_ticket(agent("other"), ticket, comment=sys.argv[3], public=True)
        print(json.dumps({"followup": f.id}))
    elif what == "reassign":
        ticket = Ticket.objects.get(id=int(sys.argv[2]))
        f = update_ticket(agent("agent"), ticket, owner=agent("other").id)
        print(json.dumps({"followup": f.id}))
    elif what == "page":
        # What a signed-in agent gets at a path: the ticket page a
        # notification's link names, rendered by the helpdesk itself.
        from django.test import Client

        client = Client()
        client.force_login(agent("agent"))
        res = client.get(sys.argv[2])
        print(json.dumps({"status": res.status_code, "title_found": sys.argv[3] in res.content.decode()}))
    else:
        raise SystemExit(f"unknown step {what}")


main()
