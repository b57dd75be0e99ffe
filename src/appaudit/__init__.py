"""appaudit: audit Android lending apps for harvesting of contacts, SMS and call logs."""

__version__ = "0.1.0"
