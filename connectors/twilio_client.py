"""The twilio SDK client pointed at TWILIO_API_BASE, and Twilio's error codes as SendResults."""

from __future__ import annotations

import logging
from typing import Any

import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from connectors.base import SendResult
from connectors.twilio_settings import DEFAULT_API_BASE, TwilioSettings

# The SDK logs each request at INFO; keep it to warnings so nothing about a send is printed.
_sdk_log = logging.getLogger("doorway.twilio.sdk")
_sdk_log.setLevel(logging.WARNING)

#: Errors that say the address itself cannot take our texts: it is marked unreachable (the
#: reason is what staff see) and nothing more is tried there.
UNREACHABLE: dict[str, str] = {
    "21610": "21610 opted out at the carrier",
    "21211": "21211 invalid number",
    "21614": "21614 not a mobile number",
    "30003": "30003 handset unreachable",
    "30005": "30005 unknown number",
    "30006": "30006 landline or no carrier route",
}
#: Errors about this one message that a retry would only repeat.
MESSAGE_PERMANENT = frozenset({"21617", "30004", "30007"})


class BaseUrlHttpClient(TwilioHttpClient):  # type: ignore[misc]  # the SDK has no type hints
    """Twilio's own HTTP client, sending to another base URL (a regional proxy, a test fake).

    Twilio's advice for special transports is to extend TwilioHttpClient and pass it to the
    Client (twilio/twilio-python PR #367); only the scheme and host change here.
    """

    def __init__(self, api_base: str, *, timeout: float) -> None:
        super().__init__(timeout=timeout, logger=_sdk_log)
        self.api_base = api_base.rstrip("/")

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self.api_base != DEFAULT_API_BASE and url.startswith(DEFAULT_API_BASE):
            url = self.api_base + url[len(DEFAULT_API_BASE) :]
        response: Response = super().request(
            method, url, params, data, headers, auth, timeout, allow_redirects
        )
        return response


def build_client(settings: TwilioSettings) -> Client:
    http_client = BaseUrlHttpClient(settings.api_base, timeout=settings.request_timeout_seconds)
    return Client(
        settings.account_sid, settings.auth_token.get_secret_value(), http_client=http_client
    )


def result_from_error(exc: Exception) -> SendResult:
    """Map what the SDK raised to a SendResult (codes only; the text may quote the number)."""
    if isinstance(exc, TwilioRestException):
        code = str(exc.code) if exc.code is not None else None
        status: Any = exc.status
        if code in UNREACHABLE:
            return SendResult(
                error_code=code, permanent=True, extra={"unreachable": UNREACHABLE[code]}
            )
        if code in MESSAGE_PERMANENT:
            return SendResult(error_code=code, permanent=True)
        # 429, 5xx, queue overflow (30001), account problems (30002, 20003): try again later;
        # the attempt limit ends it if it never clears.
        return SendResult(error_code=code or f"http{status}")
    if isinstance(exc, requests.exceptions.Timeout):
        return SendResult(error_code="timeout")
    if isinstance(exc, requests.exceptions.RequestException):
        return SendResult(error_code="network")
    raise exc
