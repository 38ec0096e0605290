"""The pages over plain HTTP, served by uvicorn on 127.0.0.1 with a real SMTP sink and a real
SQLite file: one-click unsubscribe, links that must be refused, CSRF, limits, and answers
that never tell whether an address is subscribed."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from support.installation import BOB, BOB_WORDS
from web.conftest import NOW, Site, csrf_of, make_site

from digest.compose.signed import LinkClaims, Purpose, sign_link
from digest.jobs.context import signing_keys
from digest.store import open_store
from digest.store.roles import SubscriberState

FORM = {"keywords": "reinforcement learning", "deliver_at": "07:00", "timezone": "UTC"}


def path_of(site: Site, url: str) -> str:
    assert url.startswith(site.url)
    return url[len(site.url) :]


def record_state(site: Site, email: str) -> SubscriberState | None:
    with closing(open_store(site.settings.database)) as store:
        record = store.subscriber_record(email)
        return record.state if record else None


def sign(site: Site, claims: LinkClaims) -> str:
    with closing(open_store(site.settings.database)) as store:
        return sign_link(signing_keys(site.settings, store)[0], claims)


def session(site: Site) -> tuple[httpx.Client, str]:
    client = site.client()
    return client, csrf_of(client.get("/").text)


def subscribe_and_confirm(site: Site, email: str) -> None:
    client, csrf = session(site)
    assert client.post("/subscribe", data={**FORM, "email": email, "csrf": csrf}).status_code == 200
    (link,) = site.links_to(email, "/confirm/")
    page = client.post(path_of(site, link), data={"csrf": csrf})
    assert page.status_code == 200 and "Subscription confirmed" in page.text


def delivered_links(site: Site, email: str, path: str) -> list[str]:
    site.run()
    return site.links_to(email, path)


@pytest.fixture
def limited_site(tmp_path: Path) -> Iterator[Site]:
    yield from make_site(tmp_path, "address_limit = 2\nclient_limit = 4\nmax_body_bytes = 4096")


def test_one_click_post_unsubscribes_and_a_get_changes_nothing(site: Site) -> None:
    site.installation.subscribe(BOB, BOB_WORDS)
    (link,) = delivered_links(site, BOB, "/unsubscribe/")
    mail = site.installation.smtp.handler.to(BOB)[-1].message
    assert f"<{link}>" in mail["List-Unsubscribe"]
    with httpx.Client(base_url=site.url) as scanner:  # a link scanner: GETs, no cookie
        page = scanner.get(path_of(site, link))
        assert page.status_code == 200 and 'value="One-Click"' in page.text
        assert scanner.head(path_of(site, link)).status_code in (200, 405)
    assert record_state(site, BOB) is SubscriberState.ACTIVE
    with httpx.Client(base_url=site.url) as provider:  # RFC 8058: no cookie, no CSRF token
        refused = provider.post(path_of(site, link), data={"List-Unsubscribe": "Other"})
        assert refused.status_code == 400
        assert record_state(site, BOB) is SubscriberState.ACTIVE
        done = provider.post(
            path_of(site, link),
            content=b"List-Unsubscribe=One-Click",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert record_state(site, BOB) is SubscriberState.UNSUBSCRIBED


def test_every_digest_body_shows_an_unsubscribe_link_and_votes(site: Site) -> None:
    site.installation.subscribe(BOB, BOB_WORDS)
    site.run()
    mail = site.installation.smtp.handler.to(BOB)[-1].message
    html = mail.get_body(("html",)).get_content()
    assert ">Unsubscribe</a>" in html and ">More like this</a>" in html
    assert site.links_to(BOB, "/manage/") and site.links_to(BOB, "/vote/")


def test_forged_expired_cross_purpose_and_replayed_tokens_are_refused(site: Site) -> None:
    subscribe_and_confirm(site, "ann@example.org")
    client, csrf = session(site)
    (manage,) = delivered_links(site, "ann@example.org", "/manage/")
    assert client.get(path_of(site, manage)).status_code == 200
    data, tag = path_of(site, manage).removeprefix("/manage/").split(".")
    forged = f"{data}.{'A' if tag[0] != 'A' else 'B'}{tag[1:]}"
    assert client.get(f"/manage/{forged}").status_code == 400
    other = sign(site, LinkClaims(Purpose.MANAGE, "eve@example.org", None))
    tampered = other.split(".")[0] + "." + tag  # someone else's address, Ann's tag
    assert client.get(f"/manage/{tampered}").status_code == 400

    past = NOW - dt.timedelta(minutes=1)
    expired = sign(site, LinkClaims(Purpose.MANAGE, "ann@example.org", past))
    page = client.get(f"/manage/{expired}")
    assert page.status_code == 400 and "expired" in page.text and "Unsubscribe" not in page.text
    old_confirm = sign(site, LinkClaims(Purpose.CONFIRM, "ann@example.org", past, ("n",)))
    assert client.get(f"/confirm/{old_confirm}").status_code == 400

    confirm_token = sign(site, LinkClaims(Purpose.CONFIRM, "ann@example.org", None, ("n",)))
    assert client.get(f"/manage/{confirm_token}").status_code == 400  # wrong purpose
    assert client.get(f"/confirm/{path_of(site, manage)[8:]}").status_code == 400
    vote = site.links_to("ann@example.org", "/vote/")[0]
    assert client.get(f"/manage/{path_of(site, vote)[6:]}").status_code == 400
    assert (
        client.post(
            f"/unsubscribe/{path_of(site, manage)[8:]}", data={"List-Unsubscribe": "One-Click"}
        ).status_code
        == 400
    )

    (confirm_link,) = site.links_to("ann@example.org", "/confirm/")  # used once already
    replay = client.post(path_of(site, confirm_link), data={"csrf": csrf})
    assert replay.status_code == 400 and "already used" in replay.text
    assert record_state(site, "ann@example.org") is SubscriberState.ACTIVE


def test_a_form_without_its_csrf_token_is_refused(site: Site) -> None:
    client, csrf = session(site)
    missing = client.post("/subscribe", data={**FORM, "email": "ann@example.org"})
    assert missing.status_code == 403
    wrong = client.post("/subscribe", data={**FORM, "email": "ann@example.org", "csrf": "x" * 32})
    assert wrong.status_code == 403
    with httpx.Client(base_url=site.url) as stranger:  # the right value, but no cookie
        no_cookie = stranger.post(
            "/subscribe", data={**FORM, "email": "a@example.org", "csrf": csrf}
        )
        assert no_cookie.status_code == 403
    other_site = client.post(
        "/subscribe",
        data={**FORM, "email": "ann@example.org", "csrf": csrf},
        headers={"Origin": "https://evil.example.net"},
    )
    assert other_site.status_code == 403
    assert record_state(site, "ann@example.org") is None
    assert site.wait_for_mails("ann@example.org", 1) == []


def test_rate_limits_answer_429_with_retry_after(limited_site: Site) -> None:
    site = limited_site
    client, csrf = session(site)
    for _ in range(2):
        ok = client.post("/subscribe", data={**FORM, "email": "ann@example.org", "csrf": csrf})
        assert ok.status_code == 200
    flood = client.post("/subscribe", data={**FORM, "email": "ANN@example.org", "csrf": csrf})
    assert flood.status_code == 429 and int(flood.headers["Retry-After"]) > 0
    assert len(site.wait_for_mails("ann@example.org", 3)) == 2  # no third mail
    client_too = client.post("/link", data={"email": "zed@example.org", "csrf": csrf})
    assert client_too.status_code == 200  # the 4th form of this client
    over = client.post("/preview", data={**FORM, "csrf": csrf})
    assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0


def test_oversized_bodies_are_refused(limited_site: Site) -> None:
    client, csrf = session(limited_site)
    big = {**FORM, "email": "ann@example.org", "csrf": csrf, "keywords": "x" * 5000}
    assert client.post("/subscribe", data=big).status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield f"csrf={csrf}&email=a%40example.org&keywords=".encode()
        for _ in range(10):
            yield b"y" * 1000

    streamed = client.post(
        "/subscribe",
        content=chunks(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert streamed.status_code == 413
    assert record_state(limited_site, "ann@example.org") is None


def test_the_answer_is_the_same_for_new_pending_and_subscribed_addresses(site: Site) -> None:
    subscribe_and_confirm(site, "old@example.org")
    client, csrf = session(site)
    client.post("/subscribe", data={**FORM, "email": "pending@example.org", "csrf": csrf})
    answers = []
    for email in ("new@example.org", "pending@example.org", "old@example.org"):
        reply = client.post("/subscribe", data={**FORM, "email": email, "csrf": csrf})
        answers.append((reply.status_code, reply.text, sorted(reply.headers.keys())))
    assert answers[0] == answers[1] == answers[2]
    assert site.links_to("new@example.org", "/confirm/")
    assert len(site.links_to("pending@example.org", "/confirm/", at_least=2)) == 2
    assert site.links_to("old@example.org", "/manage/")  # a manage link, not a confirmation
    assert len(site.links_to("old@example.org", "/confirm/")) == 1  # only the first sign-up
    assert record_state(site, "old@example.org") is SubscriberState.ACTIVE
    links = [
        client.post("/link", data={"email": e, "csrf": csrf}).text
        for e in ("nobody@example.org", "old@example.org")
    ]
    assert links[0] == links[1]


def test_fields_are_checked_with_the_cli_rules_and_messages(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    from digest.cli import main

    client, csrf = session(site)
    bad = {
        **FORM,
        "email": "not an address",
        "keywords": "a*",
        "timezone": "Mars/Base",
        "deliver_at": "25:00",
        "categories": "bad cat",
        "csrf": csrf,
    }
    page = client.post("/subscribe", data=bad)
    assert page.status_code == 400
    code = main(
        ["--config", str(site.installation.config), "subscribe", "a@example.org", "-k", "a*"]
    )
    assert code == 2
    cli_message = capsys.readouterr().err.split("'a*': ", 1)[1].strip()
    assert cli_message.replace("'", "&#39;") in page.text
    for field in ("email", "keywords", "timezone", "deliver_at", "categories"):
        assert f'id="{field}-error"' in page.text
    assert "unknown time zone" in page.text and "not a time of day" in page.text
    assert record_state(site, "a@example.org") is None


def test_addresses_match_whatever_their_case(site: Site) -> None:
    site.installation.subscribe("Bob@example.org", BOB_WORDS)
    client, csrf = session(site)
    client.post("/subscribe", data={**FORM, "email": "bob@example.org", "csrf": csrf})
    (mail,) = site.wait_for_mails("Bob@example.org", 1)
    assert mail.rcpt_tos == ["Bob@example.org"]  # the spelling given first
    assert "/manage/" in mail.message.get_body(("plain",)).get_content()
    with closing(open_store(site.settings.database)) as store:
        assert len(store.subscriber_records()) == 1


def test_manage_changes_only_what_changed_pauses_and_resumes(site: Site) -> None:
    subscribe_and_confirm(site, "ann@example.org")
    (manage,) = delivered_links(site, "ann@example.org", "/manage/")
    client, csrf = session(site)
    page = client.get(path_of(site, manage))
    assert "reinforcement learning" in page.text
    form = dict(
        re.findall(
            r'<input id="(\w+)" name="\w+" type="(?:text|number|time)"'
            r'[^>]*value="([^"]*)"',
            page.text,
        )
    )
    form.update(
        keywords="reinforcement learning",
        deliver_at="08:30",
        timezone="UTC",
        csrf=csrf,
        action="save",
    )
    saved = client.post(path_of(site, manage), data=form)
    assert saved.status_code == 200
    assert "delivery time: 07:00 -&gt; 08:30" in saved.text
    with closing(open_store(site.settings.database)) as store:
        ann = store.subscriber("ann@example.org")
    assert ann is not None and f"{ann.deliver_at:%H:%M}" == "08:30"
    assert [t.text for t in ann.profile.all_terms] == ["reinforcement learning"]
    paused = client.post(path_of(site, manage), data={"csrf": csrf, "action": "pause"})
    assert "paused" in paused.text
    assert record_state(site, "ann@example.org") is SubscriberState.PAUSED
    client.post(path_of(site, manage), data={"csrf": csrf, "action": "resume"})
    assert record_state(site, "ann@example.org") is SubscriberState.ACTIVE


def test_a_vote_is_recorded_on_post_only_and_can_be_undone(site: Site) -> None:
    subscribe_and_confirm(site, "ann@example.org")
    up = delivered_links(site, "ann@example.org", "/vote/")[0]
    client, csrf = session(site)
    assert "Record" in client.get(path_of(site, up)).text
    with closing(open_store(site.settings.database)) as store:
        ann = store.subscriber("ann@example.org")
        assert ann is not None and ann.id is not None
        assert store.votes(ann.id) == []
        recorded = client.post(path_of(site, up), data={"csrf": csrf, "action": "record"})
        assert "Vote recorded" in recorded.text and "Undo" in recorded.text
        assert [v.vote.value for v in store.votes(ann.id)] == ["up"]
        (manage,) = site.links_to("ann@example.org", "/manage/")
        assert "more like this" in client.get(path_of(site, manage)).text
        client.post(path_of(site, up), data={"csrf": csrf, "action": "undo"})
        assert store.votes(ann.id) == []


def test_logs_hold_no_address_and_no_token(site: Site) -> None:
    records: list[logging.LogRecord] = []
    logged = threading.Condition()

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            with logged:
                records.append(record)
                logged.notify_all()

    keep = Keep(level=logging.DEBUG)
    logger = logging.getLogger("digest.web")
    logger.addHandler(keep)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        subscribe_and_confirm(site, "ann@example.org")
        (unsubscribe,) = delivered_links(site, "ann@example.org", "/unsubscribe/")
        site.client().post(path_of(site, unsubscribe), data={"List-Unsubscribe": "One-Click"})
        with logged:  # the access line is written once the answer is out
            assert logged.wait_for(
                lambda: any("POST /unsubscribe" in r.getMessage() for r in records), 5
            ), [r.getMessage() for r in records]
    finally:
        logger.removeHandler(keep)
        logger.setLevel(old_level)
    text = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in records)
    assert "/confirm" in text and "/unsubscribe" in text  # requests were logged
    assert "ann@" not in text and "example.org" not in text
    token = path_of(site, unsubscribe).removeprefix("/unsubscribe/")
    assert token not in text and token[:16] not in text


def test_send_me_todays_digest_now_goes_through_the_outbox_once(site: Site) -> None:
    subscribe_and_confirm(site, "ann@example.org")
    client, csrf = session(site)
    client.post("/link", data={"email": "ann@example.org", "csrf": csrf})
    (manage,) = site.links_to("ann@example.org", "/manage/")
    sent = client.post(path_of(site, manage), data={"csrf": csrf, "action": "send"})
    assert "Today&#39;s digest is on its way." in sent.text
    digests = [m for m in site.wait_for_mails("ann@example.org", 3) if m.message["List-Id"]]
    assert len(digests) == 1
    again = client.post(path_of(site, manage), data={"csrf": csrf, "action": "send"})
    assert "already been made" in again.text
    site.run()  # the run finds today's digest in the outbox: nothing more is sent
    assert len([m for m in site.wait_for_mails("ann@example.org", 4) if m.message["List-Id"]]) == 1
