//! The 2FA switch and what removing a credential does to it.

/// What removing one credential would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Nothing else changes.
    Plain,
    /// The account would fall below the minimum with 2FA on: it needs a
    /// confirmation, and then 2FA is turned off.
    TurnsTwoFactorOff,
}

/// The effect of removing one of `count` credentials.
pub fn removal(two_factor_enabled: bool, count: u32, minimum: u32) -> Removal {
    if two_factor_enabled && count.saturating_sub(1) < minimum.max(1) {
        Removal::TurnsTwoFactorOff
    } else {
        Removal::Plain
    }
}

/// Whether 2FA may be turned on with `count` credentials.
pub fn can_turn_on(count: u32, minimum: u32) -> bool {
    count >= minimum.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removing_below_the_minimum_with_2fa_on_turns_it_off() {
        assert_eq!(removal(true, 1, 1), Removal::TurnsTwoFactorOff);
        assert_eq!(removal(true, 2, 1), Removal::Plain);
        assert_eq!(removal(true, 2, 2), Removal::TurnsTwoFactorOff);
        assert_eq!(removal(false, 1, 1), Removal::Plain);
    }

    #[test]
    fn turning_on_needs_the_minimum_and_at_least_one() {
        assert!(!can_turn_on(0, 1));
        assert!(can_turn_on(1, 1));
        assert!(!can_turn_on(1, 2));
        assert!(!can_turn_on(0, 0));
    }
}
