"""Scan many APKs: worker processes or a Dask cluster, a SQLite results store, resume and export.

``run_batch(paths, options, on_event) -> BatchResult`` is the entry point;
``export_lines(db, fmt)`` exports the store. See docs/batch.md.
"""

from appaudit.batch.export import EXPORT_FORMATS, export_lines
from appaudit.batch.runner import BatchEvent, BatchOptions, BatchResult, Planned, Scanned, default_workers, run_batch
from appaudit.batch.summary import BatchSummary, Outcome

__all__ = [
    "EXPORT_FORMATS",
    "BatchEvent",
    "BatchOptions",
    "BatchResult",
    "BatchSummary",
    "Outcome",
    "Planned",
    "Scanned",
    "default_workers",
    "export_lines",
    "run_batch",
]
