"""Delivering webhooks to the bot as LINE does: signed, several events to a POST, redelivered.

- Batching: LINE puts events that happen close together into one POST. With
  `WebhookSettings.batch_size` > 1, `/_sim/send` calls join an open batch that is posted when it
  holds `batch_size` events or `batch_wait_s` after its first one; every caller gets that POST's
  answer. `/_sim/send` with an `events` list posts those together, in that order, at once.
- Redelivery: with `redelivery` on (the console's "Webhook redelivery"), a POST the bot did not
  answer 2xx is sent again up to `redelivery_attempts` times, `redelivery_delay_s` apart, every
  event with `deliveryContext.isRedelivery: true` and the webhookEventId and reply token it was
  first sent with.
  `redeliver_always` sends each event once more after a 2xx too; `POST /_sim/redeliver`
  redelivers one recorded event on demand.
- Verify: the console's "Verify" button POSTs a body with an empty `events` list.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import urllib3

from simulator.signing import sign
from simulator.state import SimState

# Webhooks go out over kept-alive connections, as LINE's do (a new connection per POST cost the
# bot's web process and this one more than the POST itself).
_pool = urllib3.PoolManager(maxsize=32, retries=False, timeout=urllib3.Timeout(10))


@dataclass
class Delivered:
    """What the bot answered to the last POST of some events (after any redeliveries)."""

    status: int
    body: str
    attempts: list[int] = field(default_factory=list)  # every POST's status, in order

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class _Batch:
    events: list[dict[str, Any]] = field(default_factory=list)
    closed: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    result: Delivered | None = None


class Webhooks:
    def __init__(self, state: SimState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._open: _Batch | None = None

    # -- sending ----------------------------------------------------------------------------

    def submit(self, events: list[dict[str, Any]]) -> Delivered:
        """Events from one `/_sim/send` call: alone, or in a batch with others' (settings)."""
        size = self.state.webhook.batch_size
        if size <= 1 or len(events) >= size:
            return self.deliver(events)
        with self._lock:
            batch = self._open
            leader = batch is None
            if batch is None:
                batch = self._open = _Batch()
            batch.events.extend(events)
            if len(batch.events) >= size:
                self._open = None
                batch.closed.set()
        if not leader:
            batch.done.wait()
            assert batch.result is not None
            return batch.result
        # The first caller sends the batch once it is full or its time is up.
        batch.closed.wait(self.state.webhook.batch_wait_s)
        with self._lock:
            if self._open is batch:
                self._open = None
        try:
            batch.result = self.deliver(batch.events)
        finally:
            if batch.result is None:
                batch.result = Delivered(0, "the batch could not be sent")
            batch.done.set()
        return batch.result

    def deliver(self, events: list[dict[str, Any]]) -> Delivered:
        """One POST with `events`, then LINE's redeliveries as the settings say."""
        settings = self.state.webhook
        with self.state.lock:
            for event in events:
                self.state.sent_events[event["webhookEventId"]] = event
        result = self._post(events, redelivery=False)
        attempts = [result.status]
        if settings.redelivery:
            for _ in range(settings.redelivery_attempts):
                if result.ok:
                    break
                time.sleep(settings.redelivery_delay_s)
                result = self._post(events, redelivery=True)
                attempts.append(result.status)
        if settings.redeliver_always and result.ok:
            again = self._post(events, redelivery=True)
            attempts.append(again.status)
        result.attempts = attempts
        return result

    def redeliver(self, webhook_event_id: str) -> Delivered | None:
        event = self.state.sent_events.get(webhook_event_id)
        if event is None:
            return None
        result = self._post([event], redelivery=True)
        result.attempts = [result.status]
        return result

    def verify(self) -> Delivered:
        """The console's "Verify": a signed body with no events."""
        result = self.post_body({"destination": self.state.bot_user_id, "events": []})
        self._log([], redelivery=False, status=result.status)
        return result

    def _post(self, events: list[dict[str, Any]], redelivery: bool) -> Delivered:
        sent = [copy.deepcopy(event) for event in events]
        for event in sent:
            event["deliveryContext"] = {"isRedelivery": redelivery}
        result = self.post_body({"destination": self.state.bot_user_id, "events": sent})
        self._log([e["webhookEventId"] for e in sent], redelivery, result.status)
        return result

    def _log(self, event_ids: list[str], redelivery: bool, status: int) -> None:
        with self.state.lock:
            self.state.webhook_log.append(
                {"events": event_ids, "redelivery": redelivery, "status": status}
            )

    def post_body(self, payload: dict[str, Any]) -> Delivered:
        """Sign and POST a webhook body to the bot, as LINE does."""
        body = json.dumps(payload, ensure_ascii=False).encode()
        state = self.state
        try:
            response = _pool.request(
                "POST",
                state.webhook_url,
                body=body,
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "X-Line-Signature": sign(state.channel_secret, body),
                    "User-Agent": "LineBotWebhook/2.0",
                },
            )
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return Delivered(0, f"bot unreachable at {state.webhook_url}: {type(exc).__name__}")
        return Delivered(response.status, response.data.decode("utf-8", "replace"))
