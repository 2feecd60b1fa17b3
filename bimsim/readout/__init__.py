"""Readouts: the selective state-space model, its exact online gradients, and its injection, as a
network operation (the reference) and as generated code."""

from bimsim.readout.injection import ReadoutInjection
from bimsim.readout.selective_ssm import SelectiveSSM, SSMParameters
from bimsim.readout.ssm_code import SSMReadoutCode

__all__ = ["ReadoutInjection", "SSMParameters", "SSMReadoutCode", "SelectiveSSM"]
