"""The gates of a release run (`harness.gates.commands.base` runs them) and the tools they drive: static checks, load,
fuzz, scenarios, the deployed build, the fault matrix. Imports `core`, `stack` and `ops`."""
