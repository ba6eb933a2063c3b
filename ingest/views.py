"""The write endpoints: ``POST /pdb/cmd/v1`` (PuppetDB command API) and ``POST /reports/upload``
(Puppet's ``http`` report processor). Thin: validation is in ``ingest.receivers``, storage in
``ingest.inbox``; the answer is sent only after the raw command is committed."""

from __future__ import annotations

from django.conf import settings
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from ingest import inbox, processing
from ingest.commands import CommandError
from ingest.models import CommandState
from ingest.receivers import accept_command, accept_report_upload


def _headers(request) -> dict:
    return {
        "accept": request.headers.get("Accept"),
        "content-type": request.headers.get("Content-Type"),
        "content-encoding": request.headers.get("Content-Encoding"),
    }


def _read(request) -> bytes:
    limit = settings.MAX_COMMAND_BYTES
    length = request.META.get("CONTENT_LENGTH")
    if length and length.isdigit() and int(length) > limit:
        raise CommandError(f"the command body is larger than the limit of {limit} bytes", 413)
    data = request.read(limit + 1)
    if len(data) > limit:
        raise CommandError(f"the command body is larger than the limit of {limit} bytes", 413)
    return data


def _error(exc: CommandError) -> JsonResponse:
    return JsonResponse({"error": str(exc)}, status=exc.status)


def _store(accepted, request) -> object:
    with transaction.atomic():
        return inbox.submit(
            accepted.command,
            accepted.version,
            accepted.certname,
            accepted.payload,
            producer_timestamp=accepted.producer_timestamp,
            payload_encoding=accepted.payload_encoding,
            payload_format=accepted.payload_format,
            source=accepted.source,
            request_id=request.headers.get("X-Request-Id", "")[:200],
        )


@csrf_exempt
@require_POST
def command(request):
    try:
        accepted = accept_command(request.GET.dict(), _headers(request), _read(request), settings.MAX_COMMAND_BYTES)
    except CommandError as exc:
        return _error(exc)
    cmd = _store(accepted, request)
    if accepted.wait_seconds is None:
        return JsonResponse({"uuid": str(cmd.uuid)})
    done = processing.wait_for(cmd.uuid, accepted.wait_seconds)
    if done is not None and done.state in (CommandState.DONE, CommandState.SUPERSEDED):
        return JsonResponse({"uuid": str(cmd.uuid), "processed": True, "timed_out": False})
    if done is not None and (done.state == CommandState.DEAD or done.attempts > 0):
        return JsonResponse(
            {"uuid": str(cmd.uuid), "processed": True, "timed_out": False, "error": done.last_error, "stack_trace": []},
            status=503,
        )
    return JsonResponse({"uuid": str(cmd.uuid), "processed": False, "timed_out": True}, status=503)


@csrf_exempt
@require_POST
def report_upload(request):
    try:
        accepted = accept_report_upload(_headers(request), _read(request), settings.MAX_COMMAND_BYTES)
    except CommandError as exc:
        return _error(exc)
    cmd = _store(accepted, request)
    return JsonResponse({"uuid": str(cmd.uuid)})
