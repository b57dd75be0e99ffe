"""Families: apps linked by shared harvesting code, upload endpoints or signer (``appaudit families``)."""
