"""Energy used by a generation, measured where the hardware has a counter, estimated otherwise.

In order of preference: NVIDIA's NVML total-energy counter (GPU board, millijoules), Linux RAPL
package counters (CPU sockets, microjoules), else an estimate from this process's CPU time times
an assumed power per busy core. The record always says which, so numbers are never mistaken for
measurements when they are not.
"""

from __future__ import annotations

import glob
import os
import time

import torch

WATTS_PER_CORE = 10.0  # assumed draw of one fully busy core, for the estimate only


class CpuTimeEstimate:
    def __init__(self) -> None:
        self.watts = float(os.environ.get("OPENREEL_CPU_WATTS_PER_CORE", WATTS_PER_CORE))
        self.method = f"estimate: process CPU time x {self.watts:g} W per busy core (no power counter readable)"
        self.start = time.process_time()

    def joules(self) -> float:
        return (time.process_time() - self.start) * self.watts


class RaplCounter:
    """Sum of the RAPL package domains; handles one wrap-around per domain."""

    def __init__(self, domains: list[str]):
        self.domains = domains
        self.method = f"measured: Linux RAPL package energy counters ({len(domains)} domains)"
        self.start = [self._read(d) for d in domains]

    @staticmethod
    def _read(domain: str) -> int:
        with open(os.path.join(domain, "energy_uj")) as f:
            return int(f.read())

    def joules(self) -> float:
        total = 0
        for domain, start in zip(self.domains, self.start):
            now = self._read(domain)
            if now < start:
                with open(os.path.join(domain, "max_energy_range_uj")) as f:
                    now += int(f.read())
            total += now - start
        return total / 1e6


class NvmlCounter:
    def __init__(self, index: int):
        import pynvml

        pynvml.nvmlInit()
        self.nvml = pynvml
        self.handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        self.method = f"measured: NVML total energy counter of GPU {index} (board only, not CPU)"
        self.start = pynvml.nvmlDeviceGetTotalEnergyConsumption(self.handle)

    def joules(self) -> float:
        return (self.nvml.nvmlDeviceGetTotalEnergyConsumption(self.handle) - self.start) / 1e3


def energy_meter(device: torch.device):
    """Start the best available meter for work on `device`; read it with `.joules()`."""
    if device.type == "cuda":
        try:
            return NvmlCounter(device.index if device.index is not None else torch.cuda.current_device())
        except Exception:  # no pynvml, or a GPU without the counter (pre-Volta)
            pass
    domains = sorted(d for d in glob.glob("/sys/class/powercap/intel-rapl:[0-9]*") if d.count(":") == 1)
    try:
        if domains:
            return RaplCounter(domains)
    except OSError:  # counters exist but are root-only on recent kernels
        pass
    return CpuTimeEstimate()
