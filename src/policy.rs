//! The 2FA policy the administrator sets: what it holds, its limits, and how
//! a submitted form becomes one (every problem beside its field).

use crate::error::FieldError;
use crate::otp::CodePolicy;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Whether 2FA is each user's choice (Casa) or required of everyone (WSO2
/// `SMSOTPMandatory`, with the number captured at the first sign-in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    Optional,
    Mandatory,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Optional => "optional",
            Mode::Mandatory => "mandatory",
        }
    }

    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "optional" => Some(Mode::Optional),
            "mandatory" => Some(Mode::Mandatory),
            _ => None,
        }
    }
}

/// What happens when an application asks for a method (its `acr`) that the
/// user has no credential of, and the account has no other factor (which
/// would have to be proven before anything could be added).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MissingMethod {
    /// The application hears `unmet_authentication_requirements`.
    Refuse,
    /// The person enrolls that method during the sign-in.
    Enroll,
}

impl MissingMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            MissingMethod::Refuse => "refuse",
            MissingMethod::Enroll => "enroll",
        }
    }

    pub fn parse(s: &str) -> Option<MissingMethod> {
        match s {
            "refuse" => Some(MissingMethod::Refuse),
            "enroll" => Some(MissingMethod::Enroll),
            _ => None,
        }
    }
}

/// Whether a passkey alone (with user verification) may sign in, without
/// the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Passwordless {
    Allowed,
    Forbidden,
}

impl Passwordless {
    pub fn as_str(self) -> &'static str {
        match self {
            Passwordless::Allowed => "allowed",
            Passwordless::Forbidden => "forbidden",
        }
    }

    pub fn parse(s: &str) -> Option<Passwordless> {
        match s {
            "allowed" => Some(Passwordless::Allowed),
            "forbidden" => Some(Passwordless::Forbidden),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub min_credentials: u32,
    pub code_digits: u32,
    pub code_lifetime_secs: u32,
    pub max_attempts: u32,
    pub resend_cooldown_secs: u32,
    /// Messages to one number per ten minutes.
    pub max_sends_per_number: u32,
    /// Send budgets per hour (SECURITY.md 13): from one IP address, to one
    /// account, to one destination country, and in all (a cost guard).
    pub max_sends_per_ip: u32,
    pub max_sends_per_account: u32,
    pub max_sends_per_country: u32,
    pub max_sends_per_hour: u32,
    /// ISO 3166 region codes ("US", "GB"); empty means every country.
    pub allowed_countries: Vec<String>,
    pub mode: Mode,
    pub default_method: String,
    /// The acr an application gets when it asks for none and its client
    /// has no default (an [`crate::acr::Acr`] name).
    pub default_acr: String,
    pub missing_method: MissingMethod,
    /// Time steps of clock drift accepted either way for app codes (0 or 1).
    pub totp_drift_steps: u32,
    /// Codes in a new set of recovery codes (10-20).
    pub recovery_code_count: u32,
    pub passwordless: Passwordless,
    /// Days a trusted browser skips the second factor (0: never offered).
    pub trusted_browser_days: u32,
    /// Hours a self-service reset of two-factor sign-in waits (0: off).
    pub recovery_wait_hours: u32,
}

impl Default for Policy {
    fn default() -> Self {
        let c = CodePolicy::default();
        Self {
            min_credentials: 1,
            code_digits: c.digits as u32,
            code_lifetime_secs: c.lifetime_secs as u32,
            max_attempts: c.max_attempts as u32,
            resend_cooldown_secs: c.resend_cooldown_secs as u32,
            max_sends_per_number: 5,
            max_sends_per_ip: 20,
            max_sends_per_account: 10,
            max_sends_per_country: 500,
            max_sends_per_hour: 1000,
            allowed_countries: Vec::new(),
            mode: Mode::Optional,
            default_method: "sms".into(),
            default_acr: crate::acr::USERS_SETTINGS.into(),
            missing_method: MissingMethod::Refuse,
            totp_drift_steps: crate::totp::DRIFT_STEPS as u32,
            recovery_code_count: crate::recovery::SET_SIZE as u32,
            passwordless: Passwordless::Allowed,
            trusted_browser_days: 30,
            recovery_wait_hours: 24,
        }
    }
}

/// The form's fields: name, label, and the inclusive range of whole numbers.
pub const NUMBER_FIELDS: &[(&str, &str, u32, u32)] = &[
    ("min_credentials", "Minimum credentials", 1, 5),
    ("code_digits", "Code length (digits)", 6, 10),
    ("code_lifetime_minutes", "Code lifetime (minutes)", 1, 10),
    ("max_attempts", "Wrong tries per code", 1, 10),
    ("resend_cooldown_secs", "Wait before a new code (seconds)", 1, 600),
    ("max_sends_per_number", "Codes per number per 10 minutes", 1, 50),
    ("max_sends_per_ip", "Codes per IP address per hour", 1, 10_000),
    ("max_sends_per_account", "Codes per account per hour", 1, 1_000),
    ("max_sends_per_country", "Codes per country per hour", 1, 1_000_000),
    ("max_sends_per_hour", "Codes per hour in all", 1, 1_000_000),
    ("totp_drift_steps", "Steps of clock drift either way (30 s each)", 0, 1),
    ("recovery_code_count", "Codes in a set", 10, 20),
    (
        "trusted_browser_days",
        "Days a trusted browser skips the second step (0: never offer it)",
        0,
        365,
    ),
    (
        "recovery_wait_hours",
        "Hours a reset by email waits (0: no reset by email)",
        0,
        720,
    ),
];

/// The form's sections: what applies to every method, then each method's.
pub const SECTIONS: &[(&str, &[&str])] = &[
    ("Every method", &["min_credentials"]),
    (
        "SMS codes",
        &[
            "code_digits",
            "code_lifetime_minutes",
            "max_attempts",
            "resend_cooldown_secs",
            "max_sends_per_number",
            "max_sends_per_ip",
            "max_sends_per_account",
            "max_sends_per_country",
            "max_sends_per_hour",
        ],
    ),
    ("Authenticator apps", &["totp_drift_steps"]),
    ("Recovery codes", &["recovery_code_count"]),
    ("Trusted browsers", &["trusted_browser_days"]),
    ("Lost every factor", &["recovery_wait_hours"]),
];

/// Longest list of allowed countries a form may carry.
const MAX_COUNTRIES: usize = 300;

impl Policy {
    /// The code rules this policy makes.
    pub fn code_policy(&self) -> CodePolicy {
        CodePolicy {
            digits: self.code_digits as usize,
            lifetime_secs: i64::from(self.code_lifetime_secs),
            max_attempts: self.max_attempts as i32,
            resend_cooldown_secs: i64::from(self.resend_cooldown_secs),
            ..CodePolicy::default()
        }
    }

    /// The policy as form fields (what [`Policy::from_form`] reads back).
    pub fn to_form(&self) -> BTreeMap<String, String> {
        let mut f = BTreeMap::new();
        f.insert("min_credentials".into(), self.min_credentials.to_string());
        f.insert("code_digits".into(), self.code_digits.to_string());
        f.insert(
            "code_lifetime_minutes".into(),
            (self.code_lifetime_secs / 60).to_string(),
        );
        f.insert("max_attempts".into(), self.max_attempts.to_string());
        f.insert("resend_cooldown_secs".into(), self.resend_cooldown_secs.to_string());
        f.insert("max_sends_per_number".into(), self.max_sends_per_number.to_string());
        f.insert("max_sends_per_ip".into(), self.max_sends_per_ip.to_string());
        f.insert("max_sends_per_account".into(), self.max_sends_per_account.to_string());
        f.insert("max_sends_per_country".into(), self.max_sends_per_country.to_string());
        f.insert("max_sends_per_hour".into(), self.max_sends_per_hour.to_string());
        f.insert("allowed_countries".into(), self.allowed_countries.join(", "));
        f.insert("mode".into(), self.mode.as_str().into());
        f.insert("default_method".into(), self.default_method.clone());
        f.insert("default_acr".into(), self.default_acr.clone());
        f.insert("missing_method".into(), self.missing_method.as_str().into());
        f.insert("totp_drift_steps".into(), self.totp_drift_steps.to_string());
        f.insert("recovery_code_count".into(), self.recovery_code_count.to_string());
        f.insert("passwordless".into(), self.passwordless.as_str().into());
        f.insert("trusted_browser_days".into(), self.trusted_browser_days.to_string());
        f.insert("recovery_wait_hours".into(), self.recovery_wait_hours.to_string());
        f
    }

    /// Reads a submitted form. `region_exists` says whether an ISO region
    /// code is known; `methods` are the enabled methods' ids. Missing fields
    /// keep their value from `current`.
    pub fn from_form(
        current: &Policy,
        form: &BTreeMap<String, String>,
        region_exists: impl Fn(&str) -> bool,
        methods: &[&str],
    ) -> Result<Policy, Vec<FieldError>> {
        let defaults = current.to_form();
        let value = |name: &str| {
            form.get(name)
                .or_else(|| defaults.get(name))
                .map(|v| v.trim())
                .unwrap_or("")
        };
        let mut errors = Vec::new();
        let mut numbers = BTreeMap::new();
        for (name, label, min, max) in NUMBER_FIELDS {
            let v = value(name);
            match v.parse::<u32>() {
                Ok(n) if (*min..=*max).contains(&n) => {
                    numbers.insert(*name, n);
                }
                _ => errors.push(FieldError::new(
                    name,
                    format!("{label} must be a whole number from {min} to {max}."),
                )),
            }
        }
        let countries_text = value("allowed_countries");
        let mut countries: Vec<String> = Vec::new();
        let mut unknown = Vec::new();
        for code in countries_text
            .split([',', ' ', '\n', '\t', ';'])
            .filter(|c| !c.is_empty())
        {
            let code = code.to_ascii_uppercase();
            if code.len() == 2 && code.chars().all(|c| c.is_ascii_alphabetic()) && region_exists(&code) {
                if !countries.contains(&code) {
                    countries.push(code);
                }
            } else {
                unknown.push(code);
            }
        }
        if !unknown.is_empty() {
            let shown: Vec<String> = unknown.iter().take(5).map(|c| c.chars().take(12).collect()).collect();
            errors.push(FieldError::new(
                "allowed_countries",
                format!(
                    "Not a country code: {}. Use two-letter ISO codes such as US, GB, DE.",
                    shown.join(", ")
                ),
            ));
        } else if countries.len() > MAX_COUNTRIES {
            errors.push(FieldError::new(
                "allowed_countries",
                "That is more countries than exist.",
            ));
        }
        let mode = Mode::parse(value("mode"));
        if mode.is_none() {
            errors.push(FieldError::new("mode", "Choose the user's choice or mandatory."));
        }
        let default_method = value("default_method").to_owned();
        if !methods.contains(&default_method.as_str()) {
            errors.push(FieldError::new("default_method", "Choose an enabled method."));
        }
        let default_acr = crate::acr::Acr::parse(value("default_acr")).filter(|a| {
            a.method()
                .is_none_or(|m| m.counts_toward_minimum() && methods.contains(&m.as_str()))
        });
        if default_acr.is_none() {
            errors.push(FieldError::new(
                "default_acr",
                "Choose tessera, password or the acr of an enabled method.",
            ));
        }
        let missing_method = MissingMethod::parse(value("missing_method"));
        if missing_method.is_none() {
            errors.push(FieldError::new(
                "missing_method",
                "Choose to refuse the application or to enroll the method.",
            ));
        }
        let passwordless = Passwordless::parse(value("passwordless"));
        if passwordless.is_none() {
            errors.push(FieldError::new(
                "passwordless",
                "Choose whether a passkey alone may sign in.",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        countries.sort();
        Ok(Policy {
            min_credentials: numbers["min_credentials"],
            code_digits: numbers["code_digits"],
            code_lifetime_secs: numbers["code_lifetime_minutes"] * 60,
            max_attempts: numbers["max_attempts"],
            resend_cooldown_secs: numbers["resend_cooldown_secs"],
            max_sends_per_number: numbers["max_sends_per_number"],
            max_sends_per_ip: numbers["max_sends_per_ip"],
            max_sends_per_account: numbers["max_sends_per_account"],
            max_sends_per_country: numbers["max_sends_per_country"],
            max_sends_per_hour: numbers["max_sends_per_hour"],
            allowed_countries: countries,
            mode: mode.unwrap_or(Mode::Optional),
            default_method,
            default_acr: default_acr.map_or_else(String::new, |a| a.as_str().to_owned()),
            missing_method: missing_method.unwrap_or(MissingMethod::Refuse),
            totp_drift_steps: numbers["totp_drift_steps"],
            recovery_code_count: numbers["recovery_code_count"],
            passwordless: passwordless.unwrap_or(Passwordless::Allowed),
            trusted_browser_days: numbers["trusted_browser_days"],
            recovery_wait_hours: numbers["recovery_wait_hours"],
        })
    }

    /// Whether a code may go to a number of this region (SECURITY.md 12).
    pub fn allows_region(&self, region: Option<&str>) -> bool {
        self.allowed_countries.is_empty()
            || region.is_some_and(|r| self.allowed_countries.iter().any(|c| c.eq_ignore_ascii_case(r)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn known(r: &str) -> bool {
        ["US", "GB", "DE", "CA"].contains(&r)
    }

    #[test]
    fn every_number_field_is_in_exactly_one_section() {
        for (name, ..) in NUMBER_FIELDS {
            let n = SECTIONS.iter().filter(|(_, fields)| fields.contains(name)).count();
            assert_eq!(n, 1, "{name}");
        }
        let listed: usize = SECTIONS.iter().map(|(_, f)| f.len()).sum();
        assert_eq!(listed, NUMBER_FIELDS.len());
    }

    #[test]
    fn the_defaults_round_trip_through_the_form() {
        let p = Policy::default();
        assert_eq!(Policy::from_form(&p, &p.to_form(), known, &["sms"]), Ok(p));
    }

    #[test]
    fn the_default_acr_names_the_users_settings_the_password_or_an_enabled_method() {
        let read = |acr: &str, enabled: &[&str]| {
            Policy::from_form(&Policy::default(), &form(&[("default_acr", acr)]), known, enabled).map(|p| p.default_acr)
        };
        assert_eq!(read("tessera", &["sms"]), Ok("tessera".into()));
        assert_eq!(read("password", &["sms"]), Ok("password".into()));
        assert_eq!(read("otp", &["sms", "totp"]), Ok("otp".into()));
        // An alias is stored as its method's own name.
        assert_eq!(read("stytch", &["sms"]), Ok("sms".into()));
        assert!(read("otp", &["sms"]).is_err(), "apps are off");
        assert!(
            read("recovery_code", &["sms", "recovery_code"]).is_err(),
            "never asked for"
        );
        assert!(read("", &["sms"]).is_err());
    }

    #[test]
    fn every_bad_field_is_named_and_nothing_is_half_read() {
        let f = form(&[
            ("code_digits", "5"),
            ("code_lifetime_minutes", "11"),
            ("max_attempts", "x"),
            ("allowed_countries", "us, XX, gb"),
            ("mode", "sometimes"),
            ("default_method", "carrier-pigeon"),
            ("default_acr", "otp"),
            ("missing_method", "maybe"),
            ("passwordless", "sometimes"),
        ]);
        let errors = Policy::from_form(&Policy::default(), &f, known, &["sms"]).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "code_digits",
                "code_lifetime_minutes",
                "max_attempts",
                "allowed_countries",
                "mode",
                "default_method",
                "default_acr",
                "missing_method",
                "passwordless"
            ]
        );
        // Only the unknown code is named; the known ones were fine.
        assert!(
            errors[3].message.starts_with("Not a country code: XX."),
            "{}",
            errors[3].message
        );
    }

    #[test]
    fn the_policy_makes_the_code_rules_and_reads_both_modes() {
        let p = Policy {
            code_digits: 8,
            code_lifetime_secs: 420,
            max_attempts: 3,
            resend_cooldown_secs: 45,
            ..Policy::default()
        };
        let rules = p.code_policy();
        assert_eq!(
            (
                rules.digits,
                rules.lifetime_secs,
                rules.max_attempts,
                rules.resend_cooldown_secs
            ),
            (8, 420, 3, 45)
        );
        for mode in [Mode::Optional, Mode::Mandatory] {
            assert_eq!(Mode::parse(mode.as_str()), Some(mode));
        }
        assert_eq!(Mode::parse("sometimes"), None);
    }

    #[test]
    fn a_country_list_holds_at_most_300_codes() {
        // Two-letter codes that some future region table might all know.
        let codes: Vec<String> = ('A'..='Z')
            .flat_map(|a| ('A'..='Z').map(move |b| format!("{a}{b}")))
            .collect();
        let any = |_: &str| true;
        let f = form(&[("allowed_countries", &codes[..300].join(","))]);
        assert_eq!(
            Policy::from_form(&Policy::default(), &f, any, &["sms"])
                .unwrap()
                .allowed_countries
                .len(),
            300
        );
        let f = form(&[("allowed_countries", &codes[..301].join(","))]);
        let errors = Policy::from_form(&Policy::default(), &f, any, &["sms"]).unwrap_err();
        assert_eq!(errors[0].field, "allowed_countries");
    }

    #[test]
    fn sec_12_countries_are_upper_cased_deduplicated_and_checked_on_send() {
        let f = form(&[("allowed_countries", "gb us;US\nca"), ("code_lifetime_minutes", "10")]);
        let p = Policy::from_form(&Policy::default(), &f, known, &["sms"]).unwrap();
        assert_eq!(p.allowed_countries, ["CA", "GB", "US"]);
        assert_eq!(p.code_lifetime_secs, 600);
        assert!(p.allows_region(Some("GB")));
        assert!(!p.allows_region(Some("DE")));
        assert!(!p.allows_region(None));
        assert!(Policy::default().allows_region(None));
    }

    use proptest::prelude::*;

    proptest::proptest! {
        /// Whatever a form holds, decoding names problems or gives a policy
        /// inside every range that reads back to itself.
        #[test]
        #[allow(clippy::needless_pass_by_value)]
        fn any_form_decodes_to_errors_or_a_policy_in_range(
            pairs in proptest::collection::btree_map(
                proptest::sample::select(vec![
                    "min_credentials", "code_digits", "code_lifetime_minutes", "max_attempts",
                    "resend_cooldown_secs", "max_sends_per_number", "max_sends_per_ip",
                    "max_sends_per_account", "max_sends_per_country", "max_sends_per_hour",
                    "allowed_countries", "mode", "default_method", "default_acr", "missing_method", "passwordless",
                    "trusted_browser_days", "recovery_wait_hours", "other",
                ]).prop_map(str::to_owned),
                "(-?[0-9]{1,12}|[A-Za-z ,;]{0,20}|optional|mandatory|sms|.{0,30})",
                0..14,
            )
        ) {
            match Policy::from_form(&Policy::default(), &pairs, known, &["sms"]) {
                Ok(p) => {
                    for (name, _, min, max) in NUMBER_FIELDS {
                        let v: u32 = p.to_form()[*name].parse().unwrap();
                        prop_assert!((*min..=*max).contains(&v), "{name} = {v}");
                    }
                    prop_assert!(p.code_lifetime_secs <= 600);
                    prop_assert_eq!(Policy::from_form(&p, &p.to_form(), known, &["sms"]), Ok(p.clone()));
                }
                Err(errors) => {
                    prop_assert!(!errors.is_empty());
                    for e in errors {
                        prop_assert!(pairs.contains_key(&e.field), "{} was not sent", e.field);
                    }
                }
            }
        }
    }
}
