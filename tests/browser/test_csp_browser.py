"""Under the Content-Security-Policy, the admin, Swagger UI and the audit page still work in real Chromium."""

from pathlib import Path

import pytest

from diagnostics.services.audit import record_event
from tests.browser import CHROMIUM, LAUNCH_ARGS
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def test_admin_swagger_and_audit_pages_work_with_no_csp_violation(live_server, admin_user):
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    record_event(action="panel.create", actor=admin_user, object_type="labpanel", object_id="1")
    violations: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(15_000)

        def on_console(message):
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text:
                violations.append(f"{page.url}: {message.text}")
            elif message.type == "error" and not message.text.startswith("Failed to load resource"):
                errors.append(f"{page.url}: {message.text}")

        def on_response(response):
            if response.status >= 400 and not response.url.endswith("/favicon.ico"):
                errors.append(f"{response.status} {response.url}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: errors.append(f"{page.url}: {error}"))
        page.on("response", on_response)

        # The admin: login, index, a change list with its filters, and the JavaScript-driven user form.
        page.goto(f"{live_server.url}/admin/")
        page.fill("#id_username", admin_user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#site-name")
        page.goto(f"{live_server.url}/admin/diagnostics/auditevent/")
        page.wait_for_selector("#result_list")
        page.goto(f"{live_server.url}/admin/auth/user/add/")
        page.wait_for_selector("#id_username")
        response = page.request.get(f"{live_server.url}/admin/")
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]

        # Swagger UI draws the operations from the schema (scripts served locally, no inline script).
        page.goto(f"{live_server.url}/api/v1/docs/")
        page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
        assert page.locator(".swagger-ui .opblock").count() > 10

        # The audit trail page renders and searches.
        page.goto(f"{live_server.url}/audit/?action=panel.")
        assert page.locator("table.audit tbody tr").count() >= 1
        browser.close()

    assert violations == []
    assert errors == []
