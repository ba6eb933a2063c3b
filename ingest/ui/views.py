"""The inbox page: queued and dead commands with their errors, and replay (editor role)."""

from __future__ import annotations

import gzip

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from ingest.inbox import replay
from ingest.models import Command, CommandState
from inventory.ui import paging
from inventory.ui.access import has_role, ui_view
from inventory.ui.common import render_page

SORT = paging.Sort("received_at", "id", descending=True, nullable=False)
PAGE_SIZE = 50
STATES = [CommandState.PENDING, CommandState.DEAD, CommandState.DONE, CommandState.SUPERSEDED]
PREVIEW_BYTES = 64 * 1024


@ui_view()
def inbox(request):
    state = request.GET.get("state") or ""
    errors = []
    qs = Command.objects.all()
    if state:
        if state not in CommandState.values:
            errors.append(f"unknown state {state!r} (one of {', '.join(CommandState.values)})")
        qs = qs.filter(state=state)
    else:
        qs = qs.filter(state__in=[CommandState.PENDING, CommandState.DEAD])
    certname = (request.GET.get("certname") or "").strip()
    if certname:
        qs = qs.filter(certname=certname)
    command = request.GET.get("command") or ""
    if command:
        qs = qs.filter(command=command)
    rows, pager = [], paging.links(request.GET, None)
    if not errors:
        qs = qs.defer("payload")
        rows, pager = paging.paged(request, qs, SORT, PAGE_SIZE, errors)
    counts = {s: Command.objects.filter(state=s).count() for s in (CommandState.PENDING, CommandState.DEAD)}
    context = {
        "rows": rows,
        "counts": counts,
        "errors": errors,
        "f": request.GET,
        "states": STATES,
        "can_replay": has_role(request.user, "editor"),
        "pager": pager,
        "back": request.get_full_path(),
    }
    return render_page(request, "ingest/inbox.html", context, "inbox", status=400 if errors else 200)


@ui_view()
def command_detail(request, command_id: int):
    command = get_object_or_404(Command, pk=command_id)
    raw = bytes(command.payload or b"")
    size = len(raw)
    if command.payload_encoding == "gzip":
        try:
            raw = gzip.decompress(raw)
        except OSError:
            raw = b""
    preview = raw[:PREVIEW_BYTES].decode("utf-8", errors="replace")
    context = {
        "command": command,
        "size": size,
        "decoded_size": len(raw),
        "preview": preview,
        "truncated": len(raw) > PREVIEW_BYTES,
        "can_replay": has_role(request.user, "editor"),
    }
    return render_page(request, "ingest/command.html", context, "inbox")


@ui_view(role="editor")
@require_POST
def inbox_replay(request):
    try:
        ids = [int(v) for v in request.POST.getlist("ids")]
    except ValueError:
        ids = []
    if not ids:
        messages.error(request, "Select at least one dead command to replay.")
    else:
        dead = list(Command.objects.filter(id__in=ids, state=CommandState.DEAD).values_list("id", flat=True))
        skipped = len(set(ids)) - len(dead)
        count = replay(dead) if dead else 0
        text = (
            f"Replayed {count} command{'s' if count != 1 else ''}" + (" (queued for processing)" if dead else "") + "."
        )
        if skipped:
            text += f" {skipped} selected command{'s were' if skipped != 1 else ' was'} not dead and left alone."
        messages.success(request, text)
    back = request.POST.get("back") or ""
    if not back.startswith("/") or back.startswith("//"):
        back = "/inbox/"
    return redirect(back)
