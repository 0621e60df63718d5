"""Dashboard panes: one widget a module; each renders a Snapshot and nothing else."""
