"""Facts about the machine and the software a result was measured with, and their ids.

A *machine profile* is the hardware identity (numbers from machines that differ in it are
never compared); the *software key* groups runs of the same OpenVINO, model and compile
config (run-to-run drift is learned within it). Both ids are made by ``facts_id``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

#: the facts that make a machine profile
MACHINE_FACTS = (
    "cpu",
    "logical_cpus",
    "machine",
    "system",
    "device",
    "device_name",
    "cpu_partition",
)
#: software facts shown as "what changed" beside a verdict; they never stop a comparison
SOFTWARE_FACTS = ("openvino", "model_hash", "config", "python", "pytest_ovperf")
#: the software facts whose change makes runs belong to another software version
SOFTWARE_KEY_FACTS = ("openvino", "model_hash", "config")


def facts_id(facts: Mapping[str, Any]) -> str:
    """A short, stable id of a set of facts (key order does not matter)."""
    text = json.dumps(dict(facts), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def machine_profile(facts: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The hardware facts among ``facts`` and the id of the profile they make."""
    machine = {k: facts[k] for k in MACHINE_FACTS if k in facts}
    return machine, facts_id(machine)


def software_changes(
    stored: Mapping[str, Any], current: Mapping[str, Any]
) -> dict[str, tuple[Any, Any]]:
    """fact -> (stored, current) for the software facts that differ; a fact the stored
    software does not hold (recorded before it was a fact) is unknown, not changed."""
    return {
        k: (stored.get(k), current.get(k))
        for k in SOFTWARE_FACTS
        if k in stored and stored.get(k) != current.get(k)
    }


@functools.cache
def plugin_version() -> str:
    """This plugin's installed version (a software fact: a new plugin may measure otherwise)."""
    try:
        return importlib.metadata.version("pytest-ovperf")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        return "unknown"


def software_key(facts: Mapping[str, Any]) -> str:
    """Runs with equal keys ran the same software (OpenVINO, model, compile config)."""
    return facts_id({k: facts.get(k) for k in SOFTWARE_KEY_FACTS})


def machine_facts(
    device: str, device_name: str, cpu_partition: str | None = None
) -> dict[str, Any]:
    """Hardware identity of this machine for ``device``; ``cpu_partition`` is this xdist
    worker's share of the cores (``--ovperf-cpu-partition``), absent for the whole machine
    (so profiles recorded before the option existed keep their id)."""
    facts = {
        "cpu": cpu_model_name(),
        "logical_cpus": logical_cpu_count(),
        "machine": platform.machine(),
        "system": platform.system(),
        "device": device,
        "device_name": device_name,
    }
    if cpu_partition is not None:
        facts["cpu_partition"] = cpu_partition
    return facts


@functools.cache
def cpu_model_name() -> str:
    """The CPU's marketing name, from /proc/cpuinfo where it exists."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def logical_cpu_count() -> int:
    """CPUs this process may run on (its affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


#: environment variables that name a CI job, in order of preference (with the variables
#: that tell a re-run of the same job apart)
CI_JOB_VARIABLES: tuple[tuple[str, ...], ...] = (
    ("GITHUB_RUN_ID", "GITHUB_RUN_ATTEMPT", "GITHUB_JOB"),
    ("CI_JOB_ID",),  # GitLab
    ("BUILDKITE_JOB_ID",),
    ("CIRCLE_WORKFLOW_JOB_ID",),
    ("BUILD_BUILDID", "SYSTEM_JOBID"),  # Azure Pipelines
    ("BUILD_TAG",),  # Jenkins
)


def job_id(session_id: str) -> str:
    """The job a run belongs to: the CI job where one is set, else this pytest session.

    Runs recorded back to back in one job share the machine's state of that moment, so they
    are one piece of evidence about run-to-run drift, not several.
    """
    for names in CI_JOB_VARIABLES:
        values = [os.environ.get(name, "") for name in names]
        if values[0]:
            return "ci:" + facts_id({n: v for n, v in zip(names, values)})
    return f"session:{session_id}"


def git_commit(directory: Path) -> str | None:
    try:
        completed = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout.strip() or None if completed.returncode == 0 else None
