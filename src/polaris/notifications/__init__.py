"""In-app notifications: "HC Sharma shared Seizure list with you", a list page, an unread count in
the header, mark as read.

Notifications are made by change-stream consumers, never by the domain that changed something:
``shares.py`` follows ``share.granted`` (and ``share.revoked``, which takes back what was not
read yet) and writes one row per recipient. A row names its kind, its subject and its source (the
share); what it says and where it leads are worked out when it is shown, by the kind's presenter
(``kinds.py``), which also decides, through ``access``, whether the recipient may still see it: a
notification of something the reader may not see now is not shown, as if it did not exist.
``chat.py`` follows the messenger's events the same way: direct messages (one notification per
room while unread), being added to a group, broadcasts to acknowledge.
"""
