//! The authentication methods an administrator can enable, each with the
//! plugins that can handle it. Adding a method (TOTP apps, recovery codes,
//! passkeys) = one file with its `MethodInfo` + one line in [`METHODS`] + a
//! `method_settings` row (missing rows read as disabled).

use crate::providers::PluginInfo;

pub struct MethodInfo {
    pub id: &'static str,
    pub label: &'static str,
    pub description: &'static str,
    /// The installed plugins that can handle it; the first is the default.
    pub plugins: &'static [PluginInfo],
}

pub const METHODS: &[MethodInfo] = &[crate::sms::METHOD];

pub fn find(id: &str) -> Option<&'static MethodInfo> {
    METHODS.iter().find(|m| m.id == id)
}
