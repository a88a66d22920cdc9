"""The speed probe: a small fixed model beside every block measurement, whose figures tell
the machine's state (and normalize latency) when the result goes to the stored runs."""

from __future__ import annotations

from ..kinds import LATENCY, kind_of
from ..measure.blocks import LatencyBlocks
from ..measure.engine import Partner
from ..runtime.models import CompiledEntry, ModelError
from ..runtime.probe import PROBE_SHARE, PROBE_SPEC
from .base import ComparisonPartner, Judging, Offer, PartnerSource, PartnerUnavailable


class ProbeSource(PartnerSource):
    """The speed probe, for the kinds measured in blocks, unless ``--ovperf-speed-probe=off``.
    Offered whether or not a baseline exists, so budgets are judged from the same kind of
    measurement on every run; not for whole loads (it times inference, not loading). A probe
    that cannot be compiled fails the test."""

    name = "probe"

    def offer(self, kind: str, entry: CompiledEntry) -> Offer:
        context = self.context
        settings = context.session.settings
        if not kind_of(kind).interleaved or not settings.speed_probe:
            return None
        judged = context.judged(kind)
        try:
            probe = context.compile(PROBE_SPEC, "LATENCY")
        except ModelError as exc:
            raise PartnerUnavailable(
                f"the speed probe cannot run (--ovperf-speed-probe=off skips it): {exc}"
            ) from None
        # The probe runs sync for both kinds: request.latency times the inference alone,
        # while a tiny model's fps would time Python's submission loop. For throughput it
        # only tells the machine state (fps/probe ratios proved noisier than fps itself), so
        # only latency's model/probe ratio is compared (where a baseline judges it).
        runner = LatencyBlocks(probe.compiled, probe.inputs, settings.measure)
        blocks = Partner(runner, PROBE_SHARE, kind == LATENCY.name and judged)
        return ComparisonPartner(self.name, Judging.PROBE, "the speed probe", blocks=blocks)
