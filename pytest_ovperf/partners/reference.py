"""The test's own reference: ``ovperf_model(..., reference=..., reference_config=...)``."""

from __future__ import annotations

from dataclasses import replace

from ..kinds import kind_of
from ..measure.engine import Partner
from ..runtime.models import CompiledEntry, ModelError
from .base import ComparisonPartner, Judging, Offer, PartnerSource, PartnerUnavailable


class ReferenceSource(PartnerSource):
    """The reference model (``reference=``, else the test's model) compiled with
    ``reference_config`` (else the test's config), wherever the test names one; the result is
    judged against it (paired), never against the baseline. A reference that cannot be
    compiled fails the test."""

    name = "reference"

    def preload(self, kind: str) -> bool:
        return self.context.spec.has_reference  # it offers: the sources after it are not asked

    def offer(self, kind: str, entry: CompiledEntry) -> Offer:
        spec = self.context.spec
        if not spec.has_reference:
            return None
        reference = spec.reference_spec()
        partner = ComparisonPartner(
            self.name, Judging.REFERENCE, spec.describe_reference(), model=reference
        )
        measured = kind_of(kind)
        if not measured.interleaved:
            return partner
        try:
            compiled = self.context.compile(reference, measured.hint)
        except ModelError as exc:
            raise PartnerUnavailable(f"the reference cannot run: {exc}") from None
        return replace(partner, blocks=Partner(self.context.runner(kind, compiled), 1.0, True))
