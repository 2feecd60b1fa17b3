"""Readouts: the selective state-space model, its exact online gradients, and its injection."""

from bimsim.readout.injection import ReadoutInjection
from bimsim.readout.selective_ssm import SelectiveSSM, SSMParameters

__all__ = ["ReadoutInjection", "SSMParameters", "SelectiveSSM"]
