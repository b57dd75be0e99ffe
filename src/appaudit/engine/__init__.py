"""The rules engine: run every rule over an app's facts and collect findings."""

from appaudit.engine.evaluate import EngineResult, evaluate

__all__ = ["EngineResult", "evaluate"]
