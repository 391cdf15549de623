//! Filters as SQL (RFC 7644 §3.4.2.2): a [`Filter`] becomes a `WHERE` condition over a resource
//! table, with every client-sent value bound to a `?` placeholder.
//!
//! The condition selects exactly the rows whose rendered resource (`to_scim`)
//! [`filter::matches`](crate::scim::filter::matches): same `caseExact` function, same handling of
//! absent values (`ne` holds, `eq null` holds), of multi-valued attributes (any value), of value
//! paths (one element satisfies the whole inner filter) and of dateTimes (compared as instants).
//! Where SQLite cannot reproduce the evaluator exactly, [`to_sql`] returns `None` and the caller
//! evaluates in memory instead.
//!
//! The translation relies on the stored form that [`crate::scim::resource::normalize`] produces:
//! attribute names in their schema spelling, extension attributes under their URN, no `null`s,
//! each value of its schema type. SQL names and JSON paths therefore come from the schema
//! tables, never from the client's spelling of a path.
//!
//! Case-insensitive comparison folds with SQLite's `lower()`, which folds only ASCII, while the
//! evaluator folds with Rust's Unicode `to_lowercase`. The two agree on every comparison with a
//! folded filter value that is ASCII, once the only two non-ASCII characters whose lowercase
//! holds ASCII (KELVIN SIGN → `k`, `İ` → `i̇`) are replaced first (see `predicate::fold`); a filter value
//! that is not ASCII after folding is compared in SQL only against a column that already holds
//! the Rust-folded value (`user_name_key`, `display_name_key`), and otherwise falls back.

use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter, MAX_FILTER_DEPTH};
use crate::scim::schema::{
    AttrType, Attribute, Mutability, ResourceKind, Returned, Uniqueness, GROUP_SCHEMA, USER_SCHEMA,
};
use crate::service::store::SqlValue;

mod predicate;
#[cfg(test)]
mod tests;

use predicate::{holds, Cond, Scalar};

/// What the translator needs to know about one resource table.
pub struct SqlTarget {
    pub kind: ResourceKind,
    /// The table the condition runs over; its columns are qualified with this name.
    pub table: &'static str,
    /// Whether string comparison on a path is case-sensitive: the function the in-memory
    /// evaluator is given for this resource type.
    pub case_exact: fn(&AttrPath) -> bool,
    /// The required, unique name attribute (`userName`, `displayName`): its name, the column
    /// holding its value and the column holding that value folded by
    /// [`fold_case`](super::listing::fold_case).
    pub name: (&'static str, &'static str, &'static str),
    pub external_id: &'static str,
    /// `meta.created` and `meta.lastModified`, as `YYYY-MM-DDTHH:MM:SS.mmmZ` in UTC.
    pub created: &'static str,
    pub last_modified: &'static str,
    /// The integer behind `meta.version` (`W/"<version>"`).
    pub version: &'static str,
    /// The multi-valued attribute that lives in `membership` rows.
    pub relation: Relation,
}

/// A multi-valued attribute rendered from `membership` rows rather than stored JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Relation {
    /// Group `members`: `{value, $ref, type, display?}` per row of the group.
    Members,
    /// User `groups`: `{value, $ref, display, type: "direct"}` per group naming the user.
    Groups,
}

fn user_case_exact(path: &AttrPath) -> bool {
    ResourceKind::User.case_exact(path)
}

fn group_case_exact(path: &AttrPath) -> bool {
    ResourceKind::Group.case_exact(path)
}

pub const USER_TARGET: SqlTarget = SqlTarget {
    kind: ResourceKind::User,
    table: "user",
    case_exact: user_case_exact,
    name: ("userName", "user_name", "user_name_key"),
    external_id: "external_id",
    created: "created_at",
    last_modified: "updated_at",
    version: "version",
    relation: Relation::Groups,
};

pub const GROUP_TARGET: SqlTarget = SqlTarget {
    kind: ResourceKind::Group,
    table: "scim_group",
    case_exact: group_case_exact,
    name: ("displayName", "display_name", "display_name_key"),
    external_id: "external_id",
    created: "created_at",
    last_modified: "updated_at",
    version: "version",
    relation: Relation::Members,
};

/// `Some((condition, params))` when the whole filter can run in SQLite with the evaluator's
/// semantics; `None` to fall back to in-memory evaluation.
pub fn to_sql(filter: &Filter, target: &SqlTarget) -> Option<(String, Vec<SqlValue>)> {
    // The evaluator matches nothing with a filter deeper than this (only hand-built ones are);
    // checking first also bounds the recursion below.
    if !within_depth(filter, MAX_FILTER_DEPTH) {
        return Some(("0".to_owned(), Vec::new()));
    }
    let mut translator = Translator { target, aliases: 0 };
    let cond = translator.filter(filter, &Scope::Resource)?;
    // Long `or` chains fit the grammar's limits but not a Durable Object's statement limits.
    if cond.params.len() > MAX_PARAMS || cond.sql.len() > MAX_SQL_LEN {
        return None;
    }
    Some((cond.sql, cond.params))
}

/// Most placeholders a condition may use: a Durable Object binds at most 100 per statement,
/// and listing binds `LIMIT` and `OFFSET` after the condition.
pub const MAX_PARAMS: usize = 98;

/// Longest condition, in bytes: well under a Durable Object's 100 KB statement limit.
pub const MAX_SQL_LEN: usize = 64 * 1024;

/// `schemas`, which every stored resource carries and no schema declares.
static SCHEMAS: Attribute = Attribute {
    name: "schemas",
    ty: AttrType::Reference,
    multi_valued: true,
    description: "The schema URNs of the resource (RFC 7643 §3).",
    required: true,
    case_exact: false,
    mutability: Mutability::ReadWrite,
    returned: Returned::Always,
    uniqueness: Uniqueness::None,
    canonical_values: &[],
    reference_types: &[],
    sub_attributes: &[],
};

/// The values a comparison tests, one of which must satisfy it.
enum Leaves {
    Nothing,
    One(Scalar),
    /// One value per row of `FROM {source} WHERE {correlate}`.
    Each {
        source: String,
        correlate: Option<String>,
        scalar: Scalar,
    },
}

/// Membership rows for one occurrence of the relation, under fresh aliases.
#[derive(Clone)]
struct Rows {
    source: String,
    correlate: String,
    value: Scalar,
    kind: Scalar,
    display: Scalar,
}

/// Where an attribute path leads in the rendered resource.
enum Resolved {
    /// Never a value.
    Absent,
    /// At most one value.
    Scalar(Scalar),
    /// Stored JSON at `path` (keys from the schema), `sub` when a sub-attribute is named.
    Json {
        path: Vec<&'static str>,
        attr: &'static Attribute,
        sub: Option<&'static Attribute>,
    },
    /// `meta` itself: an object without `value`.
    Meta,
    /// The relation's rows, and the sub-attribute named, if any.
    Relation {
        rows: Box<Rows>,
        sub: Option<Scalar>,
    },
}

/// What a path inside `attr[...]` is relative to.
enum Element {
    /// An element of a JSON array, iterated by `json_each` as `alias`.
    Item {
        alias: String,
        attr: &'static Attribute,
    },
    /// The single complex value at `path`.
    Object {
        path: Vec<&'static str>,
        attr: &'static Attribute,
    },
    Row(Box<Rows>),
}

enum Scope<'a> {
    Resource,
    Element {
        outer: &'a AttrPath,
        element: Element,
    },
}

struct Translator<'t> {
    target: &'t SqlTarget,
    /// Aliases handed out so far, so nested subqueries never shadow each other.
    aliases: usize,
}

impl Translator<'_> {
    fn alias(&mut self, prefix: &str) -> String {
        self.aliases += 1;
        format!("{prefix}{}", self.aliases)
    }

    fn column(&self, name: &str) -> String {
        format!("{}.{name}", self.target.table)
    }

    /// The recursion is bounded by [`within_depth`], checked in [`to_sql`].
    fn filter(&mut self, filter: &Filter, scope: &Scope) -> Option<Cond> {
        match filter {
            Filter::Compare { path, op, value } => self.compare(scope, path, *op, value),
            Filter::Present(path) => self.present(scope, path),
            Filter::And(a, b) => Some(self.filter(a, scope)?.join("AND", self.filter(b, scope)?)),
            Filter::Or(a, b) => Some(self.filter(a, scope)?.join("OR", self.filter(b, scope)?)),
            Filter::Not(inner) => Some(self.filter(inner, scope)?.negate()),
            Filter::ValuePath { path, filter } => match scope {
                Scope::Resource => self.value_path(path, filter),
                // The grammar has no nested value filters.
                Scope::Element { .. } => None,
            },
        }
    }

    fn compare(
        &mut self,
        scope: &Scope,
        path: &AttrPath,
        op: CompareOp,
        value: &CompValue,
    ) -> Option<Cond> {
        let exact =
            matches!(value, CompValue::Str(_)) && (self.target.case_exact)(&full_path(scope, path));
        let resolved = self.resolve(scope, path)?;
        let leaves = self.leaves(resolved)?;
        match (op, value) {
            (CompareOp::Eq, CompValue::Null) => Some(absent(leaves)),
            (CompareOp::Ne, CompValue::Null) => Some(absent(leaves).negate()),
            (_, CompValue::Null) => Some(Cond::constant(false)),
            // "Not equal": no value equals, including when there is none.
            (CompareOp::Ne, _) => {
                Some(any(leaves, |s| holds(s, CompareOp::Eq, value, exact))?.negate())
            }
            _ => any(leaves, |s| holds(s, op, value, exact)),
        }
    }

    /// `pr`: some value the path resolves to is non-empty (the evaluator tests what the path
    /// resolves to, not the `value`s of complex values).
    fn present(&mut self, scope: &Scope, path: &AttrPath) -> Option<Cond> {
        let sql = match self.resolve(scope, path)? {
            Resolved::Absent => "0".to_owned(),
            Resolved::Meta => "1".to_owned(),
            Resolved::Scalar(scalar) => scalar.present(),
            Resolved::Json { path, attr, sub } => match sub {
                None => self.json_scalar(&path, attr)?.present(),
                Some(sub) if !attr.multi_valued => self
                    .json_scalar(&[path, vec![sub.name]].concat(), sub)?
                    .present(),
                Some(sub) => {
                    let alias = self.alias("e");
                    let source = self.json_each(&path, &alias)?;
                    let member = member(&alias, sub)?;
                    format!("EXISTS (SELECT 1 FROM {source} WHERE {})", member.present())
                }
            },
            Resolved::Relation { rows, sub } => {
                let condition = match sub {
                    Some(scalar) => format!(" AND {}", scalar.present()),
                    None => String::new(),
                };
                format!(
                    "EXISTS (SELECT 1 FROM {} WHERE {}{condition})",
                    rows.source, rows.correlate
                )
            }
        };
        Some(Cond::sql(sql))
    }

    /// `attr[filter]`: some element of `attr` satisfies the whole inner filter.
    fn value_path(&mut self, path: &AttrPath, inner: &Filter) -> Option<Cond> {
        match self.resolve(&Scope::Resource, path)? {
            Resolved::Json {
                path: keys,
                attr,
                sub: None,
            } if attr.ty == AttrType::Complex => {
                if attr.multi_valued {
                    let alias = self.alias("e");
                    let source = self.json_each(&keys, &alias)?;
                    let scope = Scope::Element {
                        outer: path,
                        element: Element::Item {
                            alias: alias.clone(),
                            attr,
                        },
                    };
                    let cond = self.filter(inner, &scope)?;
                    Some(Cond::with(
                        format!(
                            "EXISTS (SELECT 1 FROM {source} WHERE {alias}.type = 'object' AND {})",
                            cond.sql
                        ),
                        cond.params,
                    ))
                } else {
                    let object = self.json_scalar(&keys, attr)?;
                    let guard = format!("{} IS 'object'", object.json_type.unwrap_or_default());
                    let scope = Scope::Element {
                        outer: path,
                        element: Element::Object { path: keys, attr },
                    };
                    Some(self.filter(inner, &scope)?.guarded(Some(guard)))
                }
            }
            Resolved::Relation { rows, sub: None } => {
                let (source, correlate) = (rows.source.clone(), rows.correlate.clone());
                let scope = Scope::Element {
                    outer: path,
                    element: Element::Row(rows),
                };
                let cond = self.filter(inner, &scope)?;
                Some(Cond::with(
                    format!(
                        "EXISTS (SELECT 1 FROM {source} WHERE {correlate} AND {})",
                        cond.sql
                    ),
                    cond.params,
                ))
            }
            // `meta[...]` would filter the meta object; not worth translating.
            Resolved::Meta => None,
            // Simple values and absent attributes have no complex elements to filter.
            _ => Some(Cond::constant(false)),
        }
    }

    /// Where `path` leads; `None` when it leads somewhere SQL cannot see (`$ref`s and
    /// `meta.location` hold the request's base URL).
    fn resolve(&mut self, scope: &Scope, path: &AttrPath) -> Option<Resolved> {
        match scope {
            Scope::Resource => self.resolve_in_resource(path),
            Scope::Element { element, .. } => {
                // The grammar gives paths inside `[...]` neither URN nor sub-attribute.
                if path.urn.is_some() || path.sub_attr.is_some() {
                    return None;
                }
                let name = path.attr.as_str();
                let scalar = match element {
                    Element::Item { alias, attr } => match attr.sub_attribute(name) {
                        Some(sub) => member(alias, sub)?,
                        None => return Some(Resolved::Absent),
                    },
                    Element::Object { path, attr } => match attr.sub_attribute(name) {
                        Some(sub) => {
                            self.json_scalar(&[path.clone(), vec![sub.name]].concat(), sub)?
                        }
                        None => return Some(Resolved::Absent),
                    },
                    Element::Row(rows) => return rows_member(rows, name),
                };
                Some(Resolved::Scalar(scalar))
            }
        }
    }

    fn resolve_in_resource(&mut self, path: &AttrPath) -> Option<Resolved> {
        let target = self.target;
        let is = |name: &str| path.attr.eq_ignore_ascii_case(name);
        // The evaluator reads both core schema URNs as the top level of any resource.
        let at_top = path.urn.as_deref().is_none_or(|urn| {
            [USER_SCHEMA, GROUP_SCHEMA]
                .iter()
                .any(|c| c.eq_ignore_ascii_case(urn))
        });
        if let (false, Some(urn)) = (at_top, path.urn.as_deref()) {
            let extension = target
                .kind
                .extensions()
                .iter()
                .find(|s| s.id.eq_ignore_ascii_case(urn));
            let Some(extension) = extension else {
                return Some(Resolved::Absent);
            };
            return Some(match extension.attribute(&path.attr) {
                Some(attr) => json_attribute(
                    vec![extension.id, attr.name],
                    attr,
                    path.sub_attr.as_deref(),
                ),
                None => Resolved::Absent,
            });
        }
        let simple = |scalar: Scalar| match path.sub_attr {
            None => Resolved::Scalar(scalar),
            Some(_) => Resolved::Absent,
        };
        let (name, name_column, folded_column) = target.name;
        if is("id") {
            return Some(simple(Scalar::column(self.column("id"), true)));
        }
        if is("externalId") {
            return Some(simple(Scalar::column(
                self.column(target.external_id),
                false,
            )));
        }
        if is(name) {
            let mut scalar = Scalar::column(self.column(name_column), true);
            scalar.folded = Some(self.column(folded_column));
            return Some(simple(scalar));
        }
        if is("meta") {
            return self.meta(path.sub_attr.as_deref());
        }
        if is("schemas") {
            return Some(json_attribute(
                vec![SCHEMAS.name],
                &SCHEMAS,
                path.sub_attr.as_deref(),
            ));
        }
        let relation = match target.relation {
            Relation::Members => "members",
            Relation::Groups => "groups",
        };
        if is(relation) {
            let rows = self.rows();
            return match path.sub_attr.as_deref() {
                None => Some(Resolved::Relation { rows, sub: None }),
                Some(sub) => match rows_member(&rows, sub)? {
                    Resolved::Scalar(scalar) => Some(Resolved::Relation {
                        rows,
                        sub: Some(scalar),
                    }),
                    other => Some(other),
                },
            };
        }
        Some(match target.kind.core_schema().attribute(&path.attr) {
            Some(attr) => json_attribute(vec![attr.name], attr, path.sub_attr.as_deref()),
            None => Resolved::Absent,
        })
    }

    /// `meta` and its sub-attributes as rendered by `to_scim`.
    fn meta(&self, sub: Option<&str>) -> Option<Resolved> {
        let Some(sub) = sub else {
            return Some(Resolved::Meta);
        };
        let is = |name: &str| sub.eq_ignore_ascii_case(name);
        let target = self.target;
        let scalar = if is("created") || is("lastModified") {
            let column = if is("created") {
                target.created
            } else {
                target.last_modified
            };
            let mut scalar = Scalar::column(self.column(column), true);
            scalar.timestamp = true;
            scalar
        } else if is("resourceType") {
            Scalar::column(sql_string(target.kind.name())?, true)
        } else if is("version") {
            Scalar::column(
                format!("('W/\"' || {} || '\"')", self.column(target.version)),
                true,
            )
        } else if is("location") {
            // Holds the request's base URL.
            return None;
        } else {
            return Some(Resolved::Absent);
        };
        Some(Resolved::Scalar(scalar))
    }

    /// The relation's rows, correlated with the outer row, under fresh aliases.
    fn rows(&mut self) -> Box<Rows> {
        let m = self.alias("m");
        let id = self.column("id");
        match self.target.relation {
            Relation::Members => Box::new(Rows {
                source: format!("membership AS {m}"),
                correlate: format!("{m}.group_id = {id}"),
                value: Scalar::column(format!("{m}.member_id"), true),
                kind: Scalar::column(format!("{m}.member_type"), true),
                display: Scalar::column(format!("{m}.display"), false),
            }),
            Relation::Groups => {
                let g = self.alias("g");
                Box::new(Rows {
                    source: format!(
                        "membership AS {m} JOIN scim_group AS {g} ON {g}.id = {m}.group_id"
                    ),
                    correlate: format!("{m}.member_id = {id}"),
                    value: Scalar::column(format!("{g}.id"), true),
                    kind: Scalar::column("'direct'".to_owned(), true),
                    display: Scalar::column(format!("{g}.display_name"), true),
                })
            }
        }
    }

    /// The values a comparison on `resolved` tests: complex values through their `value`.
    fn leaves(&mut self, resolved: Resolved) -> Option<Leaves> {
        let leaves = match resolved {
            Resolved::Absent | Resolved::Meta => Leaves::Nothing,
            Resolved::Scalar(scalar) => Leaves::One(scalar),
            Resolved::Relation { rows, sub } => Leaves::Each {
                scalar: sub.unwrap_or(rows.value),
                source: rows.source,
                correlate: Some(rows.correlate),
            },
            Resolved::Json { path, attr, sub } => {
                let complex = attr.ty == AttrType::Complex;
                // The sub-attribute compared: the one named, or `value` of a complex value.
                let leaf = match sub {
                    Some(sub) => Some(sub),
                    None if complex => attr.sub_attribute("value"),
                    None => None,
                };
                match (attr.multi_valued, complex, leaf) {
                    (_, true, None) => Leaves::Nothing,
                    (false, _, None) => Leaves::One(self.json_scalar(&path, attr)?),
                    (false, _, Some(leaf)) => {
                        Leaves::One(self.json_scalar(&[path, vec![leaf.name]].concat(), leaf)?)
                    }
                    (true, _, leaf) => {
                        let alias = self.alias("e");
                        let scalar = match leaf {
                            Some(leaf) => member(&alias, leaf)?,
                            None => Scalar::json(
                                format!("{alias}.value"),
                                format!("{alias}.type"),
                                attr,
                            ),
                        };
                        Leaves::Each {
                            source: self.json_each(&path, &alias)?,
                            correlate: None,
                            scalar,
                        }
                    }
                }
            }
        };
        Some(leaves)
    }

    /// The JSON value at `keys` of the stored resource.
    fn json_scalar(&self, keys: &[&'static str], attr: &Attribute) -> Option<Scalar> {
        let path = json_path(keys)?;
        let resource = self.column("resource");
        Some(Scalar::json(
            format!("json_extract({resource}, {path})"),
            format!("json_type({resource}, {path})"),
            attr,
        ))
    }

    /// `json_each` over the array at `keys` of the stored resource, as `alias`.
    fn json_each(&self, keys: &[&'static str], alias: &str) -> Option<String> {
        let path = json_path(keys)?;
        Some(format!(
            "json_each({}, {path}) AS {alias}",
            self.column("resource")
        ))
    }
}

/// A stored attribute and, when named, its sub-attribute.
fn json_attribute(
    path: Vec<&'static str>,
    attr: &'static Attribute,
    sub: Option<&str>,
) -> Resolved {
    match sub {
        None => Resolved::Json {
            path,
            attr,
            sub: None,
        },
        Some(sub) => match attr.sub_attribute(sub) {
            Some(sub) if attr.ty == AttrType::Complex => Resolved::Json {
                path,
                attr,
                sub: Some(sub),
            },
            _ => Resolved::Absent,
        },
    }
}

/// The sub-attribute `name` of a relation row; `None` for `$ref`, which holds the base URL.
fn rows_member(rows: &Rows, name: &str) -> Option<Resolved> {
    let is = |n: &str| name.eq_ignore_ascii_case(n);
    let scalar = if is("value") {
        rows.value.clone()
    } else if is("type") {
        rows.kind.clone()
    } else if is("display") {
        rows.display.clone()
    } else if is("$ref") {
        return None;
    } else {
        return Some(Resolved::Absent);
    };
    Some(Resolved::Scalar(scalar))
}

/// Member `sub` of the JSON array element `alias`, when that element is an object. `CASE`
/// keeps `json_extract` away from elements that are not JSON objects.
fn member(alias: &str, sub: &Attribute) -> Option<Scalar> {
    let path = json_path(&[sub.name])?;
    let object = format!("{alias}.type = 'object'");
    Some(Scalar::json(
        format!("(CASE WHEN {object} THEN json_extract({alias}.value, {path}) END)"),
        format!("(CASE WHEN {object} THEN json_type({alias}.value, {path}) END)"),
        sub,
    ))
}

/// A quoted JSON path literal for schema-given keys, e.g. `'$."urn:…:User"."department"'`.
fn json_path(keys: &[&'static str]) -> Option<String> {
    let mut path = String::from("'$");
    for key in keys {
        if key.is_empty() || key.contains(['"', '\'', '\\']) {
            return None;
        }
        path.push_str(&format!(".\"{key}\""));
    }
    path.push('\'');
    Some(path)
}

/// A string literal for a schema-given name.
fn sql_string(text: &'static str) -> Option<String> {
    (!text.contains('\'')).then(|| format!("'{text}'"))
}

/// The path as the `caseExact` function knows it: inside `emails[...]`, `type` is `emails.type`.
fn full_path(scope: &Scope, path: &AttrPath) -> AttrPath {
    match scope {
        Scope::Element { outer, .. } => AttrPath {
            urn: outer.urn.clone(),
            attr: outer.attr.clone(),
            sub_attr: Some(path.attr.clone()),
        },
        Scope::Resource => path.clone(),
    }
}

/// Some leaf satisfies `holds`.
fn any(leaves: Leaves, holds: impl Fn(&Scalar) -> Option<Cond>) -> Option<Cond> {
    match leaves {
        Leaves::Nothing => Some(Cond::constant(false)),
        Leaves::One(scalar) => holds(&scalar),
        Leaves::Each {
            source,
            correlate,
            scalar,
        } => {
            let cond = holds(&scalar)?;
            let correlate = correlate.map(|c| format!("{c} AND ")).unwrap_or_default();
            Some(Cond::with(
                format!(
                    "EXISTS (SELECT 1 FROM {source} WHERE {correlate}{})",
                    cond.sql
                ),
                cond.params,
            ))
        }
    }
}

/// No leaf has a value (`eq null`).
fn absent(leaves: Leaves) -> Cond {
    let some = any(leaves, |scalar| Some(Cond::sql(scalar.exists())));
    some.map_or_else(|| Cond::constant(true), Cond::negate)
}

/// Whether `filter` is at most `budget` and/or/not/value-path levels deep, as the evaluator
/// counts them.
fn within_depth(filter: &Filter, budget: usize) -> bool {
    match filter {
        Filter::Compare { .. } | Filter::Present(_) => true,
        Filter::And(a, b) | Filter::Or(a, b) => {
            budget > 0 && within_depth(a, budget - 1) && within_depth(b, budget - 1)
        }
        Filter::Not(inner) | Filter::ValuePath { filter: inner, .. } => {
            budget > 0 && within_depth(inner, budget - 1)
        }
    }
}
