"""Webhook subscriptions: create one (the secret is shown once), list, delete, and read
each delivery with its attempts."""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff import store
from services.handoff.errors import SubscriptionNotFound
from services.handoff.schemas import (
    DeliveryAttemptOut,
    DeliveryOut,
    SubscriptionCreated,
    SubscriptionIn,
    SubscriptionOut,
)
from services.handoff.service import Handoff
from services.handoff.webhooks import new_secret


async def create_subscription(
    session: AsyncSession, body: SubscriptionIn, *, handoff: Handoff
) -> SubscriptionCreated:
    """Store the subscription with a fresh secret; only this answer ever shows the secret."""
    row = {
        "id": f"sub_{secrets.token_hex(12)}",
        "url": str(body.url),
        "event_types": sorted(set(body.event_types)),
        "description": body.description,
        "secret": new_secret(),
        "active": True,
        "created_at": handoff.now(),
    }
    await store.insert_subscription(session, row)
    return SubscriptionCreated(**row)


async def list_subscriptions(session: AsyncSession) -> list[SubscriptionOut]:
    return [SubscriptionOut(**r) for r in await store.list_subscriptions(session)]


async def get_subscription(session: AsyncSession, subscription_id: str) -> SubscriptionOut:
    return SubscriptionOut(**await _subscription(session, subscription_id))


async def delete_subscription(
    session: AsyncSession, subscription_id: str, *, handoff: Handoff
) -> None:
    """Stop delivering: pending deliveries are dead-lettered, history stays readable."""
    await _subscription(session, subscription_id)
    await store.disable_subscription(session, subscription_id, handoff.now())


async def list_deliveries(
    session: AsyncSession,
    subscription_id: str,
    *,
    status: str | None,
    limit: int,
    before_id: int | None,
) -> list[DeliveryOut]:
    await _subscription(session, subscription_id)
    rows = await store.list_deliveries(
        session, subscription_id, status=status, limit=limit, before_id=before_id
    )
    tries = await store.delivery_attempts(session, [r["id"] for r in rows])
    return [
        DeliveryOut(**r, attempt_log=[DeliveryAttemptOut(**a) for a in tries[r["id"]]])
        for r in rows
    ]


async def redeliver(session: AsyncSession, subscription_id: str, delivery_id: int) -> DeliveryOut:
    """Send a delivery again (e.g. a dead letter once the receiver is fixed); same webhook-id."""
    await _subscription(session, subscription_id, active=True)
    if await store.get_delivery(session, subscription_id, delivery_id) is None:
        raise SubscriptionNotFound(f"{subscription_id}/deliveries/{delivery_id}")
    await store.retry_delivery(session, delivery_id)
    row = await store.get_delivery(session, subscription_id, delivery_id)
    assert row is not None
    tries = await store.delivery_attempts(session, [delivery_id])
    return DeliveryOut(**row, attempt_log=[DeliveryAttemptOut(**a) for a in tries[delivery_id]])


async def _subscription(
    session: AsyncSession, subscription_id: str, *, active: bool = False
) -> dict[str, Any]:
    row = await store.get_subscription(session, subscription_id)
    if row is None or (active and not row["active"]):
        raise SubscriptionNotFound(subscription_id)
    return row
