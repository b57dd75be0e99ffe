"""Analysis on top of rule findings: per-data-class answers, coverage and the verdict."""
