"""Flows that chain the stages for one material (DESIGN.md, "The flow for one material")."""

from mlip_finetune.flows.material import MaterialFlowMaker

__all__ = ["MaterialFlowMaker"]
