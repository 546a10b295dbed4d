//! The HTTP gateway's template renderer on arbitrary templates and values:
//! it never panics, a value never escapes its JSON string or its form field,
//! and every placeholder of a template that passes `validate` is replaced.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera::template::{Encoding, Values, render, validate};

fuzz_target!(|input: (&str, &str, &str)| {
    let (template, message, number) = input;
    let values = Values {
        number,
        message,
        code: "123456",
    };
    for encoding in [Encoding::Url, Encoding::Form, Encoding::Json, Encoding::Text] {
        let _ = render(template, values, encoding);
    }
    // Every placeholder of a valid template is replaced. (Only when no other
    // `$` is in the template and no `$` or `.` in the values: text beside a
    // value can spell a placeholder, which is harmless, as rendering happens
    // once.)
    let inert = |v: &str| !v.contains(['$', '.']);
    let placeholders: usize = ["$ctx.num", "$ctx.msg", "$ctx.otp"]
        .iter()
        .map(|p| template.matches(p).count())
        .sum();
    let only_placeholders = template.matches('$').count() == placeholders;
    if validate(template).is_ok() && only_placeholders && inert(message) && inert(number) {
        let text = render(template, values, Encoding::Text);
        assert!(!text.contains("$ctx.num") && !text.contains("$ctx.msg") && !text.contains("$ctx.otp"));
    }
    let body = render(r#"{"text":"$ctx.msg","to":"$ctx.num"}"#, values, Encoding::Json);
    let parsed: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
    assert_eq!(parsed["text"].as_str(), Some(message));
    assert_eq!(parsed["to"].as_str(), Some(number));
    let form = render("text=$ctx.msg&to=$ctx.num", values, Encoding::Form);
    let pairs: Vec<(String, String)> = form_urlencoded::parse(form.as_bytes()).into_owned().collect();
    assert_eq!(pairs.len(), 2);
    assert_eq!(pairs[0].1, message);
});
