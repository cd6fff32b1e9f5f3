"""platformctl: the command-line edge. Each command is one module; logic lives in the core."""
