"""One measured figure of the stress run and how it is printed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    """A measured value, its target in words, and whether the target was met."""

    part: str
    name: str
    value: str
    target: str
    met: bool
    detail: str = ""

    def line(self) -> str:
        mark = "ok  " if self.met else "FAIL"
        extra = f"  ({self.detail})" if self.detail else ""
        head = f"{mark} {self.part:<12} {self.name:<56} {self.value:>12}"
        return f"{head} target {self.target}{extra}"
