"""A Stripe-compatible HTTP server for tests: Checkout Sessions, a test payment page and signed webhooks.

Neither localstripe nor stripe-mock implements Checkout Sessions, so the tests run this instead. The real ``stripe``
library talks to it over loopback exactly as it talks to api.stripe.com::

    server = StripeServer(api_key="sk_test_abc").start()
    client = stripe.StripeClient("sk_test_abc", base_addresses={"api": server.url})
    session = client.v1.checkout.sessions.create(params={...})

It answers the way Stripe does (object shapes, error JSON and status codes, ``Request-Id``, idempotency keys) for
``POST /v1/checkout/sessions``, ``GET /v1/checkout/sessions/{id}``, ``POST /v1/checkout/sessions/{id}/expire`` and
``GET /v1/events/{id}``; serves a test payment page at ``session.url``; and posts events, signed as Stripe signs them,
to the webhook endpoints a test adds. Only ``mode=payment`` with ``price_data`` line items is modelled: other modes,
stored prices and ``expand`` are refused with a message saying so. Other parameters the stripe library declares for
this endpoint are accepted and kept in ``requests`` but change nothing; a parameter it does not declare is refused
as Stripe refuses it ("Received unknown parameter").
"""

from __future__ import annotations

import copy
import html
import http.client
import json
import queue
import re
import secrets
import string
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import stripe
import stripe.params as stripe_params
import stripe.params.checkout as checkout_params
from stripe._request_options import RequestOptions
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.smtp_server import HOST, free_port

__all__ = ["Delivery", "RecordedRequest", "StripeAPIError", "StripeServer", "WebhookEndpoint", "parse_stripe_params"]

_ALNUM = string.ascii_letters + string.digits
_DAY = 24 * 60 * 60
# Stripe shows amounts in these currencies without a decimal part (https://docs.stripe.com/currencies#zero-decimal).
_ZERO_DECIMAL = frozenset(
    ["bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"]
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_INTEGER = re.compile(r"^-?\d+$")
_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_SUBSCRIPT = re.compile(r"\[([^\[\]]*)\]")


def _param_names(typed_dict: type) -> frozenset[str]:
    """The parameter names the installed stripe library declares for an endpoint or nested object.

    Reading them from the library keeps "Received unknown parameter" in step with the API version the tests use,
    so a misspelt parameter fails here as it would at Stripe.
    """
    return frozenset(typed_dict.__annotations__) - frozenset(RequestOptions.__annotations__)


# payment_method_types is missing from the typed create params of stripe 16 (API 2026-10-28), which offer
# allowed_payment_method_types instead; older API versions have it and the session object still shows it, so it is
# accepted rather than refused on the strength of a type stub.
_CREATE_PARAMS = _param_names(checkout_params.SessionCreateParams) | {"payment_method_types"}
_LINE_ITEM_PARAMS = _param_names(checkout_params.SessionCreateParamsLineItem)
_PRICE_DATA_PARAMS = _param_names(checkout_params.SessionCreateParamsLineItemPriceData)
_PRODUCT_DATA_PARAMS = _param_names(checkout_params.SessionCreateParamsLineItemPriceDataProductData)
_PAYMENT_INTENT_DATA_PARAMS = _param_names(checkout_params.SessionCreateParamsPaymentIntentData)
# The locales Checkout accepts, read from the Literal the stripe library declares for SessionCreateParams.locale.
_LOCALES = frozenset(re.findall(r"'([^']+)'", str(checkout_params.SessionCreateParams.__annotations__["locale"])))
_RETRIEVE_PARAMS = _param_names(checkout_params.SessionRetrieveParams)
_EXPIRE_PARAMS = _param_names(checkout_params.SessionExpireParams)
_REFUND_CREATE_PARAMS = _param_names(stripe_params.RefundCreateParams)
_REFUND_LIST_PARAMS = _param_names(stripe_params.RefundListParams)


def _random_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


class StripeAPIError(Exception):
    """An error answered as Stripe answers it: ``{"error": {...}}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, Any] = {"type": error_type, "message": message}
        if param is not None:
            self.body["param"] = param
        if code is not None:
            self.body["code"] = code
            self.body["doc_url"] = "https://stripe.com/docs/error-codes/" + code.replace("_", "-")


class _ParamError(StripeAPIError):
    """A request refused before the endpoint ran; Stripe keeps no idempotent result for these."""

    def __init__(self, message: str, param: str, code: str = "parameter_invalid") -> None:
        super().__init__(400, message, param=param, code=code)


def parse_stripe_params(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Form fields in Stripe's bracket syntax (``a[b][0][c]=v``, ``expand[]=x``) as nested dicts and lists.

    Numeric subscripts make lists, which must run 0, 1, 2... as Stripe requires; ``[]`` appends. Every leaf stays a
    string, as on the wire. Raises ``StripeAPIError`` (400, with ``param``) for malformed names or arrays.
    """
    root: dict[str, Any] = {}
    for key, value in pairs:
        match = _KEY.match(key)
        if match is None:
            raise _ParamError(f"Invalid parameter name: {key}", key)
        path = [match[1], *_SUBSCRIPT.findall(match[2])]
        node = root
        for depth, part in enumerate(path):
            name = path[0] + "".join(f"[{p}]" for p in path[1 : depth + 1])
            slot = part or str(len(node))  # "[]" means "the next index"
            if depth == len(path) - 1:
                if isinstance(node.get(slot), dict):
                    raise _ParamError(f"Invalid hash: {name} cannot also be a plain value", name)
                node[slot] = value
            else:
                child = node.setdefault(slot, {})
                if not isinstance(child, dict):
                    raise _ParamError(f"Invalid hash: {name} cannot also be a plain value", name)
                node = child
    return {key: _with_arrays(value, key) for key, value in root.items()}


def _with_arrays(value: Any, name: str) -> Any:
    """Turn dicts keyed 0..n-1 into lists, except under ``metadata``, whose keys may well be digits."""
    if not isinstance(value, dict):
        return value
    if name == "metadata" or name.endswith("[metadata]"):
        return value
    converted = {key: _with_arrays(child, f"{name}[{key}]") for key, child in value.items()}
    if converted and all(key.isdigit() for key in converted):
        indexes = sorted(int(key) for key in converted)
        if indexes != list(range(len(indexes))):
            raise _ParamError(f"Invalid array: the indexes of {name} must run 0, 1, 2, ...", name)
        return [converted[str(index)] for index in indexes]
    return converted


def _reject_unknown(params: dict[str, Any], allowed: frozenset[str], prefix: str = "") -> None:
    for key in params:
        if key not in allowed:
            name = f"{prefix}[{key}]" if prefix else key
            raise _ParamError(f"Received unknown parameter: {name}", name, "parameter_unknown")


def _hash(params: dict[str, Any], key: str, name: str) -> dict[str, Any]:
    value = params.get(key)
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise _ParamError(f"Invalid hash: {name} must be an object", name)
    return value


def _string(
    params: dict[str, Any], key: str, name: str, *, required: bool = False, max_length: int = 5000
) -> str | None:
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise _ParamError(f"Missing required param: {name}.", name, "parameter_missing")
        return None
    if not isinstance(value, str):
        raise _ParamError(f"Invalid string: {name} must be a string", name)
    if len(value) > max_length:
        raise _ParamError(f"Invalid string: {name} must be at most {max_length} characters", name)
    return value


def _integer(params: dict[str, Any], key: str, name: str, *, minimum: int, required: bool = True) -> int | None:
    value = params.get(key)
    if value is None or value == "":
        if required:
            raise _ParamError(f"Missing required param: {name}.", name, "parameter_missing")
        return None
    if not isinstance(value, str) or not _INTEGER.match(value):
        raise _ParamError(f"Invalid integer: {value}", name, "parameter_invalid_integer")
    number = int(value)
    if number < minimum:
        raise _ParamError(f"This value must be greater than or equal to {minimum}.", name, "parameter_invalid_integer")
    return number


def _url(params: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = _string(params, key, key, required=required)
    if value is not None:
        parts = urlsplit(value.replace("{CHECKOUT_SESSION_ID}", "id"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _ParamError("Not a valid URL", key, "url_invalid")
    return value


def _format_amount(amount: int, currency: str) -> str:
    if currency in _ZERO_DECIMAL:
        return f"{currency.upper()} {amount}"
    return f"{currency.upper()} {amount // 100}.{amount % 100:02d}"


@dataclass
class RecordedRequest:
    """One API request as the server received it (``params`` parsed from the form body or query string)."""

    method: str
    path: str
    params: dict[str, Any]
    headers: dict[str, str]
    request_id: str
    status: int | None = None
    replayed: bool = False


@dataclass
class WebhookEndpoint:
    """Where events go: ``url`` to connect to, ``secret`` to sign with, ``host`` to send as the Host header."""

    url: str
    secret: str
    host: str | None = None


@dataclass
class Delivery:
    """One attempt to post an event: ``status`` is the HTTP status, or None with ``error`` when it could not be sent."""

    event_id: str
    event_type: str
    url: str
    status: int | None
    error: str | None
    payload: bytes
    signature: str
    response_body: bytes = b""


@dataclass
class _Idempotent:
    method: str
    path: str
    params: dict[str, Any]
    status: int
    body: dict[str, Any]
    request_id: str


@dataclass
class _SessionData:
    """What the session object does not show: its line items, the payment intent data, an unsettled transfer."""

    line_items: list[dict[str, Any]]
    payment_intent_data: dict[str, Any]
    awaiting_settlement: bool = False


class _QuietHandler(WSGIRequestHandler):
    # HTTP/1.0 closes each connection after its response, so no client keeps a pooled socket to this server open
    # after a test (an unclosed socket is a ResourceWarning, and pytest runs with filterwarnings = error).
    protocol_version = "HTTP/1.0"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Stay quiet: a failing test's output should show the test's own logging, not every request."""


@dataclass
class _Route:
    endpoint: str
    args: dict[str, str] = field(default_factory=dict)


class StripeServer:
    """A loopback stand-in for api.stripe.com and checkout.stripe.com; ``start()``, ``stop()``, ``url``.

    State is public for assertions: ``sessions`` (id -> session object), ``events`` (in order), ``deliveries``,
    ``requests`` (every API request) and ``endpoints``. Take ``lock`` to read them while requests may be running.
    Set ``clock`` to a function returning Unix time to move the server's time (sessions past ``expires_at`` expire).
    The helpers that stand in for a customer raise ``KeyError`` for an unknown id and ``ValueError`` for a session
    in the wrong state.
    """

    def __init__(self, api_key: str = "sk_test_claimsite", port: int | None = None) -> None:
        self.api_key = api_key
        self.port = port or free_port()
        self.api_version: str = stripe.api_version
        self.clock: Callable[[], float] = time.time
        self.delivery_timeout = 10.0
        self.lock = threading.RLock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._worker: threading.Thread | None = None
        self._outbox: queue.Queue[tuple[int, dict[str, Any], list[WebhookEndpoint]] | None] = queue.Queue()
        self._generation = 0
        self._routes = Map(
            [
                Rule("/v1/checkout/sessions", methods=["POST"], endpoint="create_session"),
                Rule("/v1/checkout/sessions/<session_id>", methods=["GET"], endpoint="retrieve_session"),
                Rule("/v1/checkout/sessions/<session_id>/expire", methods=["POST"], endpoint="expire_session"),
                Rule("/v1/events/<event_id>", methods=["GET"], endpoint="retrieve_event"),
                Rule("/v1/refunds", methods=["POST"], endpoint="create_refund"),
                Rule("/v1/refunds", methods=["GET"], endpoint="list_refunds"),
                Rule("/pay/<session_id>", methods=["GET", "POST"], endpoint="pay_page"),
            ],
            strict_slashes=False,
        )
        self.reset()

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The base address to give the stripe library, e.g. ``http://127.0.0.1:23456``."""
        return f"http://{HOST}:{self.port}"

    def start(self) -> StripeServer:
        """Listen on ``url`` and start the webhook delivery thread; returns the server itself."""
        if self._server is None:
            self._server = make_server(HOST, self.port, self.wsgi_app, threaded=True, request_handler=_QuietHandler)
            # A short poll interval makes stop() take milliseconds instead of the default half second per test.
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="stripe-server", daemon=True
            )
            self._thread.start()
            self._worker = threading.Thread(target=self._deliver_queued, name="stripe-webhooks", daemon=True)
            self._worker.start()
        return self

    def stop(self) -> None:
        """Stop listening, and stop delivering once queued events are posted; ``start()`` may be called again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        if self._worker is not None:
            self._outbox.put(None)
            self._worker.join(timeout=self.delivery_timeout + 5)
            self._worker = None
            self._drain_outbox()

    def reset(self) -> None:
        """Forget every session, event, delivery, request, idempotency key and webhook endpoint."""
        with self.lock:
            self.sessions: dict[str, dict[str, Any]] = {}
            self.events: list[dict[str, Any]] = []
            self.deliveries: list[Delivery] = []
            self.requests: list[RecordedRequest] = []
            self.endpoints: list[WebhookEndpoint] = []
            self.refunds: list[dict[str, Any]] = []
            self.auto_deliver = True
            self._session_data: dict[str, _SessionData] = {}
            self._idempotent: dict[str, _Idempotent] = {}
            # A delivery already on its way when reset() runs must not land in the fresh list.
            self._generation += 1
            self._drain_outbox()

    def __enter__(self) -> StripeServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what a test does instead of a customer --------------------------------------------------------------------

    def complete(self, session_id: str, async_payment: bool = False) -> dict[str, Any]:
        """Pay an open session as the "Pay" button does (or "Pay by bank transfer" with ``async_payment``).

        Emits ``checkout.session.completed``; an asynchronous payment leaves ``payment_status`` "unpaid" until
        ``settle_async``. Raises ``ValueError`` if the session is not open. Returns the session as it is now.
        """
        with self.lock:
            session = self._session_for_test(session_id)
            if session["status"] != "open":
                raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
            session["status"] = "complete"
            session["url"] = None
            session["payment_intent"] = _random_id("pi_test_")
            session["payment_status"] = "unpaid" if async_payment else "paid"
            session["customer_details"] = {
                "address": None,
                "email": session["customer_email"] or "customer@example.com",
                "name": "Test Customer",
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": [],
            }
            self._session_data[session_id].awaiting_settlement = async_payment
            self._emit("checkout.session.completed", session)
            return copy.deepcopy(session)

    def settle_async(self, session_id: str, succeeded: bool) -> dict[str, Any]:
        """Settle a bank transfer started with ``complete(..., async_payment=True)`` or the "settles later" button.

        Success sets ``payment_status`` "paid" and emits ``checkout.session.async_payment_succeeded``; failure keeps
        it "unpaid" and emits ``checkout.session.async_payment_failed``. Raises ``ValueError`` when nothing awaits
        settlement. Returns the session as it is now.
        """
        with self.lock:
            session = self._session_for_test(session_id)
            data = self._session_data[session_id]
            if not data.awaiting_settlement:
                raise ValueError(f"checkout session {session_id} has no asynchronous payment awaiting settlement")
            data.awaiting_settlement = False
            if succeeded:
                session["payment_status"] = "paid"
                self._emit("checkout.session.async_payment_succeeded", session)
            else:
                self._emit("checkout.session.async_payment_failed", session)
            return copy.deepcopy(session)

    def expire(self, session_id: str) -> dict[str, Any]:
        """Expire an open session as ``POST .../expire`` does; emits ``checkout.session.expired``.

        Raises ``ValueError`` if the session is not open. Returns the session as it is now.
        """
        with self.lock:
            session = self._session_for_test(session_id)
            if session["status"] != "open":
                raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
            self._expire(session)
            return copy.deepcopy(session)

    # -- webhooks ------------------------------------------------------------------------------------------------

    def add_webhook_endpoint(self, url: str, secret: str, host: str | None = None) -> WebhookEndpoint:
        """Post every later event to ``url``, signed with ``secret``; ``host`` replaces the HTTP Host header.

        The Host override lets events reach an app that routes on names such as ``tiktokclaim.localhost`` while the
        connection goes to the loopback address in ``url``.
        """
        endpoint = WebhookEndpoint(url, secret, host)
        with self.lock:
            self.endpoints.append(endpoint)
        return endpoint

    def signed_payload(self, event: dict[str, Any], secret: str, timestamp: int | None = None) -> tuple[bytes, str]:
        """The body and ``Stripe-Signature`` header Stripe would send for ``event``, for posting it yourself."""
        payload = json.dumps(event, indent=2)
        header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
        return payload.encode(), header

    def deliver(
        self, event: dict[str, Any] | str, timestamp: int | None = None, secret: str | None = None
    ) -> list[Delivery]:
        """Post ``event`` (or the event with that id) to every endpoint now, and wait for the answers.

        For replays and out-of-order tests. ``timestamp`` signs as of another moment (an old delivery), ``secret``
        signs with another secret (a forged one). The attempts are recorded in ``deliveries`` and returned.
        """
        with self.lock:
            if isinstance(event, str):
                found = [known for known in self.events if known["id"] == event]
                if not found:
                    raise KeyError(f"no event {event!r} on this server")
                event = found[0]
            endpoints = list(self.endpoints)
        return [self._post(event, endpoint, timestamp, secret) for endpoint in endpoints]

    def wait_for_deliveries(self, count: int, timeout: float = 5.0) -> list[Delivery]:
        """Wait until ``count`` deliveries were attempted and return all of them; ``TimeoutError`` if they weren't."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                if len(self.deliveries) >= count:
                    return list(self.deliveries)
                have = len(self.deliveries)
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"{have} of {count} webhook deliveries after {timeout}s; events: "
                    f"{[e['type'] for e in self.events]}, endpoints: {[e.url for e in self.endpoints]}"
                )
            time.sleep(0.01)

    # -- internals: state ---------------------------------------------------------------------------------------

    def _now(self) -> int:
        return int(self.clock())

    def _session(self, session_id: str) -> dict[str, Any]:
        session = self.sessions.get(session_id)
        if session is None:
            raise StripeAPIError(
                404, f"No such checkout.session: '{session_id}'", param="session", code="resource_missing"
            )
        self._expire_if_due(session)
        return session

    def _session_for_test(self, session_id: str) -> dict[str, Any]:
        if session_id not in self.sessions:
            raise KeyError(f"no checkout session {session_id!r} on this server")
        return self._session(session_id)

    def _event(self, event_id: str) -> dict[str, Any]:
        for event in self.events:
            if event["id"] == event_id:
                return event
        raise StripeAPIError(404, f"No such event: '{event_id}'", param="id", code="resource_missing")

    def _expire_if_due(self, session: dict[str, Any]) -> None:
        # Stripe expires sessions on its own once expires_at passes; doing it when a session is looked at gives the
        # same observable result without a timer thread.
        if session["status"] == "open" and self._now() >= session["expires_at"]:
            self._expire(session)

    def _expire(self, session: dict[str, Any], request: dict[str, Any] | None = None) -> None:
        session["status"] = "expired"
        session["url"] = None
        self._emit("checkout.session.expired", session, request)

    def _emit(self, type_: str, session: dict[str, Any], request: dict[str, Any] | None = None) -> dict[str, Any]:
        event = {
            "id": _random_id("evt_test_"),
            "object": "event",
            "api_version": self.api_version,
            "created": self._now(),
            "data": {"object": copy.deepcopy(session)},
            "livemode": False,
            "pending_webhooks": len(self.endpoints),
            "request": request or {"id": None, "idempotency_key": None},
            "type": type_,
        }
        self.events.append(event)
        if self.auto_deliver and self.endpoints:
            self._outbox.put((self._generation, event, list(self.endpoints)))
        return event

    # -- internals: webhook delivery -----------------------------------------------------------------------------

    def _deliver_queued(self) -> None:
        # One thread posts events in the order they happened, after the request that caused them has answered.
        while (item := self._outbox.get()) is not None:
            generation, event, endpoints = item
            for endpoint in endpoints:
                self._post(event, endpoint, None, None, generation)

    def _drain_outbox(self) -> None:
        while True:
            try:
                self._outbox.get_nowait()
            except queue.Empty:
                return

    def _post(
        self,
        event: dict[str, Any],
        endpoint: WebhookEndpoint,
        timestamp: int | None,
        secret: str | None,
        generation: int | None = None,
    ) -> Delivery:
        payload, signature = self.signed_payload(event, secret or endpoint.secret, timestamp)
        parts = urlsplit(endpoint.url)
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
            "Accept": "*/*; q=0.5, application/xml",
            "Cache-Control": "no-cache",
            "Stripe-Signature": signature,
            "Host": endpoint.host or parts.netloc,
        }
        delivery = Delivery(event["id"], event["type"], endpoint.url, None, None, payload, signature)
        connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        # http.client rather than urllib: it sends the Host header given and never goes through a proxy.
        connection = connection_class(parts.hostname or HOST, parts.port, timeout=self.delivery_timeout)
        try:
            path = parts.path or "/"
            connection.request("POST", f"{path}?{parts.query}" if parts.query else path, payload, headers)
            response = connection.getresponse()
            delivery.response_body = response.read()
            delivery.status = response.status
        except (OSError, http.client.HTTPException) as exc:
            delivery.error = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with self.lock:
            if generation in (None, self._generation):
                self.deliveries.append(delivery)
        return delivery

    # -- internals: HTTP ------------------------------------------------------------------------------------------

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The WSGI application behind ``url``; usable with werkzeug's test ``Client`` without a socket."""
        request = Request(environ)
        try:
            endpoint, args = self._routes.bind_to_environ(environ).match()
            route = _Route(endpoint, args)
        except (NotFound, MethodNotAllowed):
            route = None
        except HTTPException as exc:
            return exc(environ, start_response)
        if route is not None and route.endpoint == "pay_page":
            response = self._pay_page(request, route.args["session_id"])
        else:
            response = self._api(request, route)
        return response(environ, start_response)

    def _api(self, request: Request, route: _Route | None) -> Response:
        request_id = _random_id("req_", 14)
        idempotency_key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
        record = RecordedRequest(request.method, request.path, {}, dict(request.headers), request_id)
        with self.lock:
            self.requests.append(record)
        headers = {"Request-Id": request_id, "Stripe-Version": request.headers.get("Stripe-Version", self.api_version)}
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        try:
            self._authenticate(request.headers.get("Authorization"))
            if route is None:
                raise StripeAPIError(
                    404,
                    f"Unrecognized request URL ({request.method}: {request.path}). Please see https://stripe.com/docs"
                    " or we can help at https://support.stripe.com/.",
                )
            data = request.get_data(as_text=True) if request.method == "POST" else request.query_string.decode()
            record.params = parse_stripe_params(parse_qsl(data, keep_blank_values=True))
            with self.lock:
                status, body = self._run_idempotently(route, record, idempotency_key)
        except StripeAPIError as exc:
            status, body = exc.status, {"error": exc.body}
        except Exception:
            # A bug in this server: answer as Stripe answers its own failures, with the traceback where the test will
            # show it, and tell the library not to retry what would only fail again.
            status = 500
            body = {"error": {"type": "api_error", "message": "Stripe test server failed:\n" + traceback.format_exc()}}
            headers["Stripe-Should-Retry"] = "false"
        record.status = status
        if record.replayed and idempotency_key:
            headers["Idempotent-Replayed"] = "true"
            with self.lock:
                headers["Original-Request"] = self._idempotent[idempotency_key].request_id
        return Response(json.dumps(body, indent=2), status, headers, content_type="application/json")

    def _authenticate(self, authorization: str | None) -> None:
        scheme, _, key = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            raise StripeAPIError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, using"
                " Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication"
                " for details, or we can help at https://support.stripe.com/.",
            )
        key = key.strip()
        if not secrets.compare_digest(key.encode(), self.api_key.encode()):
            # Stripe shows the key's prefix and last four characters, never the whole key.
            prefix = key[: key.find("_", key.find("_") + 1) + 1] if key.count("_") >= 2 else ""
            shown = key[-4:] if len(key) > len(prefix) + 4 else ""
            raise StripeAPIError(
                401, f"Invalid API Key provided: {prefix}{'*' * (len(key) - len(prefix) - len(shown))}{shown}"
            )

    def _run_idempotently(
        self, route: _Route, record: RecordedRequest, idempotency_key: str | None
    ) -> tuple[int, dict[str, Any]]:
        if idempotency_key:
            earlier = self._idempotent.get(idempotency_key)
            if earlier is not None:
                if (earlier.method, earlier.path) != (record.method, record.path):
                    raise StripeAPIError(
                        400,
                        "Keys for idempotent requests can only be used for the same endpoint they were first used for"
                        f" ('{earlier.method} {earlier.path}' vs '{record.method} {record.path}'). Try using a key"
                        f" other than '{idempotency_key}' if you meant to execute a different request.",
                        error_type="idempotency_error",
                    )
                if earlier.params != record.params:
                    raise StripeAPIError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were first used"
                        f" with. Try using a key other than '{idempotency_key}' if you meant to execute a different"
                        " request.",
                        error_type="idempotency_error",
                    )
                record.replayed = True
                return earlier.status, copy.deepcopy(earlier.body)
        handler = getattr(self, "_" + route.endpoint)
        request_info = {"id": record.request_id, "idempotency_key": idempotency_key}
        try:
            status, body = 200, handler(record.params, request_info, **route.args)
        except _ParamError:
            # Stripe saves no idempotent result for a request whose parameters failed validation: retrying with the
            # same key and corrected parameters is allowed.
            raise
        except StripeAPIError as exc:
            status, body = exc.status, {"error": exc.body}
        if idempotency_key:
            self._idempotent[idempotency_key] = _Idempotent(
                record.method, record.path, record.params, status, copy.deepcopy(body), record.request_id
            )
        return status, body

    # -- internals: API endpoints ------------------------------------------------------------------------------------

    def _create_session(self, params: dict[str, Any], request_info: dict[str, Any]) -> dict[str, Any]:
        _reject_unknown(params, _CREATE_PARAMS)
        self._reject_expand(params)
        mode = _string(params, "mode", "mode", required=True)
        if mode in ("setup", "subscription"):
            raise _ParamError(f"This test server models only mode=payment, not mode={mode}.", "mode")
        if mode != "payment":
            raise _ParamError("Invalid mode: must be one of payment, setup, or subscription", "mode")
        success_url = _url(params, "success_url", required=True)
        cancel_url = _url(params, "cancel_url", required=False)
        line_items, currency = self._line_items(params)
        now = self._now()
        expires_at = _integer(params, "expires_at", "expires_at", minimum=0, required=False)
        if expires_at is None:
            expires_at = now + _DAY
        elif expires_at < now + 30 * 60:
            raise _ParamError(
                "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.", "expires_at"
            )
        elif expires_at > now + _DAY:
            raise _ParamError(
                "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.", "expires_at"
            )
        locale = _string(params, "locale", "locale")
        if locale is not None and locale not in _LOCALES:
            raise _ParamError(f"Invalid locale: must be one of {', '.join(sorted(_LOCALES))}", "locale")
        customer_email = _string(params, "customer_email", "customer_email", max_length=800)
        if customer_email is not None and not _EMAIL.match(customer_email):
            raise _ParamError(f"Invalid email address: {customer_email}", "customer_email", "email_invalid")
        payment_intent_data = _hash(params, "payment_intent_data", "payment_intent_data")
        _reject_unknown(payment_intent_data, _PAYMENT_INTENT_DATA_PARAMS, "payment_intent_data")
        allowed_types = self._string_list(params, "allowed_payment_method_types")
        payment_method_types = self._string_list(params, "payment_method_types") or allowed_types or ["card"]
        amount = sum(item["price_data"]["unit_amount"] * item["quantity"] for item in line_items)
        session_id = _random_id("cs_test_", 58)
        session = {
            "id": session_id,
            "object": "checkout.session",
            "after_expiration": None,
            "allow_promotion_codes": None,
            "amount_subtotal": amount,
            "amount_total": amount,
            "automatic_tax": {"enabled": False, "liability": None, "status": None},
            "billing_address_collection": None,
            "cancel_url": cancel_url,
            "client_reference_id": _string(params, "client_reference_id", "client_reference_id", max_length=200),
            "client_secret": None,
            "created": now,
            "currency": currency,
            "customer": None,
            "customer_creation": "if_required",
            "customer_details": None,
            "customer_email": customer_email,
            "expires_at": expires_at,
            "invoice": None,
            "livemode": False,
            "locale": locale,
            "metadata": self._metadata(params),
            "mode": mode,
            "payment_intent": None,
            "payment_link": None,
            "payment_method_collection": "if_required",
            "payment_method_types": payment_method_types,
            "allowed_payment_method_types": allowed_types,
            "excluded_payment_method_types": None,
            "payment_status": "unpaid",
            "setup_intent": None,
            "shipping_address_collection": None,
            "shipping_cost": None,
            "status": "open",
            "submit_type": None,
            "subscription": None,
            "success_url": success_url,
            "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
            "ui_mode": "hosted",
            "url": f"{self.url}/pay/{session_id}",
        }
        self.sessions[session_id] = session
        self._session_data[session_id] = _SessionData(line_items, payment_intent_data)
        return copy.deepcopy(session)

    def _line_items(self, params: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
        items = params.get("line_items")
        if items is None or items == "":
            raise _ParamError("Missing required param: line_items.", "line_items", "parameter_missing")
        if not isinstance(items, list) or not 1 <= len(items) <= 100:
            raise _ParamError("Invalid array: line_items must be a list of 1 to 100 items", "line_items")
        currencies = set()
        normalized = []
        for index, item in enumerate(items):
            name = f"line_items[{index}]"
            if not isinstance(item, dict):
                raise _ParamError(f"Invalid hash: {name} must be an object", name)
            _reject_unknown(item, _LINE_ITEM_PARAMS, name)
            if item.get("price"):
                raise _ParamError(f"No such price: '{item['price']}'", f"{name}[price]", "resource_missing")
            price_data = _hash(item, "price_data", f"{name}[price_data]")
            if not price_data:
                raise _ParamError(
                    f"Missing required param: {name}[price_data].", f"{name}[price_data]", "parameter_missing"
                )
            _reject_unknown(price_data, _PRICE_DATA_PARAMS, f"{name}[price_data]")
            if "product" in price_data or "recurring" in price_data or "unit_amount_decimal" in price_data:
                raise _ParamError(
                    "This test server models price_data with currency, unit_amount and product_data only.",
                    f"{name}[price_data]",
                )
            currency = _string(price_data, "currency", f"{name}[price_data][currency]", required=True) or ""
            if not re.fullmatch(r"[A-Za-z]{3}", currency):
                raise _ParamError(f"Invalid currency: {currency}", f"{name}[price_data][currency]")
            currencies.add(currency.lower())
            unit_amount = _integer(price_data, "unit_amount", f"{name}[price_data][unit_amount]", minimum=0)
            product_data = _hash(price_data, "product_data", f"{name}[price_data][product_data]")
            _reject_unknown(product_data, _PRODUCT_DATA_PARAMS, f"{name}[price_data][product_data]")
            product_name = _string(
                product_data, "name", f"{name}[price_data][product_data][name]", required=True, max_length=250
            )
            quantity = _integer(item, "quantity", f"{name}[quantity]", minimum=1)
            normalized.append(
                {
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": unit_amount,
                        "product_data": {**product_data, "name": product_name},
                    },
                    "quantity": quantity,
                }
            )
        if len(currencies) > 1:
            raise _ParamError("All line items must use the same currency.", "line_items")
        return normalized, currencies.pop()

    @staticmethod
    def _metadata(params: dict[str, Any]) -> dict[str, str]:
        metadata = _hash(params, "metadata", "metadata")
        if len(metadata) > 50:
            raise _ParamError("You can have at most 50 metadata keys.", "metadata")
        result = {}
        for key, value in metadata.items():
            name = f"metadata[{key}]"
            if not isinstance(value, str):
                raise _ParamError(f"Invalid string: {name} must be a string", name)
            if len(key) > 40:
                raise _ParamError("Metadata keys can have at most 40 characters.", name)
            if len(value) > 500:
                raise _ParamError("Metadata values can have at most 500 characters.", name)
            # An empty value unsets a key at Stripe, so it never shows up in the object.
            if value != "":
                result[key] = value
        return result

    @staticmethod
    def _string_list(params: dict[str, Any], key: str) -> list[str] | None:
        value = params.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            raise _ParamError(f"Invalid array: {key} must be a list of strings", key)
        return value

    @staticmethod
    def _reject_expand(params: dict[str, Any]) -> None:
        # Returning an id where the caller asked for an expanded object would fail later and far away; say it here.
        if params.get("expand"):
            raise _ParamError("This test server does not expand objects; drop the expand parameter.", "expand")

    def _retrieve_session(
        self, params: dict[str, Any], request_info: dict[str, Any], session_id: str
    ) -> dict[str, Any]:
        _reject_unknown(params, _RETRIEVE_PARAMS)
        self._reject_expand(params)
        return copy.deepcopy(self._session(session_id))

    def _expire_session(self, params: dict[str, Any], request_info: dict[str, Any], session_id: str) -> dict[str, Any]:
        _reject_unknown(params, _EXPIRE_PARAMS)
        self._reject_expand(params)
        session = self._session(session_id)
        if session["status"] != "open":
            raise StripeAPIError(
                400,
                f'Only Checkout Sessions with a status in ["open"] can be expired. This session\'s status is'
                f' "{session["status"]}".',
            )
        self._expire(session, request_info)
        return copy.deepcopy(session)

    def _retrieve_event(self, params: dict[str, Any], request_info: dict[str, Any], event_id: str) -> dict[str, Any]:
        self._reject_expand(params)
        return copy.deepcopy(self._event(event_id))

    def _create_refund(self, params: dict[str, Any], request_info: dict[str, Any]) -> dict[str, Any]:
        """A full or partial refund of a paid Checkout payment, named by its PaymentIntent (no charges here)."""
        _reject_unknown(params, _REFUND_CREATE_PARAMS)
        self._reject_expand(params)
        intent = _string(params, "payment_intent", "payment_intent", required=True)
        paid = next(
            (s for s in self.sessions.values() if s["payment_intent"] == intent and s["payment_status"] == "paid"), None
        )
        if paid is None:
            raise StripeAPIError(
                404,
                f"No such payment_intent: '{intent}'",
                param="payment_intent",
                code="resource_missing",
            )
        refunded = sum(r["amount"] for r in self.refunds if r["payment_intent"] == intent)
        left = paid["amount_total"] - refunded
        if left <= 0:
            raise StripeAPIError(
                400, f"Charge for payment_intent {intent} has already been refunded.", code="charge_already_refunded"
            )
        amount = _integer(params, "amount", "amount", minimum=1, required=False) or left
        if amount > left:
            raise StripeAPIError(
                400,
                f"Refund amount ({_format_amount(amount, paid['currency'])}) is greater than unrefunded amount on "
                f"charge ({_format_amount(left, paid['currency'])})",
                param="amount",
                code="amount_too_large",
            )
        refund = {
            "id": _random_id("re_test_"),
            "object": "refund",
            "amount": amount,
            "currency": paid["currency"],
            "payment_intent": intent,
            "reason": params.get("reason") or None,
            "metadata": _hash(params, "metadata", "metadata") or {},
            "status": "succeeded",
            "created": self._now(),
        }
        self.refunds.append(refund)
        return copy.deepcopy(refund)

    def _list_refunds(self, params: dict[str, Any], request_info: dict[str, Any]) -> dict[str, Any]:
        _reject_unknown(params, _REFUND_LIST_PARAMS)
        intent = params.get("payment_intent")
        limit = _integer(params, "limit", "limit", minimum=1, required=False) or 10
        found = [r for r in reversed(self.refunds) if intent in (None, r["payment_intent"])]
        return {
            "object": "list",
            "url": "/v1/refunds",
            "has_more": len(found) > limit,
            "data": copy.deepcopy(found[:limit]),
        }

    # -- internals: the test payment page ------------------------------------------------------------------------

    def _pay_page(self, request: Request, session_id: str) -> Response:
        with self.lock:
            session = self.sessions.get(session_id)
            if session is None:
                return self._page("Unknown checkout session", "<p>There is no checkout session with this id.</p>", 404)
            self._expire_if_due(session)
            status = session["status"]
            if request.method == "POST" and status == "open":
                action = request.form.get("action")
                if action not in ("pay", "pay-async"):
                    return self._page("Unknown action", "<p>Use one of the buttons on the payment page.</p>", 400)
                self.complete(session_id, async_payment=action == "pay-async")
                location = (session["success_url"] or "").replace("{CHECKOUT_SESSION_ID}", session_id)
                return Response(status=303, headers={"Location": location})
            data = self._session_data[session_id]
            description = ", ".join(
                f"{item['quantity']} × {item['price_data']['product_data']['name']}"
                if item["quantity"] > 1
                else item["price_data"]["product_data"]["name"]
                for item in data.line_items
            )
            amount = _format_amount(session["amount_total"], session["currency"])
            cancel_url = session["cancel_url"]
        summary = (
            f'<p id="description">{html.escape(description)}</p>\n'
            f'<p id="amount"><strong>{html.escape(amount)}</strong></p>'
        )
        if status != "open":
            said = "has expired" if status == "expired" else "is already complete"
            # A POST that arrives too late pays nothing: 409, as the page itself says.
            code = 409 if request.method == "POST" else 200
            return self._page("Checkout closed", f'{summary}\n<p id="closed">This checkout session {said}.</p>', code)
        cancel = f'<a id="cancel" href="{html.escape(cancel_url)}">Cancel</a>' if cancel_url else ""
        form = (
            f'<form method="post" action="/pay/{html.escape(session_id)}">\n'
            '<button id="pay" type="submit" name="action" value="pay">Pay</button>\n'
            '<button id="pay-async" type="submit" name="action" value="pay-async">'
            "Pay by bank transfer (settles later)</button>\n"
            f"{cancel}\n</form>"
        )
        return self._page("Pay", f"{summary}\n{form}")

    @staticmethod
    def _page(heading: str, body: str, status: int = 200) -> Response:
        page = (
            '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            "<title>Test checkout — no real money</title></head>\n<body>\n"
            '<p id="test-banner"><strong>Test checkout — no real money.</strong> This page belongs to the test'
            " suite's Stripe stand-in; it is not Stripe.</p>\n"
            f"<h1>{html.escape(heading)}</h1>\n{body}\n</body>\n</html>\n"
        )
        return Response(page, status, content_type="text/html; charset=utf-8")
