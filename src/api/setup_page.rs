//! The HTML of the self-service setup page: self-contained (inline CSS and JS, nothing loaded from
//! elsewhere), static (the same bytes for every connection and link: no name, no URL, no secret),
//! and a Content-Security-Policy that allows only the page's own style and script (by hash) and
//! `fetch` to its own origin. The script fills in what it reads from `POST …/details` as text
//! (`textContent`), never as markup.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Every IdP kind with steps of its own, and its display name; anything else (`generic`) gets
/// the generic steps ([`GENERIC`]).
const IDPS: [(&str, &str); 4] = [
    ("okta", "Okta"),
    ("entra", "Microsoft Entra ID"),
    ("onelogin", "OneLogin"),
    ("jumpcloud", "JumpCloud"),
];
/// The kind and display name of the generic steps.
const GENERIC: (&str, &str) = ("generic", "your identity provider");

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

/// The numbered steps for an IdP kind, as `<li>` contents (already HTML); the SCIM base URL is
/// an empty `<code class="base-url">` the script fills in.
fn steps(idp: &str) -> Vec<String> {
    let base = BASE_URL_SLOT;
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

/// Where the SCIM base URL goes in a step; the script sets its text.
const BASE_URL_SLOT: &str = r#"<code class="base-url"></code>"#;

/// The steps of every IdP kind, each an `<ol class="steps" data-idp="…" data-label="…" hidden>`;
/// the script keeps the connection's and removes the others.
fn every_idps_steps() -> String {
    IDPS.iter()
        .chain(std::iter::once(&GENERIC))
        .map(|(idp, label)| {
            let items: String = steps(idp)
                .into_iter()
                .map(|step| format!("<li>{step}</li>\n"))
                .collect();
            format!(
                "<ol class=\"steps\" data-idp=\"{}\" data-label=\"{}\" hidden>\n{items}</ol>\n",
                escape(idp),
                escape(label)
            )
        })
        .collect()
}

/// The setup page: the same for every connection and link. Until its script has read the
/// link's details only a heading shows; then the connection's name, SCIM base URL, expiry and
/// its IdP's steps, or the invalid-link message.
pub fn setup_page() -> String {
    let steps = every_idps_steps();
    let generic = GENERIC.1;
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title>SCIM provisioning setup</title>
<style>{STYLE}</style>
</head>
<body>
<main id="setup">
<header>
<p class="eyebrow">SCIM provisioning setup</p>
<h1 id="title">SCIM provisioning setup</h1>
<p class="lead" id="lead">Loading the setup link…</p>
<button type="button" id="retry" hidden>Try again</button>
</header>
<div id="content" hidden>
<section aria-labelledby="base-url-title">
<h2 id="base-url-title"><span class="num">1</span>SCIM base URL</h2>
<div class="field"><code id="base-url" class="base-url"></code><button type="button" class="copy" data-copy="base-url">Copy</button></div>
</section>
<section aria-labelledby="token-title">
<h2 id="token-title"><span class="num">2</span>Bearer token</h2>
<p>Generate the token when you are ready to paste it into <span class="idp-label">{generic}</span>. It is shown <strong>once</strong>, and this link stops working as soon as it is issued.</p>
<button type="button" id="generate" class="primary">Generate token</button>
<div id="token-box" hidden>
<div class="field"><code id="token"></code><button type="button" class="copy" data-copy="token">Copy</button></div>
<p class="warn">Copy it now: it will not be shown again. Keep it secret; it grants access to this organisation's provisioning.</p>
</div>
<p id="error" class="error" role="alert" hidden></p>
</section>
<section aria-labelledby="steps-title">
<h2 id="steps-title"><span class="num">3</span><span>Set up <span class="idp-label">{generic}</span></span></h2>
{steps}</section>
</div>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"#
    )
}

/// The page of an unknown, expired or used link: the same page for all three.
pub fn invalid_page() -> String {
    message_page(
        "This setup link is invalid or has expired",
        "Setup links work once and only for a limited time. Ask the person who sent it to you for a new one.",
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

/// The page's only script; its hash is in the Content-Security-Policy. It reads the secret from
/// the URL's fragment and at once removes the fragment from the address bar and the history
/// entry; the secret then lives only in this closure and travels only in POST bodies (never in
/// a URL). Nothing is stored in the browser. What the server sends is set as text, never markup.
const SCRIPT: &str = r#"
(function () {
  'use strict';
  var INVALID_TITLE = 'This setup link is invalid or has expired';
  var INVALID_TEXT = 'Setup links work once and only for a limited time. Ask the person who sent it to you for a new one.';
  var NO_SECRET_TEXT = 'This page has no setup link secret. It forgets the secret once it has read it, so after a reload open the link from your message again. ' + INVALID_TEXT;
  var title = document.getElementById('title');
  var lead = document.getElementById('lead');
  var retry = document.getElementById('retry');
  var content = document.getElementById('content');
  var generate = document.getElementById('generate');
  var box = document.getElementById('token-box');
  var token = document.getElementById('token');
  var error = document.getElementById('error');

  var secret = '';
  try {
    secret = decodeURIComponent(location.hash.slice(1));
  } catch (e) {
    secret = '';
  }
  if (location.hash || location.href.indexOf('#') >= 0) {
    history.replaceState(null, '', location.pathname + location.search);
  }
  var base = location.pathname.replace(/\/+$/, '');

  function post(route) {
    return fetch(base + '/' + route, {
      method: 'POST',
      headers: { accept: 'application/json', 'content-type': 'application/json' },
      body: JSON.stringify({ secret: secret }),
      credentials: 'omit',
      cache: 'no-store',
      referrerPolicy: 'no-referrer',
    });
  }

  function each(selector, f) {
    Array.prototype.forEach.call(document.querySelectorAll(selector), f);
  }

  function invalid(text) {
    document.title = INVALID_TITLE;
    title.textContent = INVALID_TITLE;
    lead.textContent = text;
    retry.hidden = true;
    content.remove();
  }

  function humanTime(rfc3339) {
    var m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(String(rfc3339 || ''));
    return m ? m[1] + ' ' + m[2] + ' UTC' : String(rfc3339 || '');
  }

  function show(details) {
    var name = String(details.connection_name || '');
    document.title = 'SCIM provisioning setup \u00b7 ' + name;
    title.textContent = name;
    var chosen = document.querySelector('ol.steps[data-idp="generic"]');
    each('ol.steps', function (list) {
      if (list.dataset.idp === details.idp) chosen = list;
    });
    each('ol.steps', function (list) {
      if (list !== chosen) list.remove();
    });
    chosen.hidden = false;
    var label = chosen.dataset.label;
    each('.idp-label', function (el) { el.textContent = label; });
    each('.base-url', function (el) { el.textContent = String(details.scim_base_url || ''); });
    lead.textContent = 'Connect ' + label + ' to provision this organisation\u2019s users automatically. This link works once and expires on ' + humanTime(details.expires_at) + '.';
    retry.hidden = true;
    content.hidden = false;
  }

  async function load() {
    if (!secret) {
      invalid(NO_SECRET_TEXT);
      return;
    }
    retry.hidden = true;
    lead.textContent = 'Loading the setup link\u2026';
    var res;
    var body = {};
    try {
      res = await post('details');
      body = await res.json().catch(function () { return {}; });
    } catch (e) {
      lead.textContent = 'The setup link could not be loaded: the request did not reach the server. Check your connection and try again.';
      retry.hidden = false;
      return;
    }
    if (res.ok) {
      show(body);
    } else if (res.status === 404) {
      invalid(INVALID_TEXT);
    } else {
      lead.textContent = 'The setup link could not be loaded (HTTP ' + res.status + '). Try again in a moment.';
      retry.hidden = false;
    }
  }

  retry.addEventListener('click', load);
  // The link opened again in this tab (only its fragment changes): read it afresh.
  window.addEventListener('hashchange', function () {
    if (location.hash) location.reload();
  });

  function showError(text) {
    error.textContent = text;
    error.hidden = false;
  }

  generate.addEventListener('click', async function () {
    generate.disabled = true;
    generate.textContent = 'Generating\u2026';
    error.hidden = true;
    var res;
    var body = {};
    try {
      res = await post('token');
      body = await res.json().catch(function () { return {}; });
    } catch (e) {
      showError('The request did not reach the server. Check your connection and try again.');
      generate.disabled = false;
      generate.textContent = 'Generate token';
      return;
    }
    if (res.ok && typeof body.token === 'string') {
      secret = '';
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

  each('[data-copy]', function (button) {
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

  load();
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
    fn every_idp_kind_has_steps_with_a_slot_for_the_base_url() {
        for idp in crate::service::connection::settings::IDP_KINDS {
            let steps = steps(idp).concat();
            assert!(steps.contains(BASE_URL_SLOT), "{idp}");
        }
    }

    #[test]
    fn the_page_holds_every_idps_steps_and_nothing_of_a_connection() {
        let page = setup_page();
        for idp in crate::service::connection::settings::IDP_KINDS {
            assert!(page.contains(&format!("data-idp=\"{idp}\"")), "{idp}");
        }
        assert!(page.contains("Tenant URL"));
        assert!(page.contains("SCIM connector base URL"));
        assert_eq!(page.matches("<script").count(), 1, "only the page's own");
        assert!(!page.contains("con_"));
        assert!(!page.contains("/setup/"));
        for external in ["src=", "href=", "@import", "url("] {
            assert!(!page.contains(external), "{external}");
        }
    }

    #[test]
    fn the_script_takes_the_secret_out_of_the_url_and_posts_it_in_a_body() {
        assert!(SCRIPT.contains("location.hash"));
        assert!(
            SCRIPT.contains("history.replaceState(null, '', location.pathname + location.search)")
        );
        assert!(SCRIPT.contains("body: JSON.stringify({ secret: secret })"));
        assert!(!SCRIPT.contains("innerHTML"));
        assert!(!SCRIPT.contains("localStorage") && !SCRIPT.contains("sessionStorage"));
    }

    #[test]
    fn the_policy_pins_the_inline_script_and_style() {
        let policy = content_security_policy();
        assert!(policy.contains(&source_hash(SCRIPT)));
        assert!(policy.contains(&source_hash(STYLE)));
        assert!(!policy.contains("unsafe-inline"));
    }

    #[test]
    fn the_invalid_page_has_no_script() {
        assert!(!invalid_page().contains("<script"));
    }
}
