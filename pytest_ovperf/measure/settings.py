"""How long and how precisely to measure."""

from __future__ import annotations

from dataclasses import dataclass

#: fewest block pairs (or blocks) before the stopping rule looks at all
MIN_BLOCKS = 4


@dataclass(frozen=True)
class MeasureSettings:
    warmup_s: float = 0.5
    warmup_iterations: int = 5
    #: seconds of the model's own measurement before the stopping rule may stop it
    min_time_s: float = 1.0
    #: seconds of measurement in all, interleaved partner included
    max_time_s: float = 5.0
    #: length of one block of the model; short blocks give many block pairs, and machine
    #: drift moves slower than a pair of blocks lasts
    block_s: float = 0.1
    confidence: float = 0.95
    #: stop once the interval's half width is this fraction of the estimate
    target_precision: float = 0.01

    @property
    def longest_block_s(self) -> float:
        """The longest block of a workload whose blocks are sized by its own speed
        (throughput: request latencies, ``loops.throughput_block_s``): ``MIN_BLOCKS`` rounds
        of it and a partner as long fit in ``max_time_s``. A slow queue otherwise outran
        the cap: one request on AUTO:GPU,CPU at 1 fps (the H200) planned blocks of 8 s, and
        the four blocks the stopping rule waits for took 52 s of a 5 s cap."""
        return max(self.block_s, self.max_time_s / (2 * MIN_BLOCKS))

    def validate(self) -> None:
        problems = []
        if self.warmup_s < 0 or self.warmup_iterations < 0:
            problems.append("warmup must not be negative")
        if self.min_time_s <= 0 or self.max_time_s < self.min_time_s:
            problems.append(
                f"need 0 < min time ({self.min_time_s}) <= max time ({self.max_time_s})"
            )
        if not 0 < self.confidence < 1:
            problems.append(f"confidence {self.confidence} must be inside (0, 1)")
        if self.target_precision <= 0:
            problems.append("target precision must be positive")
        if problems:
            raise ValueError("; ".join(problems))
