"""Comparing versions of an app: snapshots, baselines of accepted findings, diffs.

Above ``api`` in the layering (only the CLI imports it); works on
``model`` objects and JSON v1 report documents, never on APK internals.
"""
