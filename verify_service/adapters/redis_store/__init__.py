"""Redis adapter, one sub-package per capability. Every state change is one Lua script, kept
in that capability's `scripts/` folder; `scripts.ScriptBook` loads them all by file stem."""
