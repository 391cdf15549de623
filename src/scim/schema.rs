//! Attribute characteristics, declared once (RFC 7643 §2, §7).
//!
//! The User, EnterpriseUser and Group schemas follow the representations of RFC 7643 §8.7.1
//! attribute by attribute. Validation ([`crate::scim::resource`]), projection and the `/Schemas`
//! endpoint all read these tables; nothing else restates a characteristic.
//!
//! Where this service departs from §8.7.1 it says so next to the definition: Group
//! `displayName` is required and unique per connection, Group `members` carries a writable
//! `display` and requires `value`, and User `addresses` has the `primary` sub-attribute of §4.1.2.

mod build;
mod common;
mod group;
mod model;
mod user;

pub use common::COMMON_ATTRIBUTES;

use super::filter::ast::AttrPath;
pub use group::GROUP;
pub use user::{ENTERPRISE_USER, USER};

pub use model::{
    AttrType, Attribute, Mutability, Returned, Schema, Uniqueness, ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA, SCHEMA_SCHEMA, USER_SCHEMA,
};

/// Looks up a common attribute (`id`, `externalId`, `meta`) case-insensitively.
pub fn common_attribute(name: &str) -> Option<&'static Attribute> {
    model::find(COMMON_ATTRIBUTES, name)
}

/// A SCIM resource type served by this service (RFC 7643 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

static USER_EXTENSIONS: &[&Schema] = &[&ENTERPRISE_USER];
static NO_EXTENSIONS: &[&Schema] = &[];

impl ResourceKind {
    /// The schema named by the resource type's `schema` member (RFC 7643 §6).
    pub fn core_schema(self) -> &'static Schema {
        match self {
            ResourceKind::User => &USER,
            ResourceKind::Group => &GROUP,
        }
    }

    /// The schema extensions a resource of this type may carry (RFC 7643 §6,
    /// `schemaExtensions`); none of them is required.
    pub fn extensions(self) -> &'static [&'static Schema] {
        match self {
            ResourceKind::User => USER_EXTENSIONS,
            ResourceKind::Group => NO_EXTENSIONS,
        }
    }

    /// The core schema or an extension of this type, by URN compared case-insensitively.
    pub fn schema(self, urn: &str) -> Option<&'static Schema> {
        std::iter::once(self.core_schema())
            .chain(self.extensions().iter().copied())
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The resource type name (`meta.resourceType`).
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// Whether string comparison on an attribute path of this type is case-sensitive (RFC 7643
    /// §2.2 `caseExact`): `id`, `externalId` and `meta` always are; a path no schema of this
    /// type defines is not. The URN, when given, picks the schema (else the core schema).
    pub fn case_exact(self, path: &AttrPath) -> bool {
        if ["id", "externalId", "meta"]
            .iter()
            .any(|a| path.attr.eq_ignore_ascii_case(a))
        {
            return true;
        }
        let schema = path
            .urn
            .as_deref()
            .and_then(|urn| self.schema(urn))
            .unwrap_or(self.core_schema());
        let Some(attribute) = schema.attribute(&path.attr) else {
            return false;
        };
        match &path.sub_attr {
            Some(sub) => attribute.sub_attribute(sub).is_some_and(|s| s.case_exact),
            None => attribute.case_exact,
        }
    }

    /// The endpoint relative to the SCIM base URL.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    const BASE: &str = "https://scim.example.com/scim/v2/conn_1/";

    /// The attribute called `name` in a JSON array of attribute definitions.
    fn member<'a>(attributes: &'a Value, name: &str) -> &'a Value {
        attributes
            .as_array()
            .into_iter()
            .flatten()
            .find(|a| a["name"] == name)
            .unwrap_or(&Value::Null)
    }

    fn all_schemas() -> [&'static Schema; 3] {
        [&USER, &ENTERPRISE_USER, &GROUP]
    }

    #[test]
    fn rfc7643_8_7_1_user_to_json_marks_password_and_user_name() {
        let json = USER.to_json(BASE);
        let attributes = &json["attributes"];

        let password = member(attributes, "password");
        assert_eq!(password["mutability"], "writeOnly");
        assert_eq!(password["returned"], "never");
        assert_eq!(password["type"], "string");

        let user_name = member(attributes, "userName");
        assert_eq!(user_name["required"], true);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["mutability"], "readWrite");
        assert_eq!(user_name["returned"], "default");
    }

    #[test]
    fn rfc7643_7_every_complex_attribute_lists_sub_attributes() {
        fn walk(attributes: &Value, complex_seen: &mut usize) {
            for attr in attributes.as_array().into_iter().flatten() {
                let subs = &attr["subAttributes"];
                if attr["type"] == "complex" {
                    *complex_seen += 1;
                    assert!(
                        subs.as_array().is_some_and(|s| !s.is_empty()),
                        "{} has no subAttributes",
                        attr["name"]
                    );
                    walk(subs, complex_seen);
                } else {
                    assert!(subs.is_null(), "{} is not complex", attr["name"]);
                }
                if attr["type"] == "reference" {
                    assert!(attr["referenceTypes"].is_array(), "{}", attr["name"]);
                }
            }
        }
        let mut complex_seen = 0;
        for schema in all_schemas() {
            walk(&schema.to_json(BASE)["attributes"], &mut complex_seen);
        }
        // name, emails, phoneNumbers, ims, photos, addresses, groups, entitlements, roles,
        // x509Certificates, manager, members.
        assert_eq!(complex_seen, 12);
    }

    #[test]
    fn rfc7643_7_schema_resource_has_meta_and_omits_common_attributes() {
        let json = USER.to_json(BASE);
        assert_eq!(json["id"], USER_SCHEMA);
        assert_eq!(json["name"], "User");
        assert_eq!(json["schemas"][0], SCHEMA_SCHEMA);
        assert_eq!(json["meta"]["resourceType"], "Schema");
        assert_eq!(
            json["meta"]["location"],
            format!("https://scim.example.com/scim/v2/conn_1/Schemas/{USER_SCHEMA}")
        );
        for common in ["id", "externalId", "meta", "schemas"] {
            assert!(member(&json["attributes"], common).is_null(), "{common}");
        }
    }

    #[test]
    fn rfc7643_7_type_and_characteristic_names_are_the_rfc_spellings() {
        let json = USER.to_json(BASE);
        let attributes = &json["attributes"];
        assert_eq!(member(attributes, "active")["type"], "boolean");
        assert_eq!(member(attributes, "profileUrl")["type"], "reference");
        assert_eq!(
            member(attributes, "profileUrl")["referenceTypes"],
            serde_json::json!(["external"])
        );
        let certificates = &member(attributes, "x509Certificates")["subAttributes"];
        assert_eq!(member(certificates, "value")["type"], "binary");
        let emails = member(attributes, "emails");
        assert_eq!(emails["multiValued"], true);
        assert_eq!(
            member(&emails["subAttributes"], "type")["canonicalValues"],
            serde_json::json!(["work", "home", "other"])
        );
        // Empty canonical value lists are left out.
        let roles = &member(attributes, "roles")["subAttributes"];
        assert!(member(roles, "type")["canonicalValues"].is_null());
        let groups = member(attributes, "groups");
        assert_eq!(groups["mutability"], "readOnly");
        assert_eq!(
            member(&groups["subAttributes"], "$ref")["mutability"],
            "readOnly"
        );
        assert_eq!(AttrType::DateTime.as_str(), "dateTime");
        assert_eq!(Mutability::Immutable.as_str(), "immutable");
        assert_eq!(Returned::Request.as_str(), "request");
        assert_eq!(Uniqueness::Global.as_str(), "global");
    }

    #[test]
    fn rfc7643_8_7_1_multi_valued_complex_attributes_have_value_display_type_primary() {
        for name in [
            "emails",
            "phoneNumbers",
            "ims",
            "photos",
            "entitlements",
            "roles",
            "x509Certificates",
        ] {
            let attr = USER.attribute(name);
            assert!(attr.is_some_and(|a| a.multi_valued), "{name}");
            for sub in ["value", "display", "type", "primary"] {
                assert!(
                    attr.and_then(|a| a.sub_attribute(sub)).is_some(),
                    "{name}.{sub}"
                );
            }
        }
        let addresses = USER.attribute("addresses");
        assert!(addresses.and_then(|a| a.sub_attribute("primary")).is_some());
        assert_eq!(
            addresses.map(|a| a.sub_attributes.len()),
            Some(8),
            "formatted, streetAddress, locality, region, postalCode, country, type, primary"
        );
    }

    #[test]
    fn rfc7643_8_7_1_group_members_and_display_name() {
        let display_name = GROUP.attribute("displayName");
        assert!(display_name.is_some_and(|a| a.required && a.uniqueness == Uniqueness::Server));
        let members = GROUP.attribute("members");
        assert!(members.is_some_and(|a| a.multi_valued && a.ty == AttrType::Complex));
        for sub in ["value", "$ref", "type"] {
            let mutability = members
                .and_then(|m| m.sub_attribute(sub))
                .map(|s| s.mutability);
            assert_eq!(mutability, Some(Mutability::Immutable), "members.{sub}");
        }
        let member_type = members.and_then(|m| m.sub_attribute("type"));
        assert_eq!(
            member_type.map(|t| t.canonical_values),
            Some(&["User", "Group"][..])
        );
        let display = members.and_then(|m| m.sub_attribute("display"));
        assert!(display.is_some_and(|d| d.mutability == Mutability::ReadWrite));
    }

    #[test]
    fn rfc7643_8_7_1_enterprise_user_manager() {
        let manager = ENTERPRISE_USER.attribute("manager");
        let sub = |name: &str| manager.and_then(|m| m.sub_attribute(name));
        assert!(sub("value").is_some_and(|s| s.mutability == Mutability::ReadWrite));
        assert!(sub("$ref").is_some_and(|s| s.reference_types == ["User"]));
        assert!(sub("displayName").is_some_and(|s| s.mutability == Mutability::ReadOnly));
        for name in [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
        ] {
            assert!(ENTERPRISE_USER.attribute(name).is_some(), "{name}");
        }
    }

    #[test]
    fn rfc7643_3_1_common_attributes() {
        let id = common_attribute("ID");
        assert!(id.is_some_and(|a| a.mutability == Mutability::ReadOnly
            && a.returned == Returned::Always
            && a.case_exact
            && a.uniqueness == Uniqueness::Server));
        let external_id = common_attribute("externalid");
        assert!(external_id.is_some_and(|a| a.mutability == Mutability::ReadWrite && a.case_exact));
        let meta = common_attribute("meta");
        assert!(meta.is_some_and(|a| a.mutability == Mutability::ReadOnly));
        for sub in [
            "resourceType",
            "created",
            "lastModified",
            "location",
            "version",
        ] {
            assert!(
                meta.and_then(|m| m.sub_attribute(sub)).is_some(),
                "meta.{sub}"
            );
        }
        let created = meta.and_then(|m| m.sub_attribute("created"));
        assert!(created.is_some_and(|c| c.ty == AttrType::DateTime));
    }

    #[test]
    fn rfc7643_2_1_lookups_are_case_insensitive() {
        assert_eq!(USER.attribute("USERNAME").map(|a| a.name), Some("userName"));
        assert_eq!(
            USER.attribute("x509certificates").map(|a| a.name),
            Some("x509Certificates")
        );
        let given = USER
            .attribute("Name")
            .and_then(|n| n.sub_attribute("GIVENNAME"));
        assert_eq!(given.map(|a| a.name), Some("givenName"));
        assert!(USER.attribute("favoriteColor").is_none());
        assert!(
            USER.attribute("id").is_none(),
            "common attributes are not in the schema"
        );
    }

    #[test]
    fn rfc7643_6_resource_kinds() {
        assert_eq!(ResourceKind::User.core_schema().id, USER_SCHEMA);
        assert_eq!(ResourceKind::Group.core_schema().id, GROUP_SCHEMA);
        let user_extensions: Vec<&str> = ResourceKind::User
            .extensions()
            .iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(user_extensions, [ENTERPRISE_USER_SCHEMA]);
        assert!(ResourceKind::Group.extensions().is_empty());
        assert_eq!(ResourceKind::User.name(), "User");
        assert_eq!(ResourceKind::Group.name(), "Group");
        assert_eq!(ResourceKind::User.endpoint(), "/Users");
        assert_eq!(ResourceKind::Group.endpoint(), "/Groups");
        let upper = ENTERPRISE_USER_SCHEMA.to_ascii_uppercase();
        assert_eq!(
            ResourceKind::User.schema(&upper).map(|s| s.name),
            Some("EnterpriseUser")
        );
        assert!(ResourceKind::Group.schema(ENTERPRISE_USER_SCHEMA).is_none());
    }
}
