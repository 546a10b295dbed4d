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
