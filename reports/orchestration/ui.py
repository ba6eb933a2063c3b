"""The code rollout progress page of the web UI (``/rollout/``): per environment, how far the
newest code_id has got, and every code_id still running with its run statuses."""

from __future__ import annotations

from django.urls import path

from inventory.models import Environment
from inventory.ui import charts
from inventory.ui.access import ui_view
from inventory.ui.common import render_page
from reports.orchestration import rollout as rollout_data


@ui_view()
def rollout_page(request):
    environments = list(Environment.objects.values_list("name", flat=True))
    selected = request.GET.get("env") or ""
    error = ""
    if selected and selected not in environments:
        error = f"unknown environment {selected!r}"
        selected = ""
    blocks = rollout_data.rollout(selected or None) if not error else []
    blocks = [b for b in blocks if b["nodes"]] if not selected else blocks
    for block in blocks:
        block["chart"] = charts.hbars(
            [(entry["code_id"] or "(no code_id)", entry["nodes"], None) for entry in block["code_ids"]],
            title=f"Nodes per code_id in {block['environment']}",
            desc="Active nodes whose latest run used each code_id, newest code first.",
        )
    return render_page(
        request,
        "reports/rollout.html",
        {"environments": environments, "selected": selected, "blocks": blocks, "error": error},
        section="rollout",
    )


urlpatterns = [path("", rollout_page, name="rollout")]
