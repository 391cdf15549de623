//! The common attributes of every resource (RFC 7643 §3.1).

use super::build::{complex, date_time, reference, string};
use super::model::Attribute;

/// The attributes every resource carries (RFC 7643 §3.1). They belong to no schema and are
/// therefore absent from [`Schema::to_json`](super::Schema::to_json).
pub static COMMON_ATTRIBUTES: &[Attribute] = &[
    string(
        "id",
        "A unique identifier for a SCIM resource as defined by the service provider.",
    )
    .exact()
    .read_only()
    .returned_always()
    .unique_server(),
    string(
        "externalId",
        "A String that is an identifier for the resource as defined by the provisioning client.",
    )
    .exact(),
    complex(
        "meta",
        "A complex attribute containing resource metadata.",
        &[
            string(
                "resourceType",
                "The name of the resource type of the resource.",
            )
            .exact()
            .read_only(),
            date_time(
                "created",
                "The \"DateTime\" that the resource was added to the service provider.",
            )
            .read_only(),
            date_time(
                "lastModified",
                "The most recent DateTime that the details of this resource were updated at \
                 the service provider.",
            )
            .read_only(),
            reference(
                "location",
                "The URI of the resource being returned.",
                &["uri"],
            )
            .exact()
            .read_only(),
            string("version", "The version of the resource being returned.")
                .exact()
                .read_only(),
        ],
    )
    .read_only(),
];
