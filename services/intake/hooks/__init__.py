"""PURE: marketing-automation webhooks, one adapter module per tool, registered here.

An adapter knows its tool's signature scheme and turns one delivery (parsed JSON) into
items: a raw lead for `LeadIn`, or the reason an event is not a lead. Intake does the rest
(verify with the tool's secret, validate, dedupe, store, publish). To add a tool, write
`hooks/<tool>.py` with an `ADAPTER` and list it in `ADAPTERS`; see docs/intake-hooks.md.
"""

from __future__ import annotations

from services.intake.hooks import mautic
from services.intake.hooks.model import Adapter, HookItem

__all__ = ["ADAPTERS", "Adapter", "HookItem"]

ADAPTERS: dict[str, Adapter] = {adapter.name: adapter for adapter in (mautic.ADAPTER,)}
