"""The catalogue's events, as the catalog service records them.

The classes are the published language and live in `onecard_contracts.catalogue_events`: every
other service keeps its own view of the catalogue from them (`onecard_contracts.catalog_view`),
and reporting computes identity and payment depth from them. This module registers them.
"""

from __future__ import annotations

from onecard_contracts.catalogue_events import *  # noqa: F403 (the classes, re-exported)
from onecard_contracts.catalogue_events import CATALOGUE_EVENTS
from onecard_events.registry import EventRegistry

registry = EventRegistry()
for _event in CATALOGUE_EVENTS:
    registry.register(_event)
