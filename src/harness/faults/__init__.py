"""The fault matrix gate (`harness.faults.gate.FaultGate`): faults injected into a live local stack."""
