//! The HTML of the self-service setup page: self-contained (inline CSS and JS, nothing loaded from
//! elsewhere), every dynamic value escaped, and a Content-Security-Policy that allows only the
//! page's own style and script (by hash) and `fetch` to its own origin.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// What the page shows of a live link.
pub struct PageData<'a> {
    pub connection_name: &'a str,
    pub scim_base_url: &'a str,
    /// One of [`super::settings::IDP_KINDS`]; anything else gets the generic steps.
    pub idp: &'a str,
    /// Where the "Generate token" button POSTs: `/setup/{connection_id}/{secret}/token`.
    pub token_path: &'a str,
    /// RFC 3339, as stored.
    pub expires_at: &'a str,
}

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The `Content-Security-Policy` of both pages: nothing but the inline style and script below,
/// pinned by their SHA-256 (so even injected markup could not run a script), and `fetch` to the
/// page's own origin.
pub fn content_security_policy() -> String {
    format!(
        "default-src 'none'; style-src '{}'; script-src '{}'; connect-src 'self'; \
         img-src 'none'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
        source_hash(STYLE),
        source_hash(SCRIPT)
    )
}

fn source_hash(source: &str) -> String {
    format!(
        "sha256-{}",
        STANDARD.encode(Sha256::digest(source.as_bytes()))
    )
}

/// The display name of an IdP kind.
fn idp_label(idp: &str) -> &'static str {
    match idp {
        "okta" => "Okta",
        "entra" => "Microsoft Entra ID",
        "onelogin" => "OneLogin",
        "jumpcloud" => "JumpCloud",
        _ => "your identity provider",
    }
}

/// `2027-01-15T08:00:00.000Z` → `2027-01-15 08:00 UTC`.
fn human_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(minute)) => format!("{day} {minute} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// The numbered steps for the connection's IdP, as `<li>` contents (already HTML).
fn steps(idp: &str, base_url: &str) -> Vec<String> {
    let base = format!("<code>{}</code>", escape(base_url));
    match idp {
        "okta" => vec![
            "In the Okta Admin Console, open <b>Applications → Applications</b> and select the \
             app. If it has no <b>Provisioning</b> tab yet: <b>General → App Settings → Edit</b>, \
             set <b>Provisioning</b> to <b>SCIM</b>, and save."
                .into(),
            format!(
                "Open <b>Provisioning → Integration → Edit</b>. Set <b>SCIM connector base \
                 URL</b> to {base} and <b>Unique identifier field for users</b> to \
                 <code>userName</code>."
            ),
            "Under <b>Supported provisioning actions</b>, check <b>Push New Users</b>, <b>Push \
             Profile Updates</b> and, to send groups, <b>Push Groups</b>."
                .into(),
            "Set <b>Authentication Mode</b> to <b>HTTP Header</b> and paste the token into \
             <b>Authorization → Bearer</b>."
                .into(),
            "Click <b>Test Connector Configuration</b>, close the result, then <b>Save</b>.".into(),
            "Open <b>Provisioning → To App → Edit</b>, enable <b>Create Users</b>, <b>Update User \
             Attributes</b> and <b>Deactivate Users</b>, and save."
                .into(),
            "Assign people or groups on the <b>Assignments</b> tab; they are provisioned right \
             away. Push groups from the <b>Push Groups</b> tab."
                .into(),
        ],
        "entra" => vec![
            "In the Microsoft Entra admin center, open <b>Enterprise applications</b> and select \
             the app (or <b>New application → Create your own application → Integrate any other \
             application you don't find in the gallery</b>)."
                .into(),
            "Open <b>Provisioning</b> and set <b>Provisioning Mode</b> to <b>Automatic</b>.".into(),
            format!(
                "Under <b>Admin Credentials</b>, set <b>Tenant URL</b> to {base} and paste the \
                 token into <b>Secret Token</b>."
            ),
            "Click <b>Test Connection</b>; it must report that the credentials are authorized. \
             Then <b>Save</b>."
                .into(),
            "Under <b>Mappings</b>, review the user and group attribute mappings \
             (<code>userPrincipalName</code> → <code>userName</code> by default)."
                .into(),
            "Under <b>Settings</b>, keep <b>Scope</b> at <b>Sync only assigned users and \
             groups</b>, and assign them under <b>Users and groups</b>."
                .into(),
            "Set <b>Provisioning Status</b> to <b>On</b> and save. The first cycle starts within \
             about 40 minutes; follow it in <b>Provisioning logs</b>."
                .into(),
        ],
        "onelogin" => vec![
            "In the OneLogin admin portal, open <b>Applications → Add App</b>, add <b>SCIM \
             Provisioner with SAML (SCIM v2 Enterprise)</b> (or open the app you already have) \
             and save."
                .into(),
            format!(
                "On the <b>Configuration</b> tab, set <b>SCIM Base URL</b> to {base} and paste \
                 the token into <b>SCIM Bearer Token</b>; keep the default <b>SCIM JSON \
                 Template</b>. Save."
            ),
            "Still on <b>Configuration</b>, click <b>Enable</b> under <b>API Connection</b>; the \
             status must turn to <b>Enabled</b>."
                .into(),
            "On the <b>Provisioning</b> tab, check <b>Enable provisioning</b>, choose what \
             happens when a user is deleted or suspended in OneLogin (<b>Delete</b> or \
             <b>Suspend</b>), and save."
                .into(),
            "Give users the app (directly, or through a role under <b>Users → Roles</b>). If \
             <b>Require admin approval</b> is on, approve the pending provisioning tasks."
                .into(),
        ],
        "jumpcloud" => vec![
            "In the JumpCloud Admin Portal, open <b>SSO Applications</b>, select the app (or \
             <b>+ Add New Application → Custom Application</b> with <b>Export users to this app \
             (Identity Management)</b>), and open its <b>Identity Management</b> tab."
                .into(),
            format!(
                "Choose <b>SCIM 2.0</b>, set <b>Base URL</b> to {base} and paste the token into \
                 <b>Token Key</b> (sent as a Bearer token)."
            ),
            "Click <b>Test Connection</b>, then <b>Activate</b>. Turn on <b>Group \
             Management</b> if groups should follow."
                .into(),
            "On the <b>User Groups</b> tab, bind the user groups whose members should be \
             provisioned, and save."
                .into(),
        ],
        _ => vec![
            "In your identity provider, add a <b>SCIM 2.0</b> provisioning (outbound) \
             integration for this app."
                .into(),
            format!("Set the SCIM base URL (tenant or connector URL) to {base}."),
            "Authenticate with an HTTP header: <code>Authorization: Bearer</code> followed by \
             the token."
                .into(),
            "Identify users by <code>userName</code>, and enable creating users, updating their \
             attributes and deactivating them (<code>active: false</code>); enable group push \
             if groups should follow."
                .into(),
            "Test the connection (it reads <code>/ServiceProviderConfig</code> or \
             <code>/Users</code>), then turn provisioning on and assign users."
                .into(),
        ],
    }
}

/// The page of a live link.
pub fn setup_page(data: &PageData<'_>) -> String {
    let name = escape(data.connection_name);
    let idp = idp_label(data.idp);
    let steps: String = steps(data.idp, data.scim_base_url)
        .into_iter()
        .map(|step| format!("<li>{step}</li>\n"))
        .collect();
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>SCIM provisioning setup · {name}</title>
<style>{STYLE}</style>
</head>
<body>
<main id="setup" data-token-url="{token_path}">
<header>
<p class="eyebrow">SCIM provisioning setup</p>
<h1>{name}</h1>
<p class="lead">Connect {idp} to provision this organisation's users automatically. This link works once and expires on {expires}.</p>
</header>
<section aria-labelledby="base-url-title">
<h2 id="base-url-title"><span class="num">1</span>SCIM base URL</h2>
<div class="field"><code id="base-url">{base_url}</code><button type="button" class="copy" data-copy="base-url">Copy</button></div>
</section>
<section aria-labelledby="token-title">
<h2 id="token-title"><span class="num">2</span>Bearer token</h2>
<p>Generate the token when you are ready to paste it into {idp}. It is shown <strong>once</strong>, and this link stops working as soon as it is issued.</p>
<button type="button" id="generate" class="primary">Generate token</button>
<div id="token-box" hidden>
<div class="field"><code id="token"></code><button type="button" class="copy" data-copy="token">Copy</button></div>
<p class="warn">Copy it now: it will not be shown again. Keep it secret; it grants access to this organisation's provisioning.</p>
</div>
<p id="error" class="error" role="alert" hidden></p>
</section>
<section aria-labelledby="steps-title">
<h2 id="steps-title"><span class="num">3</span>Set up {idp}</h2>
<ol class="steps">
{steps}</ol>
</section>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"#,
        token_path = escape(data.token_path),
        expires = escape(&human_time(data.expires_at)),
        base_url = escape(data.scim_base_url),
    )
}

/// The page of an unknown, expired or used link: the same page for all three.
pub fn invalid_page() -> String {
    message_page(
        "This setup link is invalid or has expired",
        "Setup links work once and only for a limited time. Ask the person who sent it to you for a new one.",
    )
}

/// The page of a failure on our side; the link is untouched.
pub fn error_page() -> String {
    message_page(
        "Something went wrong",
        "The setup page could not be shown. Try again in a moment; the link still works.",
    )
}

fn message_page(title: &str, text: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>{title}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
<h1>{title}</h1>
<p class="lead">{text}</p>
</main>
</body>
</html>
"#,
        title = escape(title),
        text = escape(text),
    )
}

/// The page's only style sheet; its hash is in the Content-Security-Policy.
const STYLE: &str = r#"
:root { color-scheme: light dark; --fg: #1d2330; --muted: #5b6475; --bg: #f5f6f8; --card: #fff;
  --line: #d9dde4; --accent: #2456d3; --accent-fg: #fff; --warn: #8a5a00; --err: #b3261e; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e8ed; --muted: #a3abba; --bg: #14171c; --card: #1d2128; --line: #353b46;
    --accent: #6b93ff; --accent-fg: #0b1020; --warn: #f0b64a; --err: #ff8a80; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 46rem; margin: 2.5rem auto; padding: 0 1.25rem; }
.eyebrow { margin: 0; color: var(--muted); font-size: .85rem; letter-spacing: .06em; text-transform: uppercase; }
h1 { margin: .2rem 0 .6rem; font-size: 1.75rem; line-height: 1.25; overflow-wrap: anywhere; }
.lead { color: var(--muted); margin: 0 0 1.5rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 1.1rem 1.25rem; margin: 0 0 1rem; }
h2 { display: flex; align-items: center; gap: .6rem; margin: 0 0 .75rem; font-size: 1.15rem; }
.num { display: inline-grid; place-items: center; width: 1.6rem; height: 1.6rem; border-radius: 50%;
  background: var(--accent); color: var(--accent-fg); font-size: .9rem; }
.field { display: flex; gap: .5rem; align-items: stretch; margin: .5rem 0; }
.field code { flex: 1; padding: .55rem .7rem; border: 1px solid var(--line); border-radius: 6px;
  background: var(--bg); overflow-wrap: anywhere; }
code { font: .92em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
button { font: inherit; cursor: pointer; border-radius: 6px; border: 1px solid var(--line);
  background: var(--card); color: var(--fg); padding: .45rem .9rem; }
button:disabled { cursor: progress; opacity: .7; }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--accent-fg);
  font-weight: 600; padding: .6rem 1.2rem; }
.warn { color: var(--warn); margin: .25rem 0 0; }
.error { color: var(--err); font-weight: 600; }
.steps { margin: 0; padding-left: 1.4rem; }
.steps li { margin: .45rem 0; padding-left: .2rem; }
.steps code { overflow-wrap: anywhere; }
[hidden] { display: none !important; }
"#;

/// The page's only script; its hash is in the Content-Security-Policy. The token is fetched with
/// one POST and shown once; nothing is stored in the browser.
const SCRIPT: &str = r#"
(function () {
  'use strict';
  var main = document.getElementById('setup');
  var generate = document.getElementById('generate');
  var box = document.getElementById('token-box');
  var token = document.getElementById('token');
  var error = document.getElementById('error');

  function showError(text) {
    error.textContent = text;
    error.hidden = false;
  }

  generate.addEventListener('click', async function () {
    generate.disabled = true;
    generate.textContent = 'Generating…';
    error.hidden = true;
    var res;
    var body = {};
    try {
      res = await fetch(main.dataset.tokenUrl, {
        method: 'POST',
        headers: { accept: 'application/json' },
        credentials: 'omit',
        cache: 'no-store',
      });
      body = await res.json().catch(function () { return {}; });
    } catch (e) {
      showError('The request did not reach the server. Check your connection and try again.');
      generate.disabled = false;
      generate.textContent = 'Generate token';
      return;
    }
    if (res.ok && typeof body.token === 'string') {
      token.textContent = body.token;
      box.hidden = false;
      generate.hidden = true;
      return;
    }
    if (res.status === 404) {
      generate.hidden = true;
      showError('This setup link has already been used or has expired. Ask for a new one.');
      return;
    }
    generate.disabled = false;
    generate.textContent = 'Generate token';
    if (res.status === 409) {
      showError('This connection already has two active tokens. Ask the person who sent you this link to revoke one, then try again: the link still works.');
    } else {
      showError((body && body.message) || ('Something went wrong (HTTP ' + res.status + '). Try again.'));
    }
  });

  Array.prototype.forEach.call(document.querySelectorAll('[data-copy]'), function (button) {
    button.addEventListener('click', async function () {
      var source = document.getElementById(button.dataset.copy);
      var text = source.textContent;
      try {
        await navigator.clipboard.writeText(text);
      } catch (e) {
        var range = document.createRange();
        range.selectNodeContents(source);
        var selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
        document.execCommand('copy');
      }
      button.textContent = 'Copied';
      setTimeout(function () { button.textContent = 'Copy'; }, 2000);
    });
  });
})();
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_both_quotes() {
        assert_eq!(
            escape(r#"<a href="x" title='y'>&</a>"#),
            "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;"
        );
    }

    #[test]
    fn every_idp_kind_has_steps_with_the_base_url() {
        for idp in crate::service::connection::settings::IDP_KINDS {
            let steps = steps(idp, "https://x.example/scim/v2/con_1").concat();
            assert!(steps.contains("https://x.example/scim/v2/con_1"), "{idp}");
        }
    }

    #[test]
    fn the_policy_pins_the_inline_script_and_style() {
        let policy = content_security_policy();
        assert!(policy.contains(&source_hash(SCRIPT)));
        assert!(policy.contains(&source_hash(STYLE)));
        assert!(!policy.contains("unsafe-inline"));
    }

    #[test]
    fn the_message_pages_have_no_script() {
        assert!(!invalid_page().contains("<script"));
        assert!(!error_page().contains("<script"));
    }
}
