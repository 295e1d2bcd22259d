"""The fault matrix gate (`harness.gates.faults.gate.FaultGate`): faults injected into a live local stack."""
