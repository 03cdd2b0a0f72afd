"""fleetmon benchmarks: each module measures one issue's figures and rewrites its section of docs/benchmarks.md."""
