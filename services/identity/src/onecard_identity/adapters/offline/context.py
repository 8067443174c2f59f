"""What the offline handlers share: the identity service's context, the bundle key and metrics."""

from __future__ import annotations

from dataclasses import dataclass

from ..context import Identity
from .keys import BundleKeys
from .metrics import OfflineMetrics


@dataclass
class Offline:
    identity: Identity
    keys: BundleKeys
    metrics: OfflineMetrics
