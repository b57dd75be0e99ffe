"""Policy packs: which provisions a scan's findings break (rules/policies/*.yaml)."""

from appaudit.policy.evaluate import evaluate_policies
from appaudit.policy.packs import PolicyPack, Provision, load_policy_packs, select_packs

__all__ = ["PolicyPack", "Provision", "evaluate_policies", "load_policy_packs", "select_packs"]
