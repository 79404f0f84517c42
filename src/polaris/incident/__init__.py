"""The incident switch: the whole instance read-only while an attack is handled."""
