//! Phone numbers typed by people, parsed and normalised to E.164 with
//! libphonenumber's rules (SECURITY.md 11).

use tessera::FieldError;

/// A number as typed ("0044 7700 900123", "(201) 555-0123") in E.164
/// ("+12015550123"), or a message for the person who typed it.
pub fn parse(input: &str, default_region: &str) -> Result<String, FieldError> {
    let input = input.trim();
    if input.is_empty() {
        return Err(FieldError::new("phone", "Enter a mobile number."));
    }
    if input.len() > 40 {
        return Err(FieldError::new("phone", "That is too long for a phone number."));
    }
    let region = default_region.parse::<phonenumber::country::Id>().ok();
    let invalid = || {
        FieldError::new(
            "phone",
            "That is not a valid mobile number. Include the country code, like +44 7400 123456.",
        )
    };
    let number = phonenumber::parse(region, input).map_err(|_| invalid())?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid());
    }
    Ok(number.format().mode(phonenumber::Mode::E164).to_string())
}

/// The region ("US", "GB") of a number in E.164 form, when it has one.
pub fn region_of(e164: &str) -> Option<String> {
    let number = phonenumber::parse(None, e164).ok()?;
    number.country().id().map(|id| id.as_ref().to_owned())
}

/// Whether a region code ("US", "GB") is one libphonenumber knows.
pub fn known_region(code: &str) -> bool {
    code.parse::<phonenumber::country::Id>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sec_11_national_and_international_forms_normalise_to_e164() {
        assert_eq!(parse("(201) 555-0123", "US").unwrap(), "+12015550123");
        assert_eq!(parse("+1 201 555 0123", "GB").unwrap(), "+12015550123");
        assert_eq!(parse("07400 123456", "GB").unwrap(), "+447400123456");
        assert_eq!(parse("+44 7400 123456", "US").unwrap(), "+447400123456");
    }

    #[test]
    fn nonsense_and_impossible_numbers_are_refused_with_words() {
        for bad in ["", "hello", "123", "+1 000 000 0000", "+999 1234567", &"9".repeat(41)] {
            let e = parse(bad, "US").unwrap_err();
            assert_eq!(e.field, "phone");
            assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn regions_are_checked() {
        assert!(known_region("US"));
        assert!(known_region("GB"));
        assert!(!known_region("XX"));
    }

    proptest::proptest! {
        /// Anything typed is refused with words or becomes an E.164 number
        /// that parses to itself (SECURITY.md 11); nothing panics.
        #[test]
        fn anything_typed_is_refused_or_normalised_to_e164(input in "(\\+|00)?[0-9 ()./-]{0,20}|.{0,45}") {
            match parse(&input, "US") {
                Ok(e164) => {
                    proptest::prop_assert!(e164.starts_with('+'), "{e164}");
                    proptest::prop_assert!(e164.len() <= 16 && e164[1..].chars().all(|c| c.is_ascii_digit()), "{e164}");
                    proptest::prop_assert_eq!(parse(&e164, "GB"), Ok(e164.clone()));
                }
                Err(e) => {
                    proptest::prop_assert_eq!(e.field.as_str(), "phone");
                    proptest::prop_assert!(!e.message.is_empty());
                }
            }
        }
    }
}
