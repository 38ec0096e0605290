"""A subscriber's whole path in a real browser (Debian's headless Chromium, driven by
Playwright): fill the form, preview today's digest, subscribe, confirm from the mail, get a
digest from `digest run`, change the delivery time, vote, unsubscribe. Screenshots at 390
and 1280 px go to $DIGEST_SCREENSHOTS (else the test's tmp folder, printed)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page
from support.chromium import chromium
from web.conftest import Site

from digest.store.roles import SubscriberState

ADDRESS = "carol@example.org"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("DIGEST_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots in {folder}")
    return folder


def snap(page: Page, folder: Path, name: str) -> None:
    """The page at phone and desktop widths, whole length."""
    for width in (390, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(folder / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def csp_watch(page: Page) -> list[str]:
    problems: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", seen)
    page.on("pageerror", lambda err: problems.append(str(err)))
    return problems


def state(site: Site, email: str) -> SubscriberState | None:
    from contextlib import closing

    from digest.store import open_store

    with closing(open_store(site.settings.database)) as store:
        record = store.subscriber_record(email)
        return record.state if record else None


def test_subscribe_confirm_digest_manage_vote_unsubscribe(
    site: Site, browser: Browser, shots: Path
) -> None:
    context = browser.new_context(
        timezone_id="Europe/Berlin", viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    problems = csp_watch(page)
    page.goto(site.url)
    assert page.locator("#timezone").input_value() == "Europe/Berlin"  # from the browser
    snap(page, shots, "landing")

    page.fill("#keywords", "reinforcement learning\npolicy optimization")
    page.click("details.categories > summary")
    page.check("input[name=categories][value='cs.LG']")
    page.click("text=Show me today's digest for this")
    page.wait_for_selector("#preview")
    preview = page.locator("#preview")
    assert "matched because" in preview.inner_text()
    assert page.locator("#keywords").input_value().startswith("reinforcement learning")
    snap(page, shots, "preview")

    page.fill("#email", ADDRESS)
    page.click("button[value=subscribe]")
    page.wait_for_selector("text=Check your inbox")
    assert state(site, ADDRESS) is SubscriberState.PENDING
    (confirm,) = site.links_to(ADDRESS, "/confirm/")
    page.goto(confirm)
    assert state(site, ADDRESS) is SubscriberState.PENDING  # opening the link changes nothing
    page.click("text=Confirm my subscription")
    page.wait_for_selector("text=Subscription confirmed")
    assert "Europe/Berlin" in page.inner_text("main")
    snap(page, shots, "confirmed")

    site.run()
    (manage,) = site.links_to(ADDRESS, "/manage/")
    page.goto(manage)
    assert page.locator("#deliver_at").input_value() == "07:00"
    page.fill("#deliver_at", "08:15")
    page.click("button[value=save]")
    page.wait_for_selector("text=delivery time: 07:00 -> 08:15")
    assert page.locator("#deliver_at").input_value() == "08:15"
    snap(page, shots, "manage")

    vote = site.links_to(ADDRESS, "/vote/")[0]
    page.goto(vote)
    page.click("button[value=record]")
    page.wait_for_selector("text=Vote recorded")
    snap(page, shots, "vote")
    page.goto(manage)
    assert "more like this" in page.inner_text(".votes")

    page.click("button[value=unsubscribe]")
    page.wait_for_selector(".state-unsubscribed")
    assert state(site, ADDRESS) is SubscriberState.UNSUBSCRIBED
    (unsubscribe,) = site.links_to(ADDRESS, "/unsubscribe/")
    page.goto(unsubscribe)
    snap(page, shots, "unsubscribe")
    assert problems == []  # no CSP violation, no script error
    context.close()


def test_the_pages_work_without_javascript(site: Site, browser: Browser, shots: Path) -> None:
    context = browser.new_context(java_script_enabled=False, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.goto(site.url)
    assert page.locator("#timezone").input_value() == "UTC"  # the fallback: pick it yourself
    page.select_option("#timezone", "Asia/Tokyo")
    page.fill("#keywords", "a*")
    page.fill("#email", "dan@example.org")
    page.click("button[value=subscribe]")
    error = page.locator("#keywords-error").inner_text()
    assert "wildcard needs at least 3 letters" in error
    assert page.locator("#timezone").input_value() == "Asia/Tokyo"  # kept across the error
    snap(page, shots, "errors")
    page.fill("#keywords", "reinforcement learning")
    page.click("button[value=subscribe]")
    page.wait_for_selector("text=Check your inbox")
    (confirm,) = site.links_to("dan@example.org", "/confirm/")
    page.goto(confirm)
    page.click("text=Confirm my subscription")
    page.wait_for_selector("text=Subscription confirmed")
    assert state(site, "dan@example.org") is SubscriberState.ACTIVE
    context.close()
