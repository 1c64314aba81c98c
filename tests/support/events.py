"""Helpers of the webhook events tests: a receiver on loopback (the StandinHttp recorder),
a sender allowed to reach it, and running the events loop until it has nothing left."""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING, Any

from verify_service.adapters.events.http_sender import HttpEventSender
from verify_service.adapters.webhooks.resolver import TargetResolver
from verify_service.application.events.event_delivery import EventDeliveryWorker

if TYPE_CHECKING:
    from tests.conftest import Api

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


def loopback_resolver(getaddrinfo: Any = socket.getaddrinfo) -> TargetResolver:
    return TargetResolver(LOOPBACK, getaddrinfo=getaddrinfo)


def loopback_sender() -> HttpEventSender:
    """The real sender, with loopback in the operator's allow-list (the receiver's)."""
    return HttpEventSender(TargetResolver(LOOPBACK))


def run_events(worker: EventDeliveryWorker, limit: int = 1_000) -> int:
    """Turns of the events loop until one handles nothing and no send is in flight (sends
    run on the worker's pool); returns how many were handled."""
    handled = 0
    for _ in range(limit):
        turn = worker.run_once(batch=10)
        if turn == 0 and not worker.settle(timeout_s=30):
            return handled
        handled += turn
    raise AssertionError("the events loop never ran dry")


class Hooks:
    """Webhooks managed through `/v2/Services/{VA}/Webhooks` (the form API, admin
    credentials): the real resource and its store, which event publishing reads."""

    def __init__(self, api: Api) -> None:
        self._api = api

    def add(
        self,
        service_sid: str,
        url: str,
        event_types: tuple[str, ...] = ("*",),
        include_destination: bool = False,
    ) -> str:
        params: dict[str, object] = {
            "FriendlyName": "events",
            "WebhookUrl": url,
            "EventTypes": list(event_types),
        }
        if include_destination:
            params["IncludeDestination"] = "true"
        response = self._api.post(f"/v2/Services/{service_sid}/Webhooks", **params)
        assert response.status_code == 201, response.json
        sid: str = response.json["sid"]  # type: ignore[index]
        return sid

    def disable(self, service_sid: str, webhook_sid: str) -> None:
        response = self._api.post(
            f"/v2/Services/{service_sid}/Webhooks/{webhook_sid}", Status="disabled"
        )
        assert response.status_code == 200, response.json

    def delete(self, service_sid: str, webhook_sid: str) -> None:
        response = self._api.client.delete(
            f"/v2/Services/{service_sid}/Webhooks/{webhook_sid}", headers=self._api.headers
        )
        assert response.status_code == 204, response.data


class Resolver:
    """`getaddrinfo` answering from a table a test changes (a name that resolves to a
    public address when the webhook is saved and to a private one when it is sent)."""

    def __init__(self) -> None:
        self.answers: dict[str, str] = {}

    def __call__(self, host: str, port: int, *_args: Any) -> list[Any]:
        address = self.answers.get(host, "127.0.0.1")
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]
