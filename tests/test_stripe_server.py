"""The Stripe stand-in, driven through the real stripe library over loopback, as the app will drive it."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
import stripe
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from tests.smtp_server import HOST, free_port
from tests.stripe_server import StripeAPIError, StripeServer, parse_stripe_params

API_KEY = "sk_test_claimsite_0123456789abcdef"
WEBHOOK_SECRET = "whsec_test_claimsite_secret"


class Receiver:
    """A tiny loopback web server that keeps every request: the app's webhook and success pages stand-in."""

    def __init__(self, status: int = 200, on_request: Callable[[Request], None] | None = None) -> None:
        self.status = status
        self.on_request = on_request
        self.port = free_port()
        self.received: list[tuple[str, str, dict[str, str], bytes]] = []  # method, full path, headers, body
        self.lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def _app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        request = Request(environ)
        with self.lock:
            self.received.append(
                (request.method, request.full_path.rstrip("?"), dict(request.headers), request.get_data())
            )
        if self.on_request is not None:
            self.on_request(request)
        return Response("received", self.status)(environ, start_response)

    def start(self) -> Receiver:
        self._server = make_server(HOST, self.port, self._app, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None


@pytest.fixture
def server() -> Iterator[StripeServer]:
    stripe_server = StripeServer(api_key=API_KEY).start()
    try:
        yield stripe_server
    finally:
        stripe_server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    web = Receiver().start()
    try:
        yield web
    finally:
        web.stop()


@pytest.fixture
def client(server: StripeServer) -> Iterator[stripe.StripeClient]:
    # Our own HTTP client so the test can close its requests session instead of leaving it to the garbage collector.
    http_client = stripe.RequestsClient()
    try:
        yield stripe.StripeClient(API_KEY, base_addresses={"api": server.url}, http_client=http_client)
    finally:
        http_client.close()


def session_params(**changes: Any) -> dict[str, Any]:
    """What the app sends for a 17.50 EUR fee, with ``changes`` on top (None removes a key)."""
    params: dict[str, Any] = {
        "mode": "payment",
        "success_url": "http://tiktokclaim.localhost/betaald?session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": "http://tiktokclaim.localhost/betalen",
        "locale": "nl",
        "client_reference_id": "signup-5",
        "customer_email": "jan@example.nl",
        "metadata": {"signup_id": 5, "campaign": "tiktokclaim"},
        "payment_method_types": ["card", "ideal"],
        "payment_intent_data": {"description": "Deelname TikTok-claim", "metadata": {"signup_id": 5}},
        "line_items": [
            {
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 1750,
                    "product_data": {"name": "Deelname TikTok-claim"},
                },
                "quantity": 1,
            }
        ],
    }
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return params


def post_form(url: str, fields: dict[str, str]) -> tuple[int, str, str]:
    """POST a form without following redirects; returns status, Location header and body."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=10)
    try:
        body = urllib.parse.urlencode(fields)
        connection.request("POST", parts.path, body, {"Content-Type": "application/x-www-form-urlencoded"})
        response = connection.getresponse()
        return response.status, response.getheader("Location") or "", response.read().decode()
    finally:
        connection.close()


def get_page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


# -- the form parser -------------------------------------------------------------------------------------------------


def test_parser_builds_nested_dicts_and_lists() -> None:
    pairs = [
        ("mode", "payment"),
        ("metadata[signup_id]", "5"),
        ("metadata[0]", "digit keys stay keys"),
        ("line_items[0][price_data][unit_amount]", "1750"),
        ("line_items[0][price_data][product_data][name]", "Fee"),
        ("line_items[0][quantity]", "1"),
        ("line_items[1][quantity]", "2"),
        ("payment_method_types[0]", "card"),
        ("expand[]", "a"),
        ("expand[]", "b"),
        ("cancel_url", ""),
    ]
    assert parse_stripe_params(pairs) == {
        "mode": "payment",
        "metadata": {"signup_id": "5", "0": "digit keys stay keys"},
        "line_items": [
            {"price_data": {"unit_amount": "1750", "product_data": {"name": "Fee"}}, "quantity": "1"},
            {"quantity": "2"},
        ],
        "payment_method_types": ["card"],
        "expand": ["a", "b"],
        "cancel_url": "",
    }


@pytest.mark.parametrize(
    ("pairs", "param"),
    [
        ([("line_items[1][quantity]", "1")], "line_items"),
        ([("metadata", "x"), ("metadata[a]", "b")], "metadata"),
        ([("a]b", "1")], "a]b"),
    ],
)
def test_parser_refuses_malformed_names(pairs: list[tuple[str, str]], param: str) -> None:
    with pytest.raises(StripeAPIError) as caught:
        parse_stripe_params(pairs)
    assert caught.value.status == 400
    assert caught.value.body["param"] == param


# -- the API through the stripe library ------------------------------------------------------------------------------


def test_create_returns_a_checkout_session_shaped_as_stripe_documents(
    server: StripeServer, client: stripe.StripeClient
) -> None:
    before = int(time.time())
    session = client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "signup-5-a"})

    assert isinstance(session, stripe.checkout.Session)
    assert session.object == "checkout.session"
    assert session.id.startswith("cs_test_")
    assert (session.amount_subtotal, session.amount_total, session.currency) == (1750, 1750, "eur")
    assert session.locale == "nl"
    assert session.metadata.to_dict() == {"signup_id": "5", "campaign": "tiktokclaim"}
    assert session.client_reference_id == "signup-5"
    assert session.customer_email == "jan@example.nl"
    assert (session.mode, session.status, session.payment_status) == ("payment", "open", "unpaid")
    assert session.payment_intent is None
    assert session.livemode is False
    assert session.payment_method_types == ["card", "ideal"]
    assert session.url == f"{server.url}/pay/{session.id}"
    assert session.success_url.endswith("session_id={CHECKOUT_SESSION_ID}")
    assert before <= session.created <= int(time.time())
    assert session.expires_at == session.created + 24 * 60 * 60
    assert session.last_response is not None
    assert session.last_response.request_id.startswith("req_")

    recorded = server.requests[-1]
    assert (recorded.method, recorded.path, recorded.status) == ("POST", "/v1/checkout/sessions", 200)
    assert recorded.headers["Idempotency-Key"] == "signup-5-a"
    assert recorded.params["locale"] == "nl"
    assert recorded.params["metadata"] == {"signup_id": "5", "campaign": "tiktokclaim"}
    assert recorded.params["line_items"][0]["price_data"]["unit_amount"] == "1750"


def test_amount_total_adds_up_quantities(client: stripe.StripeClient) -> None:
    items = [
        {"price_data": {"currency": "eur", "unit_amount": 1000, "product_data": {"name": "A"}}, "quantity": 2},
        {"price_data": {"currency": "EUR", "unit_amount": 250, "product_data": {"name": "B"}}, "quantity": 1},
    ]
    session = client.v1.checkout.sessions.create(params=session_params(line_items=items))
    assert (session.amount_total, session.currency) == (2250, "eur")


def test_expires_at_can_be_chosen(client: stripe.StripeClient) -> None:
    expires_at = int(time.time()) + 2 * 60 * 60
    session = client.v1.checkout.sessions.create(params=session_params(expires_at=expires_at))
    assert session.expires_at == expires_at


def test_retrieve_returns_the_same_session(client: stripe.StripeClient) -> None:
    created = client.v1.checkout.sessions.create(params=session_params())
    retrieved = client.v1.checkout.sessions.retrieve(created.id)
    assert retrieved.to_dict() == created.to_dict()


def test_retrieve_unknown_session_is_resource_missing(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert caught.value.http_status == 404
    assert caught.value.code == "resource_missing"
    assert caught.value.user_message == "No such checkout.session: 'cs_test_nope'"


def test_same_idempotency_key_and_params_replays_the_first_answer(
    server: StripeServer, client: stripe.StripeClient
) -> None:
    first = client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "signup-5"})
    second = client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "signup-5"})

    assert second.id == first.id
    assert second.to_dict() == first.to_dict()
    assert len(server.sessions) == 1
    assert second.last_response is not None and first.last_response is not None
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert second.last_response.headers["Original-Request"] == first.last_response.request_id
    assert "Idempotent-Replayed" not in first.last_response.headers


def test_same_idempotency_key_with_other_params_is_an_idempotency_error(client: stripe.StripeClient) -> None:
    client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "signup-5"})
    with pytest.raises(stripe.IdempotencyError) as caught:
        client.v1.checkout.sessions.create(params=session_params(locale="en"), options={"idempotency_key": "signup-5"})
    assert caught.value.http_status == 400
    assert caught.value.json_body["error"]["type"] == "idempotency_error"
    assert caught.value.user_message.startswith(
        "Keys for idempotent requests can only be used with the same parameters they were first used with."
    )


def test_a_refused_request_leaves_its_idempotency_key_free(server: StripeServer, client: stripe.StripeClient) -> None:
    # Stripe keeps no result for a request that failed validation, so the same key may carry the corrected request.
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.checkout.sessions.create(params=session_params(mode=None), options={"idempotency_key": "k"})
    session = client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k"})
    assert server.sessions.keys() == {session.id}


def test_wrong_api_key_is_an_authentication_error(server: StripeServer) -> None:
    http_client = stripe.RequestsClient()
    wrong = stripe.StripeClient("sk_test_wrong_key_9876", base_addresses={"api": server.url}, http_client=http_client)
    try:
        with pytest.raises(stripe.AuthenticationError) as caught:
            wrong.v1.checkout.sessions.create(params=session_params())
    finally:
        http_client.close()
    assert caught.value.http_status == 401
    assert caught.value.user_message == "Invalid API Key provided: sk_test_**********9876"
    assert caught.value.json_body["error"]["type"] == "invalid_request_error"
    assert server.sessions == {}


def test_missing_api_key_is_refused(server: StripeServer) -> None:
    request = urllib.request.Request(f"{server.url}/v1/checkout/sessions/cs_test_x")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    with caught.value as response:
        assert response.status == 401
        assert response.headers["Request-Id"].startswith("req_")
        assert json.load(response)["error"]["message"].startswith("You did not provide an API key.")


def test_unknown_url_is_refused_like_stripe(client: stripe.StripeClient) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.raw_request("get", "/v1/customers/cus_123")
    assert caught.value.http_status == 404
    assert caught.value.user_message.startswith("Unrecognized request URL (GET: /v1/customers/cus_123).")


ITEM = {"price_data": {"currency": "eur", "unit_amount": 1750, "product_data": {"name": "Fee"}}, "quantity": 1}


def item_with(**changes: Any) -> list[dict[str, Any]]:
    price_data = {**ITEM["price_data"], **{k: v for k, v in changes.items() if k != "quantity"}}
    return [
        {"price_data": {k: v for k, v in price_data.items() if v is not None}, "quantity": changes.get("quantity", 1)}
    ]


@pytest.mark.parametrize(
    ("changes", "param", "code"),
    [
        ({"mode": None}, "mode", "parameter_missing"),
        ({"mode": "subscription"}, "mode", "parameter_invalid"),
        ({"mode": "donate"}, "mode", "parameter_invalid"),
        ({"success_url": None}, "success_url", "parameter_missing"),
        ({"success_url": "not a url"}, "success_url", "url_invalid"),
        ({"line_items": None}, "line_items", "parameter_missing"),
        ({"line_items": item_with(unit_amount="17.50")}, "line_items[0][price_data][unit_amount]", None),
        ({"line_items": item_with(unit_amount=-1)}, "line_items[0][price_data][unit_amount]", None),
        ({"line_items": item_with(unit_amount=None)}, "line_items[0][price_data][unit_amount]", "parameter_missing"),
        ({"line_items": item_with(currency=None)}, "line_items[0][price_data][currency]", "parameter_missing"),
        ({"line_items": item_with(currency="euro")}, "line_items[0][price_data][currency]", "parameter_invalid"),
        ({"line_items": item_with(product_data={})}, "line_items[0][price_data][product_data][name]", None),
        ({"line_items": item_with(quantity=0)}, "line_items[0][quantity]", "parameter_invalid_integer"),
        ({"line_items": [{"price": "price_123", "quantity": 1}]}, "line_items[0][price]", "resource_missing"),
        ({"locale": "xx"}, "locale", "parameter_invalid"),
        ({"customer_email": "not-an-address"}, "customer_email", "email_invalid"),
        ({"expires_at": int(time.time()) + 60}, "expires_at", "parameter_invalid"),
        ({"expires_at": int(time.time()) + 25 * 60 * 60}, "expires_at", "parameter_invalid"),
        ({"metadata": {"k" * 41: "v"}}, f"metadata[{'k' * 41}]", "parameter_invalid"),
        ({"sucess_url": "http://typo.example/"}, "sucess_url", "parameter_unknown"),
        ({"payment_intent_data": {"descriptoin": "x"}}, "payment_intent_data[descriptoin]", "parameter_unknown"),
        ({"expand": ["payment_intent"]}, "expand", "parameter_invalid"),
    ],
)
def test_bad_params_are_invalid_request_errors_naming_the_param(
    server: StripeServer, client: stripe.StripeClient, changes: dict[str, Any], param: str, code: str | None
) -> None:
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.create(params=session_params(**changes))
    assert caught.value.http_status == 400
    assert caught.value.param == param
    assert caught.value.json_body["error"]["type"] == "invalid_request_error"
    if code is not None:
        assert caught.value.code == code
    assert server.sessions == {}
    assert server.requests[-1].status == 400


def test_a_bug_in_the_server_is_an_api_error_without_retries(
    server: StripeServer, client: stripe.StripeClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> dict[str, Any]:
        raise RuntimeError("oops")

    monkeypatch.setattr(server, "_create_session", broken)
    with pytest.raises(stripe.APIError) as caught:
        client.v1.checkout.sessions.create(params=session_params())
    assert caught.value.http_status == 500
    assert "RuntimeError: oops" in caught.value.user_message
    assert len(server.requests) == 1


def test_cancel_url_is_optional(client: stripe.StripeClient, server: StripeServer) -> None:
    session = client.v1.checkout.sessions.create(params=session_params(cancel_url=None))
    assert session.cancel_url is None
    assert 'id="cancel"' not in get_page(session.url)


def test_module_level_api_works_too(server: StripeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stripe, "api_key", API_KEY)
    monkeypatch.setattr(stripe, "api_base", server.url)
    session = stripe.checkout.Session.create(**session_params())
    assert stripe.checkout.Session.retrieve(session.id).amount_total == 1750


# -- expiry ------------------------------------------------------------------------------------------------------------


def test_expire_closes_an_open_session_once(server: StripeServer, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    expired = client.v1.checkout.sessions.expire(session.id, options={"idempotency_key": "expire-1"})

    assert (expired.status, expired.payment_status, expired.url) == ("expired", "unpaid", None)
    assert [event["type"] for event in server.events] == ["checkout.session.expired"]
    event = server.events[0]
    assert event["data"]["object"]["id"] == session.id
    assert event["request"]["idempotency_key"] == "expire-1"

    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.expire(session.id)
    assert caught.value.http_status == 400
    assert len(server.events) == 1

    assert "This checkout session has expired." in get_page(session.url)
    status, _, _ = post_form(session.url, {"action": "pay"})
    assert status == 409
    assert server.sessions[session.id]["status"] == "expired"


def test_a_session_past_expires_at_expires_on_its_own(server: StripeServer, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    server.clock = lambda: time.time() + 24 * 60 * 60 + 1
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"
    assert [event["type"] for event in server.events] == ["checkout.session.expired"]


def test_programmatic_expire_refuses_a_closed_session(server: StripeServer, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    server.complete(session.id)
    with pytest.raises(ValueError, match="is complete, not open"):
        server.expire(session.id)
    with pytest.raises(ValueError, match="is complete, not open"):
        server.complete(session.id)
    with pytest.raises(KeyError):
        server.expire("cs_test_nope")
    with pytest.raises(KeyError):
        server.deliver("evt_nope")


# -- the test payment page ---------------------------------------------------------------------------------------------


def test_pay_page_says_it_is_a_test_and_shows_what_is_paid(client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    page = get_page(session.url)
    assert "Test checkout — no real money" in page
    assert "Deelname TikTok-claim" in page
    assert "EUR 17.50" in page
    for element_id in ('id="pay"', 'id="pay-async"', 'id="cancel"'):
        assert element_id in page
    assert 'href="http://tiktokclaim.localhost/betalen"' in page


def test_pay_button_completes_and_redirects_to_success_url(
    server: StripeServer, client: stripe.StripeClient, receiver: Receiver
) -> None:
    success_url = f"{receiver.url}/betaald?session_id={{CHECKOUT_SESSION_ID}}"
    session = client.v1.checkout.sessions.create(params=session_params(success_url=success_url))

    status, location, _ = post_form(session.url, {"action": "pay"})
    assert status == 303
    assert location == f"{receiver.url}/betaald?session_id={session.id}"

    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status, paid.url) == ("complete", "paid", None)
    assert paid.payment_intent.startswith("pi_test_")
    assert [event["type"] for event in server.events] == ["checkout.session.completed"]
    assert server.events[0]["data"]["object"]["payment_status"] == "paid"

    # Paying twice pays nothing more.
    assert "This checkout session is already complete." in get_page(f"{server.url}/pay/{session.id}")
    status, _, _ = post_form(f"{server.url}/pay/{session.id}", {"action": "pay"})
    assert status == 409
    assert len(server.events) == 1


def test_browser_like_post_follows_the_303_to_success_url(
    server: StripeServer, client: stripe.StripeClient, receiver: Receiver
) -> None:
    success_url = f"{receiver.url}/betaald?session_id={{CHECKOUT_SESSION_ID}}"
    session = client.v1.checkout.sessions.create(params=session_params(success_url=success_url))
    form = urllib.parse.urlencode({"action": "pay"}).encode()
    with urllib.request.urlopen(session.url, data=form, timeout=10) as response:
        assert response.status == 200
        assert response.url == f"{receiver.url}/betaald?session_id={session.id}"
    assert receiver.received[-1][:2] == ("GET", f"/betaald?session_id={session.id}")


def test_pay_page_works_through_werkzeugs_test_client(server: StripeServer, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    browser = Client(server.wsgi_app)
    response = browser.post(f"/pay/{session.id}", data={"action": "pay"})
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"session_id={session.id}")
    assert server.sessions[session.id]["payment_status"] == "paid"


def test_unknown_pay_page_is_404(server: StripeServer) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        get_page(f"{server.url}/pay/cs_test_nope")
    with caught.value as response:
        assert response.status == 404


def test_bank_transfer_completes_unpaid_then_settles(server: StripeServer, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    status, location, _ = post_form(session.url, {"action": "pay-async"})
    assert status == 303
    assert location.endswith(session.id)

    pending = client.v1.checkout.sessions.retrieve(session.id)
    assert (pending.status, pending.payment_status) == ("complete", "unpaid")

    settled = server.settle_async(session.id, succeeded=True)
    assert settled["payment_status"] == "paid"
    assert [event["type"] for event in server.events] == [
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
    ]
    assert server.events[0]["data"]["object"]["payment_status"] == "unpaid"
    assert server.events[1]["data"]["object"]["payment_status"] == "paid"
    with pytest.raises(ValueError, match="no asynchronous payment"):
        server.settle_async(session.id, succeeded=True)


def test_failed_bank_transfer_stays_unpaid(server: StripeServer, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    server.complete(session.id, async_payment=True)
    failed = server.settle_async(session.id, succeeded=False)
    assert (failed["status"], failed["payment_status"]) == ("complete", "unpaid")
    assert server.events[-1]["type"] == "checkout.session.async_payment_failed"
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "unpaid"


def test_card_payment_cannot_be_settled(server: StripeServer, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    server.complete(session.id)
    with pytest.raises(ValueError, match="no asynchronous payment"):
        server.settle_async(session.id, succeeded=False)


# -- events and webhooks -----------------------------------------------------------------------------------------------


def test_events_are_shaped_as_stripe_and_retrievable(server: StripeServer, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    server.complete(session.id)
    event = server.events[0]
    assert event["id"].startswith("evt_")
    assert event["object"] == "event"
    assert event["api_version"] == stripe.api_version
    assert event["livemode"] is False
    assert event["type"] == "checkout.session.completed"
    assert event["data"]["object"]["object"] == "checkout.session"
    retrieved = client.v1.events.retrieve(event["id"])
    assert retrieved.type == "checkout.session.completed"
    assert retrieved.data.object["id"] == session.id


def test_webhooks_are_delivered_signed_as_stripe_signs(
    server: StripeServer, client: stripe.StripeClient, receiver: Receiver
) -> None:
    server.add_webhook_endpoint(f"{receiver.url}/webhooks/stripe", WEBHOOK_SECRET, host="tiktokclaim.localhost")
    session = client.v1.checkout.sessions.create(params=session_params())
    server.complete(session.id)

    (delivery,) = server.wait_for_deliveries(1)
    assert (delivery.status, delivery.error, delivery.event_type) == (200, None, "checkout.session.completed")
    method, path, headers, body = receiver.received[0]
    assert (method, path) == ("POST", "/webhooks/stripe")
    assert headers["Host"] == "tiktokclaim.localhost"
    assert headers["Content-Type"].startswith("application/json")
    assert server.events[0]["pending_webhooks"] == 1

    event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], WEBHOOK_SECRET)
    assert event.type == "checkout.session.completed"
    assert event.data.object["id"] == session.id
    assert event.data.object["payment_status"] == "paid"

    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], "whsec_wrong")
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            body.replace(b'"paid"', b'"unpaid"'), headers["Stripe-Signature"], WEBHOOK_SECRET
        )


def test_a_webhook_handler_may_call_the_api_back_while_it_is_delivered(
    server: StripeServer, client: stripe.StripeClient
) -> None:
    # The app's handler retrieves the session while the event is being delivered: nothing may be locked meanwhile.
    seen: list[str] = []

    def handle(request: Request) -> None:
        event = stripe.Webhook.construct_event(request.get_data(), request.headers["Stripe-Signature"], WEBHOOK_SECRET)
        seen.append(client.v1.checkout.sessions.retrieve(event.data.object["id"]).payment_status)

    app = Receiver(on_request=handle).start()
    try:
        server.add_webhook_endpoint(f"{app.url}/hook", WEBHOOK_SECRET)
        session = client.v1.checkout.sessions.create(params=session_params())
        server.complete(session.id)
        (delivery,) = server.wait_for_deliveries(1)
    finally:
        app.stop()
    assert delivery.status == 200
    assert seen == ["paid"]


def test_deliver_by_hand_can_sign_old_or_forged(
    server: StripeServer, client: stripe.StripeClient, receiver: Receiver
) -> None:
    server.auto_deliver = False
    server.add_webhook_endpoint(f"{receiver.url}/hook", WEBHOOK_SECRET)
    first = client.v1.checkout.sessions.create(params=session_params())
    second = client.v1.checkout.sessions.create(params=session_params())
    server.complete(first.id)
    server.expire(second.id)
    assert server.deliveries == []

    # Out of order, then a replay by id, then an old and a forged delivery.
    server.deliver(server.events[1])
    server.deliver(server.events[0]["id"])
    server.deliver(server.events[0])
    server.deliver(server.events[0], timestamp=int(time.time()) - 3600)
    server.deliver(server.events[0], secret="whsec_forged")

    assert [d.event_type for d in server.deliveries] == [
        "checkout.session.expired",
        "checkout.session.completed",
        "checkout.session.completed",
        "checkout.session.completed",
        "checkout.session.completed",
    ]
    bodies = [(body, headers["Stripe-Signature"]) for _, _, headers, body in receiver.received]
    assert len(bodies) == 5
    for body, signature in bodies[:3]:
        stripe.Webhook.construct_event(body, signature, WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(*bodies[3], WEBHOOK_SECRET)
    with pytest.raises(stripe.SignatureVerificationError, match="matching the expected signature"):
        stripe.Webhook.construct_event(*bodies[4], WEBHOOK_SECRET)


def test_signed_payload_matches_the_librarys_own_header(server: StripeServer, client: stripe.StripeClient) -> None:
    session = client.v1.checkout.sessions.create(params=session_params())
    server.complete(session.id)
    payload, header = server.signed_payload(server.events[0], WEBHOOK_SECRET, timestamp=1_700_000_000)
    assert header == stripe.WebhookSignature.generate_signature_header(
        payload.decode(), WEBHOOK_SECRET, timestamp=1_700_000_000
    )
    payload, header = server.signed_payload(server.events[0], WEBHOOK_SECRET)
    assert stripe.Webhook.construct_event(payload, header, WEBHOOK_SECRET).id == server.events[0]["id"]


def test_failed_deliveries_are_recorded(server: StripeServer, client: stripe.StripeClient) -> None:
    refusing = Receiver(status=500).start()
    try:
        server.add_webhook_endpoint(f"{refusing.url}/hook", WEBHOOK_SECRET)
        server.add_webhook_endpoint(f"http://{HOST}:{free_port()}/nobody-listens", WEBHOOK_SECRET)
        session = client.v1.checkout.sessions.create(params=session_params())
        server.complete(session.id)
        answered, unreachable = server.wait_for_deliveries(2)
    finally:
        refusing.stop()
    assert (answered.status, answered.error) == (500, None)
    assert unreachable.status is None
    assert unreachable.error is not None and "Connection" in unreachable.error


def test_wait_for_deliveries_says_what_is_missing(server: StripeServer) -> None:
    with pytest.raises(TimeoutError, match="0 of 1 webhook deliveries"):
        server.wait_for_deliveries(1, timeout=0.05)


def test_reset_forgets_everything(server: StripeServer, client: stripe.StripeClient, receiver: Receiver) -> None:
    server.add_webhook_endpoint(receiver.url, WEBHOOK_SECRET)
    session = client.v1.checkout.sessions.create(params=session_params(), options={"idempotency_key": "k"})
    server.expire(session.id)
    server.wait_for_deliveries(1)
    server.reset()
    assert (server.sessions, server.events, server.deliveries, server.requests, server.endpoints) == (
        {},
        [],
        [],
        [],
        [],
    )
    again = client.v1.checkout.sessions.create(params=session_params(locale="en"), options={"idempotency_key": "k"})
    assert again.id != session.id


def test_server_can_stop_and_start_on_the_same_port(server: StripeServer, client: stripe.StripeClient) -> None:
    server.stop()
    with pytest.raises(stripe.APIConnectionError):
        client.v1.checkout.sessions.create(params=session_params(), options={"max_network_retries": 0})
    server.start()
    assert client.v1.checkout.sessions.create(params=session_params()).status == "open"
