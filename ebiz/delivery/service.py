"""The delivery domain's public entry point: views, other domains, the CLI and the tests call delivery
through this module; the work is done in the rooms below, each with its own invariants.

- `files`: storing product files (type and size checked before anything is kept), listing, serving.
- `entitlements`: one entitlement per licence grant, its files, refusals, allowance changes, lookups.
- `links`: signed download links, issued and opened (a download is consumed once, never past the
  allowance).

Each module imports only the ones above it in this list (and `models`, `storage`); nothing in
delivery imports this one.
"""

from .entitlements import (
    EntitlementView,
    adjust_allowance,
    attach_deliverable,
    download_history,
    entitlement_by_ref,
    entitlements_for,
    files_for,
    files_for_many,
    find_entitlements,
    grant_entitlement,
    refusal,
)
from .files import (
    DEFAULT_EXTENSIONS,
    allowed_extensions,
    clean_filename,
    files_of_version,
    files_of_versions,
    remove_file,
    serve_file,
    store_file,
    verify_files,
)
from .links import (
    LinkRefused,
    issue_link,
    offer_for,
    open_link,
    peek_link,
    try_issue_link,
)

__all__ = [
    "DEFAULT_EXTENSIONS",
    "clean_filename",
    "allowed_extensions",
    "store_file",
    "remove_file",
    "files_of_version",
    "files_of_versions",
    "verify_files",
    "serve_file",
    "grant_entitlement",
    "attach_deliverable",
    "files_for",
    "files_for_many",
    "refusal",
    "EntitlementView",
    "entitlements_for",
    "adjust_allowance",
    "entitlement_by_ref",
    "find_entitlements",
    "download_history",
    "LinkRefused",
    "try_issue_link",
    "issue_link",
    "peek_link",
    "offer_for",
    "open_link",
]
