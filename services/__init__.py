"""Application services deployed onto the platform; they never import the infrastructure code (import-linter)."""
