"""The example models: small networks built in code (see ``pytest_ovperf.runtime.toy_models``)."""

from pytest_ovperf.runtime.toy_models import dynamic_mlp, mlp, mobilenet_like

__all__ = ["dynamic_mlp", "mlp", "mobilenet_like"]
