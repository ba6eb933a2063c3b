"""Classification pages: the group tree, a group, editing with validation, a live preview of the
matching nodes and the conflicts a change would cause (checked before saving, by running the real
save in a transaction that is rolled back), and the audit log. All changes go through
``enc.service`` (the same code as the management API), as the signed-in user."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from enc import rules, service
from enc.models import ROOT_ID, AuditEntry, NodeGroup
from enc.ui import forms
from inventory.ui import paging
from inventory.ui.access import has_role, ui_view
from inventory.ui.common import render_page

PREVIEW_LIMIT = 50
AUDIT_SORT = paging.Sort("id", "id", descending=True)
AUDIT_PAGE_SIZE = 50


class _DryRun(Exception):
    pass


def _tree():
    groups = list(
        NodeGroup.objects.only(
            "id", "name", "parent_id", "environment", "environment_trumps", "rule", "pinned", "classes"
        )
    )
    children: dict = {}
    for group in groups:
        children.setdefault(group.parent_id, []).append(group)
    rows = []

    def walk(parent_id, depth):
        for group in sorted(children.get(parent_id, []), key=lambda g: g.name.lower()):
            rows.append({"group": group, "depth": depth, "indent": range(depth)})
            walk(group.id, depth + 1)

    walk(None, 0)
    return rows


def _group(group_id) -> NodeGroup:
    try:
        return NodeGroup.objects.select_related("parent").get(id=uuid.UUID(str(group_id)))
    except (ValueError, NodeGroup.DoesNotExist) as exc:
        raise Http404("no such group") from exc


@ui_view()
def group_tree(request):
    context = {"rows": _tree(), "can_edit": has_role(request.user, "editor")}
    return render_page(request, "enc/groups.html", context, "classification")


@ui_view()
def group_detail(request, group_id):
    group = _group(group_id)
    audit = list(AuditEntry.objects.filter(group_id=group.id).order_by("-id")[:20])
    translated = None
    if group.rule is not None:
        try:
            translated = rules.to_puppetdb(group.rule)
        except Exception:  # noqa: BLE001 - a rule PuppetDB cannot express is shown without a translation
            translated = None
    context = {
        "group": group,
        "children": list(NodeGroup.objects.filter(parent=group).only("id", "name")),
        "audit": audit,
        "translated": translated,
        "can_edit": has_role(request.user, "editor"),
        "is_root": group.id == ROOT_ID,
    }
    return render_page(request, "enc/group.html", context, "classification")


MEMBERS_PAGE = 500


def _members_context(request, group: NodeGroup) -> dict:
    """One keyset page of the group's members (``?after=<certname>``) with the total count: an
    index range of the precomputed membership (enc.fleet), never an evaluation of every node."""
    after = request.GET.get("after") or None
    result = service.members(group.id, limit=MEMBERS_PAGE, after=after)
    params = request.GET.copy()
    params.pop("after", None)
    next_params = params.copy()
    if result["next_after"]:
        next_params["after"] = result["next_after"]
    return {
        "group": group,
        "result": result,
        "after": after,
        "next_url": "?" + next_params.urlencode() if result["next_after"] else None,
        "first_url": "?" + params.urlencode() if after else None,
    }


@ui_view()
def group_members(request, group_id):
    """The members page: count and one keyset page of certnames, rendered with the page."""
    group = _group(group_id)
    return render_page(request, "enc/members.html", _members_context(request, group), "classification")


@ui_view()
def group_members_list(request, group_id):
    """The same list as a fragment (for scripts; pages with ``?after=``)."""
    group = _group(group_id)
    return render_page(request, "enc/members_fragment.html", _members_context(request, group), "classification")


def _check(group: NodeGroup | None, data: dict, actor: str) -> tuple[dict, dict | None]:
    """Run the real create/update in a transaction that is rolled back: the service's validation
    and its conflict check answer, nothing is stored. Returns (errors by field, refusal)."""
    try:
        with transaction.atomic():
            if group is None:
                service.create_group(data, actor=actor)
            else:
                service.update_group(group.id, data, actor=actor, partial=True)
            raise _DryRun
    except _DryRun:
        return {}, None
    except service.InvalidGroup as exc:
        return exc.errors, None
    except service.ChangeRefused as exc:
        return {}, {"message": exc.message, "affected": exc.affected[:50]}
    except service.NotFound as exc:
        return {"parent": [str(exc)]}, None


def _preview(data: dict) -> dict | None:
    rule = data.get("rule")
    pinned = data.get("pinned") or []
    if rule is None and not pinned:
        return None
    if rule is not None and rules.validate(rule):
        return None
    try:
        return service.preview(rule, parent_id=data.get("parent"), pinned=pinned, limit=PREVIEW_LIMIT)
    except (service.NotFound, ValueError):
        return None


def _edit(request, group: NodeGroup | None, parent: NodeGroup | None = None):
    is_root = group is not None and group.id == ROOT_ID
    errors: dict = {}
    refusal = None
    preview = None
    checked = False
    if request.method == "POST":
        values = forms.from_post(request.POST)
        data, errors = forms.parse(request.POST, is_root=is_root)
        action = request.POST.get("action", "check")
        actor = request.user.get_username()
        if not errors:
            if action == "save":
                try:
                    with transaction.atomic():
                        if group is None:
                            saved = service.create_group(data, actor=actor)
                        else:
                            saved = service.update_group(group.id, data, actor=actor, partial=True)
                except service.InvalidGroup as exc:
                    errors = exc.errors
                except service.ChangeRefused as exc:
                    refusal = {"message": exc.message, "affected": exc.affected[:50]}
                except service.NotFound as exc:
                    errors = {"parent": [str(exc)]}
                else:
                    messages.success(request, f"Group {saved.name!r} saved.")
                    return redirect("ui:enc_group", saved.id)
            else:
                errors, refusal = _check(group, data, actor)
                checked = not errors and refusal is None
            if not errors:
                preview = _preview(data)
    else:
        # The preview evaluates the rule on the rule paths' values of every candidate node
        # (enc.fleet; a few hundred ms at 50,000 nodes): the page's script fetches it after the
        # page is shown (rule_preview), so the page itself stays fast.
        values = forms.initial(group)
        if parent is not None:
            values["parent"] = str(parent.id)
    parents = [row for row in _tree() if group is None or row["group"].id != group.id]
    context = {
        "group": group,
        "values": values,
        "errors": errors,
        "refusal": refusal,
        "checked": checked,
        "preview": preview,
        "parents": parents,
        "is_root": is_root,
        "preview_limit": PREVIEW_LIMIT,
        "preview_url": reverse("ui:enc_preview"),
        "preview_pending": request.method == "GET",
    }
    status = 400 if errors else (409 if refusal else 200)
    return render_page(request, "enc/edit.html", context, "classification", status=status)


@ui_view(role="editor")
def group_edit(request, group_id):
    return _edit(request, _group(group_id))


@ui_view(role="editor")
def group_new(request):
    parent = None
    if request.GET.get("parent"):
        parent = _group(request.GET["parent"])
    return _edit(request, None, parent or NodeGroup.objects.filter(id=ROOT_ID).first())


@ui_view(role="editor")
@require_POST
def group_delete(request, group_id):
    group = _group(group_id)
    try:
        service.delete_group(group.id, actor=request.user.get_username())
    except service.ChangeRefused as exc:
        messages.error(request, exc.message)
        return redirect("ui:enc_group", group.id)
    messages.success(request, f"Group {group.name!r} deleted.")
    return redirect("ui:classification")


@ui_view(role="editor")
@require_POST
def rule_preview(request):
    """The live preview fragment (fetched by the edit page's script as the rule is typed)."""
    data, errors = forms.parse(request.POST)
    problems = []
    if not errors and data.get("rule") is not None:
        problems = [f"{p['path']}: {p['message']}" for p in rules.validate(data["rule"])]
    preview = None if errors or problems else _preview(data)
    context = {"errors": errors, "problems": problems, "preview": preview, "preview_limit": PREVIEW_LIMIT}
    return render_page(request, "enc/preview_fragment.html", context, "classification")


@ui_view()
def audit_log(request):
    qs = AuditEntry.objects.all()
    group_name = (request.GET.get("group") or "").strip()
    if group_name:
        qs = qs.filter(group_name=group_name)
    actor = (request.GET.get("actor") or "").strip()
    if actor:
        qs = qs.filter(actor=actor)
    errors = []
    rows, pager = paging.paged(request, qs, AUDIT_SORT, AUDIT_PAGE_SIZE, errors)
    for row in rows:
        row.diff = [
            {"field": f, "before": (row.before or {}).get(f), "after": (row.after or {}).get(f)}
            for f in (row.changed_fields or [])
        ]
    context = {
        "rows": rows,
        "errors": errors,
        "f": request.GET,
        "pager": pager,
    }
    return render_page(request, "enc/audit.html", context, "classification", status=400 if errors else 200)
