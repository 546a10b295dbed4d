//! What pages are shown: view data without secrets, safe to send to a browser.

use crate::method::MethodId;
use serde::{Deserialize, Serialize};

/// The signed-in person, as the header shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub username: String,
    pub display_name: String,
    pub is_admin: bool,
}

/// Who is signed in (if anyone) and the token every form must carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    pub viewer: Option<Viewer>,
    pub csrf_token: String,
    /// A reset of the viewer's two-factor sign-in is waiting: from when it
    /// can finish (every signed-in page shows it, with a way to cancel).
    #[serde(default)]
    pub reset_waiting: Option<String>,
}

/// The home page: the account's security status, read from the database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HomeStatus {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub two_factor_enabled: bool,
    pub credential_count: u32,
    /// When this session signed in, formatted for people ("2026-11-23 11:52 UTC").
    pub signed_in_at: String,
    /// The sign-in before this one, if there was one.
    pub previous_sign_in_at: Option<String>,
    /// 2FA is on but no credential can be used now (its method was
    /// disabled): the person signs in with a password until they enroll.
    pub needs_enrollment: bool,
    /// The person's own recent security events, newest first.
    pub activity: Vec<AuditEntry>,
    /// Unused recovery codes; none without a set.
    pub recovery_codes_left: Option<u32>,
}

/// One account in the administrator's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserSummary {
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub is_admin: bool,
    pub two_factor_enabled: bool,
    pub created_at: String,
    pub last_sign_in_at: Option<String>,
    pub locked: bool,
    /// Its owner said "this wasn't me" and no administrator cleared it.
    pub flagged: bool,
}

/// One credential of any method, as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialView {
    pub id: String,
    pub method: MethodId,
    pub nickname: String,
    /// What identifies it (a phone's full number); empty for an app.
    pub detail: String,
    pub added_at: String,
    pub last_used_at: Option<String>,
    pub preferred: bool,
}

/// An authenticator app being added: the secret, shown during setup only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpSetup {
    pub nickname: String,
    /// The QR code as an SVG image in a `data:` URI.
    pub qr_svg_data_uri: String,
    /// The `otpauth://` URI the QR code holds.
    pub uri: String,
    /// The secret in base32, in groups of four.
    pub secret: String,
}

/// A passkey being added: what the page hands to the browser's ceremony.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeySetup {
    /// The name typed, if any (else named after the authenticator).
    pub nickname: Option<String>,
    /// The WebAuthn creation options (JSON) for `public/passkey.js`.
    pub options: String,
}

/// A phone being enrolled: a code went to it and waits to be typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEnrollment {
    pub number: String,
    pub nickname: String,
    /// Seconds before "send again" works; 0 when it works now.
    pub resend_in_secs: u64,
}

/// The "2FA credentials" page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialsView {
    /// Every credential, oldest first.
    pub credentials: Vec<CredentialView>,
    pub two_factor_enabled: bool,
    /// Credentials needed before 2FA can be turned on.
    pub minimum: u32,
    /// The phone being enrolled.
    pub pending: Option<PendingEnrollment>,
    /// The app being added.
    pub app_setup: Option<TotpSetup>,
    /// The passkey being added.
    pub passkey_setup: Option<PasskeySetup>,
    /// The methods the administrator has switched on.
    pub enabled_methods: Vec<MethodId>,
}

/// The recovery-codes page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryView {
    /// Unused codes of the current set; none without a set.
    pub left: Option<u32>,
    /// Codes in a set.
    pub set_size: u32,
    /// A set just made, shown (formatted) until the person says it is saved.
    pub fresh: Vec<String>,
}

/// A credential the second sign-in step can use: masked, with the owner's
/// nickname.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInOption {
    pub id: String,
    pub method: MethodId,
    pub nickname: String,
    /// A phone's number masked; empty for an app.
    pub masked: String,
}

/// The second sign-in step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeView {
    /// The credential being proven; none when nothing can serve.
    pub proving: Option<SignInOption>,
    /// Every other usable credential ("Try another way").
    pub others: Vec<SignInOption>,
    /// The phone the current code went to.
    pub sent_to: Option<SignInOption>,
    pub resend_in_secs: u64,
    /// Why no code is on its way (a failed send), in words for the person.
    pub notice: Option<String>,
    /// For a passkey being proven: the WebAuthn request options (JSON) for
    /// `public/passkey.js`.
    pub ceremony: Option<String>,
    /// Days "Don't ask again on this browser" lasts; 0: not offered.
    pub trust_days: u32,
}

/// One of a signed-in user's sessions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The session's id in the list (not its cookie).
    pub id: String,
    /// Browser and system, from the user agent ("Firefox on Linux").
    pub device: String,
    pub ip: String,
    pub signed_in_at: String,
    pub last_seen: String,
    /// The session this list is shown in.
    pub current: bool,
}

/// The second step's "lost every factor" page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResetView {
    /// Hours a reset waits; 0: resets by email are off.
    pub wait_hours: u32,
    /// Whether the account has an email address to confirm with.
    pub has_email: bool,
    /// When a waiting reset can finish (UTC), if one waits.
    pub ready_at: Option<String>,
}

/// The page a notice's "this wasn't me" link opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotMeView {
    /// The notice's subject ("Your password was changed").
    pub about: String,
    /// When the notice was written (UTC).
    pub sent_at: String,
    pub step: NotMeStep,
}

/// What the person opening a "this wasn't me" link can do now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NotMeStep {
    /// Nobody is signed in: sign in (the link is where the sign-in lands),
    /// or, if that is no longer possible, tell the administrators (and
    /// when that was done from this link, UTC).
    SignInFirst { reported_at: Option<String> },
    /// Someone else is signed in here.
    OtherAccount,
    /// The link's owner is signed in: securing the account is one button.
    Ready,
    /// The link was used (UTC): what it does was done then.
    Done { at: String },
}

/// An account an owner reported with "this wasn't me", on the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountFlag {
    /// When (UTC).
    pub raised_at: String,
    pub how: FlagRaised,
    /// The notice the owner did not recognise, if it is still kept.
    pub about: Option<String>,
    pub ip: String,
}

/// How an owner raised a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FlagRaised {
    /// Signed in and secured the account.
    Secured,
    /// Could not sign in, and only told the administrators.
    Reported,
}

impl FlagRaised {
    pub fn as_str(self) -> &'static str {
        match self {
            FlagRaised::Secured => "secured",
            FlagRaised::Reported => "reported",
        }
    }

    pub fn parse(s: &str) -> Option<FlagRaised> {
        [FlagRaised::Secured, FlagRaised::Reported]
            .into_iter()
            .find(|f| f.as_str() == s)
    }
}

/// A browser trusted to skip the second step (SECURITY.md 41).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedBrowserInfo {
    pub id: String,
    /// Browser and system, from the user agent when it was trusted.
    pub device: String,
    /// Where it was last seen.
    pub ip: String,
    pub trusted_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    /// The browser this list is shown in.
    pub current: bool,
}

/// An application the user signed in to through Tessera, or allowed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicationInfo {
    pub client_id: String,
    pub name: String,
    /// What it may know, in words ("See your email address").
    pub may: Vec<String>,
    /// When it last received tokens; `None`: allowed, never signed in.
    pub last_signed_in: Option<String>,
    /// Whether it holds tokens that still work.
    pub has_access: bool,
}

/// One message in the outbox plugin's store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub to: String,
    pub body: String,
    pub at: String,
}

/// One audit event, as an administrator (or its subject) reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: String,
    /// The event's name ("credential.removed") and its words ("Credential removed").
    pub event: String,
    pub label: String,
    pub actor: Option<String>,
    pub subject: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// What changed, as compact JSON (before and after for admin changes).
    pub details: String,
}

/// What the audit log is narrowed to; empty strings mean "any".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub event: String,
    /// A username: events it did or that happened to it.
    pub user: String,
    /// Dates as YYYY-MM-DD, inclusive.
    pub from: String,
    pub to: String,
    pub page: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditPage {
    pub entries: Vec<AuditEntry>,
    pub page: u32,
    pub has_next: bool,
    /// Every event name with its words, for the filter.
    pub kinds: Vec<(String, String)>,
}

/// A plugin that can handle a method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginChoice {
    pub id: String,
    pub label: String,
    /// Its settings are complete: it may be chosen.
    pub ready: bool,
}

/// One authentication method in the console.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MethodView {
    pub id: String,
    pub label: String,
    pub description: String,
    pub enabled: bool,
    pub plugin: String,
    pub plugins: Vec<PluginChoice>,
    /// Users with 2FA on whom disabling this method would leave with no
    /// usable credential.
    pub stranded_if_disabled: u32,
    pub version: i64,
}

/// One property of a plugin's settings form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyView {
    pub name: String,
    pub description: String,
    pub example: String,
    pub secret: bool,
    pub required: bool,
    /// The stored value; for a secret, a mask ("••••1234") or nothing.
    pub value: String,
    /// A secret has a stored value (left blank in the form, it is kept).
    pub is_set: bool,
}

/// A plugin's settings form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderView {
    pub id: String,
    pub label: String,
    pub owns_code: bool,
    pub properties: Vec<PropertyView>,
    /// What keeps it from being chosen (empty when it is ready).
    pub problems: Vec<String>,
    /// Which methods use it now.
    pub in_use: bool,
    /// The answer to this administrator's last test message through it
    /// (kept in the session, so that it shows without JavaScript too).
    pub last_test: Option<String>,
    pub version: i64,
}

/// The policy form: the stored values as form fields, and the choices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyView {
    pub fields: std::collections::BTreeMap<String, String>,
    pub methods: Vec<(String, String)>,
    /// The acrs a default may be: name and words.
    pub acrs: Vec<(String, String)>,
    pub version: i64,
}

/// An account as the administrator manages it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDetail {
    pub summary: UserSummary,
    pub locked: bool,
    /// Masked: the administrator sees which phones, not the numbers.
    pub credentials: Vec<MaskedCredential>,
    /// Browsers that skip the second step.
    pub trusted_browsers: Vec<TrustedBrowserInfo>,
    /// When a waiting reset of two-factor sign-in can finish (UTC).
    pub reset_ready_at: Option<String>,
    pub flag: Option<AccountFlag>,
    pub activity: Vec<AuditEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedCredential {
    pub method: String,
    pub nickname: String,
    pub masked: String,
    pub added_at: String,
    pub last_used_at: Option<String>,
}

/// A short name for the browser and system in a user agent string.
pub fn device_name(user_agent: Option<&str>) -> String {
    let Some(ua) = user_agent.filter(|u| !u.trim().is_empty()) else {
        return "Unknown device".into();
    };
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
        ("curl/", "curl"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    let system = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.into(),
        (None, Some(s)) => format!("A browser on {s}"),
        (None, None) => ua.chars().take(40).collect(),
    }
}

#[cfg(test)]
mod device_tests {
    use super::device_name;

    #[test]
    fn user_agents_become_short_device_names() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0";
        assert_eq!(device_name(Some(firefox)), "Firefox on Linux");
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        assert_eq!(device_name(Some(chrome)), "Chrome on Windows");
        assert_eq!(device_name(None), "Unknown device");
        assert_eq!(device_name(Some("x".repeat(100).as_str())).len(), 40);
    }
}

/// An application registered to sign users in, in the console's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientSummary {
    pub id: String,
    pub name: String,
    /// A public client (a browser or mobile app: no secret, PKCE).
    pub public: bool,
    pub first_party: bool,
    pub grants: Vec<String>,
    /// Empty: the server's default.
    pub default_acr: String,
}

/// One application's settings as the console edits them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientDetail {
    pub id: String,
    pub name: String,
    pub public: bool,
    /// One per line.
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grants: Vec<String>,
    pub allowed_acrs: Vec<String>,
    /// Empty: the server's default.
    pub default_acr: String,
    pub first_party: bool,
    /// A confidential client let off PKCE (never a public one).
    pub pkce_optional: bool,
    /// Where it is told of sign-outs; empty: never.
    pub backchannel_logout_uri: String,
    /// Sign-out notices not yet accepted by it, and why the last attempt failed.
    pub logout_notices_waiting: u32,
    pub logout_last_error: Option<String>,
    /// Its authorization requests must be pushed first (PAR).
    pub require_par: bool,
    pub access_token_minutes: u32,
    pub refresh_token_hours: u32,
    /// Every grant: name and words.
    pub grant_choices: Vec<(String, String)>,
    /// Every acr of an enabled method: name and words.
    pub acr_choices: Vec<(String, String)>,
    /// A secret just made, shown this once.
    pub new_secret: Option<String>,
    pub created_at: String,
    pub secret_rotated_at: Option<String>,
}

/// A new application as the console's form sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewClientForm {
    pub name: String,
    /// One per line.
    pub redirect_uris: String,
    /// "confidential" or "public".
    pub kind: String,
    pub first_party: bool,
}

/// An application's settings as the console's form sends them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientForm {
    pub id: String,
    pub name: String,
    pub redirect_uris: String,
    pub post_logout_redirect_uris: String,
    pub grants: Vec<String>,
    pub allowed_acrs: Vec<String>,
    pub default_acr: String,
    pub first_party: bool,
    /// Ticked: this confidential client may leave PKCE out.
    pub pkce_optional: bool,
    /// Empty: none.
    pub backchannel_logout_uri: String,
    pub require_par: bool,
    pub access_token_minutes: String,
    pub refresh_token_hours: String,
}
