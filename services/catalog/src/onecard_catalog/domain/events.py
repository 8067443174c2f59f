"""The catalogue's events, as the catalog service records them.

The classes are the published language and live in `onecard_contracts.catalogue_events`: every
other service keeps its own view of the catalogue from them (`onecard_contracts.catalog_view`),
and reporting computes identity and payment depth from them. This module registers them, with the upcasters
that lift stored older versions.
"""

from __future__ import annotations

from onecard_contracts.catalogue_events import *  # noqa: F403 (the classes, re-exported)
from onecard_contracts.catalogue_events import registry as published
from onecard_events.registry import EventRegistry

registry = EventRegistry()
registry.include(published)  # the classes and the upcasters of their stored older versions
