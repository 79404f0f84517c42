"""WebDAV over the drive, for a mapped Windows drive and the Nextcloud clients (docs/clients.md).

WsgiDAV speaks the protocol; a provider (``provider.py``, ``resources.py``, ``spaces_root.py``,
``new_file.py``) answers it with the drive's own services, so every read and write is authorised by
``access`` and audited as through the API: there is no second model of the drive here. ``gate.py``
authenticates each request with an app password (``identity.app_passwords``), ``locks.py`` and
``properties.py`` keep WebDAV's locks and dead properties in the database, ``server.py`` builds the
WSGI app that ``polaris.app`` mounts at ``/dav`` and ``/remote.php/dav/files/{username}``.
"""
