"""Which test a result belongs to: one value, read from pytest's node id, for baseline keys,
summaries and reports, so that ``TestA::test_x`` and ``TestB::test_x`` of one file never
collide."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TestIdentity:
    __test__ = False  # not a test class, whatever pytest's collection thinks of the name

    #: the test file, as the node id names it (relative to the rootdir)
    file: str
    #: the classes the test is in, outermost first ("TestA", "TestA::TestInner"), or ""
    classes: str
    function: str
    #: the parametrization id ("CPU-f32"), or ""
    params: str

    @classmethod
    def from_nodeid(cls, nodeid: str) -> TestIdentity:
        # the file may hold "[" and the parametrization id anything ("::" too), but class
        # and function names are identifiers: split the file off, then the parameters
        file, _, inside = nodeid.partition("::")
        path, bracket, params = inside.partition("[")
        *classes, function = path.split("::")
        return cls(
            file=file,
            classes="::".join(classes),
            function=function,
            params=params[:-1] if bracket and params.endswith("]") else params,
        )

    @property
    def test(self) -> str:
        """The test within its file, without parameters: ``TestA::test_x``."""
        return f"{self.classes}::{self.function}" if self.classes else self.function

    @property
    def name(self) -> str:
        """The test within its file: ``TestA::test_x[CPU-f32]``. The key of its baseline
        entry and its name in every report."""
        return f"{self.test}[{self.params}]" if self.params else self.test
