"""The bottom layer every stage may use, and which imports nothing above it: errors, atomic writes,
progress, host facts, native-output silencing and the registry.

    from edge_inception._core.errors import InputError
    from edge_inception._core.atomic import atomic_write_text
    from edge_inception._core.host import host_facts
"""
