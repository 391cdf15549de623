//! Differential tests: for every filter, the rows the SQL condition selects are exactly the
//! resources the in-memory evaluator matches, and the filters claimed translatable are.

use serde_json::{json, Value};

use super::*;
use crate::scim::filter::{matches, parse_filter};
use crate::scim::ScimError;
use crate::service::clock::{Random, Timestamp};
use crate::service::directory::user::Ctx;
use crate::service::directory::{group, user};
use crate::service::migration::migrate_connection;
use crate::service::sqlite::SqliteStore;
use crate::service::store::Store;

const BASE: &str = "https://scim.example/scim/v2/con_1";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// 2027-01-15T08:00:00.000Z.
const START: i64 = 1_800_000_000_000;

/// Deterministic ids (SplitMix64).
struct Counter(u64);

impl Random for Counter {
    fn fill(&mut self, buf: &mut [u8]) -> Result<(), ScimError> {
        for chunk in buf.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
        Ok(())
    }
}

/// Hand-written users covering the awkward cases: mixed case, LIKE wildcards and quotes in
/// values, non-ASCII case pairs (including KELVIN SIGN and `İ`, whose lowercase is partly
/// ASCII), empty strings, NUL, dateTime-shaped strings, missing attributes.
fn special_users() -> Vec<Value> {
    vec![
        json!({
            "userName": "bjensen@example.com",
            "externalId": "ext-1",
            "name": { "familyName": "Jensen", "givenName": "Barbara" },
            "displayName": "Babs Jensen",
            "nickName": "Babs",
            "title": "Tour Guide",
            "userType": "Employee",
            "active": true,
            "emails": [
                { "value": "bjensen@example.com", "type": "work", "primary": true },
                { "value": "babs@jensen.org", "type": "home" }
            ],
            "ims": [{ "value": "someaimhandle", "type": "aim" }],
            "addresses": [{ "locality": "Hollywood", "type": "work", "primary": true }],
            "phoneNumbers": [{ "value": "555-555-5555", "type": "work" }],
            ENTERPRISE: {
                "employeeNumber": "701984",
                "department": "Tour Operations",
                "manager": {
                    "value": "26118915-6090-4610-87e4-49d8ca9f808d",
                    "$ref": "../Users/26118915-6090-4610-87e4-49d8ca9f808d"
                }
            }
        }),
        json!({
            "userName": "BJensen2@Example.COM",
            "externalId": "EXT-1-upper",
            "name": { "familyName": "JENSEN", "givenName": "barbara" },
            "title": "TOUR GUIDE",
            "userType": "employee",
            "active": false,
            "emails": [
                { "value": "Babs@EXAMPLE.com", "type": "Work" },
                { "type": "home", "primary": false },
                { "value": "", "type": "other", "primary": true }
            ],
            ENTERPRISE: { "department": "tour operations", "manager": "mgr-1" }
        }),
        json!({
            "userName": "100%_sure",
            "title": "50% off_sale",
            "nickName": "",
            "emails": [{ "value": "a%b_c@x.com", "type": "work" }],
            "roles": [{ "value": "admin" }, { "value": "Auditor", "primary": true }]
        }),
        json!({
            "userName": "o'brien",
            "name": { "familyName": "O'Brien", "givenName": "Conan" },
            "displayName": "Say \"hi\"",
            "title": "",
            "active": true,
            "emails": [{ "value": "o'brien@example.org", "display": "Conan" }]
        }),
        json!({
            "userName": "quote\"user",
            "displayName": "100% \"quoted\" _name_",
            "nickName": "q",
            "active": false
        }),
        json!({
            "userName": "Élise.Müller",
            "name": { "familyName": "MÜLLER", "givenName": "Élise" },
            "displayName": "ÉLISE",
            "title": "Ärztin",
            "emails": [{ "value": "ÉLISE@EXAMPLE.FR", "type": "work" }],
            ENTERPRISE: { "department": "Médecine" }
        }),
        json!({
            "userName": "\u{212A}elvin",
            "name": { "familyName": "\u{212A}ING" },
            "title": "\u{212A}ing of Cold",
            "emails": [{ "value": "\u{212A}@cold.example", "type": "home" }]
        }),
        json!({
            "userName": "\u{130}stanbul",
            "title": "\u{130}STANBUL",
            "nickName": "Ist",
            "active": true
        }),
        json!({
            "userName": "nul-user",
            "title": "nul\u{0}byte",
            "nickName": "\u{0}"
        }),
        json!({
            "userName": "dated",
            "title": "2020-01-01T00:00:00Z",
            "nickName": "2020-06-01t12:00:00+02:00",
            "x509Certificates": [{ "value": "TUlJRA==" }],
            "entitlements": [{ "value": "vpn", "type": "network" }]
        }),
        json!({ "userName": "minimal" }),
        json!({
            "userName": "ZED",
            "name": { "formatted": "Zed Zee" },
            "title": "tour guide",
            "userType": "Contractor",
            "emails": [
                { "value": "zed@example.com", "type": "home" },
                { "value": "zed@work.example.com", "type": "work", "primary": true },
                { "value": "zed@other.example", "type": "other" }
            ],
            "addresses": [{ "locality": "hollywood", "type": "home" }],
            ENTERPRISE: { "employeeNumber": "9", "costCenter": "CC-1" }
        }),
    ]
}

/// Generated users with attributes switched on and off by their index.
fn generated_user(i: usize) -> Value {
    let domains = ["acme.com", "Example.com", "ACME.COM", "corp.example"];
    let types = ["work", "home", "other"];
    let mut user = json!({
        "userName": format!("{}{i:02}@{}", if i.is_multiple_of(2) { "user" } else { "User" }, domains[i % 4]),
    });
    match i % 3 {
        0 => user["active"] = json!(true),
        1 => user["active"] = json!(false),
        _ => {}
    }
    if i % 4 != 3 {
        user["externalId"] = json!(format!("gen-{i}"));
    }
    if !i.is_multiple_of(5) {
        user["name"] = json!({
            "familyName": format!("Family{}", i % 7),
            "givenName": if i.is_multiple_of(2) { "Ann" } else { "ann" },
        });
    }
    if i % 3 != 2 {
        let title = ["Engineer", "engineer", "Manager", "Tour Guide"][i % 4];
        user["title"] = json!(title);
    }
    let emails: Vec<Value> = (0..i % 4)
        .map(|k| {
            let mut email = json!({
                "value": format!("u{i}.{k}@{}", domains[(i + k) % 4]),
                "type": types[(i + k) % 3],
            });
            if k == 1 {
                email["primary"] = json!(true);
            }
            email
        })
        .collect();
    if !emails.is_empty() {
        user["emails"] = json!(emails);
    }
    if i % 4 == 1 {
        let department = ["Sales", "sales", "R&D"][i % 3];
        user[ENTERPRISE] = json!({
            "department": department,
            "employeeNumber": format!("{}", 100 + i),
        });
    }
    user
}

struct Data {
    store: SqliteStore,
    users: Vec<(String, Value)>,
    groups: Vec<(String, Value)>,
}

/// ~40 users, a few updated later, and groups with users and a group as members.
fn data() -> Data {
    let store = SqliteStore::in_memory().unwrap();
    migrate_connection(&store).unwrap();
    let mut random = Counter(7);
    let mut bodies = special_users();
    bodies.extend((0..28).map(generated_user));
    let mut ids = Vec::new();
    for (i, body) in bodies.iter().enumerate() {
        let ctx = Ctx {
            base_url: BASE,
            now: Timestamp(START + i as i64 * 3_600_123),
            request_id: None,
        };
        ids.push(user::create(&store, &ctx, &mut random, body).unwrap().id);
    }
    for (i, id) in ids.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
        let ctx = Ctx {
            base_url: BASE,
            now: Timestamp(START + 200 * 3_600_000 + i as i64 * 1_001),
            request_id: None,
        };
        let mut body = bodies[i].clone();
        body["nickName"] = json!(format!("updated{i}"));
        user::replace(&store, &ctx, id, None, &body).unwrap();
    }
    let ctx = Ctx {
        base_url: BASE,
        now: Timestamp(START + 300 * 3_600_000),
        request_id: None,
    };
    let member = |i: usize, display: Option<&str>| match display {
        Some(d) => json!({ "value": ids[i], "display": d }),
        None => json!({ "value": ids[i] }),
    };
    let admins = group::create(
        &store,
        &ctx,
        &mut random,
        &json!({
            "displayName": "Admins",
            "externalId": "g-ext-1",
            "members": [member(0, Some("Babs")), member(1, None), member(2, Some("100%"))]
        }),
    )
    .unwrap()
    .id;
    let groups = [
        json!({ "displayName": "admins-2", "members": [member(3, Some("O'Brien")), member(12, None)] }),
        json!({ "displayName": "Sales%Team_1", "externalId": "G-EXT-2", "members": [member(5, Some("ÉLISE"))] }),
        json!({ "displayName": "O'Reilly \"Group\"" }),
        json!({ "displayName": "Nested", "members": [{ "value": admins, "display": "Admins" }, member(6, None)] }),
        json!({ "displayName": "ÉQUIPE", "members": [member(5, None), member(20, Some("babs"))] }),
        json!({ "displayName": "2020-01-01T00:00:00Z", "members": [member(0, None)] }),
    ];
    for body in &groups {
        group::create(&store, &ctx, &mut random, body).unwrap();
    }
    let users = ids
        .iter()
        .map(|id| (id.clone(), user::get(&store, id).unwrap().to_scim(BASE)))
        .collect();
    let group_rows = store
        .query("SELECT id FROM scim_group ORDER BY seq", &[])
        .unwrap();
    let groups = group_rows
        .iter()
        .map(|row| {
            let id = row[0].as_str().unwrap().to_owned();
            let rendered = group::get(&store, &id, true).unwrap().to_scim(BASE);
            (id, rendered)
        })
        .collect();
    Data {
        store,
        users,
        groups,
    }
}

/// Ids, in creation order, that the condition selects.
fn selected(store: &SqliteStore, table: &str, condition: &str, params: &[SqlValue]) -> Vec<String> {
    let sql = format!("SELECT id FROM {table} WHERE {condition} ORDER BY seq");
    store
        .query(&sql, params)
        .unwrap_or_else(|e| panic!("{e}\n{sql}"))
        .iter()
        .map(|row| row[0].as_str().unwrap().to_owned())
        .collect()
}

/// Checks each filter and its negation: translated exactly when `translated`, else `None`.
/// Returns how many conditions were compared, and how many of them selected some but not all
/// resources.
fn check(
    store: &SqliteStore,
    target: &SqlTarget,
    resources: &[(String, Value)],
    filters: &[(String, bool)],
) -> (usize, usize) {
    let (mut compared, mut proper) = (0, 0);
    for (input, translated) in filters {
        let parsed = parse_filter(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        let negated = Filter::Not(Box::new(parsed.clone()));
        for filter in [parsed, negated] {
            let sql = to_sql(&filter, target);
            assert_eq!(sql.is_some(), *translated, "{input}: {sql:?}");
            let Some((condition, params)) = sql else {
                continue;
            };
            assert_eq!(
                condition.matches('?').count(),
                params.len(),
                "{input}: {condition}"
            );
            let expected: Vec<String> = resources
                .iter()
                .filter(|(_, r)| matches(&filter, r, &target.case_exact))
                .map(|(id, _)| id.clone())
                .collect();
            let got = selected(store, target.table, &condition, &params);
            proper += usize::from(!got.is_empty() && got.len() < resources.len());
            assert_eq!(got, expected, "{filter:?}\n{condition}\n{params:?}");
            compared += 1;
        }
    }
    (compared, proper)
}

fn cases(translated: &[&str], fallback: &[&str]) -> Vec<(String, bool)> {
    let case = |f: &&str, t| (f.replace("{E}", ENTERPRISE), t);
    translated
        .iter()
        .map(|f| case(f, true))
        .chain(fallback.iter().map(|f| case(f, false)))
        .collect()
}

const USER_FILTERS: &[&str] = &[
    // userName: the folded index column, any case, every operator.
    r#"userName eq "bjensen@example.com""#,
    r#"userName eq "BJENSEN@EXAMPLE.COM""#,
    r#"USERNAME Eq "bjensen2@example.com""#,
    r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com""#,
    r#"urn:ietf:params:scim:schemas:core:2.0:Group:userName eq "minimal""#,
    r#"userName eq "élise.müller""#,
    r#"userName eq "kelvin""#,
    r#"userName eq "i̇stanbul""#,
    r#"userName co "MÜLLER""#,
    r#"userName sw "B""#,
    r#"userName ew ".COM""#,
    r#"userName co "%""#,
    r#"userName co "_""#,
    r#"userName sw "100%""#,
    r#"userName co "'""#,
    r#"userName co "\"""#,
    r#"userName gt "m""#,
    r#"userName ge "o'brien""#,
    r#"userName lt "C""#,
    r#"userName le "bjensen@example.com""#,
    r#"userName ne "bjensen@example.com""#,
    "userName pr",
    "userName eq null",
    "userName ne null",
    "userName eq 5",
    "userName eq true",
    r#"userName.foo eq "x""#,
    r#"userName eq "a" or userName eq "minimal" or userName eq "ZED""#,
    // externalId and id: exact columns.
    r#"externalId eq "ext-1""#,
    r#"externalId eq "EXT-1""#,
    r#"externalId ne "ext-1""#,
    r#"externalId sw "EXT""#,
    r#"externalId gt "gen-2""#,
    "externalId pr",
    "externalId eq null",
    r#"id co "-4""#,
    r#"ID sw "0""#,
    "id pr",
    // Single-valued strings in JSON, case-insensitive.
    r#"name.familyName eq "jensen""#,
    r#"name.familyName co "ens""#,
    r#"Name.FamilyName sw "J""#,
    r#"name.familyName ew "EN""#,
    r#"name.familyName gt "M""#,
    r#"name.familyName lt "m""#,
    r#"name.familyName ge "family3""#,
    r#"name.familyName le "FAMILY3""#,
    r#"name.familyName eq "o'brien""#,
    r#"name.familyName lt "mv""#,
    r#"name.familyName gt "mt""#,
    r#"title gt "a""#,
    r#"name.familyName eq "king""#,
    r#"name.familyName co "K""#,
    "name.givenName pr",
    "name pr",
    r#"name eq "x""#,
    r#"name ne "x""#,
    "name eq null",
    "not (name.familyName pr)",
    r#"name.foo eq "x""#,
    r#"name[givenName eq "barbara"]"#,
    r#"name[givenName pr and familyName co "j"]"#,
    r#"name[formatted pr]"#,
    r#"title eq "tour guide""#,
    r#"title eq "Tour Guide" or title eq "ENGINEER""#,
    r#"title sw "i""#,
    r#"title co "stanbul""#,
    r#"title eq "istanbul""#,
    r#"title sw "king""#,
    r#"title co "50%""#,
    r#"title co "%""#,
    r#"title co "_""#,
    r#"title ew "_sale""#,
    r#"title eq """#,
    r#"title ne """#,
    "title pr",
    r#"title co """#,
    r#"title sw """#,
    r#"title ew """#,
    r#"title co "\u0000""#,
    r#"title eq "nul\u0000byte""#,
    r#"title ew "\u0000byte""#,
    r#"title gt "nul""#,
    r#"title lt "TOUR""#,
    r#"title ge "tour guide""#,
    r#"title sw "2020-01-01T00:00:00Z""#,
    r#"title co "T00:00""#,
    "nickName pr",
    r#"nickName eq "\u0000""#,
    r#"nickName sw "updated""#,
    r#"displayName eq "say \"hi\"""#,
    r#"displayName co "\"""#,
    r#"displayName co "% \"quoted\" _""#,
    r#"userType eq "employee""#,
    r#"userType ne "Employee""#,
    r#"title pr and userType eq "Employee""#,
    r#"title pr or userType eq "Intern""#,
    // Booleans.
    "active eq true",
    "active eq false",
    "active ne true",
    "active ne false",
    "active pr",
    "active eq null",
    r#"active eq "true""#,
    "not (active eq false) and not (title pr)",
    // Multi-valued complex attributes.
    r#"emails co "example.com""#,
    r#"emails eq "babs@jensen.org""#,
    r#"emails.value eq "BABS@JENSEN.ORG""#,
    r#"emails.value ew ".org""#,
    r#"emails.value sw "u1""#,
    r#"emails.value gt "u2""#,
    r#"emails co "k@""#,
    "emails.value pr",
    r#"emails.type eq "work""#,
    r#"emails.type eq "WORK""#,
    r#"emails.type ne "work""#,
    "emails.primary eq true",
    "emails.primary eq false",
    "emails.primary ne true",
    r#"emails.primary eq "true""#,
    "emails pr",
    "emails eq null",
    "emails ne null",
    "emails.value eq null",
    "emails.display pr",
    "emails.foo pr",
    r#"emails[type eq "work" and value co "@example.com"]"#,
    r#"emails[type eq "home" and value co "@example.com"]"#,
    r#"emails[not (type eq "work")]"#,
    "emails[primary eq true]",
    "emails[value pr]",
    "emails[value eq null]",
    r#"emails[type ne "work"]"#,
    r#"emails[foo eq "x"]"#,
    r#"emails[foo ne "x"]"#,
    r#"EMAILS[TYPE eq "home"]"#,
    r#"emails[type eq "work" and value co "@acme.com"]"#,
    r#"emails[type eq "work"] or ims[type eq "xmpp"]"#,
    r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
    r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
    r#"phoneNumbers.value co "555""#,
    r#"addresses.locality eq "hollywood""#,
    r#"addresses eq "x""#,
    "addresses pr",
    "addresses[type eq \"work\" and primary eq true]",
    r#"roles.value eq "ADMIN""#,
    r#"roles eq "auditor""#,
    "roles[primary eq true]",
    "x509Certificates pr",
    r#"entitlements[type eq "network"]"#,
    r#"userName[value eq "x"]"#,
    r#"foo[value eq "x"]"#,
    // schemas: a multi-valued string.
    r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
    r#"schemas co "ENTERPRISE""#,
    r#"schemas ne "urn:ietf:params:scim:schemas:core:2.0:User""#,
    "schemas.foo pr",
    r#"schemas[value eq "x"]"#,
    // The enterprise extension under its URN.
    r#"{E}:department eq "tour operations""#,
    r#"{E}:Department co "OPER""#,
    r#"{E}:department ne "sales""#,
    r#"{E}:department eq "r&d""#,
    "{E}:employeeNumber pr",
    r#"{E}:employeeNumber gt "5""#,
    r#"{E}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d""#,
    r#"{E}:manager.value sw "26118915""#,
    r#"{E}:manager eq "mgr-1""#,
    "{E}:manager pr",
    "{E}:manager.$ref pr",
    "{E}:manager.displayName pr",
    r#"{E}:manager[value sw "2611"]"#,
    "{E}:costCenter eq null",
    "{E}:costCenter ne null",
    r#"URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department eq "Tour Operations""#,
    "{E}:id pr",
    "urn:ietf:params:scim:schemas:extension:foo:1.0:User:department pr",
    "employeeNumber pr",
    // meta.
    r#"meta.created gt "2027-01-16T00:00:00Z""#,
    r#"meta.created ge "2027-01-15T09:00:00.123Z""#,
    r#"meta.created eq "2027-01-15T09:00:00.123Z""#,
    r#"meta.created eq "2027-01-15T11:00:00.123+02:00""#,
    r#"meta.created eq "2027-01-15t09:00:00.123z""#,
    r#"meta.created ne "2027-01-15T09:00:00.123Z""#,
    r#"meta.created gt "2027-01-15T09:00:00.1229999Z""#,
    r#"meta.created ge "2027-01-15T09:00:00.1230001Z""#,
    r#"meta.created lt "2027-01-15T09:00:00.1230001Z""#,
    r#"meta.created le "2027-01-15T09:00:00.1229999Z""#,
    r#"meta.created eq "2027-01-15T09:00:00.1230001Z""#,
    r#"meta.created lt "0001-01-01T00:00:00Z""#,
    r#"meta.created gt "2027-13-99T00:00:00Z""#,
    r#"meta.created sw "2027-01-16""#,
    r#"meta.created co "T10:""#,
    r#"meta.lastModified gt "2027-01-20T00:00:00Z""#,
    r#"meta.lastModified le "2027-01-16T00:00:00-05:00""#,
    "meta.lastModified pr",
    r#"meta.resourceType eq "user""#,
    r#"meta.resourceType eq "Group""#,
    r#"meta.version eq "W/\"2\"""#,
    r#"meta.version eq "w/\"2\"""#,
    "meta pr",
    r#"meta eq "x""#,
    "meta.foo pr",
    // groups: rendered from membership rows.
    r#"groups.display eq "admins""#,
    r#"groups.type eq "DIRECT""#,
    "groups pr",
    "groups eq null",
    r#"groups[display co "ADMIN" and type eq "direct"]"#,
    r#"groups.display sw "2020-01-01T00:00:00Z""#,
    // Never stored, or unknown.
    "password pr",
    r#"password eq "x""#,
    r#"foo eq "x""#,
    r#"foo ne "x""#,
    "foo eq null",
    "members pr",
];

const USER_FALLBACK: &[&str] = &[
    // dateTime-shaped values compare as instants with dateTime-shaped strings.
    r#"title eq "2020-01-01T00:00:00Z""#,
    r#"title ge "2019-01-01T00:00:00Z""#,
    r#"nickName lt "2020-06-01T10:00:00Z""#,
    r#"userName eq "2020-01-01T00:00:00Z""#,
    // Unicode case folding that SQLite's lower() does not do.
    r#"name.familyName eq "müller""#,
    r#"emails.value co "élise""#,
    r#"name.givenName ge "é""#,
    // Hold the request's base URL.
    "groups.$ref pr",
    r#"meta.location sw "https""#,
    // A dateTime outside the stored form's years once in UTC.
    r#"meta.created gt "0000-01-01T00:30:00+01:00""#,
    "meta[created pr]",
];

#[test]
fn user_filters_select_exactly_what_the_evaluator_matches() {
    let data = data();
    assert!(data.users.len() >= 40);
    let filters = cases(USER_FILTERS, USER_FALLBACK);
    let mut filters = filters;
    // Filters on generated ids.
    let (first, _) = &data.users[0];
    let (other, _) = &data.users[5];
    let (group_id, _) = &data.groups[0];
    for f in [
        format!(r#"id eq "{first}""#),
        format!(r#"id eq "{}""#, first.to_uppercase()),
        format!(r#"id eq "{first}" or id eq "{other}""#),
        format!(r#"id ne "{first}""#),
        format!(r#"groups.value eq "{group_id}""#),
        format!(r#"groups.value eq "{}""#, group_id.to_uppercase()),
        format!(r#"groups eq "{group_id}""#),
        format!(r#"groups[value eq "{group_id}"]"#),
    ] {
        filters.push((f, true));
    }
    let (compared, proper) = check(&data.store, &USER_TARGET, &data.users, &filters);
    assert_eq!(compared, 2 * (filters.len() - USER_FALLBACK.len()));
    // Most filters split the users: the dataset does not make the comparison vacuous.
    assert!(proper * 3 >= compared * 2, "{proper} of {compared}");
}

const GROUP_FILTERS: &[&str] = &[
    r#"displayName eq "admins""#,
    r#"displayName eq "équipe""#,
    r#"displayName co "%""#,
    r#"displayName co "_""#,
    r#"displayName sw "o'""#,
    r#"displayName co "\"group\"""#,
    r#"displayName ne "Admins""#,
    r#"displayName gt "N""#,
    r#"displayName sw "2020-01-01T00:00:00Z""#,
    r#"urn:ietf:params:scim:schemas:core:2.0:User:displayName eq "admins""#,
    r#"externalId eq "g-ext-1""#,
    r#"externalId eq "G-EXT-1""#,
    "externalId pr",
    "members pr",
    "members eq null",
    "members ne null",
    r#"members[type eq "Group"]"#,
    r#"members.type eq "user""#,
    r#"members.display eq "babs""#,
    r#"members.display co "%""#,
    "members.display pr",
    "members[display pr and type eq \"User\"]",
    "members[not (display pr)]",
    r#"members.foo eq "x""#,
    r#"members[foo ne "x"]"#,
    r#"meta.lastModified ge "2027-01-27T20:00:00Z""#,
    r#"meta.created lt "2027-02-01T00:00:00Z""#,
    r#"meta.resourceType eq "group""#,
    r#"meta.version eq "W/\"1\"""#,
    r#"schemas eq "urn:ietf:params:scim:schemas:core:2.0:Group""#,
    "{E}:department pr",
    r#"userName eq "x""#,
    r#"userName ne "x""#,
    "groups pr",
    "active eq true",
];

const GROUP_FALLBACK: &[&str] = &[
    "members.$ref pr",
    r#"members[$ref co "Users"]"#,
    r#"displayName eq "2020-01-01T00:00:00Z""#,
    r#"members.display eq "élise""#,
];

#[test]
fn group_filters_select_exactly_what_the_evaluator_matches() {
    let data = data();
    let mut filters = cases(GROUP_FILTERS, GROUP_FALLBACK);
    let (user_id, _) = &data.users[0];
    let (user_5, _) = &data.users[5];
    let (group_id, _) = &data.groups[0];
    for f in [
        format!(r#"members[value eq "{user_id}"]"#),
        format!(r#"members.value eq "{user_id}""#),
        format!(r#"members eq "{user_id}""#),
        format!(r#"members.value eq "{}""#, user_id.to_uppercase()),
        format!(r#"members[value eq "{user_id}" or value eq "{user_5}"]"#),
        format!(r#"not (members[value eq "{user_id}"])"#),
        format!(r#"members ne "{user_id}""#),
        format!(r#"members[value eq "{group_id}" and type eq "Group"]"#),
        format!(r#"id eq "{group_id}""#),
        format!(r#"displayName eq "Admins" and members.value eq "{user_id}""#),
    ] {
        filters.push((f, true));
    }
    let (compared, proper) = check(&data.store, &GROUP_TARGET, &data.groups, &filters);
    assert_eq!(compared, 2 * (filters.len() - GROUP_FALLBACK.len()));
    assert!(proper * 3 >= compared * 2, "{proper} of {compared}");
}

#[test]
fn conditions_stay_within_durable_object_statement_limits() {
    let chain = |n: usize, term: &str| {
        (0..n)
            .map(|i| term.replace("{i}", &i.to_string()))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let fits = parse_filter(&chain(MAX_PARAMS, r#"id eq "{i}""#)).unwrap();
    assert!(to_sql(&fits, &USER_TARGET).is_some());
    let too_many = parse_filter(&chain(MAX_PARAMS + 1, r#"id eq "{i}""#)).unwrap();
    assert_eq!(to_sql(&too_many, &USER_TARGET), None);
    // Few placeholders, long SQL: each `emails ew` is a subquery.
    let long = parse_filter(&chain(90, r#"emails ew "{i}""#)).unwrap();
    assert!(to_sql(&long, &USER_TARGET).is_none_or(|(sql, _)| sql.len() <= MAX_SQL_LEN));
    let longest = parse_filter(&chain(180, "emails.display pr")).unwrap();
    assert_eq!(to_sql(&longest, &USER_TARGET), None);
}

/// Listing pages through SQL-translated and fallback filters alike, with the same totals and
/// items as evaluating every resource in memory.
#[test]
fn listing_pages_match_in_memory_evaluation() {
    use crate::service::directory::listing::ListQuery;
    let data = data();
    let ctx = Ctx {
        base_url: BASE,
        now: Timestamp(START),
        request_id: None,
    };
    let inputs = [
        r#"emails[type eq "work" and value co "@acme.com"]"#,
        r#"active eq true or title co "guide""#,
        r#"name.familyName eq "müller" or title pr"#,
        r#"userName eq "bjensen@example.com""#,
        r#"meta.created gt "2027-01-16T00:00:00Z" and not (emails pr)"#,
    ];
    for input in inputs {
        let filter = parse_filter(input).unwrap();
        let expected: Vec<&String> = data
            .users
            .iter()
            .filter(|(_, r)| matches(&filter, r, &user::case_exact))
            .map(|(id, _)| id)
            .collect();
        let query = ListQuery {
            filter: Some(filter),
            start_index: 2,
            count: 3,
            sort: None,
        };
        let page = user::list(&data.store, &ctx, &query).unwrap();
        assert_eq!(page.total_results, expected.len() as i64, "{input}");
        let ids: Vec<&String> = page.items.iter().map(|u| &u.id).collect();
        let want: Vec<&String> = expected.into_iter().skip(1).take(3).collect();
        assert_eq!(ids, want, "{input}");
    }
    let (user_id, _) = &data.users[0];
    let filter = parse_filter(&format!(r#"members[value eq "{user_id}"]"#)).unwrap();
    let expected: Vec<&String> = data
        .groups
        .iter()
        .filter(|(_, g)| matches(&filter, g, &group::case_exact))
        .map(|(id, _)| id)
        .collect();
    let query = ListQuery {
        filter: Some(filter),
        start_index: 1,
        count: 10,
        sort: None,
    };
    let page = group::list(&data.store, &ctx, &query, false).unwrap();
    let ids: Vec<&String> = page.items.iter().map(|g| &g.id).collect();
    assert_eq!(ids, expected);
    assert_eq!(page.total_results, 2);
}

/// Every filter value: `Str` values of a filter.
fn strings(filter: &Filter, out: &mut Vec<String>) {
    match filter {
        Filter::Compare {
            value: CompValue::Str(s),
            ..
        } => out.push(s.clone()),
        Filter::Compare { .. } | Filter::Present(_) => {}
        Filter::And(a, b) | Filter::Or(a, b) => {
            strings(a, out);
            strings(b, out);
        }
        Filter::Not(inner) | Filter::ValuePath { filter: inner, .. } => strings(inner, out),
    }
}

#[test]
fn client_values_only_ever_reach_sql_as_bound_parameters() {
    const MARK: &str = "qX7'\"%_;--)";
    let templates = [
        "userName eq \"{M}\"",
        "userName co \"{M}\"",
        "externalId ew \"{M}\"",
        "id sw \"{M}\"",
        "title gt \"{M}\"",
        "name.familyName le \"{M}\"",
        "emails[type eq \"{M}\" and value co \"{M}\"]",
        "emails.value ne \"{M}\"",
        "{E}:department eq \"{M}\"",
        "{E}:manager eq \"{M}\"",
        "meta.created sw \"{M}\"",
        "groups[display eq \"{M}\"]",
        "schemas eq \"{M}\"",
    ];
    let mark = serde_json::to_string(MARK).unwrap();
    for template in templates {
        let input = template
            .replace("\"{M}\"", &mark)
            .replace("{E}", ENTERPRISE);
        let filter = parse_filter(&input).unwrap();
        let (sql, params) = to_sql(&filter, &USER_TARGET).expect(&input);
        assert!(!sql.contains("qX7"), "{sql}");
        assert!(
            params
                .iter()
                .any(|p| p.as_str() == Some(MARK) || p.as_str() == Some(&MARK.to_lowercase())),
            "{input}: {params:?}"
        );
    }
    // And across every translated filter of the differential tests: no value of five or more
    // characters appears in the SQL text (shorter ones could collide with SQL keywords).
    for (input, target) in USER_FILTERS
        .iter()
        .map(|f| (f, &USER_TARGET))
        .chain(GROUP_FILTERS.iter().map(|f| (f, &GROUP_TARGET)))
    {
        let filter = parse_filter(&input.replace("{E}", ENTERPRISE)).unwrap();
        let (sql, _) = to_sql(&filter, target).unwrap();
        let mut values = Vec::new();
        strings(&filter, &mut values);
        // `'direct'` is the constant `type` of every User `groups` value.
        let ours = |v: &str| v == "direct";
        for value in values.iter().filter(|v| v.chars().count() >= 5 && !ours(v)) {
            assert!(!sql.contains(value.as_str()), "{input}: {sql}");
        }
    }
}

#[test]
fn idp_lookups_stay_index_lookups() {
    let data = data();
    for (input, target, index) in [
        (
            r#"userName eq "Bjensen@example.com""#,
            &USER_TARGET,
            "user_name_key",
        ),
        (r#"externalId eq "ext-1""#, &USER_TARGET, "external_id"),
        (r#"id eq "x""#, &USER_TARGET, "id"),
        (
            r#"userName eq "a" or userName eq "b""#,
            &USER_TARGET,
            "user_name_key",
        ),
        (
            r#"displayName eq "Admins""#,
            &GROUP_TARGET,
            "display_name_key",
        ),
        (r#"externalId eq "g-ext-1""#, &GROUP_TARGET, "external_id"),
    ] {
        let filter = parse_filter(input).unwrap();
        let (condition, params) = to_sql(&filter, target).unwrap();
        let plan = data
            .store
            .query(
                &format!(
                    "EXPLAIN QUERY PLAN SELECT id FROM {} WHERE {condition}",
                    target.table
                ),
                &params,
            )
            .unwrap();
        let detail: Vec<String> = plan
            .iter()
            .filter_map(|row| row.get(3).and_then(SqlValue::as_str).map(str::to_owned))
            .collect();
        assert!(
            detail
                .iter()
                .all(|d| d.starts_with("SEARCH") && d.contains(&format!("({index}=?)"))),
            "{input}: {detail:?}"
        );
    }
}

#[test]
fn filters_deeper_than_the_limit_match_nothing_like_the_evaluator() {
    let mut filter = Filter::Present(AttrPath {
        urn: None,
        attr: "userName".into(),
        sub_attr: None,
    });
    for _ in 0..=MAX_FILTER_DEPTH {
        filter = Filter::Not(Box::new(filter));
    }
    assert_eq!(
        to_sql(&filter, &USER_TARGET),
        Some(("0".to_owned(), vec![]))
    );
}

#[test]
fn dates_are_normalised_to_the_stored_form() {
    let form = |s: &str| predicate::stored_form(s);
    assert_eq!(
        form("2027-01-15T11:00:00.123+02:00"),
        Some(("2027-01-15T09:00:00.123Z".to_owned(), false))
    );
    assert_eq!(
        form("2027-01-15t09:00:00z"),
        Some(("2027-01-15T09:00:00.000Z".to_owned(), false))
    );
    assert_eq!(
        form("2027-01-15T09:00:00.1239Z"),
        Some(("2027-01-15T09:00:00.123Z".to_owned(), true))
    );
    assert_eq!(
        form("0001-01-01T00:00:00Z"),
        Some(("0001-01-01T00:00:00.000Z".to_owned(), false))
    );
    assert_eq!(form("9999-12-31T23:59:59-01:00"), None);
    assert_eq!(form("0000-01-01T00:30:00+01:00"), None);
    assert_eq!(form("2027-01-15"), None);
    assert_eq!(form("not a date at all, no"), None);
}

/// The claim [`fold`] rests on: apart from KELVIN SIGN and `İ`, no non-ASCII character has
/// a lowercase form containing ASCII, and none lowercases to nothing.
#[test]
fn only_kelvin_sign_and_dotted_capital_i_lowercase_into_ascii() {
    let exceptions: Vec<char> = ('\u{80}'..=char::MAX)
        .filter(|c| {
            let lower: String = c.to_lowercase().collect();
            lower.is_empty() || lower.chars().any(|l| l.is_ascii())
        })
        .collect();
    assert_eq!(exceptions, ['\u{130}', '\u{212A}']);
}

#[test]
fn json_paths_quote_schema_names() {
    assert_eq!(
        json_path(&[ENTERPRISE, "manager", "$ref"]).as_deref(),
        Some("'$.\"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User\".\"manager\".\"$ref\"'")
    );
    assert_eq!(json_path(&["a\"b"]), None);
    assert_eq!(json_path(&["it's"]), None);
    assert_eq!(json_path(&[""]), None);
}

#[test]
fn targets_name_the_tables_listing_queries() {
    assert_eq!(USER_TARGET.table, "user");
    assert_eq!(GROUP_TARGET.table, "scim_group");
    assert_eq!(USER_TARGET.kind, ResourceKind::User);
    assert_eq!(GROUP_TARGET.kind, ResourceKind::Group);
}
