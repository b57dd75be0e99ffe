"""One scan as a sequence of stages (:mod:`appaudit.pipeline.stages`), driven by ``api.scan``.

``load`` reads the input (the app and the index over its code) -> ``attribute``
builds the one owner lookup -> ``analyse`` proves harvest chains -> ``match``
runs the rules -> ``inspect`` reports the code the scan cannot see -> ``judge``
answers coverage, data classes, verdict and policies (with any declarations)
-> ``fingerprint`` hashes what links the app to others -> ``report``. Coverage
reasons and error entries go to one :class:`Diagnostics`, reported by the stage
that learns of them.
"""

from appaudit.pipeline.diagnostics import Diagnostics, DiagnosticsResult

__all__ = ["Diagnostics", "DiagnosticsResult"]
