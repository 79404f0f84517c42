"""Translatable texts for error codes (STYLE rule 4): the UI shows these, never ``detail``.

``N_`` only marks a string for extraction; it is translated when a page is rendered.
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 - the gettext convention
    return message


ERROR_MESSAGES = {
    "invalid_credentials": N_("Wrong username or password."),
    "invalid_code": N_("That code is not right. Use the newest code from your authenticator app."),
    "throttled": N_("Too many attempts. Wait a moment and try again."),
    "session_expired": N_("Your session has ended. Please sign in again."),
    "not_authenticated": N_("Please sign in."),
    "csrf_failed": N_("This form has expired. Please try again."),
    "not_found": N_("There is nothing here, or you may not see it."),
    "permission_denied": N_("You are not allowed to do this."),
    "admin_required": N_("Only administrators may do this."),
    "password_change_required": N_(
        "An administrator has set your password. Change it before you do anything else."
    ),
    "token_not_allowed": N_("This needs you to be signed in; an API token may not do it."),
    "token_scope": N_("The API token's scopes do not allow this."),
    "name_taken": N_("Something with this name is already in the folder."),
    "name_invalid": N_("This name is not allowed."),
    "name_too_long": N_("This name is too long."),
    "name_empty": N_("A name cannot be empty."),
    "quota_exceeded": N_("There is no room left in this space."),
    "storage_full": N_("The server's storage is full. Nothing was saved."),
    "instance_read_only": N_(
        "Polaris is read-only during incident response. Nothing was changed; reading still works."
    ),
    "reauthentication_failed": N_("The password is wrong."),
    "no_enrolment": N_("Start the authenticator set-up again."),
    "password_too_weak": N_("Choose a longer, less common password."),
    "server_error": N_("Something went wrong on the server. Nothing was changed."),
    "validation_failed": N_("Some of what was sent is not valid."),
    "file_too_large": N_("This file is larger than the server accepts."),
    "too_deep": N_("Folders cannot be nested this deep."),
    "cannot_disable_self": N_("You cannot disable your own account."),
    "last_admin": N_("This is the last enabled administrator: enable another one first."),
    "file_quarantined": N_(
        "Malware was found in this file. It is quarantined: no one can open or share it."
    ),
    "legal_hold": N_(
        "A legal hold keeps this. It cannot be purged, and none of its versions expires, until "
        "an administrator lifts the hold."
    ),
    "scan_pending": N_(
        "This file is waiting for its malware scan. Try again once the scan has found it clean."
    ),
    "not_confirmed": N_("Tick the box to confirm, then press the button again."),
    "bad_name": N_("Name the device in 1 to 255 characters."),
    "bad_scope": N_("Choose read only, or read and write."),
    "too_many": N_("You have 50 app passwords. Revoke one you no longer use first."),
    "own_freeze": N_(
        "You cannot unfreeze your own account: another administrator must check it and unfreeze it."
    ),
    "writes_frozen": N_(
        "Your account may not change files for now: the ransomware guard saw files being "
        "encrypted. Your files can still be read. Call your administrator."
    ),
    # The messenger (polaris.chat).
    "chat_name_empty": N_("Give the room a name."),
    "chat_name_too_long": N_("This name is too long."),
    "chat_name_invalid": N_(
        "The name holds a control character (such as one that reverses text). Remove it."
    ),
    "chat_body_empty": N_("The message is empty."),
    "chat_body_too_long": N_("The message is too long. Send it as a file instead."),
    "chat_body_invalid": N_("The message holds a character that cannot be sent."),
    "chat_direct_self": N_("Choose someone else to talk to."),
    "chat_user_not_found": N_("There is no such user."),
    "chat_user_banned": N_("This user was removed from the room and cannot be invited back."),
    "chat_room_follows_units": N_(
        "The members of this room follow postings and transfers; they cannot be changed by hand."
    ),
    "chat_not_a_member": N_("This user is not in the room."),
    "chat_owner_stays": N_("The owner of a room cannot be removed."),
    "chat_bad_role": N_("A member can be made a moderator or a member, nothing else."),
    "chat_txn_invalid": N_("The message's transaction id is not valid."),
    "chat_txn_reused": N_("This transaction id was already used for another room."),
    "chat_txn_used": N_("This transaction id was already used."),
    "chat_bad_kind": N_("This kind of message cannot be sent."),
    "chat_reply_not_found": N_("The message you replied to is not in this room."),
    "chat_not_sender": N_("Only the sender may edit a message."),
    "chat_not_editable": N_("This message cannot be edited."),
    "chat_not_redactable": N_("This cannot be deleted."),
    "chat_redact_window_passed": N_(
        "The time for deleting this message has passed. A moderator of the room can delete it."
    ),
    "chat_bad_page": N_("That page of the conversation cannot be shown."),
    "chat_not_broadcast": N_("This message is not a broadcast."),
    "chat_attachment_not_file": N_("Only a file can be sent, not a folder."),
    "reason_required": N_("Give the reason. It is kept in the audit log."),
    "reason_too_long": N_("The reason is too long: 500 characters at most."),
    "export_format": N_("Choose JSON or a text transcript."),
    "hold_target": N_("Hold one room or one user's messages, not both."),
    "search_date": N_("Give a date such as 2026-12-06, or a time such as 2026-12-06T14:30 (IST)."),
    "search_filter": N_("There is no such user or unit."),
    "chat_attachment_above_clearance": N_(
        "Some members of this room are not cleared for this file's classification. It was not sent."
    ),
}
GENERIC_ERROR = N_("The request could not be completed.")
#: Why an upload can be refused: shown by the upload script, translated, by error code.
UPLOAD_ERROR_CODES = (
    "quota_exceeded",
    "storage_full",
    "name_taken",
    "name_invalid",
    "name_too_long",
    "permission_denied",
    "writes_frozen",
    "not_found",
    "file_too_large",
    "csrf_failed",
    "session_expired",
    "not_authenticated",
    "classification_too_high",
)


def upload_messages() -> dict[str, str]:
    """Untranslated messages for the upload script, by error code (``generic`` for the rest)."""
    found = {code: ERROR_MESSAGES[code] for code in UPLOAD_ERROR_CODES if code in ERROR_MESSAGES}
    return {"generic": N_("The upload was refused."), **found, **UPLOAD_TEXTS}


#: What the upload script shows besides errors: the name-conflict dialog and the overall progress.
UPLOAD_TEXTS = {
    "conflict_title": N_("A file with this name is already here"),
    "conflict_question": N_(
        "Replace it (its current content is kept as an older version) or keep both (the new"
        " file gets a number)?"
    ),
    "conflict_replace": N_("Replace (new version)"),
    "conflict_keep": N_("Keep both"),
    "conflict_skip": N_("Skip this file"),
    "conflict_all": N_("Do the same for the other files of this upload"),
    "skipped": N_("Skipped"),
    "overall": N_("All uploads"),
    "leave_warning": N_("Uploads are still running. Leave anyway?"),
}


#: Shown as labels; listed here so that extraction finds them.
CLASSIFICATIONS = (N_("Unclassified"), N_("Restricted"), N_("Confidential"), N_("Secret"))
PERMISSIONS = (N_("Read"), N_("Edit"), N_("Manage"))
#: Sizes of files: bytes, kilobytes, megabytes, gigabytes, terabytes.
SIZE_UNITS = (N_("B"), N_("KB"), N_("MB"), N_("GB"), N_("TB"))
ERROR_HEADINGS = (N_("Not found"), N_("Not allowed"), N_("Error"))


def error_message(code: str) -> str:
    """The untranslated message for ``code`` (translate it with the page's ``_``)."""
    return ERROR_MESSAGES.get(code, GENERIC_ERROR)
