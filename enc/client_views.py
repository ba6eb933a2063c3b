"""Serves the ``stagehand-enc`` client script, so a Puppet server installs it with one command:

    curl -fsS -o /usr/local/bin/stagehand-enc http://stagehand:8082/enc/v1/client/stagehand-enc \\
      && chmod 755 /usr/local/bin/stagehand-enc
"""

from __future__ import annotations

from pathlib import Path

from django.http import HttpResponse
from django.views.decorators.http import require_GET

CLIENT_PATH = Path(__file__).resolve().parent / "client" / "stagehand-enc"


@require_GET
def client_script(request):
    response = HttpResponse(CLIENT_PATH.read_bytes(), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="stagehand-enc"'
    return response
