"""fleetmon benchmarks: each module measures figures and rewrites its docs/benchmarks.md section."""
