"""The one adapter between this service and the LINE Messaging API (line-bot-sdk v3).

Everything that talks to LINE goes through `LineClient`. It takes and returns plain dicts, so
callers never touch SDK models, and it owns the retry policy:

- 5xx, 429 and network errors/timeouts are retried with exponential backoff and full jitter;
- other 4xx are final (`LineRejected`), retrying them would only burn the rate limit;
- 409 on a request with a retry key means "LINE already accepted this request": success.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar
from urllib.parse import quote

import urllib3
from linebot.v3.insight import ApiClient as InsightApiClient
from linebot.v3.insight import ApiException as InsightApiException
from linebot.v3.insight import Configuration as InsightConfiguration
from linebot.v3.insight import Insight
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    BroadcastRequest,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    NarrowcastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    RichMenuRequest,
    ShowLoadingAnimationRequest,
)

from common.messages import Message as MessageDict

log = logging.getLogger(__name__)
T = TypeVar("T")
CONTENT_CHUNK_BYTES = 64 * 1024


class LineError(Exception):
    def __init__(self, status: int, message: str, body: str = "") -> None:
        super().__init__(f"LINE API {status}: {message}")
        self.status = status
        self.message = message
        self.body = body


class LineRejected(LineError):
    """A 4xx other than 409/429: the request itself is wrong and must not be retried."""


class LineContentTooLarge(LineRejected):
    """A user's content is larger than the caller can use; reading stopped at the limit."""


class LineUnavailable(LineError):
    """Retries exhausted on 5xx, 429 or network errors: try again later (the sweep will)."""


@dataclass(frozen=True)
class SendResult:
    status: int
    request_id: str | None
    # True when LINE answered 409: the same retry key was accepted earlier.
    already_accepted: bool = False


# The SDK generates one exception class per API package.
API_ERRORS = (ApiException, InsightApiException)


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500 or status == 0


def _network_error(exc: Exception) -> str:
    """What went wrong on the network, without the URL: its path can hold a LINE user id."""
    reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    return f"network error: {type(reason or exc).__name__}"


def _maybe_sent(exc: Exception) -> bool:
    """False only when the request cannot have reached LINE (no connection was made)."""
    reason = exc.reason if isinstance(exc, urllib3.exceptions.MaxRetryError) else exc
    return not isinstance(
        reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
    )


def _error_message(exc: ApiException | InsightApiException) -> str:
    import json

    try:
        return str(json.loads(exc.body or b"{}").get("message") or exc.reason)
    except ValueError:
        return str(exc.reason)


class LineClient:
    def __init__(
        self,
        access_token: str,
        base_url: str | None = None,
        *,
        timeout_s: float = 10.0,
        max_attempts: int = 5,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 8.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        config = Configuration(host=base_url, access_token=access_token)
        config.retries = urllib3.Retry(total=0, redirect=0, raise_on_status=False)
        self._api_client = ApiClient(config)
        self._api_base = (base_url or "https://api.line.me").rstrip("/")
        self._authorization = f"Bearer {access_token}"
        self._api = MessagingApi(self._api_client)
        self._blob = MessagingApiBlob(self._api_client)
        # Statistics come from the SDK's insight package, with its own client classes.
        insight_config = InsightConfiguration(host=base_url, access_token=access_token)
        insight_config.retries = urllib3.Retry(total=0, redirect=0, raise_on_status=False)
        self._insight_client = InsightApiClient(insight_config)
        self._insight = Insight(self._insight_client)
        self._timeout = timeout_s
        # Content (images users send) comes from its own host on the real platform.
        self._content_base = (base_url or "https://api-data.line.me").rstrip("/")
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base_s
        self._backoff_cap = backoff_cap_s
        self._sleep = sleep

    # -- the retry policy -------------------------------------------------------------------

    def _delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after and retry_after.isdigit():
            return min(float(retry_after), self._backoff_cap)
        # Full jitter: spreads retries of many workers instead of synchronising them.
        return random.uniform(0, min(self._backoff_cap, self._backoff_base * 2**attempt))

    def _call(
        self,
        what: str,
        fn: Callable[[], T],
        *,
        retry: bool = True,
        retry_until: float | None = None,
    ) -> T:
        """`fn` under the retry policy; `retry_until` (time.monotonic()) stops retrying early."""
        attempts = self._max_attempts if retry else 1
        last: LineError | None = None
        for attempt in range(attempts):
            try:
                return fn()
            except API_ERRORS as exc:
                status = int(exc.status or 0)
                message = _error_message(exc)
                if status == 409:
                    raise  # handled by the caller that sent a retry key
                if not _retryable(status):
                    raise LineRejected(status, message, str(exc.body or "")) from exc
                last = LineUnavailable(status, message)
                retry_after = (exc.headers or {}).get("Retry-After")
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                last = LineUnavailable(0, _network_error(exc))
                retry_after = None
            if attempt + 1 < attempts:
                delay = self._delay(attempt, retry_after)
                if retry_until is not None and time.monotonic() + delay >= retry_until:
                    break
                log.info("line %s failed (%s), retry in %.2fs", what, last, delay)
                self._sleep(delay)
        assert last is not None
        raise last

    def _send_with_key(
        self, what: str, path: str, body: dict[str, Any], retry_key: str
    ) -> SendResult:
        try:
            response = self._call(what, lambda: self._post(path, body, retry_key))
        except ApiException as exc:  # only 409 escapes _call
            accepted = (exc.headers or {}).get("x-line-accepted-request-id")
            return SendResult(409, accepted, already_accepted=True)
        return SendResult(response.status, response.getheader("x-line-request-id"))

    def _post(self, path: str, body: dict[str, Any], retry_key: str | None = None) -> Any:
        """POST a LINE-shaped JSON body through the SDK's HTTP client (its connection pool, its
        exceptions), not through its API methods: for the sends, their argument validation and
        model serialisation cost more CPU than the request itself (profiled: ~1.4 ms of a
        worker's 6.6 ms per answer). The body is checked first with the SDK's model
        (`_build`, 0.1 ms), so what the SDK refuses is still never sent."""
        headers = {
            **self._api_client.default_headers,
            "Content-Type": "application/json",
            "Authorization": self._authorization,
        }
        if retry_key is not None:
            headers["X-Line-Retry-Key"] = retry_key
        try:
            return self._api_client.rest_client.post_request(
                self._api_base + path, headers=headers, body=body, _request_timeout=self._timeout
            )
        except ApiException as exc:
            if isinstance(exc.body, bytes):  # as the SDK's own calls leave it
                exc.body = exc.body.decode("utf-8", "replace")
            raise

    @staticmethod
    def _build(model: Any, body: dict[str, Any]) -> Any:
        """An SDK request model from LINE-shaped JSON; what it refuses, LINE would refuse too."""
        try:
            return model.from_dict(body)
        except (ValueError, TypeError) as exc:  # pydantic's ValidationError is a ValueError
            raise LineRejected(400, f"invalid request: {str(exc).splitlines()[0]}") from exc

    # -- sending ----------------------------------------------------------------------------

    def reply(
        self,
        reply_token: str,
        messages: list[MessageDict],
        *,
        retry_until: float | None = None,
    ) -> SendResult:
        """Send with a reply token: free, single-use, no retry key.

        Without `retry_until` (time.monotonic()), one attempt. With it, an attempt whose fate is
        unknown (5xx, timeout, connection lost after sending) or refused for the rate (429) is
        tried again until then. LINE refuses a spent token with 400 "Invalid reply token": when that
        answers a retry
        after an unknown attempt, the token was spent by that attempt, whose response was lost —
        LINE delivered it, and the result says `already_accepted`.
        """
        body = {"replyToken": reply_token, "messages": messages}
        self._build(ReplyMessageRequest, body)
        unknown = {"before": False, "now": False}

        def attempt() -> Any:
            unknown["before"] = unknown["now"]
            try:
                return self._post("/v2/bot/message/reply", body)
            except API_ERRORS as exc:
                unknown["now"] |= int(exc.status or 0) >= 500
                raise
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                unknown["now"] |= _maybe_sent(exc)
                raise

        try:
            response = self._call(
                "reply", attempt, retry=retry_until is not None, retry_until=retry_until
            )
        except LineRejected as exc:
            if exc.status == 400 and "reply token" in exc.message.lower() and unknown["before"]:
                log.info("reply token spent by an attempt whose response was lost: delivered")
                return SendResult(400, None, already_accepted=True)
            raise
        return SendResult(response.status, response.getheader("x-line-request-id"))

    def push(self, to: str, messages: list[MessageDict], retry_key: str) -> SendResult:
        body = {"to": to, "messages": messages}
        self._build(PushMessageRequest, body)
        return self._send_with_key("push", "/v2/bot/message/push", body, retry_key)

    def multicast(self, to: list[str], messages: list[MessageDict], retry_key: str) -> SendResult:
        body = {"to": to, "messages": messages}
        # The messages are checked; the ids were checked when LINE's events brought them (500
        # ids through the model cost 1.3 ms a batch, a quarter of the time LINE's rate allows).
        self._build(MulticastRequest, {"to": to[:1], "messages": messages})
        return self._send_with_key("multicast", "/v2/bot/message/multicast", body, retry_key)

    def broadcast(self, messages: list[MessageDict], retry_key: str) -> SendResult:
        body = {"messages": messages}
        self._build(BroadcastRequest, body)
        return self._send_with_key("broadcast", "/v2/bot/message/broadcast", body, retry_key)

    def narrowcast(
        self, messages: list[MessageDict], retry_key: str, filter_: dict[str, Any] | None = None
    ) -> SendResult:
        body: dict[str, Any] = {"messages": messages}
        if filter_:
            body["filter"] = filter_
        self._build(NarrowcastRequest, body)
        return self._send_with_key("narrowcast", "/v2/bot/message/narrowcast", body, retry_key)

    def narrowcast_progress(self, request_id: str) -> dict[str, Any]:
        progress = self._call(
            "narrowcast_progress",
            lambda: self._api.get_narrowcast_progress(request_id, _request_timeout=self._timeout),
        )
        return progress.to_dict()

    def show_loading(self, user_id: str, seconds: int = 20) -> None:
        """The "typing" animation in the user's chat; free, best effort, never retried."""
        request = ShowLoadingAnimationRequest(chatId=user_id, loadingSeconds=seconds)
        try:
            self._call(
                "loading",
                lambda: self._api.show_loading_animation(request, _request_timeout=2.0),
                retry=False,
            )
        except LineError as exc:
            log.info("loading animation not shown: %s", exc)

    # -- reading ----------------------------------------------------------------------------

    def get_profile(self, user_id: str) -> dict[str, Any]:
        profile = self._call(
            "profile", lambda: self._api.get_profile(user_id, _request_timeout=self._timeout)
        )
        return profile.to_dict()

    def get_content(self, message_id: str, max_bytes: int | None = None) -> bytes:
        """The bytes a user sent (image, video, audio, file), from LINE's content API.

        Streamed: past `max_bytes` reading stops, the connection is closed and
        `LineContentTooLarge` is raised; a Content-Length over the limit is refused before any
        of the body is read. A 20 MB image then costs at most `max_bytes` and one chunk.
        """
        return self._call("content", lambda: self._read_content(message_id, max_bytes))

    def _read_content(self, message_id: str, max_bytes: int | None) -> bytes:
        # The SDK's own method reads the whole body before returning; its REST layer (the
        # same headers, errors and pool) can stream it.
        url = f"{self._content_base}/v2/bot/message/{quote(message_id, safe='')}/content"
        response = self._api_client.rest_client.request(
            "GET",
            url,
            headers=dict(self._api_client.default_headers),
            _preload_content=False,
            _request_timeout=self._timeout,
        )
        too_large = LineContentTooLarge(413, f"content over {max_bytes} bytes")
        try:
            length = response.headers.get("Content-Length", "")
            declared = int(length) if length.isascii() and length.isdigit() else None
            if max_bytes is not None and declared is not None and declared > max_bytes:
                raise too_large
            chunks: list[bytes] = []
            size = 0
            for chunk in response.stream(CONTENT_CHUNK_BYTES):
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise too_large
                chunks.append(chunk)
        except BaseException:
            response.close()  # the rest is never read: the connection cannot be reused
            raise
        response.release_conn()
        return b"".join(chunks)

    def quota(self) -> dict[str, Any]:
        """{"type": "limited"|"none", "value": N}: this month's message quota."""
        return self._call(
            "quota", lambda: self._api.get_message_quota(_request_timeout=self._timeout)
        ).to_dict()

    def quota_consumption(self) -> int:
        consumption = self._call(
            "consumption",
            lambda: self._api.get_message_quota_consumption(_request_timeout=self._timeout),
        )
        return int(consumption.total_usage)

    def reachable_followers(self, day: date) -> int | None:
        """Users a broadcast reaches (friends minus those blocking), from LINE's statistics for
        `day` (LINE's calendar, UTC+9; yesterday is the newest ready day). None while LINE
        has not computed them."""
        stats = self._call(
            "followers",
            lambda: self._insight.get_number_of_followers(
                var_date=day.strftime("%Y%m%d"), _request_timeout=self._timeout
            ),
        )
        if stats.status != "ready" or stats.followers is None:
            return None
        return max(0, stats.followers - (stats.blocks or 0))

    # -- rich menu --------------------------------------------------------------------------

    def create_rich_menu(self, rich_menu: dict[str, Any]) -> str:
        request = self._build(RichMenuRequest, rich_menu)
        response = self._call(
            "richmenu", lambda: self._api.create_rich_menu(request, _request_timeout=self._timeout)
        )
        return str(response.rich_menu_id)

    def upload_rich_menu_image(self, rich_menu_id: str, png: bytes) -> None:
        self._call(
            "richmenu_image",
            lambda: self._blob.set_rich_menu_image(
                rich_menu_id,
                png,
                _headers={"Content-Type": "image/png"},
                _request_timeout=self._timeout,
            ),
        )

    def set_default_rich_menu(self, rich_menu_id: str) -> None:
        self._call(
            "richmenu_default",
            lambda: self._api.set_default_rich_menu(rich_menu_id, _request_timeout=self._timeout),
        )

    def link_rich_menu(self, user_id: str, rich_menu_id: str) -> None:
        self._call(
            "richmenu_link",
            lambda: self._api.link_rich_menu_id_to_user(
                user_id, rich_menu_id, _request_timeout=self._timeout
            ),
        )

    def close(self) -> None:
        self._api_client.close()
        self._insight_client.close()
