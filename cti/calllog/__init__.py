"""The call log: every call the PBX reported, written once, kept current, never duplicated."""
