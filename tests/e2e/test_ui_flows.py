"""Browser tests of the web UI: Playwright drives Debian's headless Chromium against a real
gunicorn web process on the test database. Screenshots go to test-artifacts/<test>/."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group, User
from django.utils import timezone

from inventory import fact_stats
from reports import rollups
from tests.support import ui_fleet
from tests.support.stack import BASE_DIR, running, service_env, start_service

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
pytestmark = [pytest.mark.browser, pytest.mark.stack]


def _web(tmp_path, artifacts_dir, **env_overrides):
    env = service_env(tmp_path, **env_overrides)
    subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), "collectstatic", "--noinput", "-v", "0"],
        env=dict(env, DJANGO_SETTINGS_MODULE="config.settings.web"),
        check=True,
        cwd=BASE_DIR,
    )
    return start_service("web", env, artifacts_dir)


@pytest.fixture
def web(tmp_path, artifacts_dir, transactional_db):
    process = _web(tmp_path, artifacts_dir)
    with running(process):
        yield process


@pytest.fixture
def web_strict_signin(tmp_path, artifacts_dir, transactional_db):
    """A web process that locks a user name out after 3 failed sign-ins."""
    process = _web(tmp_path, artifacts_dir, SIGNIN_MAX_FAILURES_PER_USER="3", SIGNIN_FAILURE_WINDOW="15m")
    with running(process):
        yield process


def _in_thread(fn):
    """Run ORM code while Playwright's event loop owns this thread (Django refuses it there)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


@pytest.fixture
def fleet_and_users(transactional_db):
    from enc.models import ROOT_ID, ROOT_NAME, ClassificationState, NodeGroup

    # A transactional test database is flushed between tests: restore the ENC's migration rows.
    NodeGroup.objects.get_or_create(id=ROOT_ID, defaults={"name": ROOT_NAME, "rule": None})
    ClassificationState.objects.get_or_create(id=1, defaults={"version": 1})
    data = ui_fleet.small_fleet()
    rollups.refresh(timezone.now() - dt.timedelta(days=3), timezone.now())
    fact_stats.compute(["os", "family"])
    for name, role in (("vera", "viewer"), ("eddie", "editor")):
        # The web process uses the production hashers (the test settings' MD5 is not among them).
        user = User.objects.create_user(name)
        user.password = PBKDF2PasswordHasher().encode(f"pw-{name}-secret", PBKDF2PasswordHasher().salt())
        user.save(update_fields=["password"])
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return data


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser, web, artifacts_dir):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, base_url=web.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page, errors


def _login(page, username="vera"):
    page.goto("/")
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(f"pw-{username}-secret")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Dashboard").wait_for()


def test_login_dashboard_failed_nodes_node_report(web, fleet_and_users, browser, artifacts_dir):
    page, errors = _page(browser, web, artifacts_dir)
    page.goto("/accounts/login/")
    page.screenshot(path=str(artifacts_dir / "01-login.png"))
    _login(page)
    assert page.get_by_role("heading", name="Dashboard").is_visible()
    # Styles and script come from Stagehand itself (CSP: 'self' only) and load.
    assert page.evaluate("getComputedStyle(document.querySelector('.topbar')).display") == "flex"
    page.screenshot(path=str(artifacts_dir / "02-dashboard.png"), full_page=True)

    page.locator('a.tile[data-status="failed"]').click()
    page.wait_for_url("**/nodes/?status=failed")
    rows = page.locator("table tbody tr")
    assert rows.count() == 1
    page.screenshot(path=str(artifacts_dir / "03-failed-nodes.png"), full_page=True)

    page.get_by_role("link", name="web01.example.com").first.click()
    page.wait_for_url("**/nodes/web01.example.com/")
    assert page.locator(".strip a").count() == 6
    page.screenshot(path=str(artifacts_dir / "04-node.png"), full_page=True)

    page.locator(".strip a.current").click()
    page.wait_for_url("**/reports/*/")
    assert page.locator("h2", has_text="Logs").is_visible()
    first_log = page.locator("section:has(h2#h-logs) tbody tr").first
    assert "Could not start Service[nginx]" in first_log.inner_text()  # errors first
    assert "hl-error" in (first_log.get_attribute("class") or "")
    page.screenshot(path=str(artifacts_dir / "05-report.png"), full_page=True)
    assert not errors, errors


def test_search_and_facts(web, fleet_and_users, browser, artifacts_dir):
    page, errors = _page(browser, web, artifacts_dir)
    _login(page)
    page.get_by_label("Search nodes").fill("db0")
    page.get_by_label("Search nodes").press("Enter")
    page.wait_for_url("**/nodes/?q=db0")
    assert page.locator("table tbody tr").count() == 2
    page.screenshot(path=str(artifacts_dir / "01-search-certname.png"), full_page=True)

    page.get_by_label("Search: part of a certname, or a query").fill('facts.os.family = "RedHat"')
    page.get_by_role("button", name="Filter").click()
    page.wait_for_load_state()
    text = page.locator("main").inner_text()
    assert "db02.example.com" in text and "web01.example.com" not in text
    page.screenshot(path=str(artifacts_dir / "02-search-query.png"), full_page=True)

    page.goto("/facts/")
    page.get_by_role("link", name="os", exact=True).click()
    page.wait_for_load_state()
    page.goto('/facts/value/?path=["os","family"]')
    assert page.locator("svg.chart").count() == 1
    page.screenshot(path=str(artifacts_dir / "03-fact-distribution.png"), full_page=True)
    page.get_by_role("link", name="RedHat").first.click()
    page.wait_for_url("**/nodes/?fact=*")
    assert page.locator("table tbody tr").count() == 1

    page.goto("/nodes/db02.example.com/facts/")
    page.get_by_label("Filter facts (path or value)").fill("release.major")
    assert page.get_by_role("link", name="major").is_visible()
    assert not page.get_by_role("link", name="kernel").is_visible()
    assert "1 matching entries" in page.locator("#fact-filter-status").inner_text()
    page.screenshot(path=str(artifacts_dir / "04-node-facts-filter.png"), full_page=True)
    assert not errors, errors


def test_catalog_diff_and_where_applied(web, fleet_and_users, browser, artifacts_dir):
    page, errors = _page(browser, web, artifacts_dir)
    _login(page)
    page.goto("/nodes/web02.example.com/")
    page.get_by_role("link", name="Catalog history").click()
    page.wait_for_url("**/catalogs/")
    assert page.locator(".timeline li").count() == 2
    # Compare the versions the other way round: the page orders them by time.
    options = page.locator("#c-from option")
    page.select_option("#c-from", options.nth(0).get_attribute("value"))
    page.select_option("#c-to", options.nth(1).get_attribute("value"))
    page.get_by_role("button", name="Compare").click()
    page.wait_for_url("**/catalogs/?from=*")
    diff = page.locator("section:has(#h-diff)")
    text = diff.inner_text()
    assert "1 changed" in text and "2 added" in text and "1 removed" in text
    assert "hello v1" in text and "hello v2" in text
    page.screenshot(path=str(artifacts_dir / "01-catalog-diff.png"), full_page=True)

    page.goto("/where/")
    page.get_by_label("Class").fill("nginx")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/where/?class=nginx*")
    assert "5 nodes have it in their current catalog" in page.locator("main").inner_text()
    page.screenshot(path=str(artifacts_dir / "02-where-applied.png"), full_page=True)
    assert not errors, errors


def test_inbox_replay_as_editor(web, fleet_and_users, browser, artifacts_dir):
    from ingest.models import Command, CommandState

    dead = _in_thread(
        lambda: Command.objects.create(
            command="store_report",
            version=8,
            certname="web01.example.com",
            payload=b'{"certname": "web01.example.com"}',
            state=CommandState.DEAD,
            attempts=5,
            last_error="ValueError: report is missing 'status'",
        )
    )
    page, errors = _page(browser, web, artifacts_dir)
    _login(page, "eddie")
    page.get_by_role("link", name="Inbox").click()
    page.wait_for_url("**/inbox/")
    page.get_by_label(f"select command {dead.id}").check()
    page.screenshot(path=str(artifacts_dir / "01-inbox.png"), full_page=True)
    page.get_by_role("button", name="Replay selected dead commands").click()
    page.wait_for_load_state()
    assert "Replayed 1 command" in page.locator(".messages").inner_text()
    page.screenshot(path=str(artifacts_dir / "02-inbox-replayed.png"), full_page=True)
    state = _in_thread(lambda: Command.objects.get(pk=dead.pk).state)
    assert state == CommandState.PENDING
    assert not errors, errors


def test_edit_group_with_live_preview(web, fleet_and_users, browser, artifacts_dir):
    from playwright.sync_api import expect

    from enc import service
    from enc.models import ROOT_ID

    group = _in_thread(
        lambda: service.create_group(
            {"name": "Web servers", "parent": str(ROOT_ID), "rule": ["~", "name", "^web"], "classes": {"nginx": {}}},
            actor="setup",
        )
    )
    page, errors = _page(browser, web, artifacts_dir)
    _login(page, "eddie")
    page.get_by_role("link", name="Classification").click()
    page.get_by_role("link", name="Web servers").click()
    page.get_by_role("link", name="Edit", exact=True).click()
    page.wait_for_url(f"**/classification/{group.id}/edit/")
    preview = page.locator("#preview")
    expect(preview).to_contain_text("2 nodes would match")  # fetched after the page is shown
    # Typing a new rule updates the preview without saving.
    rule = page.locator("#g-rule")
    rule.fill('["=", ["fact", "os", "family"], "RedHat"]')
    expect(preview).to_contain_text("1 node would match")
    assert "db02.example.com" in preview.inner_text()
    rule.fill('["=", ["fact", "os"')
    expect(preview).to_contain_text("not valid JSON")
    page.screenshot(path=str(artifacts_dir / "01-edit-invalid.png"), full_page=True)
    rule.fill('["or", ["~", "name", "^web"], ["=", ["fact", "os", "family"], "RedHat"]]')
    expect(preview).to_contain_text("3 nodes would match")
    page.get_by_role("button", name="Check for conflicts").click()
    page.wait_for_load_state()
    assert "no known node gets a classification conflict" in page.locator("main").inner_text()
    page.screenshot(path=str(artifacts_dir / "02-edit-checked.png"), full_page=True)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"**/classification/{group.id}/")
    assert "saved" in page.locator(".messages").inner_text()
    page.screenshot(path=str(artifacts_dir / "03-group-saved.png"), full_page=True)
    page.get_by_role("link", name="Members").click()
    expect(page.locator("#members")).to_contain_text("3 nodes")
    page.get_by_role("link", name="Audit log").click()
    assert "eddie" in page.locator("main table").inner_text()
    page.screenshot(path=str(artifacts_dir / "04-audit.png"), full_page=True)
    assert not errors, errors


def test_node_list_forward_and_back(web, fleet_and_users, browser, artifacts_dir):
    from playwright.sync_api import expect

    # 6 active nodes in the fleet + 110 here: three pages of 50 (50, 50, 16).
    _in_thread(lambda: [ui_fleet.node(f"extra{i:03d}.example.com") for i in range(110)])
    page, errors = _page(browser, web, artifacts_dir)
    _login(page)
    page.goto("/nodes/?sort=-certname&inactive=1")
    pager = page.get_by_role("navigation", name="Pages of nodes")
    rows = page.locator("table tbody tr td:first-child")

    def names():
        return rows.all_inner_texts()

    def disabled(name):
        return pager.get_by_role("link", name=name).get_attribute("aria-disabled") == "true"

    first = names()
    assert len(first) == 50 and first == sorted(first, reverse=True)
    assert disabled("‹ Previous") and disabled("« First page") and not disabled("Next ›")
    page.screenshot(path=str(artifacts_dir / "01-nodes-page-1.png"), full_page=True)
    pager.get_by_role("link", name="Next ›").click()
    page.wait_for_url("**/nodes/?*after=*")
    second = names()
    assert len(second) == 50 and second[0] < first[-1]
    second_url = page.url
    pager.get_by_role("link", name="Next ›").click()
    page.wait_for_url(lambda url: "after=" in url and url != second_url)
    expect(rows).to_have_count(17)  # 16 + the deactivated node (inactive=1 kept in the links)
    assert "sort=-certname" in page.url and "inactive=1" in page.url
    assert disabled("Next ›") and not disabled("‹ Previous")
    page.screenshot(path=str(artifacts_dir / "02-nodes-last-page.png"), full_page=True)
    pager.get_by_role("link", name="‹ Previous").click()
    page.wait_for_url("**/nodes/?*before=*")
    assert names() == second
    pager.get_by_role("link", name="‹ Previous").click()
    page.wait_for_load_state()
    assert names() == first
    assert disabled("‹ Previous") and disabled("« First page")
    page.screenshot(path=str(artifacts_dir / "03-nodes-back-to-page-1.png"), full_page=True)
    # "First page" from a later page, filters kept.
    pager.get_by_role("link", name="Next ›").click()
    page.wait_for_url("**/nodes/?*after=*")
    pager.get_by_role("link", name="« First page").click()
    page.wait_for_url(lambda url: "after=" not in url and "before=" not in url and "sort=-certname" in url)
    assert names() == first
    assert not errors, errors


def test_locked_out_sign_in(web_strict_signin, fleet_and_users, browser, artifacts_dir):
    page, errors = _page(browser, web_strict_signin, artifacts_dir)
    page.goto("/accounts/login/")
    for attempt in range(3):
        page.get_by_label("Username").fill("vera")
        page.get_by_label("Password").fill(f"wrong-{attempt}")
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_load_state()
    alert = page.get_by_role("alert")
    assert "Too many failed sign-ins for this user name. Try again in 15 minutes" in alert.inner_text()
    page.screenshot(path=str(artifacts_dir / "01-locked-out.png"), full_page=True)
    # The right password is refused while the lockout lasts.
    page.get_by_label("Username").fill("vera")
    page.get_by_label("Password").fill("pw-vera-secret")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert "/accounts/login/" in page.url and "Too many failed sign-ins" in page.get_by_role("alert").inner_text()
    page.screenshot(path=str(artifacts_dir / "02-still-locked-out.png"), full_page=True)
    assert web_strict_signin.log().count("sign-in locked out") == 1
    # Another user from the same browser signs in (only vera's user name is locked).
    _login(page, "eddie")
    assert [e for e in errors if "429" not in e] == [], errors
