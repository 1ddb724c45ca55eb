"""In real Chromium: no page overflows horizontally at 390 px for any role, the header fits one row at
1280 px, and table cells keep their words whole.

ORM calls stay outside ``with sync_playwright()``.
"""

from datetime import timedelta

import pytest
from django.urls import reverse

from diagnostics.access import ADMIN, CLINICIAN, DATA_MANAGER
from tests.browser import chromium, watch
from tests.browser import log_in as browser_log_in
from tests.conftest import PASSWORD
from tests.page_builders import make_panel
from tests.test_access_control import APP_ROUTES, declared_role, url_of, world  # noqa: F401 (fixture)

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

USERS = {CLINICIAN: "clin", DATA_MANAGER: "dm", ADMIN: "boss"}
RANK = {CLINICIAN: 0, DATA_MANAGER: 1, ADMIN: 2}


def log_in(page, base_url: str, username: str) -> None:
    browser_log_in(page, base_url, username, PASSWORD)


NOT_PAGES = (
    "api/",
    "/progress/",
    "/results/",
    "report.pdf",
    "/activate/",
    "/start/",
    "audit/export",
    "/review/",
    "/refresh/",
    "healthz",
    "readyz",
    "template.csv",
)


PAGE_ROUTES = [r for r in APP_ROUTES if not any(part in r.pattern for part in NOT_PAGES)]


OVERFLOW = """() => {
  const width = window.innerWidth;
  const wide = [];
  document.querySelectorAll("body *").forEach((node) => {
    const box = node.getBoundingClientRect();
    if (box.width && box.right > width + 1 && !node.closest(".scroll, table, pre")) {
      wide.push(node.tagName + "." + node.className);
    }
  });
  return { scroll: document.documentElement.scrollWidth - width, wide: wide.slice(0, 5) };
}"""


def test_no_page_overflows_at_390_px_for_any_role_and_the_header_fits_at_1280(
    live_server,
    world,  # noqa: F811
    clinician,
    data_manager,
    admin_user,
):
    from playwright.sync_api import sync_playwright

    make_panel(world["patient"], collected_at=world["panel"].collected_at - timedelta(days=30), TSH=0.02)
    pages = {
        role: [url_of(r, world) for r in PAGE_ROUTES if RANK[declared_role(r) or CLINICIAN] <= RANK[role]]
        for role in USERS
    }
    overflowing, headers, problems = [], {}, []
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        for role, username in USERS.items():
            for language in ("en", "fr"):
                context = browser.new_context(viewport={"width": 390, "height": 844}, locale=language)
                page = context.new_page()
                watch(page, problems)
                log_in(page, live_server.url, username)
                if language == "fr":
                    page.select_option("#language", "fr")
                    page.click("form.lang button[type=submit]")
                    page.wait_for_load_state()
                for url in [*pages[role], "/no/such/page/"]:
                    page.goto(f"{live_server.url}{url}")
                    found = page.evaluate(OVERFLOW)
                    if found["scroll"] > 0:
                        overflowing.append((role, language, url, found))
                page.set_viewport_size({"width": 1280, "height": 900})
                page.goto(f"{live_server.url}/")
                headers[(role, language)] = page.evaluate(
                    "document.querySelector('header.site').getBoundingClientRect().height"
                )
                context.close()
        browser.close()

    assert sum(len(urls) for urls in pages.values()) > 30
    assert overflowing == []
    assert all(height < 60 for height in headers.values()), headers  # one row is 49 px; two would be 80
    assert [p for p in problems if "404 (Not Found)" not in p] == []  # the 404 page is visited on purpose


def test_table_cells_keep_their_words_whole_at_1280_px(live_server, history):
    """The page-wide "break anywhere" rule (for 390 px phones) once let tables squeeze a test name, a unit
    or a record number over two lines ("TS H", "nmol/ L", "UCI-87011903 5"): each stays on one line."""
    from playwright.sync_api import sync_playwright

    panel = history["panels"][-1]
    one_line = """(selector) => [...document.querySelectorAll(selector)].map((cell) => {
      const range = document.createRange();
      range.selectNodeContents(cell);
      const tops = new Set([...range.getClientRects()].map((rect) => Math.round(rect.top)));
      return [cell.textContent.trim(), tops.size];
    })"""
    with sync_playwright() as playwright:
        browser = chromium(playwright)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        log_in(page, live_server.url, "clin")
        page.goto(f"{live_server.url}{reverse('panel_detail', args=[panel.pk])}")
        lab_cells = page.evaluate(
            one_line, "#values-title ~ table tbody th, #values-title ~ table tbody td:nth-child(3)"
        )
        page.goto(f"{live_server.url}{reverse('dashboard')}")
        record_numbers = page.evaluate(one_line, "a.record-number")
        browser.close()
    assert {"TSH", "TBG", "nmol/L", "pmol/L"} <= {text for text, _ in lab_cells}
    assert record_numbers and "UCI-840801013" in {text for text, _ in record_numbers}
    assert [text for text, lines in lab_cells + record_numbers if text and lines != 1] == []
