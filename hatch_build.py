"""Wheel build hook: the analysis's hot modules compiled to C extensions by mypyc, when the machine can.

The modules listed under ``[tool.hatch.build.targets.wheel.hooks.custom] include`` in pyproject.toml
(the taint walk, the call graph, the register and return summaries, instruction decoding) are
type-checked and compiled by mypyc (hatch-mypyc's hook, which this one extends); the wheel then holds
both the extensions and the ``.py`` sources, and Python imports the extensions. Measured on the corpus
(docs/benchmarks.md): about a fifth off the in-process total, a quarter off the slowest scans. The
compiled code is the same code: every corpus report is byte-identical either way (``bench/reports.py
compare``), and the test suite runs on the sources and again on the compiled wheel (.ci/run).

Not compiled, by design or by circumstance, and then the wheel is pure Python and gives the same reports,
only slower (``appaudit.build.describe()`` and ``appaudit --version`` say which build is installed):

* an editable install (``pip install -e``): the sources are what a developer edits and tests;
* ``APPAUDIT_PURE_PYTHON=1`` in the environment of the build;
* a machine where mypyc cannot build (no C compiler, an interpreter mypyc does not support): the build
  prints why on stderr and goes on without it, so an install never fails for want of a compiler.

hatch-mypyc compiles in place (next to the sources); this hook removes those files once the wheel is
written, so that a later editable install or ``PYTHONPATH=src`` never imports an extension built from
older sources.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import hatch_mypyc.plugin as mypyc_plugin

#: Set (to anything but empty or 0) in a build's environment: build the pure-Python wheel.
PURE_ENV = "APPAUDIT_PURE_PYTHON"


class CompiledModules(mypyc_plugin.MypycBuildHook):
    """hatch-mypyc's build hook, skipped for editable builds and on request, and never failing a build."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        if os.environ.get(PURE_ENV, "") not in ("", "0"):
            sys.stderr.write(f"appaudit: {PURE_ENV} is set: building the pure-Python wheel\n")
            return
        try:
            super().initialize(version, build_data)
        except Exception as exc:  # no compiler, an unsupported interpreter...: the pure wheel works the same
            self.clean([version])
            last = str(exc).strip().splitlines()[-1:] or [type(exc).__name__]
            sys.stderr.write(f"appaudit: mypyc could not compile the hot modules ({last[0]}); building pure Python\n")

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self.target_name == "wheel" and version != "editable":
            self.clean([version])
