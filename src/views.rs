//! What pages are shown: view data without secrets, safe to send to a browser.

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
}

/// One enrolled phone, as its owner sees it (the full number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneView {
    pub id: String,
    pub nickname: String,
    pub number: String,
    pub added_at: String,
    pub last_used_at: Option<String>,
    pub preferred: bool,
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
    pub phones: Vec<PhoneView>,
    pub two_factor_enabled: bool,
    /// Credentials needed before 2FA can be turned on.
    pub minimum: u32,
    pub pending: Option<PendingEnrollment>,
    /// Whether SMS codes can be used at all (the method is enabled).
    pub sms_enabled: bool,
}

/// A phone on the second sign-in step: masked, with the owner's nickname.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaskedPhone {
    pub id: String,
    pub nickname: String,
    pub masked: String,
}

/// The second sign-in step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChallengeView {
    pub phones: Vec<MaskedPhone>,
    /// The phone the current code went to.
    pub sent_to: Option<MaskedPhone>,
    pub resend_in_secs: u64,
    /// Why no code is on its way (a failed send), in words for the person.
    pub notice: Option<String>,
}

/// One message in the outbox plugin's store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub to: String,
    pub body: String,
    pub at: String,
}
