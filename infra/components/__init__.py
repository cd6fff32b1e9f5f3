"""Pulumi ComponentResources: thin wrappers that turn the pure specs into resources."""
