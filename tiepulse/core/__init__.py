"""The core: settings, warehouse and migrations, run log, analysis parameters, the import context."""
