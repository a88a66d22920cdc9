"""How long and how precisely to measure."""

from __future__ import annotations

from dataclasses import dataclass


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
