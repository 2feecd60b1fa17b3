"""Benchmark tasks on real data: ECG beats (``python -m bimsim.tasks.ecg``)."""
