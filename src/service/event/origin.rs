//! Who made a change.

/// Who made a change and in which request.
#[derive(Debug, Clone, Copy)]
pub struct Origin<'a> {
    /// `admin`, `app`, `setup_link`, `system`, or `token:<id>` for a SCIM token.
    pub actor: &'a str,
    /// The request id the Worker gave the request (`X-Request-Id`), when there was one.
    pub request_id: Option<&'a str>,
}
