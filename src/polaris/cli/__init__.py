"""The ``polaris`` command."""
