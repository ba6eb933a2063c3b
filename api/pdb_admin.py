"""PuppetDB's admin API (``/pdb/admin/v1``): the ``clean`` and ``delete`` commands, and the
export archive (``GET``/``POST /pdb/admin/v1/archive``). Thin views over ``inventory.retention``
and ``inventory.archive``; every route needs the ``admin`` scope."""

from __future__ import annotations

import tempfile

from django.http import FileResponse
from django.utils import timezone
from rest_framework import status
from rest_framework.parsers import FileUploadParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from config.observability import request_id_var
from config.security import policy_scope_permission
from inventory import archive, retention


def _error(message: str, code: int = status.HTTP_400_BAD_REQUEST) -> Response:
    return Response({"error": message}, status=code)


class AdminCommandView(APIView):
    """``POST /pdb/admin/v1/cmd`` with ``{"command": "clean", "version": 1, "payload": [ops]}``
    or ``{"command": "delete", "version": 1, "payload": {"certname": c}}``."""

    required_scope = "admin"
    # The access policy (config/security.py) identified the caller — token, client certificate,
    # session (CSRF-checked) — and already refused anyone without the admin scope.
    authentication_classes: list = []
    permission_classes = [policy_scope_permission()]

    def post(self, request):
        body = request.data
        if not isinstance(body, dict):
            return _error("the body must be a JSON object with command, version and payload")
        command, version, payload = body.get("command"), body.get("version"), body.get("payload")
        if command not in ("clean", "delete"):
            return _error(f"unknown command {command!r}: expected 'clean' or 'delete'")
        if version != 1:
            return _error(f"unsupported version {version!r} of {command}: expected 1")
        if command == "delete":
            if not isinstance(payload, dict) or not isinstance(payload.get("certname"), str) or not payload["certname"]:
                return _error('delete needs a payload {"certname": "<certname>"}')
            retention.delete_node(payload["certname"])
            return Response({"deleted": payload["certname"]})
        if payload is None:
            payload = []
        if not isinstance(payload, list):
            return _error("clean needs a payload list of operations (empty for all)")
        try:
            results = retention.clean(payload)
        except ValueError as exc:
            return _error(str(exc))
        except retention.CleanAlreadyRunning as exc:
            return _error(str(exc), status.HTTP_409_CONFLICT)
        return Response({"ok": True, "results": [r.as_dict() for r in results]})


class ArchiveView(APIView):
    """``GET /pdb/admin/v1/archive``: Stagehand's data as a PuppetDB export archive.
    ``POST /pdb/admin/v1/archive`` (multipart field ``archive``, or the tar.gz as the body):
    import such an archive into the inbox."""

    required_scope = "admin"
    authentication_classes: list = []
    permission_classes = [policy_scope_permission()]
    parser_classes = [MultiPartParser, FileUploadParser]

    def get(self, request):
        spool = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # noqa: SIM115 - closed by the response
        archive.export_archive(spool)
        spool.seek(0)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        return FileResponse(
            spool, as_attachment=True, filename=f"stagehand-export-{stamp}.tar.gz", content_type="application/gzip"
        )

    def post(self, request):
        upload = request.FILES.get("archive") or request.FILES.get("file")
        if upload is None:
            return _error("send the archive as the multipart field 'archive' (a PuppetDB export .tar.gz)")
        try:
            result = archive.import_archive(upload, request_id=request_id_var.get() or "")
        except archive.ArchiveError as exc:
            return _error(f"cannot import the archive: {exc}")
        return Response({"ok": True, **result.as_dict()})
