"""Another OpenVINO release beside this one: a side Python environment that has it
(``environment.py``), a worker process that measures a model there (``worker.py``, run by
that environment's interpreter, without pytest_ovperf installed) and the client that drives
it over a pair of pipes (``client.py``)."""
