"""Web UI pages of the orchestration hooks: the code rollout progress view (``/rollout/``) and
webhooks (``/rollout/webhooks/``: register, enable/disable, ping, rotate the secret, deliveries
with every attempt). Webhook pages need the UI ``admin`` role, like the API needs ``admin``."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import get_object_or_404, redirect
from django.urls import path
from django.views.decorators.http import require_POST

from inventory.models import Environment
from inventory.ui import charts
from inventory.ui.access import ui_view
from inventory.ui.common import render_page
from reports.orchestration import rollout as rollout_data
from reports.orchestration import webhooks
from reports.orchestration.filters import EVENT_STATUSES
from reports.orchestration.models import EventKind, Webhook, WebhookDelivery


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


def _form_data(post) -> dict:
    def items(name):
        return [part.strip() for part in post.get(name, "").replace("\n", ",").split(",") if part.strip()]

    data = {
        "name": post.get("name", "").strip(),
        "url": post.get("url", "").strip(),
        "kinds": post.getlist("kinds"),
        "statuses": post.getlist("statuses"),
        "environments": items("environments"),
        "node_query": post.get("node_query", "").strip() or None,
    }
    if post.get("secret", "").strip():
        data["secret"] = post["secret"].strip()
    return data


def _messages(detail) -> list[str]:
    """DRF error details (lists, or dicts by list index) as flat text."""
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _messages(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _messages(value)]
    return [str(detail)]


def _choices() -> dict:
    return {"kind_choices": EventKind.values, "status_choices": EVENT_STATUSES}


@ui_view(role="admin")
def webhook_list(request):
    from reports.orchestration.api import WebhookSerializer

    values, errors = {}, {}
    if request.method == "POST":
        values = _form_data(request.POST)
        serializer = WebhookSerializer(data=values)
        if serializer.is_valid():
            secret = serializer.validated_data.pop("secret", None) or webhooks.generate_secret()
            hook = serializer.save(secret=secret, created_by=request.user)
            # The secret is shown once, on this answer, never stored in the session.
            return _detail(request, hook, new_secret=secret)
        errors = {field: _messages(msgs) for field, msgs in serializer.errors.items()}
    hooks = Webhook.objects.order_by("name", "id")
    return render_page(
        request,
        "reports/webhooks.html",
        {"hooks": hooks, "values": values, "errors": errors, **_choices()},
        section="rollout",
        status=400 if errors else 200,
    )


def _detail(request, hook, new_secret=None):
    deliveries = list(hook.deliveries.order_by("-id")[:50])
    return render_page(
        request,
        "reports/webhook.html",
        {"hook": hook, "deliveries": deliveries, "new_secret": new_secret},
        section="rollout",
    )


@ui_view(role="admin")
def webhook_detail(request, pk):
    return _detail(request, get_object_or_404(Webhook, pk=pk))


@ui_view(role="admin")
@require_POST
def webhook_action(request, pk, action):
    hook = get_object_or_404(Webhook, pk=pk)
    if action == "enable":
        webhooks.enable(hook)
        messages.success(request, f"Webhook {hook.name!r} enabled.")
    elif action == "disable":
        webhooks.disable(hook, f"disabled by {request.user.get_username()}")
        messages.success(request, f"Webhook {hook.name!r} disabled.")
    elif action == "ping":
        if webhooks.ping(hook) is None:
            messages.error(request, "The webhook is disabled; enable it first.")
        else:
            messages.success(request, "A ping delivery is queued; reload to see its outcome.")
    elif action == "rotate":
        hook.secret = webhooks.generate_secret()
        hook.save(update_fields=["secret", "updated"])
        return _detail(request, hook, new_secret=hook.secret)
    elif action == "delete":
        hook.delete()
        messages.success(request, f"Webhook {hook.name!r} deleted.")
        return redirect("ui:webhooks")
    else:
        messages.error(request, f"unknown action {action!r}")
    return redirect("ui:webhook", hook.pk)


@ui_view(role="admin")
def delivery_detail(request, pk, delivery):
    obj = get_object_or_404(WebhookDelivery.objects.select_related("webhook"), webhook_id=pk, uuid=delivery)
    return render_page(
        request,
        "reports/webhook_delivery.html",
        {"delivery": obj, "hook": obj.webhook, "attempts": list(obj.attempt_log.all())},
        section="rollout",
    )


urlpatterns = [
    path("", rollout_page, name="rollout"),
    path("webhooks/", webhook_list, name="webhooks"),
    path("webhooks/<int:pk>/", webhook_detail, name="webhook"),
    path("webhooks/<int:pk>/<str:action>", webhook_action, name="webhook_action"),
    path("webhooks/<int:pk>/deliveries/<uuid:delivery>/", delivery_detail, name="webhook_delivery"),
]
