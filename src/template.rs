//! The HTTP gateway's templates: `$ctx.num`, `$ctx.msg` and `$ctx.otp` (the
//! WSO2 names) replaced by the number, the message and the code, each value
//! encoded for where it lands.

/// Where a rendered template goes, which decides how values are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// A URL (query string or path): percent-encoded.
    Url,
    /// An `application/x-www-form-urlencoded` body.
    Form,
    /// A JSON document: escaped as the inside of a JSON string.
    Json,
    /// Plain text: inserted as is.
    Text,
}

impl Encoding {
    /// The encoding for a body of this content type.
    pub fn for_content_type(content_type: &str) -> Encoding {
        let ct = content_type.to_ascii_lowercase();
        if ct.contains("json") {
            Encoding::Json
        } else if ct.contains("x-www-form-urlencoded") {
            Encoding::Form
        } else {
            Encoding::Text
        }
    }
}

/// The values a template can name.
#[derive(Debug, Clone, Copy)]
pub struct Values<'a> {
    pub number: &'a str,
    pub message: &'a str,
    pub code: &'a str,
}

const PREFIX: &str = "$ctx.";
const NAMES: [&str; 3] = ["num", "msg", "otp"];

/// Checks that every placeholder in the template is one we know.
pub fn validate(template: &str) -> Result<(), String> {
    let mut rest = template;
    while let Some(at) = rest.find(PREFIX) {
        let after = &rest[at + PREFIX.len()..];
        if !NAMES.iter().any(|n| after.starts_with(n)) {
            let name: String = after.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
            return Err(format!(
                "unknown placeholder `$ctx.{name}`: use $ctx.num, $ctx.msg or $ctx.otp"
            ));
        }
        rest = after;
    }
    Ok(())
}

/// Replaces the placeholders, encoding each value for `encoding`. Unknown
/// placeholders are left as they are (`validate` refuses them when saving).
pub fn render(template: &str, values: Values<'_>, encoding: Encoding) -> String {
    let mut out = String::with_capacity(template.len() + 64);
    let mut rest = template;
    while let Some(at) = rest.find(PREFIX) {
        out.push_str(&rest[..at]);
        let after = &rest[at + PREFIX.len()..];
        let hit = NAMES.iter().find(|n| after.starts_with(*n));
        match hit {
            Some(&name) => {
                let value = match name {
                    "num" => values.number,
                    "msg" => values.message,
                    _ => values.code,
                };
                encode_into(&mut out, value, encoding);
                rest = &after[name.len()..];
            }
            None => {
                out.push_str(PREFIX);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn encode_into(out: &mut String, value: &str, encoding: Encoding) {
    match encoding {
        Encoding::Url => {
            for b in value.bytes() {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                    out.push(b as char);
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
        Encoding::Form => out.extend(form_urlencoded::byte_serialize(value.as_bytes())),
        Encoding::Json => {
            let quoted = serde_json::Value::String(value.to_owned()).to_string();
            out.push_str(&quoted[1..quoted.len() - 1]);
        }
        Encoding::Text => out.push_str(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V: Values<'static> = Values {
        number: "+15551234567",
        message: "Your code is 123456 & \"more\"",
        code: "123456",
    };

    #[test]
    fn url_values_are_percent_encoded() {
        let url = render("https://gw.example/send?to=$ctx.num&text=$ctx.msg", V, Encoding::Url);
        assert_eq!(
            url,
            "https://gw.example/send?to=%2B15551234567&text=Your%20code%20is%20123456%20%26%20%22more%22"
        );
    }

    #[test]
    fn form_values_are_form_encoded() {
        assert_eq!(
            render("to=$ctx.num&c=$ctx.otp", V, Encoding::Form),
            "to=%2B15551234567&c=123456"
        );
    }

    #[test]
    fn json_values_are_escaped_inside_strings() {
        let body = render(r#"{"to":"$ctx.num","text":"$ctx.msg"}"#, V, Encoding::Json);
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["text"], V.message);
        assert_eq!(parsed["to"], V.number);
    }

    #[test]
    fn unknown_placeholders_are_refused_and_left_alone() {
        assert!(validate("to=$ctx.num&x=$ctx.nope").unwrap_err().contains("$ctx.nope"));
        assert!(validate("plain $ctx.otp text").is_ok());
        assert_eq!(render("a $ctx.nope b", V, Encoding::Text), "a $ctx.nope b");
        assert_eq!(render("$ctx.", V, Encoding::Text), "$ctx.");
    }

    proptest::proptest! {
        #[test]
        fn json_values_round_trip_whatever_they_hold(msg in ".*", num in "[+0-9]{0,16}") {
            let values = Values { number: &num, message: &msg, code: "1" };
            let body = render(r#"{"to":"$ctx.num","text":"$ctx.msg"}"#, values, Encoding::Json);
            let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
            proptest::prop_assert_eq!(parsed["text"].as_str(), Some(msg.as_str()));
            proptest::prop_assert_eq!(parsed["to"].as_str(), Some(num.as_str()));
        }

        #[test]
        fn url_values_stay_inside_their_parameter(msg in ".*") {
            let values = Values { number: "+1", message: &msg, code: "1" };
            let url = render("https://gw.example/s?text=$ctx.msg&k=v", values, Encoding::Url);
            let query = url.split_once('?').unwrap().1;
            let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
            proptest::prop_assert_eq!(pairs.len(), 2);
            proptest::prop_assert_eq!(&pairs[0].1, &msg);
            proptest::prop_assert_eq!(&pairs[1], &("k".to_owned(), "v".to_owned()));
        }

        #[test]
        fn form_values_decode_back(msg in ".*", code in "[0-9]{6,10}") {
            let values = Values { number: "+1", message: &msg, code: &code };
            let body = render("text=$ctx.msg&code=$ctx.otp", values, Encoding::Form);
            let pairs: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
            proptest::prop_assert_eq!(pairs, vec![("text".to_owned(), msg), ("code".to_owned(), code)]);
        }

        #[test]
        fn a_valid_template_leaves_no_placeholder_behind(template in "([a-z{}\":= ]|\\$ctx\\.(num|msg|otp|x)){0,12}") {
            let rendered = render(&template, V, Encoding::Text);
            if validate(&template).is_ok() {
                proptest::prop_assert!(!rendered.contains("$ctx."), "{template} -> {rendered}");
            } else {
                proptest::prop_assert!(template.contains("$ctx.x"));
            }
        }
    }

    #[test]
    fn content_types_pick_the_encoding() {
        assert_eq!(
            Encoding::for_content_type("application/json; charset=utf-8"),
            Encoding::Json
        );
        assert_eq!(
            Encoding::for_content_type("application/x-www-form-urlencoded"),
            Encoding::Form
        );
        assert_eq!(Encoding::for_content_type("text/plain"), Encoding::Text);
    }
}
