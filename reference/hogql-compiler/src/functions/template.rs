//! Expanding template targets (`toStartOfInterval({1}, {0}, {2})`, `toBool(min({}))`) with the
//! already-printed arguments, with PostHog's checks and messages.

use super::meta::Target;
use crate::{Error, Result};

/// Fill a template target with printed arguments. `name` is the call's name as written (for
/// errors). A plain [`Target::Name`] renders as `name(arg, …)`.
///
/// * `{}` templates need exactly as many arguments as placeholders:
///   `Function 'every' requires exactly 1 argument`.
/// * `{N}` templates may use an argument several times; a missing one is
///   `Invalid argument reference in function 'x': Replacement index 2 out of range …`.
/// * `{{` and `}}` are literal braces, as in Python's `str.format`.
pub fn render_template(name: &str, target: &Target, args: &[String]) -> Result<String> {
    let (text, positional) = match target {
        Target::Name(function) => return Ok(format!("{function}({})", args.join(", "))),
        Target::Template { text, positional } => (text.as_str(), *positional),
    };
    if !positional {
        let expected = text.matches("{}").count();
        if args.len() != expected {
            return Err(Error::TemplateArity {
                name: name.to_owned(),
                expected,
            });
        }
    }
    let mut out = String::with_capacity(text.len() + args.iter().map(String::len).sum::<usize>());
    let mut next_auto = 0;
    let mut rest = text;
    while let Some(pos) = rest.find(['{', '}']) {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push('{');
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push('}');
            rest = after;
        } else if let Some(after_open) = tail.strip_prefix('{') {
            let close = after_open.find('}');
            let field = close.map(|c| &after_open[..c]);
            let index = match field {
                Some("") => {
                    next_auto += 1;
                    Some(next_auto - 1)
                }
                Some(digits) if digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse().ok(),
                _ => None,
            };
            match (index, close) {
                (Some(index), Some(close)) => {
                    let arg = args.get(index).ok_or_else(|| Error::TemplateIndex {
                        name: name.to_owned(),
                        index,
                    })?;
                    out.push_str(arg);
                    rest = &after_open[close + 1..];
                }
                _ => {
                    // Not a replacement field; keep the brace as text.
                    out.push('{');
                    rest = after_open;
                }
            }
        } else {
            out.push('}');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn template(text: &str, positional: bool) -> Target {
        Target::Template {
            text: text.to_owned(),
            positional,
        }
    }

    #[test]
    fn sequential_placeholders() {
        let t = template("arrayStringConcat(groupArray({}), {})", false);
        assert_eq!(
            render_template(
                "string_agg",
                &t,
                &args(&["events.event", "%(hogql_val_0)s"])
            )
            .unwrap(),
            "arrayStringConcat(groupArray(events.event), %(hogql_val_0)s)"
        );
        assert_eq!(
            render_template("string_agg", &t, &args(&["x"]))
                .unwrap_err()
                .to_string(),
            "Function 'string_agg' requires exactly 2 arguments"
        );
        let one = template("toBool(min({}))", false);
        assert_eq!(
            render_template("every", &one, &args(&[]))
                .unwrap_err()
                .to_string(),
            "Function 'every' requires exactly 1 argument"
        );
    }

    #[test]
    fn positional_placeholders_reorder_and_repeat() {
        let t = template("toStartOfInterval({1}, {0}, {2})", true);
        assert_eq!(
            render_template("date_bin", &t, &args(&["i", "ts", "o"])).unwrap(),
            "toStartOfInterval(ts, i, o)"
        );
        let repeat = template("f({0}, {0})", true);
        assert_eq!(
            render_template("g", &repeat, &args(&["a"])).unwrap(),
            "f(a, a)"
        );
        let err = render_template("date_bin", &t, &args(&["i", "ts"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid argument reference in function 'date_bin': Replacement index 2 out of range for positional args tuple"
        );
    }

    #[test]
    fn braces_and_names() {
        let t = template("x({{literal}}, {})", false);
        assert_eq!(
            render_template("f", &t, &args(&["a"])).unwrap(),
            "x({literal}, a)"
        );
        let plain = Target::Name("leftUTF8".into());
        assert_eq!(
            render_template("left", &plain, &args(&["s", "2"])).unwrap(),
            "leftUTF8(s, 2)"
        );
        let odd = template("x({a}, {})", false);
        assert_eq!(
            render_template("f", &odd, &args(&["b"])).unwrap(),
            "x({a}, b)"
        );
    }
}
