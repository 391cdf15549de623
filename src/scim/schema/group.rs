//! The Group schema, as represented in RFC 7643 §8.7.1 (§4.2).

use super::build::{complex, reference, string};
use super::model::{Schema, GROUP_SCHEMA};

/// `urn:ietf:params:scim:schemas:core:2.0:Group` (RFC 7643 §4.2, §8.7.1).
pub static GROUP: Schema = Schema {
    id: GROUP_SCHEMA,
    name: "Group",
    description: "Group",
    attributes: &[
        // §8.7.1 declares displayName optional and not unique; its description says REQUIRED,
        // and this service enforces both per connection.
        string(
            "displayName",
            "A human-readable name for the Group.  REQUIRED.",
        )
        .required()
        .unique_server(),
        complex(
            "members",
            "A list of members of the Group.",
            &[
                // Required here: a member element without `value` names nobody.
                string("value", "Identifier of the member of this Group.")
                    .immutable()
                    .required(),
                reference(
                    "$ref",
                    "The URI corresponding to a SCIM resource that is a member of this Group.",
                    &["User", "Group"],
                )
                .immutable(),
                string(
                    "type",
                    "A label indicating the type of resource, e.g., 'User' or 'Group'.",
                )
                .canonical(&["User", "Group"])
                .immutable(),
                // Not in §8.7.1; Okta sends it (RFC 7643 §4.2 lists `display` for members).
                string(
                    "display",
                    "A human-readable name, primarily used for display purposes.",
                ),
            ],
        )
        .multi(),
    ],
};
