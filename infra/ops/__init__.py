"""Day-2 operations against a live cluster (used by platformctl; not by the Pulumi program)."""
