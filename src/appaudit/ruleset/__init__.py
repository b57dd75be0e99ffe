"""Rules: the YAML rule pack, validated on load (see ``loader``)."""

from appaudit.ruleset.loader import Ruleset, load_ruleset
from appaudit.ruleset.rule import Rule

__all__ = ["Rule", "Ruleset", "load_ruleset"]
