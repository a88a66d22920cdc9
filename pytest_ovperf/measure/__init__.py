"""Measurement engines: timed inference of a model, optionally interleaved with a partner."""
