"""Narrowcast as LINE runs it: accepted (202), then "waiting", then delivered a moment later.

The recipients are the friends the request's `recipient` and `limit` select:

- `audience`: an audience the simulator was given (`POST /_sim/audiences`). LINE fails a
  narrowcast that names an audience of fewer than 50 users (errorCode 4), so does this;
- `redelivery`: the users an earlier narrowcast or broadcast (its request id) reached;
- `operator`: `and`, `or` and `not` of those;
- `limit.max` (the first N) and `limit.upToRemainingQuota`.

Demographic `filter`s and `limit.forbidPartialDelivery` need data the simulator does not have:
they are refused with a 400 naming them rather than ignored (a narrowcast that silently went to
everyone would be worse than none).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from simulator.state import SimState

MIN_AUDIENCE = 50  # LINE: "an audience of less than 50 recipients" fails the narrowcast


@dataclass(frozen=True)
class Refused:
    message: str
    property: str


@dataclass(frozen=True)
class Plan:
    targets: list[str]
    failure: tuple[int, str] | None = None  # (errorCode, failedDescription): fails when run


def plan(state: SimState, body: dict[str, Any]) -> Plan | Refused:
    if body.get("filter"):
        return Refused("The simulator cannot apply demographic filters", "filter.demographic")
    limit = body.get("limit") or {}
    if limit.get("forbidPartialDelivery"):
        return Refused(
            "The simulator does not support forbidPartialDelivery", "limit.forbidPartialDelivery"
        )
    followers = state.followers()
    small: list[int] = []
    recipient = body.get("recipient")
    if recipient:
        chosen = _select(state, recipient, set(followers), small, "recipient")
        if isinstance(chosen, Refused):
            return chosen
        targets = [u for u in followers if u in chosen]
    else:
        targets = followers
    if limit.get("max"):
        targets = targets[: int(limit["max"])]
    if limit.get("upToRemainingQuota") and state.monthly_quota is not None:
        targets = targets[: max(0, state.monthly_quota - state.consumption)]
    if small:
        return Plan([], (4, f"audience {small[0]} has fewer than {MIN_AUDIENCE} users"))
    return Plan(targets)


def _select(
    state: SimState, node: dict[str, Any], everyone: set[str], small: list[int], path: str
) -> set[str] | Refused:
    kind = node.get("type")
    if kind == "audience":
        group = node.get("audienceGroupId")
        users = state.audiences.get(group) if isinstance(group, int) else None
        if users is None:
            return Refused("The audience does not exist", f"{path}.audienceGroupId")
        if len(users) < MIN_AUDIENCE:
            small.append(group)
        return set(users)
    if kind == "redelivery":
        reached = state.reached.get(str(node.get("requestId")))
        if reached is None:
            return Refused("No narrowcast or broadcast has that request ID", f"{path}.requestId")
        return set(reached)
    if kind == "operator":
        present = [key for key in ("and", "or", "not") if node.get(key)]
        if len(present) != 1:
            return Refused("Specify exactly one of and, or, not", path)
        key = present[0]
        if key == "not":
            inner = _select(state, node["not"], everyone, small, f"{path}.not")
            return inner if isinstance(inner, Refused) else everyone - inner
        sets: list[set[str]] = []
        for n, item in enumerate(node[key]):
            chosen = _select(state, item, everyone, small, f"{path}.{key}[{n}]")
            if isinstance(chosen, Refused):
                return chosen
            sets.append(chosen)
        return set.intersection(*sets) if key == "and" else set.union(*sets)
    return Refused("Unknown recipient type", f"{path}.type")


def start(state: SimState, request_id: str, planned: Plan, messages: list[dict[str, Any]]) -> None:
    """Record the request as "waiting" and deliver it `narrowcast_delay_s` later."""
    with state.lock:
        state.narrowcasts[request_id] = {"phase": "waiting", "acceptedTime": iso_now()}

    def run() -> None:
        if planned.failure is not None:
            code, why = planned.failure
            outcome: dict[str, Any] = {"phase": "failed", "errorCode": code}
            outcome["failedDescription"] = why
        else:
            reached = state.deliver(planned.targets, messages, "narrowcast", request_id)
            with state.lock:
                state.reached[request_id] = reached
            outcome = {
                "phase": "succeeded",
                "successCount": len(reached),
                "failureCount": 0,
                "targetCount": len(planned.targets),
            }
        with state.lock:
            state.narrowcasts[request_id].update(outcome, completedTime=iso_now())

    timer = threading.Timer(state.narrowcast_delay_s, run)
    timer.daemon = True
    timer.start()


def iso_now() -> str:
    """ISO 8601 in UTC with milliseconds, as LINE writes acceptedTime and completedTime."""
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"
