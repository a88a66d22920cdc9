"""The comparison partner of a test's measurement, chosen from an ordered list of sources, and
the one-thread compute companion that runs beside whichever is chosen.

One source per module, each a ``PartnerSource`` (``base.py``) offering at most one
``ComparisonPartner``: how it runs, how the result is judged, how messages name it.
``SOURCES`` is their order; the first partner offered is the one measured:

1. ``SideRuntimeSource`` (``side_runtime.py``): the reference under another OpenVINO
   runtime, in a worker process (``reference_runtime=``);
2. ``ReferenceSource`` (``reference.py``): the test's ``reference=`` / ``reference_config=``;
3. ``BaselineRuntimeSource`` (``baseline_runtime.py``): the baseline's own model under the
   baseline's own runtime, where the baseline was recorded under another release (A/B);
4. ``BaselineCopySource`` (``baseline_copy.py``): the baseline's own model, A/B;
5. ``ProbeSource`` (``probe.py``): the speed probe, for the kinds measured in blocks.

None offered: the model is measured alone. Either of the last two leaves the result to the
stored runs (recorded or compared), and on the CPU the companion then runs beside.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..collect import Target
from ..kinds import LATENCY, kind_of
from ..measure.blocks import LatencyBlocks
from ..measure.engine import Companion
from ..runtime.companion import (
    COMPANION_DEVICE,
    COMPANION_SHARE,
    COMPANION_THREADS,
    companion_spec,
)
from ..runtime.models import CompiledEntry, ModelError, ModelSpec
from ..session import OvperfSession
from .base import (
    NO_PARTNER,
    ComparisonPartner,
    Fallback,
    Judging,
    Offer,
    PartnerContext,
    PartnerSource,
    PartnerUnavailable,
)
from .baseline_copy import BaselineCopySource, ab_looks, baseline_spec
from .baseline_runtime import BaselineRuntimeSource
from .probe import ProbeSource
from .reference import ReferenceSource
from .side_runtime import SideRuntimeSource

__all__ = [
    "NO_PARTNER",
    "SOURCES",
    "BaselineCopySource",
    "BaselineRuntimeSource",
    "ChosenPartner",
    "ComparisonPartner",
    "Fallback",
    "Judging",
    "Offer",
    "PartnerChooser",
    "PartnerContext",
    "PartnerSource",
    "PartnerUnavailable",
    "ProbeSource",
    "ReferenceSource",
    "SideRuntimeSource",
    "ab_looks",
    "baseline_spec",
    "first_offer",
]

#: the sources of a comparison partner, in the order they are asked
SOURCES: tuple[type[PartnerSource], ...] = (
    SideRuntimeSource,
    ReferenceSource,
    BaselineRuntimeSource,
    BaselineCopySource,
    ProbeSource,
)


@dataclass(frozen=True)
class ChosenPartner:
    """What a test's measurement runs beside its model: the comparison partner
    (``NO_PARTNER``: none), why a source that applied could not run (its ``Fallback``), and
    the one-thread compute companion."""

    partner: ComparisonPartner = NO_PARTNER
    fallback: str = ""
    #: the one-thread compute companion (history comparisons and recordings on the CPU)
    companion: Companion | None = None


def first_offer(
    sources: Iterable[PartnerSource], kind: str, entry: CompiledEntry
) -> tuple[ComparisonPartner | None, str]:
    """Ask ``sources`` in order: the first partner offered (``None``: none was), and the
    reason of the first ``Fallback`` given before it. A source raising
    ``PartnerUnavailable`` ends the walk (the test fails)."""
    fallback = ""
    for source in sources:
        offered = source.offer(kind, entry)
        if isinstance(offered, Fallback):
            fallback = fallback or offered.reason
        elif offered is not None:
            return offered, fallback
    return None, fallback


class PartnerChooser:
    """Chooses, and compiles, the partner of one test's measurements."""

    def __init__(
        self,
        session: OvperfSession,
        spec: ModelSpec,
        target: Target,
        test_file: Path,
        test_name: str,
        regression_threshold: float,
        sources: Sequence[type[PartnerSource]] = SOURCES,
    ) -> None:
        self.context = PartnerContext(
            session, spec, target, test_file, test_name, regression_threshold
        )
        self.sources = sources

    def preload(self, kind: str) -> None:
        """Before the test's model is compiled for ``kind`` in this process: what the
        partner needs to start first (``PartnerSource.preload``), asked in the sources'
        order up to the first that applies."""
        if not kind_of(kind).interleaved:
            return
        for source in self.sources:
            if source(self.context).preload(kind):
                return

    def choose(self, kind: str, entry: CompiledEntry) -> ChosenPartner:
        """The first partner the sources offer for this test's measurement of ``kind``
        (``entry``: the model compiled for it), and the companion where the result goes to
        the stored runs. Raises ``PartnerUnavailable``."""
        sources = (source(self.context) for source in self.sources)
        offered, fallback = first_offer(sources, kind, entry)
        partner = offered if offered is not None else NO_PARTNER
        companion = None
        if (
            kind_of(kind).interleaved
            and partner.judging.against_stored_runs
            and self.context.judged(kind)
        ):
            companion = self._companion(kind)
        return ChosenPartner(partner, fallback, companion)

    def _companion(self, kind: str) -> Companion | None:
        """The one-thread compute companion of a history comparison or a recording: on the
        CPU only, unless switched off, and not where the test's latency is one thread
        already. A companion that cannot be compiled is left out (the test goes on)."""
        context = self.context
        settings = context.session.settings
        if not settings.companion or context.target.device != COMPANION_DEVICE:
            return None
        threads = context.spec.config.get("INFERENCE_NUM_THREADS")
        if kind == LATENCY.name and str(threads) == str(COMPANION_THREADS):
            return None
        try:
            entry = context.compile(companion_spec(context.spec), "LATENCY")
        except ModelError:
            return None
        return Companion(
            LatencyBlocks(entry.compiled, entry.inputs, settings.measure), COMPANION_SHARE
        )
