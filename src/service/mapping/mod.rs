//! Per-connection attribute mapping between the SCIM User and the app's user profile.
//!
//! A connection's [`Mapping`] is a list of [`Rule`]s, each naming a SCIM attribute path and the
//! app profile field it feeds. Its JSON form, as an admin sends and reads it:
//!
//! ```json
//! {"rules": [
//!   {"scim": "userName", "app": "username"},
//!   {"scim": "emails[type eq \"work\"].value", "app": "email"},
//!   {"scim": "active", "app": "blocked"},
//!   {"scim": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
//!    "app": "app_metadata.department"}
//! ]}
//! ```
//!
//! - The SCIM side is a PATCH-style path (RFC 7644 §3.5.2): an attribute or sub-attribute
//!   (`name.givenName`), a value path (`emails[primary eq true].value`) or an extension path
//!   with its schema URN. A value path reads the first element its filter matches; a
//!   multi-valued attribute without a filter reads its `primary` element, else its first.
//! - The app side is one of `email`, `username`, `given_name`, `family_name`, `name`,
//!   `phone_number`, `external_id`, `blocked` (the inverse of `active`), or a nested
//!   `app_metadata.<key>…` / `user_metadata.<key>…` field. `user_id` and `active` are always
//!   set from the SCIM `id` and `active` and cannot be mapped.
//!
//! The mapping only changes what the app sees: the SCIM resource is stored as received, and
//! [`Mapping::to_profile`] renders the profile from it on every read. [`Mapping::to_scim`] runs
//! the rules backwards to import users that exist in the app before the IdP provisions them.
//!
//! Pure: no I/O, no clock.

mod app_field;
mod profile;
mod rule;
mod scim_path;
mod validate;
pub mod view;

#[cfg(test)]
mod tests;

use serde_json::Value;

pub use rule::{IdpKind, Mapping, Rule, MAX_RULES};

use crate::scim::ScimError;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

impl Mapping {
    /// The mapping a new connection starts with, following what each IdP sends:
    ///
    /// - Okta sends its primary email as the `primary` work email and the mobile phone as
    ///   `phoneNumbers[type eq "mobile"]`.
    /// - Entra ID sends `userName` = UPN, `mail` as `emails[type eq "work"]` (its PATCH adds it
    ///   without `primary`) and `mobile` as `phoneNumbers[type eq "mobile"]`.
    /// - OneLogin and JumpCloud mark the email `primary`; their phone types depend on the
    ///   template, so the phone is the primary one, else the first.
    /// - Generic reads the primary email and phone, else the first.
    ///
    /// Every IdP: `userName`, `name.givenName`, `name.familyName`, `displayName`, `externalId`,
    /// `active` (as `blocked`), and the enterprise `department`, `employeeNumber` and
    /// `manager.value` into `app_metadata`.
    pub fn default_for(kind: IdpKind) -> Mapping {
        let (email, phone) = match kind {
            IdpKind::Okta => (
                "emails[primary eq true].value",
                r#"phoneNumbers[type eq "mobile"].value"#,
            ),
            IdpKind::Entra => (
                r#"emails[type eq "work"].value"#,
                r#"phoneNumbers[type eq "mobile"].value"#,
            ),
            IdpKind::Onelogin | IdpKind::Jumpcloud => {
                ("emails[primary eq true].value", "phoneNumbers.value")
            }
            IdpKind::Generic => ("emails.value", "phoneNumbers.value"),
        };
        let rules = [
            ("userName".to_string(), "username"),
            (email.to_string(), "email"),
            ("name.givenName".to_string(), "given_name"),
            ("name.familyName".to_string(), "family_name"),
            ("displayName".to_string(), "name"),
            (phone.to_string(), "phone_number"),
            ("externalId".to_string(), "external_id"),
            ("active".to_string(), "blocked"),
            (
                format!("{ENTERPRISE}:department"),
                "app_metadata.department",
            ),
            (
                format!("{ENTERPRISE}:employeeNumber"),
                "app_metadata.employee_number",
            ),
            (
                format!("{ENTERPRISE}:manager.value"),
                "app_metadata.manager_id",
            ),
        ];
        Mapping {
            rules: rules
                .into_iter()
                .map(|(scim, app)| Rule {
                    scim,
                    app: app.to_string(),
                })
                .collect(),
        }
    }

    /// Parses and validates a mapping sent by the admin. On failure, a 400 `invalidValue` whose
    /// detail lists every problem, `; `-separated, each naming the rule index and side
    /// (`rules[2].app: …`). An empty list of rules is valid and maps nothing but `user_id` and
    /// `active`; more than [`MAX_RULES`] is not.
    pub fn parse(json: &Value) -> Result<Mapping, ScimError> {
        validate::parse(json)
    }

    /// A SCIM User as rendered (with `id`, `externalId`, `meta` and the enterprise extension
    /// object) → the app profile: `user_id` (the SCIM `id`) and `active` (absent counts as
    /// `true`), then each rule's field. A SCIM value that is absent or `null` leaves its field
    /// out; `blocked` is `!active`. Rules whose SCIM path does not parse (a mapping that never
    /// went through [`Mapping::parse`]) are skipped.
    pub fn to_profile(&self, user: &Value) -> Value {
        profile::to_profile(self, user)
    }

    /// An app profile → a SCIM User body for import, running each rule backwards: a value
    /// path creates the element its filter describes (`emails[type eq "work"].value` →
    /// `emails: [{"type": "work", "value": …}]`), `blocked` sets `active` to its inverse, and
    /// the profile's own `active` is copied. Returns the body (with `schemas`) and the profile
    /// fields that were not carried over (dotted paths, sorted): fields no rule maps, and fields
    /// whose rule reads a read-only SCIM attribute such as `id` or `meta.created`, or whose
    /// value filter does not say which element to create (`emails[type eq "a" or type eq
    /// "b"]`). `user_id` is neither carried nor reported.
    ///
    /// Fails with a 400 `invalidValue` listing every problem: a value of the wrong JSON type
    /// for its SCIM attribute, two fields setting the same SCIM value differently (`active`
    /// and `blocked` disagreeing, say), or a field that would not read back as imported.
    pub fn to_scim(&self, profile: &Value) -> Result<(Value, Vec<String>), ScimError> {
        profile::to_scim(self, profile)
    }
}
